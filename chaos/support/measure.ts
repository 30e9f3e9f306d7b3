/**
 * What a chaos run counts, as pure functions of what was observed: pod
 * restarts per pod and target image, the longest stall, and the status
 * branch's transitions against the ones the rollout's own progress record
 * says happened. Kept apart from the code that runs processes, so the
 * counting is tested in tables (STYLE.md §2, §15).
 */

/** One pod lifecycle entry, as kube-sim's event record has it (only the fields counted here). */
export interface PodEvent {
  readonly type: string;
  readonly kind: string;
  readonly name: string;
  readonly image?: string;
}

/**
 * Pods restarted more than once for the same desired revision. A restart is
 * a `PodTerminating` of a pod; the revision it restarted toward is the image
 * of the next pod of the same name to be created (a StatefulSet or operator
 * pod comes back under its own name). A pod restarted twice toward the same
 * image was restarted once too often: that is what "never restarts a pod
 * twice" forbids. Restarting again toward a newer image (a superseding
 * revision) is allowed. Returns the offending `pod@image` keys, sorted.
 */
export function repeatedRestarts(events: readonly PodEvent[]): string[] {
  const counts = new Map<string, number>();
  const pods = events.filter((e) => e.kind === 'Pod');
  pods.forEach((event, index) => {
    if (event.type !== 'PodTerminating') return;
    const next = pods.slice(index + 1).find((e) => e.type === 'PodCreated' && e.name === event.name);
    // A pod that never came back (a Deployment's pod, or the run ended first) restarted toward nothing known.
    const key = `${event.name}@${next?.image ?? '(gone)'}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  });
  return [...counts].filter(([key, n]) => n > 1 && !key.endsWith('@(gone)')).map(([key]) => key).sort();
}

/** A wall-clock window, in ms since the epoch, `end` exclusive. */
export interface Window {
  readonly start: number;
  readonly end: number;
}

/**
 * The longest wall-clock gap, in ms, between consecutive moments of
 * progress (and from `start` to the first, and from the last to `end`),
 * not counting time inside `blocked` windows, when the scenario itself made
 * progress impossible (a node held out of its cluster, for one).
 */
export function longestStall(progressAt: readonly number[], start: number, end: number, blocked: readonly Window[] = []): number {
  const points = [start, ...progressAt.filter((t) => t > start && t < end), end].sort((a, b) => a - b);
  let longest = 0;
  for (let i = 1; i < points.length; i++) {
    const from = points[i - 1] as number;
    const to = points[i] as number;
    const hidden = blocked.reduce((sum, w) => sum + Math.max(0, Math.min(to, w.end) - Math.max(from, w.start)), 0);
    longest = Math.max(longest, to - from - hidden);
  }
  return longest;
}

/** The identity of a rollout transition, as the status branch keys it (its plan hash aside). */
export interface TransitionKey {
  readonly target: string;
  readonly source: string | undefined;
  readonly phase: string;
  readonly stage?: string | undefined;
  /** 0-based. */
  readonly step?: number | undefined;
}

/** `target|source|phase|stage|step`. */
export function keyText(k: TransitionKey): string {
  return [k.target, k.source ?? '', k.phase, k.stage ?? '', k.step === undefined ? '' : String(k.step)].join('|');
}

/** The progress record (`rollgate.dev/rollout`) fields the expected transitions are derived from. */
export interface ProgressSnapshot {
  readonly source: string;
  readonly step?: { readonly stage: string; readonly pods: readonly string[] };
  readonly done: readonly string[];
  readonly halted?: unknown;
  readonly finishedAt?: number;
}

/**
 * The transitions a target's progress history implies, in order, without
 * repeats: `Progressing` for every step recorded (its index is the number
 * of steps of its stage already done), `Succeeded` when a rollout finished,
 * `Halted` when it halted, and `Superseded` when a new source replaced one
 * that had neither finished nor halted. The history is every value the
 * annotation took, as the API server stored them.
 */
export function expectedTransitions(target: string, history: readonly ProgressSnapshot[]): TransitionKey[] {
  const out = new Map<string, TransitionKey>();
  const add = (k: TransitionKey): void => void (out.has(keyText(k)) ? undefined : out.set(keyText(k), k));
  let previous: ProgressSnapshot | undefined;
  for (const p of history) {
    if (previous !== undefined && previous.source !== p.source && previous.finishedAt === undefined && previous.halted === undefined) add({ target, source: previous.source, phase: 'Superseded' });
    if (p.step !== undefined) {
      const stage = p.step.stage;
      add({ target, source: p.source, phase: 'Progressing', stage, step: p.done.filter((d) => d.startsWith(`${stage}:`)).length });
    }
    if (p.halted !== undefined) add({ target, source: p.source, phase: 'Halted', ...(p.step !== undefined ? { stage: p.step.stage } : {}) });
    if (p.finishedAt !== undefined) add({ target, source: p.source, phase: 'Succeeded' });
    previous = p;
  }
  return [...out.values()];
}

/** How the status branch compares with what happened. */
export interface StatusComparison {
  /** Expected transitions with no status commit. */
  readonly lost: readonly string[];
  /** Transitions with more than one status commit (each extra commit counted once). */
  readonly duplicated: readonly string[];
  /** Status commits for transitions the progress record does not imply (Waiting, Pending, a Halted without a record…): reported, not a failure by themselves. */
  readonly unexpected: readonly string[];
}

/**
 * Compares the expected transitions with the status commits' keys (one
 * per commit, any order). `Halted` matches whatever its stage is, because a
 * halt reported before its progress record was written has none.
 */
export function compareStatus(expected: readonly TransitionKey[], commits: readonly TransitionKey[]): StatusComparison {
  const loose = (k: TransitionKey): string => (k.phase === 'Halted' ? keyText({ target: k.target, source: k.source, phase: k.phase }) : keyText(k));
  const seen = new Map<string, number>();
  for (const c of commits) seen.set(loose(c), (seen.get(loose(c)) ?? 0) + 1);
  const wanted = new Set(expected.map(loose));
  const duplicated: string[] = [];
  for (const [key, n] of seen) for (let i = 1; i < n; i++) duplicated.push(key);
  return {
    lost: expected.map(loose).filter((k) => !seen.has(k)),
    duplicated: duplicated.sort(),
    unexpected: [...seen.keys()].filter((k) => !wanted.has(k)).sort(),
  };
}
