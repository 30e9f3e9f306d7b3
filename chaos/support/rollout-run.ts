/**
 * The skeleton every rollout scenario shares: install the old version,
 * push the new one, start the agents, let the scenario do its damage while
 * the rollout runs, wait for the rollout to finish (or not), wait for the
 * status branch to catch up, stop the agents cleanly, and count.
 */
import { seededRandom, type Random } from '../../sim/random.ts';
import type { RunContext, RunResult } from '../campaign.ts';
import type { AgentProcess } from './agent-process.ts';
import type { TargetExpectation } from './manifests.ts';
import { compareStatus, expectedTransitions, longestStall, repeatedRestarts, type Window } from './measure.ts';
import { startWorld, until, type AgentConfigOptions, type Observer, type World } from './world.ts';

/** What a scenario's chaos is handed while the rollout runs. */
export interface Harness {
  readonly world: World;
  readonly observer: Observer;
  readonly random: Random;
  /** The commit the targets must end at; a superseding push changes it. */
  desired(): string;
  /** Pushes files as a new desired revision. */
  pushDesired(files: Readonly<Record<string, string>>, message: string): Promise<string>;
  /** The agents running now, by replica name. */
  agents(): ReadonlyMap<string, AgentProcess>;
  /** SIGKILLs a replica and starts it again at once (same configuration and data), as a container restart does. */
  restart(replica: string): Promise<void>;
  /** Kills a replica and leaves it down. */
  kill(replica: string): Promise<void>;
  /** Starts a replica that is down. */
  start(replica: string): void;
  /** Marks a stretch of time when the scenario made progress impossible; stalls do not count it. */
  blocked(window: Window): void;
  /** Remembers something for the JSON file. */
  note(text: string): void;
  /** Schedules `action` after `ms`; the run waits for it before it counts, and reports its failure. */
  later(ms: number, action: () => Promise<void>): void;
}

