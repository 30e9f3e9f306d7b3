/**
 * The rollout executor: carries targets to their desired state one step at
 * a time, re-planning from the live state after every step, so that a
 * restarted agent, a newer revision or a hand edit all resume from what the
 * cluster shows rather than from what the agent remembers.
 *
 * What must not be done twice (a write that starts pods moving, a pod
 * deletion, the force-upgrade annotation) is recorded on the target object
 * before it is done (see progress.ts). Gates react to watch events through
 * the live cache; the only timers are soak times, HTTP retries and
 * maintenance windows.
 */
import type { Logger } from 'pino';
import { resources, type LiveCache, type WatchedResource, WaitError } from '../live/index.ts';
import { componentPolicy, type Gate, type KubeObject, type Target, type TidbComponent } from '../manifests/index.ts';
import { forceUpgradeAnnotation, lastAppliedAnnotation, normalize, planTarget, podContainerImage, podReady, redisNodeContainer, tidbComponentImage, type LiveKind, type LiveState, type PlanStage, type TargetPlan } from '../plan/index.ts';
import { redisClusterImage, templateImages } from '../plan/versions.ts';
import { GateFailure, sleep, Stopped, waitForHttp, waitForWindows, gateUrl, realClock, type ApprovalSource, type RolloutClock } from './gates.ts';
import { combinePatches, mergePatchFor, type JsonObject } from './merge-patch.ts';
import { parseStepKey, progressAnnotation, progressPatch, readProgress, stepIndex, stepKey, type Progress, type StepProgress } from './progress.ts';
import type { Reporter, RolloutPhase, RolloutTransition, StageProgress } from './reporter.ts';
import { deploymentRollout, podFailure, redisClusterFailure, redisClusterStatus, statefulSetRollout, tidbComponentStatus } from './status.ts';
import type { ClusterWriter } from './writer.ts';

/** One cluster as the executor uses it: its watch cache and its writer. */
export interface ClusterAccess {
  readonly cache: LiveCache;
  readonly writer: ClusterWriter;
}

/** How a target's rollout ended (for now). */
export type RolloutOutcome = 'succeeded' | 'halted' | 'refused' | 'suspended' | 'waiting' | 'stopped';

/** Options of {@link createExecutor}. */
export interface ExecutorOptions {
  readonly clusters: ReadonlyMap<string, ClusterAccess>;
  readonly reporter: Reporter;
  readonly logger: Logger;
  /** Default the process clock. */
  readonly clock?: RolloutClock;
  /** Who approves `approval` gates; without one, approval gates wait for a person forever. */
  readonly approvals?: ApprovalSource;
  /** Targets rolling at once. Default 4. */
  readonly concurrency?: number;
  /**
   * How long after a rollout finished or halted, in ms on `clock`, a process
   * that finds it still replays its transitions (see {@link RolloutTransition.replay}).
   * Unfinished rollouts are always replayed. Default 15 minutes.
   */
  readonly replayWindowMs?: number;
  readonly fetch?: typeof fetch;
}

/** A desired revision: the targets of the repository at a commit. */
export interface Revision {
  readonly targets: readonly Target[];
  /** The commit, or any string that names this desired state. */
  readonly source: string;
}

/** The executor. */
export interface Executor {
  /**
   * Rolls every target of `revision` out, respecting `dependsOn` and the
   * concurrency limit, and resolves when each has succeeded, halted, been
   * refused or suspended, or waits for a person (an approval). Targets still
   * rolling from an earlier call pick up this revision at their next step
   * boundary.
   */
  apply(revision: Revision): Promise<ReadonlyMap<string, RolloutOutcome>>;
  /** Stops at the next safe point: the write in flight finishes and progress stays recorded. */
  stop(): Promise<void>;
}

const kindResources: Readonly<Record<LiveKind, WatchedResource>> = {
  TidbCluster: resources.tidbClusters,
  RedisEnterpriseCluster: resources.redisEnterpriseClusters,
  StatefulSet: resources.statefulSets,
  Deployment: resources.deployments,
};

