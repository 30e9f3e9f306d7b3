/**
 * A rollout's progress, kept on the target object itself as an annotation,
 * so that whichever agent process runs next resumes exactly where the last
 * one stopped. Written before every action that must not be repeated (a
 * write that starts pods moving, a pod deletion), read back on start.
 */

/** The annotation holding {@link Progress} as JSON. */
export const progressAnnotation = 'rollgate.dev/rollout';

/** The step being carried out: written before its action, cleared when its gates pass. */
export interface StepProgress {
  /** The stage's component. */
  readonly stage: string;
  /** The pods the step restarts. */
  readonly pods: readonly string[];
  /** ms since the epoch (agent clock): the deadline counts from here. */
  readonly startedAt: number;
  /** True once the step's write was acknowledged by the API server. */
  readonly written: boolean;
  /** When the step's pods were all Ready (soak counts from here); undefined until then. */
  readonly readyAt?: number;
  /**
   * The image each of the step's pods must run, by container, once the step
   * is done: recorded when the step starts, so that a step in flight is
   * finished against the revision that started it even when a newer one has
   * arrived since (its pods are moving to these images, not the newer ones).
   * Absent in records written before it existed, and for Deployments.
   */
  readonly images?: Readonly<Record<string, string>>;
}

/** Everything rollgate records about a target's rollout. */
export interface Progress {
  /** The desired-state commit (or a hash of the desired object when there is no commit). */
  readonly source: string;
  /** The hash of the plan the rollout started from. */
  readonly planHash: string;
  /** ms since the epoch. */
  readonly startedAt: number;
  readonly step?: StepProgress;
  /** Steps done, as `stage:pod,pod`. Never done again. */
  readonly done: readonly string[];
  /** UIDs of pods rollgate deleted; a pod is never deleted twice. */
  readonly deleted: readonly string[];
  /** TiDB: when rollgate set `tidb.pingcap.com/force-upgrade`, and when it removed it. */
  readonly forceUpgrade?: { readonly setAt: number; readonly removedAt?: number };
  /** StatefulSets with `onFailure: rollback`: the pod template before the rollout. */
  readonly previousTemplate?: unknown;
  /** Set when the rollout halted; cleared only by a new source. */
  readonly halted?: { readonly code: string; readonly message: string; readonly at: number };
  /** When the rollout finished (succeeded). */
  readonly finishedAt?: number;
  /**
   * The unfinished rollout this one replaced, so that its `Superseded`
   * transition can be reported again by a process that did not see it
   * happen (the one that did may have died before its reporters wrote it).
   */
  readonly supersedes?: { readonly source: string; readonly planHash: string; readonly startedAt: number };
}

/** The key of a step in {@link Progress.done}. */
export function stepKey(stage: string, pods: readonly string[]): string {
  return `${stage}:${pods.join(',')}`;
}

/**
 * The 0-based index of the step of `stage` that comes after the steps of
 * `stage` already in `done`: steps are done in order, so this is the
 * number of them. Stable across restarts, because `done` is persisted.
 */
export function stepIndex(done: readonly string[], stage: string): number {
  return done.filter((d) => d.startsWith(`${stage}:`)).length;
}

/** Splits a {@link Progress.done} key into its stage and pods; undefined for a key that is not `stage:pods`. */
export function parseStepKey(key: string): { readonly stage: string; readonly pods: readonly string[] } | undefined {
  const colon = key.indexOf(':');
  if (colon <= 0) return undefined;
  const pods = key.slice(colon + 1);
  return { stage: key.slice(0, colon), pods: pods === '' ? [] : pods.split(',') };
}

/** Reads the progress annotation of an object, or undefined when absent or unreadable (then the rollout starts afresh from the live state). */
export function readProgress(annotations: Readonly<Record<string, string>> | undefined): Progress | undefined {
  const text = annotations?.[progressAnnotation];
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as Partial<Progress> | null;
    if (value === null || typeof value !== 'object' || typeof value.source !== 'string' || typeof value.planHash !== 'string' || typeof value.startedAt !== 'number') return undefined;
    return { ...value, done: Array.isArray(value.done) ? value.done : [], deleted: Array.isArray(value.deleted) ? value.deleted : [] } as Progress;
  } catch {
    return undefined;
  }
}

/** The merge patch that records `progress` on the object. */
export function progressPatch(progress: Progress): { metadata: { annotations: Record<string, string> } } {
  return { metadata: { annotations: { [progressAnnotation]: JSON.stringify(progress) } } };
}