/** One rollout scenario's run. */
export interface RolloutRunSpec {
  /** Files of the first install (rollgate.yaml, namespaces, targets at their old versions). */
  readonly initial: Readonly<Record<string, string>>;
  /** How the cluster looks after the first install. */
  readonly installed: readonly TargetExpectation[];
  /** The change that starts the rollout. */
  readonly upgrade: Readonly<Record<string, string>>;
  /** How the cluster looks when the rollout is done (may be replaced by `expectAtEnd`). */
  readonly expected: readonly TargetExpectation[];
  /** Replicas and their configuration. Default one, `a`, with defaults. */
  readonly replicas?: Readonly<Record<string, AgentConfigOptions>>;
  /** How long the rollout may take, wall clock, in ms. Default 120,000. */
  readonly timeoutMs?: number;
  /** How long the status branch may take to catch up once the rollout is done, in ms. Default 90,000 (the status writer backs off up to 60 s). */
  readonly statusTimeoutMs?: number;
  readonly timeScale?: number;
  readonly images?: Parameters<typeof startWorld>[0]['images'];
  /** Services the scenario runs beside the world (a fake forge); started before the agents. */
  readonly before?: (world: World) => Promise<{ readonly config?: AgentConfigOptions; readonly close: () => Promise<void> } | undefined>;
  /** The damage, installed before the agents start. */
  readonly chaos?: (h: Harness) => void | Promise<void>;
  /** What the end state must be, when the chaos changed it (a superseding revision). */
  readonly expectAtEnd?: (h: Harness) => readonly TargetExpectation[];
  /** Extra checks once the rollout is done and the status branch caught up, while the agents still run (the forge's comments may still be catching up). */
  readonly after?: (h: Harness) => Promise<Partial<RunResult>>;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** Runs one rollout under a scenario's chaos and counts what went wrong. */
export async function rolloutRun(context: RunContext, spec: RolloutRunSpec): Promise<RunResult> {
  const world = await startWorld({ seed: context.seed, dir: context.dir, ...(spec.timeScale !== undefined ? { timeScale: spec.timeScale } : {}), ...(spec.images !== undefined ? { images: spec.images } : {}) });
  const random = seededRandom(context.seed ^ 0x5eed);
  const notes: string[] = [];
  const blocked: Window[] = [];
  const pending = new Set<Promise<void>>();
  const errors: string[] = [];
  let service: Awaited<ReturnType<NonNullable<RolloutRunSpec['before']>>>;
  try {
    await world.push(spec.initial, 'first install');
    await world.install(spec.installed);
    service = await spec.before?.(world);
    let desired = await world.push(spec.upgrade, 'upgrade');
    const observer = world.observe(spec.expected);
    const replicas = spec.replicas ?? { a: {} };
    const configs = new Map<string, string>();
    for (const [name, options] of Object.entries(replicas)) configs.set(name, await world.agentConfig(name, { ...service?.config, ...options }));
    const running = new Map<string, AgentProcess>();
    const starts = new Map<string, number>();
    const start = (replica: string): void => {
      const n = (starts.get(replica) ?? 0) + 1;
      starts.set(replica, n);
      running.set(replica, world.startAgent(`${replica}#${n}`, configs.get(replica) ?? ''));
    };
    const kill = async (replica: string): Promise<void> => {
      await running.get(replica)?.kill();
      running.delete(replica);
    };
    const harness: Harness = {
      world,
      observer,
      random,
      desired: () => desired,
      async pushDesired(files, message) {
        desired = await world.push(files, message);
        return desired;
      },
      agents: () => running,
      async restart(replica) {
        await kill(replica);
        start(replica);
      },
      kill,
      start,
      blocked: (window) => void blocked.push(window),
      note: (text) => void notes.push(text),
      later(ms, action) {
        const task = new Promise<void>((resolve) => setTimeout(resolve, ms))
          .then(action)
          .catch((err: unknown) => void errors.push(err instanceof Error ? err.message : String(err)))
          .finally(() => pending.delete(task));
        pending.add(task);
      },
    };
    await spec.chaos?.(harness);
    const startedAt = Date.now();
    for (const replica of Object.keys(replicas)) start(replica);

    const expected = (): readonly TargetExpectation[] => spec.expectAtEnd?.(harness) ?? spec.expected;
    let failure: string | undefined;
    try {
      await until(() => world.notDone(expected(), desired), spec.timeoutMs ?? 120_000, 'the rollout');
    } catch (err) {
      failure = err instanceof Error ? err.message : String(err);
    }
    const endedAt = Date.now();
    while (pending.size > 0) await Promise.all([...pending]);
    if (errors.length > 0) failure ??= `the scenario's chaos failed: ${errors.join('; ')}`;

    // The status branch catches up in the background; give it time before counting what is missing.
    const targets = expected().map((t) => t.id);
    const want = (): ReturnType<typeof expectedTransitions> => targets.flatMap((id) => expectedTransitions(id, observer.history.get(id) ?? []));
    await until(async () => {
      const lost = compareStatus(want(), await world.statusKeys()).lost;
      return lost.length === 0 ? undefined : `missing ${lost.join(', ')}`;
    }, failure === undefined ? (spec.statusTimeoutMs ?? 90_000) : 5_000, 'the status branch').catch(() => undefined);
    const caughtUpAt = Date.now();
    const extra = (await spec.after?.(harness)) ?? {};
    await Promise.all([...running.values()].map((a) => a.stop()));
    observer.stop();
    notes.push(`rollout ${seconds(endedAt - startedAt)}, status caught up ${seconds(caughtUpAt - endedAt)} later, agents stopped in ${seconds(Date.now() - caughtUpAt)}`);
    const status = compareStatus(want(), await world.statusKeys());
    const restarts = repeatedRestarts(world.runtime.events.list({ since: observer.since, kind: 'Pod', types: ['PodTerminating', 'PodCreated'] }));
    const restartsNoted = [...starts].map(([replica, n]) => `${replica} started ${n} time${n === 1 ? '' : 's'}`);
    return {
      completed: failure === undefined && extra.completed !== false,
      ...(failure !== undefined ? { failure } : extra.failure !== undefined ? { failure: extra.failure } : {}),
      repeatedRestarts: restarts,
      statusLost: status.lost,
      statusDuplicated: status.duplicated,
      statusUnexpected: status.unexpected,
      ...(extra.commentsDuplicated !== undefined ? { commentsDuplicated: extra.commentsDuplicated } : {}),
      longestStallMs: longestStall(observer.progressAt, startedAt, endedAt, blocked),
      notes: [...restartsNoted, `${observer.boundaries()} boundaries`, ...notes, ...(extra.notes ?? [])],
    };
  } finally {
    await service?.close();
    await world.close();
  }
}