/** A LiveState over the watch caches of the clusters. */
export function cacheLiveState(clusters: ReadonlyMap<string, { readonly cache: LiveCache }>): LiveState {
  const cacheOf = (cluster: string): LiveCache | undefined => clusters.get(cluster)?.cache;
  return {
    object: (cluster, kind, namespace, name) => cacheOf(cluster)?.get(kindResources[kind], namespace, name),
    pod: (cluster, namespace, name) => cacheOf(cluster)?.get(resources.pods, namespace, name),
    pods: (cluster, namespace) => (cacheOf(cluster)?.list(resources.pods, namespace) ?? []),
  };
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** The partition Git asks a StatefulSet for (0 when it names none): where a rollout leaves it. */
function gitPartition(target: Target): number {
  return target.kind === 'StatefulSet' ? (target.object.spec.updateStrategy?.rollingUpdate?.partition ?? 0) : 0;
}

/** Creates an executor over the given clusters. Does nothing until `apply`. */
export function createExecutor(options: ExecutorOptions): Executor {
  const clock = options.clock ?? realClock;
  const log = options.logger;
  const live = cacheLiveState(options.clusters);
  const stopping = new AbortController();
  let revision: Revision = { targets: [], source: '' };
  const running = new Map<string, Promise<RolloutOutcome>>();
  let slots = options.concurrency ?? 4;
  const slotWaiters: (() => void)[] = [];

  async function acquire(): Promise<void> {
    if (slots > 0) {
      slots--;
      return;
    }
    await new Promise<void>((resolve) => slotWaiters.push(resolve));
  }
  function release(): void {
    const next = slotWaiters.shift();
    if (next !== undefined) next();
    else slots++;
  }

  function access(cluster: string): ClusterAccess {
    const found = options.clusters.get(cluster);
    if (found === undefined) throw new GateFailure('apply', `no connection to cluster "${cluster}"`);
    return found;
  }

  function currentTarget(id: string): Target | undefined {
    return revision.targets.find((t) => t.id === id);
  }

  function liveObject(target: Target): KubeObject | undefined {
    return live.object(target.cluster, target.kind, target.namespace, target.name);
  }

  /**
   * Waits on the cache until `check` holds, with the deadline measured on the
   * executor's clock (which may run faster than the wall clock, as in tests
   * and the demo). Rejects with GateFailure 'deadline' when it passes.
   */
  async function waitUntil<T>(cache: LiveCache, check: () => T | undefined, deadlineAt: number, signal: AbortSignal, description: string): Promise<T> {
    const timeout = new AbortController();
    const cancel = clock.setTimeout(() => timeout.abort(), Math.max(0, deadlineAt - clock.now()));
    const onStop = (): void => timeout.abort();
    signal.addEventListener('abort', onStop, { once: true });
    try {
      return await cache.waitFor(check, { signal: timeout.signal, description });
    } catch (err) {
      if (err instanceof WaitError && err.code === 'aborted') {
        if (signal.aborted) throw new Stopped('stopped');
        throw new GateFailure('deadline', `${description}: not done by the deadline`);
      }
      if (err instanceof WaitError) throw new Stopped(err.message);
      throw err;
    } finally {
      cancel();
      signal.removeEventListener('abort', onStop);
    }
  }

  const ref = (target: Target): { apiVersion: string; kind: string; namespace: string; name: string } => ({ apiVersion: target.object.apiVersion, kind: target.kind, namespace: target.namespace, name: target.name });

  /**
   * Records progress on the target, then waits until the watch cache shows
   * it: the next iteration re-reads progress from the cache, and a stale
   * copy would redo a finished step's bookkeeping or write older progress
   * back over newer. A cache that does not catch up in time (a broken
   * watch) only costs those idempotent repeats.
   */
  async function persist(target: Target, progress: Progress): Promise<Progress> {
    const patch = progressPatch(progress);
    const written = patch.metadata.annotations[progressAnnotation];
    await access(target.cluster).writer.mergePatch(ref(target), patch);
    await access(target.cluster)
      .cache.waitFor(() => (liveObject(target)?.metadata.annotations?.[progressAnnotation] === written ? true : undefined), { timeoutMs: 10_000, signal: stopping.signal, description: `${target.id} progress in the watch cache` })
      .catch(() => undefined);
    return progress;
  }

  // ---- reporting ------------------------------------------------------------

  function stageProgress(plan: TargetPlan | undefined, progress: Progress | undefined): StageProgress[] {
    if (plan === undefined) return [];
    return plan.stages.map((stage) => {
      const done = (progress?.done ?? []).filter((d) => d.startsWith(`${stage.component}:`)).reduce((n, d) => n + (d.split(':')[1] ?? '').split(',').length, 0);
      const current = progress?.step?.stage === stage.component;
      return {
        component: stage.component,
        ...(stage.from !== undefined ? { from: stage.from } : {}),
        ...(stage.to !== undefined ? { to: stage.to } : {}),
        state: current ? 'running' : 'pending',
        podsDone: done,
        podsTotal: done + stage.pods.length,
      };
    });
  }

  async function report(target: Target, phase: RolloutPhase, progress: Progress | undefined, plan: TargetPlan | undefined, message: string, extra: Partial<RolloutTransition> = {}): Promise<void> {
    const transition: RolloutTransition = {
      target: target.id,
      cluster: target.cluster,
      kind: target.kind,
      namespace: target.namespace,
      name: target.name,
      source: revision.source === '' ? undefined : (progress?.source ?? revision.source),
      planHash: progress?.planHash ?? plan?.hash ?? '',
      phase,
      ...(progress?.step !== undefined ? { stage: progress.step.stage, step: stepIndex(progress.done, progress.step.stage) } : {}),
      stages: stageProgress(plan, progress),
      startedAt: iso(progress?.startedAt ?? clock.now()),
      ...(phase === 'Succeeded' || phase === 'Halted' || phase === 'Refused' || phase === 'Superseded' ? { finishedAt: iso(clock.now()) } : {}),
      at: iso(clock.now()),
      message,
      ...extra,
    };
    log.info({ target: target.id, phase, stage: transition.stage, message }, 'rollout transition');
    try {
      await options.reporter.report(transition);
    } catch (err) {
      // A reporter that fails never stops a rollout; the transition is in the log.
      log.error({ target: target.id, err }, 'reporter failed');
    }
  }

  /**
   * Rollouts whose transitions this executor has reported or replayed, as
   * `target|source|startedAt`: a rollout found in the cluster that is not
   * here was carried by another process, which may have died before its
   * reporters wrote what it reported.
   */
  const known = new Set<string>();
  const rolloutKey = (id: string, progress: Progress): string => `${id}|${progress.source}|${progress.startedAt}`;
  const replayWindow = options.replayWindowMs ?? 15 * 60_000;

  /**
   * Reports again every transition the progress record shows happened: the
   * rollout it superseded, each step done, the step in flight, and its halt
   * or success (those two only within the replay window, so a restart does
   * not replay a fleet's old rollouts). Reporters write each transition once,
   * so what was written already is skipped; what a killed process queued and
   * never wrote is written now.
   */
  async function replay(target: Target, progress: Progress): Promise<void> {
    known.add(rolloutKey(target.id, progress));
    const ended = progress.finishedAt ?? progress.halted?.at;
    if (ended !== undefined && clock.now() - ended > replayWindow) return;
    const plan = planTarget(target, { live, now: clock.now(), targets: revision.targets });
    const again = { replay: true };
    const superseded = progress.supersedes;
    if (superseded !== undefined) {
      await report(target, 'Superseded', { ...superseded, done: [], deleted: [] }, undefined, `${target.id}: revision ${superseded.source.slice(0, 12)} superseded by ${progress.source.slice(0, 12)}`, { ...again, finishedAt: iso(progress.startedAt) });
    }
    for (const [position, key] of progress.done.entries()) {
      const step = parseStepKey(key);
      if (step === undefined) continue;
      const before = { ...progress, done: progress.done.slice(0, position), step: { stage: step.stage, pods: step.pods, startedAt: progress.startedAt, written: true } };
      await report(target, 'Progressing', before, plan, `${target.id}: ${step.stage}, restarting ${step.pods.join(', ')}`, again);
    }
    if (progress.step !== undefined) await report(target, 'Progressing', progress, plan, `${target.id}: ${progress.step.stage}, restarting ${progress.step.pods.join(', ')}`, again);
    if (progress.halted !== undefined) {
      await report(target, 'Halted', progress, plan, progress.halted.message, { ...again, error: { code: progress.halted.code, message: progress.halted.message }, finishedAt: iso(progress.halted.at) });
    } else if (progress.finishedAt !== undefined) {
      await report(target, 'Succeeded', progress, plan, `${target.id} matches ${progress.source.slice(0, 12)}`, { ...again, finishedAt: iso(progress.finishedAt) });
    }
  }

  // ---- steps ----------------------------------------------------------------

  function stageGates(target: Target, component: string): readonly Gate[] {
    return target.kind === 'TidbCluster' ? componentPolicy(target.policy, component as TidbComponent).gates : target.policy.gates;
  }
  function stageDeadline(target: Target, component: string): number {
    return target.kind === 'TidbCluster' ? componentPolicy(target.policy, component as TidbComponent).progressDeadline : target.policy.progressDeadline;
  }

  /** The write that starts a step. */
  function stepPatch(target: Target, plan: TargetPlan, stage: PlanStage, pods: readonly string[], liveTarget: KubeObject): object {
    if (target.kind === 'TidbCluster') {
      const component = stage.component as TidbComponent;
      const own = plan.patch.filter((op) => op.path === `/spec/${component}` || op.path.startsWith(`/spec/${component}/`));
      const patch = mergePatchFor(own, target.object);
      const desired = target.object.spec;
      const desiredComponent = desired[component];
      const liveVersion = (liveTarget['spec'] as { version?: unknown } | undefined)?.version;
      // `spec.version` moves last, once every component runs it: until then the component's own
      // `version` pins the new one for this component alone. Not for a component whose image comes from
      // its deprecated `image` field, which ignores versions.
      const versionDriven = desiredComponent?.version === undefined && (typeof desiredComponent?.baseImage === 'string' || typeof desiredComponent?.image !== 'string');
      if (versionDriven && desired.version !== undefined && desired.version !== liveVersion) return combinePatches(patch, { spec: { [component]: { version: desired.version } } });
      return patch;
    }
    if (target.kind === 'StatefulSet' && (stage.drive === 'partition' || stage.drive === 'on-delete')) {
      const template = mergePatchFor(plan.patch.filter((op) => op.path.startsWith('/spec/template')), target.object);
      if (stage.drive === 'on-delete') return template;
      // The new template and a partition that lets exactly this step's ordinal move, in one write:
      // no moment where the controller sees the new template with a lower partition.
      const ordinal = Number(pods[0]?.slice(pods[0].lastIndexOf('-') + 1));
      return combinePatches(template, { spec: { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: ordinal } } } });
    }
    return mergePatchFor(plan.patch, target.object);
  }

  /** The final write: whatever is left of the diff, the record of what was applied, and no pins. */
  function finalPatch(target: Target, plan: TargetPlan, liveTarget: KubeObject): object {
    const patch = mergePatchFor(plan.patch, target.object);
    const pins: Record<string, { version: null }> = {};
    if (target.kind === 'TidbCluster') {
      const liveSpec = (liveTarget['spec'] ?? {}) as Record<string, { version?: unknown } | undefined>;
      for (const [component, spec] of Object.entries(target.object.spec)) {
        if (typeof spec === 'object' && spec !== null && !Array.isArray(spec) && (spec as { version?: unknown }).version === undefined && liveSpec[component]?.version !== undefined) pins[component] = { version: null };
      }
    }
    const partition: JsonObject = target.kind === 'StatefulSet' ? { spec: { updateStrategy: { rollingUpdate: { partition: gitPartition(target) } } } } : {};
    return combinePatches(patch, { spec: pins }, partition, { metadata: { annotations: { [lastAppliedAnnotation]: JSON.stringify(normalize(target.object)) } } });
  }

  /** The images, by container, a step of `component` moves its pods to under the current revision (see {@link StepProgress.images}). */
  function stepImages(target: Target, component: string): Record<string, string> | undefined {
    if (target.kind === 'TidbCluster') {
      const image = tidbComponentImage(target.object, component as TidbComponent);
      return image === undefined ? undefined : { [component]: image };
    }
    if (target.kind === 'RedisEnterpriseCluster') {
      const image = redisClusterImage(target.object);
      return image === undefined ? undefined : { [redisNodeContainer]: image };
    }
    if (target.kind === 'StatefulSet') return templateImages(target.object);
    return undefined;
  }

  /** What the step waits for before its gates: the workload's own status. undefined when done; throws GateFailure when it cannot get there. */
  function workloadState(target: Target, step: StepProgress, component: string): string | undefined {
    const ns = target.namespace;
    const pod = (name: string): KubeObject | undefined => live.pod(target.cluster, ns, name);
    for (const name of step.pods) {
      const failure = podFailure(pod(name));
      if (failure !== undefined) throw new GateFailure('pod-failed', `pod ${ns}/${name} cannot start: ${failure}`);
    }
    switch (target.kind) {
      case 'TidbCluster': {
        const tc = liveObject(target);
        const stsName = `${target.name}-${component}`;
        const sts = live.object(target.cluster, 'StatefulSet', ns, stsName);
        const image = step.images?.[component] ?? tidbComponentImage(target.object, component as TidbComponent);
        for (const name of step.pods) {
          const p = pod(name);
          if (p === undefined || podContainerImage(p, component) !== image) return `waiting for ${name} to restart at ${image ?? 'the new image'}`;
          if (!podReady(p)) return `waiting for ${name} to be Ready`;
        }
        return tidbComponentStatus(tc, component, sts);
      }
      case 'RedisEnterpriseCluster': {
        const rec = liveObject(target);
        const failure = redisClusterFailure(rec);
        if (failure !== undefined) throw new GateFailure('operator', failure);
        const image = step.images?.[redisNodeContainer] ?? redisClusterImage(target.object);
        for (const name of step.pods) {
          const p = pod(name);
          if (p === undefined || podContainerImage(p, redisNodeContainer) !== image) return `waiting for ${name} to restart at ${image ?? 'the new image'}`;
          if (!podReady(p)) return `waiting for ${name} to be Ready`;
        }
        return statefulSetRollout(live.object(target.cluster, 'StatefulSet', ns, target.name)) ?? redisClusterStatus(rec);
      }
      case 'StatefulSet': {
        const sts = liveObject(target);
        const updateRevision = (sts?.['status'] as { updateRevision?: string } | undefined)?.updateRevision;
        const images = step.images ?? templateImages(target.object);
        for (const name of step.pods) {
          const p = pod(name);
          if (p === undefined) return `waiting for ${name} to be created`;
          const atRevision = p.metadata.labels?.['controller-revision-hash'] === updateRevision;
          const atImages = Object.entries(images).every(([container, image]) => podContainerImage(p, container) === image);
          if (!atRevision || !atImages) return `waiting for ${name} to restart at the new revision`;
          if (!podReady(p)) return `waiting for ${name} to be Ready`;
        }
        return statefulSetRollout(sts);
      }
      case 'Deployment':
        return deploymentRollout(liveObject(target));
    }
  }

  /** Waits for a step's pods and workload, then its own gates; throws GateFailure at the deadline. */
  async function finishStep(target: Target, progress: Progress, signal: AbortSignal): Promise<Progress> {
    const step = progress.step;
    if (step === undefined) return progress;
    const deadline = step.startedAt + stageDeadline(target, step.stage);
    const gates = stageGates(target, step.stage);
    const cache = access(target.cluster).cache;
    if (step.readyAt === undefined) {
      try {
        await waitUntil(cache, () => (workloadState(target, step, step.stage) === undefined ? true : undefined), deadline, signal, `${target.id} ${step.stage} ${step.pods.join(', ')}`);
      } catch (err) {
        if (err instanceof GateFailure && err.code === 'deadline') {
          let why = 'unknown';
          try {
            why = workloadState(target, step, step.stage) ?? 'done';
          } catch (inner) {
            why = inner instanceof Error ? inner.message : String(inner);
          }
          throw new GateFailure('deadline', `${step.stage} did not finish within its progress deadline (${Math.round((deadline - step.startedAt) / 1000)} s): ${why}`);
        }
        throw err;
      }
      progress = await persist(target, { ...progress, step: { ...step, readyAt: clock.now() } });
    }
    const readyAt = progress.step?.readyAt ?? clock.now();
    if (progress.forceUpgrade !== undefined && progress.forceUpgrade.removedAt === undefined) progress = await removeForceUpgrade(target, progress);
    for (const gate of gates) {
      if (gate.kind === 'soak') await sleep(clock, readyAt + gate.duration - clock.now(), signal);
      if (gate.kind === 'http') {
        const urls = gate.url.includes('{pod}') ? step.pods.map((pod) => gateUrl(gate.url, { namespace: target.namespace, name: target.name, pod })) : [gateUrl(gate.url, { namespace: target.namespace, name: target.name })];
        for (const url of urls) await waitForHttp(gate, url, Math.max(deadline, readyAt + gate.timeout), clock, signal, options.fetch);
      }
    }
    const { step: _done, ...rest } = progress;
    return persist(target, { ...rest, done: [...progress.done, stepKey(step.stage, step.pods)] });
  }

  async function removeForceUpgrade(target: Target, progress: Progress): Promise<Progress> {
    const tc = liveObject(target);
    if ((tc?.['status'] as { pd?: { synced?: boolean } } | undefined)?.pd?.synced !== true) return progress;
    await access(target.cluster).writer.mergePatch(ref(target), { metadata: { annotations: { [forceUpgradeAnnotation]: null } } });
    log.info({ target: target.id }, 'force-upgrade annotation removed: PD is healthy');
    return persist(target, { ...progress, forceUpgrade: { setAt: progress.forceUpgrade?.setAt ?? clock.now(), removedAt: clock.now() } });
  }

  /** Halts: records why, pauses a TidbCluster, rolls a StatefulSet back when policy says so. */
  async function halt(target: Target, progress: Progress, failure: GateFailure, plan: TargetPlan | undefined, signal: AbortSignal): Promise<void> {
    const writer = access(target.cluster).writer;
    let message = failure.message;
    progress = await persist(target, { ...progress, halted: { code: failure.code, message, at: clock.now() } });
    if (target.kind === 'TidbCluster') {
      await writer.mergePatch(ref(target), { spec: { paused: true } });
      message += '; the TidbCluster is paused (spec.paused: true) so TiDB Operator stops too. Fix the cause, then push a new revision (rollgate unpauses it), or set the version back';
    } else if (target.kind === 'StatefulSet' && target.policy.onFailure === 'rollback' && progress.previousTemplate !== undefined && progress.step !== undefined) {
      await rollback(target, progress, signal);
      message += '; rolled back to the previous pod template (onFailure: rollback)';
    } else {
      message += '; nothing moves until a new revision is pushed';
    }
    await report(target, 'Halted', progress, plan, message, { error: { code: failure.code, message: failure.message } });
  }

  /** Restores the previous template and replaces the one broken pod: the StatefulSet controller will not replace a pod that never became Ready (kubernetes#67250). */
  async function rollback(target: Target, progress: Progress, signal: AbortSignal): Promise<void> {
    const writer = access(target.cluster).writer;
    await writer.mergePatch(ref(target), { spec: { template: progress.previousTemplate } });
    for (const name of progress.step?.pods ?? []) {
      const pod = live.pod(target.cluster, target.namespace, name);
      const uid = pod?.metadata['uid'];
      if (typeof uid !== 'string' || progress.deleted.includes(uid)) continue;
      progress = await persist(target, { ...progress, deleted: [...progress.deleted, uid] });
      await writer.deletePod(target.namespace, name, uid);
    }
    const cache = access(target.cluster).cache;
    await waitUntil(cache, () => (statefulSetRollout(liveObject(target)) === undefined ? true : undefined), clock.now() + target.policy.progressDeadline, signal, `${target.id} rolled back`).catch((err: unknown) => {
      log.warn({ target: target.id, err }, 'rollback did not settle within the deadline');
    });
    await writer.mergePatch(ref(target), { spec: { updateStrategy: { rollingUpdate: { partition: gitPartition(target) } } } });
  }

  /** What a failed step leads to: a failed gate halts, a stop stops, anything else is a bug and propagates. */
  async function stepFailed(err: unknown, target: Target, progress: Progress, plan: TargetPlan | undefined, signal: AbortSignal): Promise<RolloutOutcome> {
    if (err instanceof GateFailure) {
      await halt(target, progress, err, plan, signal);
      return 'halted';
    }
    if (err instanceof Stopped) return 'stopped';
    throw err;
  }

  // ---- one target -----------------------------------------------------------

  /** Target ids a target waits for: its `dependsOn`, profile dependencies, and every target of the clusters its cluster waits for. */
  function dependenciesOf(target: Target): string[] {
    const planned = planTarget(target, { live, now: clock.now(), targets: revision.targets });
    const ids = new Set([...target.policy.dependsOn, ...(planned?.dependsOn ?? [])]);
    for (const other of revision.targets) if (target.policy.afterClusters.includes(other.cluster)) ids.add(other.id);
    ids.delete(target.id);
    return [...ids].filter((id) => currentTarget(id) !== undefined);
  }

  /** Called when `apply` hands over a new revision: a rollout waiting for a person re-plans against it. */
  const revisionListeners = new Set<() => void>();

  /** Resolves at the next change of `approvals`, a new revision, or when `signal` aborts. */
  function changeOf(approvals: ApprovalSource, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        off();
        revisionListeners.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const off = approvals.onChange(done);
      revisionListeners.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  async function rollTarget(id: string, signal: AbortSignal): Promise<RolloutOutcome> {
    // A wait for a person ends with a re-plan when the revision changed under it.
    replan: for (;;) {
      if (signal.aborted) return 'stopped';
      const target = currentTarget(id);
      if (target === undefined) return 'stopped';
      const source = revision.source;
      const liveTarget = liveObject(target);
      let progress = liveTarget === undefined ? undefined : readProgress(liveTarget.metadata.annotations);
      if (progress !== undefined && !known.has(rolloutKey(id, progress))) await replay(target, progress);

      // A step in flight is finished first, whichever revision is current: its pods are already moving.
      if (progress?.step !== undefined && progress.halted === undefined) {
        const plan = planTarget(target, { live, now: clock.now(), targets: revision.targets });
        try {
          if (!progress.step.written && progress.source !== source) {
            // Recorded for an older revision and never acknowledged: that revision's write cannot be
            // rebuilt from the newer one, and writing the newer one's would not be the step recorded.
            // Dropping it is safe: pods that did start moving restart at most once more, toward the newer
            // revision, whose rollout plans again from the live state.
            const { step: _dropped, ...rest } = progress;
            progress = await persist(target, rest);
            continue;
          }
          if (!progress.step.written) {
            // The agent stopped between recording the step and its write: the write is idempotent, make it.
            const stagePlan = plan?.stages.find((s) => s.component === progress?.step?.stage);
            if (stagePlan !== undefined && plan !== undefined && liveTarget !== undefined) await access(target.cluster).writer.mergePatch(ref(target), stepPatch(target, plan, stagePlan, progress.step.pods, liveTarget));
            progress = await persist(target, { ...progress, step: { ...progress.step, written: true } });
          }
          progress = await finishStep(target, progress, signal);
        } catch (err) {
          return await stepFailed(err, target, progress, plan, signal);
        }
        continue;
      }

      if (progress?.halted !== undefined && progress.source === source) return 'halted';
      const plan = planTarget(target, { live, now: clock.now(), targets: revision.targets });
      if (plan === undefined || plan.action === 'none') {
        if (progress !== undefined && progress.finishedAt === undefined && liveTarget !== undefined) {
          progress = await persist(target, { ...progress, finishedAt: clock.now() });
          await report(target, 'Succeeded', progress, plan, `${target.id} matches ${source.slice(0, 12) || 'Git'}`);
        }
        return 'succeeded';
      }
      if (plan.action === 'refused') {
        await report(target, 'Refused', progress, plan, plan.refusal ?? 'refused', { error: { code: 'refused', message: plan.refusal ?? 'refused' } });
        return 'refused';
      }
      if (plan.action === 'suspended') {
        await report(target, 'Suspended', progress, plan, `${target.id} is suspended in rollgate.yaml; it stopped at a step boundary`);
        return 'suspended';
      }
      if (plan.action === 'create') {
        await access(target.cluster).writer.create(target.object);
        await access(target.cluster).cache.waitFor(() => liveObject(target), { signal, timeoutMs: 30_000, description: `${target.id} created` }).catch(() => undefined);
        continue;
      }
      if (liveTarget === undefined) continue;
      if (progress === undefined || progress.source !== source) {
        const superseded = progress !== undefined && progress.finishedAt === undefined && progress.halted === undefined;
        if (superseded) await report(target, 'Superseded', progress, plan, `${target.id}: revision ${progress?.source.slice(0, 12) ?? ''} superseded by ${source.slice(0, 12)}`);
        const replaced = superseded && progress !== undefined ? { supersedes: { source: progress.source, planHash: progress.planHash, startedAt: progress.startedAt } } : {};
        const fresh: Progress = {
          source,
          planHash: plan.hash,
          startedAt: clock.now(),
          done: [],
          deleted: [],
          ...replaced,
          ...(target.kind === 'StatefulSet' ? { previousTemplate: liveTarget['spec'] !== undefined ? (liveTarget['spec'] as { template?: unknown }).template : undefined } : {}),
        };
        // This process reports the new rollout's transitions itself: nothing to replay.
        known.add(rolloutKey(id, fresh));
        progress = await persist(target, fresh);
      }
      const stage = plan.stages[0];
      if (stage === undefined) {
        await access(target.cluster).writer.mergePatch(ref(target), finalPatch(target, plan, liveTarget));
        // The write reaches the cache as an event; re-plan once it has.
        await access(target.cluster).cache.waitFor(() => (planTarget(target, { live, now: clock.now(), targets: revision.targets })?.action ?? 'none') === 'none' || undefined, { signal, timeoutMs: 30_000, description: `${target.id} final state` }).catch(() => undefined);
        const after = planTarget(target, { live, now: clock.now(), targets: revision.targets });
        if (after !== undefined && after.action !== 'none' && after.stages.length === 0) {
          await halt(target, progress, new GateFailure('apply', `the cluster does not converge to Git after the final write; still different: ${after.patch.map((p) => p.path).join(', ')}`), after, signal);
          return 'halted';
        }
        continue;
      }
      try {
        // Holds: a person or the calendar decides when the step may start.
        const approvals = options.approvals;
        while (approvals?.isHeld !== undefined && (await approvals.isHeld({ target: target.id, source }))) {
          await report(target, 'Waiting', progress, plan, `${target.id} is on hold; /rollgate resume lets it go on`, { waitingFor: { gate: 'hold', description: 'a /rollgate resume comment' } });
          await changeOf(approvals, signal);
          if (signal.aborted) return 'stopped';
          if (revision.source !== source) continue replan; // a newer revision: plan it
        }
        for (const gate of stageGates(target, stage.component)) {
          if (gate.kind !== 'approval') continue;
          while (!(approvals !== undefined && (await approvals.isApproved({ target: target.id, source, stage: stage.component, gate })))) {
            await report(target, 'Waiting', progress, plan, `${target.id} ${stage.component} waits for approval`, { waitingFor: { gate: 'approval', description: 'a /rollgate approve comment or the approval file' } });
            if (approvals === undefined) return 'waiting';
            await changeOf(approvals, signal);
            if (signal.aborted) return 'stopped';
            if (revision.source !== source) continue replan; // a newer revision: plan it
          }
        }
        await waitForWindows(stageGates(target, stage.component), clock, signal, (description, until) => {
          void report(target, 'Waiting', progress, plan, `${target.id} ${stage.component} waits for the ${description}`, { waitingFor: { gate: 'maintenanceWindow', description, ...(until !== undefined ? { until: iso(until) } : {}) } });
        });
        if (target.kind === 'TidbCluster' && stage.component === 'pd' && (liveTarget['status'] as { pd?: { synced?: boolean } } | undefined)?.pd?.synced === false) {
          if (target.policy.forceUpgrade !== 'whenPDUnavailable') throw new GateFailure('pd-unavailable', 'PD is unavailable (status.pd.synced is false), so TiDB Operator will not upgrade it, and policy forbids a forced upgrade: repair PD, or allow forceUpgrade: whenPDUnavailable for this target');
          if (progress.forceUpgrade === undefined) {
            progress = await persist(target, { ...progress, forceUpgrade: { setAt: clock.now() } });
            await access(target.cluster).writer.mergePatch(ref(target), { metadata: { annotations: { [forceUpgradeAnnotation]: 'true' } } });
            log.warn({ target: target.id }, 'PD unavailable: force-upgrade annotation set');
          }
        }
        const steps = stage.steps[0];
        if (steps === undefined) continue;
        const images = stepImages(target, stage.component);
        progress = await persist(target, { ...progress, step: { stage: stage.component, pods: steps.pods, startedAt: clock.now(), written: false, ...(images !== undefined ? { images } : {}) } });
        await report(target, 'Progressing', progress, plan, `${target.id}: ${stage.component} ${stage.from ?? ''}${stage.to !== undefined ? ` → ${stage.to}` : ''}, restarting ${steps.pods.join(', ')}`);
        await access(target.cluster).writer.mergePatch(ref(target), stepPatch(target, plan, stage, steps.pods, liveTarget));
        if (stage.drive === 'on-delete') {
          for (const name of steps.pods) {
            const uid = live.pod(target.cluster, target.namespace, name)?.metadata['uid'];
            if (typeof uid !== 'string' || progress.deleted.includes(uid)) continue;
            progress = await persist(target, { ...progress, deleted: [...progress.deleted, uid] });
            await access(target.cluster).writer.deletePod(target.namespace, name, uid);
          }
        }
        const recorded = progress.step;
        if (recorded !== undefined) progress = await persist(target, { ...progress, step: { ...recorded, written: true } });
      } catch (err) {
        return await stepFailed(err, target, progress, plan, signal);
      }
    }
  }

  return {
    async apply(next) {
      revision = next;
      for (const listener of [...revisionListeners]) listener();
      const tasks = new Map<string, Promise<RolloutOutcome>>();
      const start = (target: Target, chain: ReadonlySet<string>): Promise<RolloutOutcome> => {
        const known = tasks.get(target.id);
        if (known !== undefined) return known;
        const task = (async (): Promise<RolloutOutcome> => {
          const existing = running.get(target.id);
          if (existing !== undefined) await existing.catch(() => undefined);
          // Dependencies first; the loader rejects cycles, and `chain` keeps a profile-made one from deadlocking.
          const dependencies = dependenciesOf(target).filter((id) => !chain.has(id));
          const results = await Promise.all(dependencies.map((id) => {
            const dependency = currentTarget(id);
            return dependency === undefined ? Promise.resolve<RolloutOutcome>('succeeded') : start(dependency, new Set([...chain, target.id]));
          }));
          const blocked = dependencies.filter((_, i) => results[i] !== 'succeeded');
          if (blocked.length > 0) {
            await report(target, 'Pending', undefined, undefined, `${target.id} waits for ${blocked.join(', ')}, which did not finish`);
            return 'waiting';
          }
          await acquire();
          const run = rollTarget(target.id, stopping.signal);
          running.set(target.id, run);
          try {
            return await run;
          } catch (err) {
            log.error({ target: target.id, err }, 'rollout failed');
            const message = err instanceof Error ? err.message : String(err);
            await report(target, 'Halted', undefined, undefined, message, { error: { code: 'error', message } });
            return 'halted';
          } finally {
            release();
            running.delete(target.id);
          }
        })();
        tasks.set(target.id, task);
        return task;
      };
      const outcomes = new Map<string, RolloutOutcome>();
      await Promise.all(next.targets.map(async (target) => outcomes.set(target.id, await start(target, new Set()))));
      return outcomes;
    },
    async stop() {
      stopping.abort();
      await Promise.allSettled([...running.values()]);
    },
  };
}

