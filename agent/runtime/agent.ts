/**
 * The agent loop: poll the source, load what changed, hand the targets to
 * the executor, report. One reconcile at a time; a rollout runs on while
 * later reconciles hand newer revisions to the executor, which picks them
 * up at the next step boundary.
 *
 * Nothing in the cluster changes unless a new revision loaded cleanly: a
 * failed poll, a rejected signature or an invalid repository leaves the
 * last applied revision in force and says why (logs, readiness, metrics).
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { agentUserAgent, withUserAgent } from '../live/http.ts';
import { createLiveCache, rollgateResources, type LiveCache } from '../live/index.ts';
import { formatProblemLine, loadRepository, reload, type LoadResult, type Target } from '../manifests/index.ts';
import { createEventReporter, fanOut } from '../report/events.ts';
import { changedOnlyStatus, createGitStatusReporter, type GitStatusReporter, type StatusTarget } from '../report/git/index.ts';
import { anyApproval, createFileApprovals } from '../rollout/approvals.ts';
import { cacheLiveState, createExecutor, type Executor, type RolloutOutcome } from '../rollout/executor.ts';
import type { LiveState } from '../plan/index.ts';
import { realClock, type ApprovalSource, type RolloutClock } from '../rollout/gates.ts';
import type { Reporter } from '../rollout/reporter.ts';
import { createClusterWriter } from '../rollout/writer.ts';
import { createGitSource, type GitSource, type PollResult } from '../source/index.ts';
import { gitEnvironment, loadCredentials, parseRemoteUrl } from '../source/remote.ts';
import { secretVariablesOf, sourceAuthOf, type AgentConfig } from './config.ts';

/** What one reconcile did. */
export type ReconcileResult =
  | { readonly type: 'unchanged'; readonly commit: string }
  | { readonly type: 'applied'; readonly commit: string; readonly targets: number }
  | { readonly type: 'status-only'; readonly commit: string }
  | { readonly type: 'invalid'; readonly commit: string; readonly problems: readonly string[] }
  | { readonly type: 'rejected'; readonly commit: string; readonly message: string }
  | { readonly type: 'failed'; readonly message: string };

/** Observers of the loop, for metrics. All optional. */
export interface AgentObserver {
  polled?(result: PollResult['type'], durationMs: number): void;
  reconciled?(result: ReconcileResult['type'], durationMs: number): void;
}

/** Options of {@link createAgent}. */
export interface AgentOptions {
  readonly config: AgentConfig;
  /**
   * The kubeconfig of each cluster of rollgate.yaml, its context current; throws (a ConfigError) for a cluster it cannot reach.
   * The agent sends `rollgate/<version> (<leaderElection.identity>)` as the User-Agent of every request made with it (cache, writer, Events).
   */
  readonly kubeConfigFor: (cluster: string) => KubeConfig;
  readonly logger: Logger;
  /** Reporters besides status commits and Kubernetes Events: pull requests, metrics, a terminal view. */
  readonly reporters?: readonly Reporter[];
  /** Approvals besides approval files: pull-request comments. */
  readonly approvals?: ApprovalSource;
  /** The executor's clock; default the process clock (the demo runs it on kube-sim's). */
  readonly rolloutClock?: RolloutClock;
  /** Whether this replica may roll `target` (leader election, shards). Default: every target. */
  readonly owns?: (targetId: string) => boolean;
  readonly observer?: AgentObserver;
  /** The environment git credentials are read from. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** The agent. */
export interface Agent {
  /**
   * One poll; a load and an apply when the head moved. Serialised: a call during one returns that one, except a
   * forced call (a push webhook), which gets one more reconcile after it. Never throws.
   */
  reconcile(options?: { readonly force?: boolean }): Promise<ReconcileResult>;
  /** Hands the last loaded revision to the executor again (after this replica gained targets). */
  reapply(): Promise<void>;
  /** Stops every rollout at its next safe point and starts a fresh executor (after this replica lost targets). */
  resetRollouts(): Promise<void>;
  /** Resolves when the rollouts started by the last apply have finished, halted or wait for a person. */
  settled(): Promise<ReadonlyMap<string, RolloutOutcome>>;
  /**
   * Ready once a revision is loaded and every cluster's cache is synced: false from the start until the first
   * reconcile that loads a revision succeeds, with one reason per thing waited for (no revision yet, the
   * repository unreachable, a cluster's first list still running). After that, `reasons` also lists a failing
   * source or an invalid newest commit: the last good revision stays in force, so they do not make the agent unready.
   */
  readiness(): { readonly ok: boolean; readonly reasons: readonly string[] };
  /** The targets of the last valid revision. */
  targets(): readonly Target[];
  /** The live state of the clusters the agent watches, for plans of pull requests. */
  live(): LiveState;
  /** Stops rollouts at a safe point, flushes status, stops caches. Idempotent. */
  stop(options?: { readonly flushTimeoutMs?: number }): Promise<void>;
}

interface ClusterHandle {
  readonly cache: LiveCache;
  readonly writer: ReturnType<typeof createClusterWriter>;
  readonly kubeConfig: KubeConfig;
}

const emptyOutcomes: ReadonlyMap<string, RolloutOutcome> = new Map();

/** Creates the agent; nothing runs until the first `reconcile`. */
export function createAgent(options: AgentOptions): Agent {
  const { config, logger } = options;
  const env = options.env ?? process.env;
  const clock = options.rolloutClock ?? realClock;
  const stopping = new AbortController();
  const userAgent = agentUserAgent(config.leaderElection.identity);
  const auth = sourceAuthOf(config);
  const source: GitSource = createGitSource({
    url: config.repo,
    branch: config.branch,
    workDir: join(config.dataDir, 'source'),
    ...(auth !== undefined ? { auth } : {}),
    ...(config.verify !== undefined ? { verify: { ...(config.verify.openpgpKeys !== undefined ? { openpgpKeys: config.verify.openpgpKeys } : {}), ...(config.verify.sshAllowedSigners !== undefined ? { sshAllowedSigners: config.verify.sshAllowedSigners } : {}) } } : {}),
    logger: logger.child({ component: 'source' }),
    // git never sees the forge token or the webhook secrets (the source drops the Git token's own variable itself).
    env: Object.fromEntries(Object.entries(env).filter(([name]) => name === config.auth?.tokenEnv || !secretVariablesOf(config).includes(name))),
  });

  const clusters = new Map<string, ClusterHandle>();
  /** Clusters whose cache is making its first list, so readiness can say what it waits for. */
  const syncing = new Set<string>();
  const kubeConfigs = new Map<string, KubeConfig>();
  const fileApprovals = createFileApprovals();
  const approvals = options.approvals !== undefined ? anyApproval(fileApprovals, options.approvals) : fileApprovals;
  let statusReporter: GitStatusReporter | undefined;
  let statusLocation: string | undefined;
  // The event reporter reads `kubeConfigs` when it reports, so clusters added later are covered.
  const events = createEventReporter({ clusters: kubeConfigs, logger: logger.child({ component: 'events' }) });
  const others = fanOut(events, ...(options.reporters ?? []));
  const reporter: Reporter = {
    // The status reporter is created once the repository says where status goes.
    report: (transition) => fanOut(...(statusReporter !== undefined ? [statusReporter] : []), others).report(transition),
  };
  // The executor reads `clusters` when it plans, so clusters added by a later revision are covered.
  const newExecutor = (): Executor => createExecutor({ clusters, reporter, logger: logger.child({ component: 'rollout' }), clock, approvals, concurrency: config.concurrency });
  let executor = newExecutor();
  let loaded: { result: LoadResult; commit: string } | undefined;
  let lastProblem: string | undefined;
  /** Why the last poll could not read the repository; cleared by the next poll that can, whatever it then finds. */
  let sourceProblem: string | undefined;
  let running: Promise<ReadonlyMap<string, RolloutOutcome>> = Promise.resolve(emptyOutcomes);
  let inFlight: Promise<ReconcileResult> | undefined;
  let followUp: Promise<ReconcileResult> | undefined;

  async function ensureCluster(name: string): Promise<void> {
    if (clusters.has(name)) return;
    // Every request names this replica, so an API server's audit log (and the HA test) tells replicas apart.
    const kubeConfig = withUserAgent(options.kubeConfigFor(name), userAgent);
    const cache = createLiveCache({ kubeConfig, resources: rollgateResources.filter((r) => r.plural !== 'leases' && r.plural !== 'controllerrevisions'), logger: logger.child({ component: 'live', cluster: name }) });
    syncing.add(name);
    try {
      await cache.start({ signal: stopping.signal });
    } finally {
      syncing.delete(name);
    }
    const writer = createClusterWriter({ kubeConfig, clock, logger: logger.child({ component: 'writer', cluster: name }), signal: stopping.signal });
    clusters.set(name, { cache, writer, kubeConfig });
    kubeConfigs.set(name, kubeConfig);
  }

  async function ensureStatusReporter(result: LoadResult): Promise<void> {
    if (!config.status.enabled || result.config === undefined) return;
    const status = result.config.status;
    const target: StatusTarget = status.mode === 'branch' ? { mode: 'branch', branch: status.branch } : { mode: 'inTree', path: status.path, branch: config.branch };
    const key = JSON.stringify(target);
    if (key === statusLocation) return;
    await statusReporter?.close();
    const remote = parseRemoteUrl(config.repo);
    const credentials = await loadCredentials(auth, remote, env);
    statusReporter = createGitStatusReporter({
      repoUrl: config.repo,
      workDir: join(config.dataDir, 'status'),
      mode: target,
      author: config.status.author,
      ...(config.status.sign !== undefined ? { sign: config.status.sign } : {}),
      env: gitEnvironment(env, { config: credentials.config, env: credentials.env, dropVariables: secretVariablesOf(config) }),
      logger: logger.child({ component: 'status' }),
    });
    statusLocation = key;
  }

  function owned(targets: readonly Target[]): Target[] {
    return options.owns === undefined ? [...targets] : targets.filter((t) => options.owns?.(t.id) === true);
  }

  function apply(result: LoadResult, commit: string): void {
    const targets = owned(result.targets);
    running = executor.apply({ targets, source: commit });
    running.catch((err: unknown) => logger.error({ err }, 'the executor failed'));
  }

  async function reconcileOnce(force: boolean): Promise<ReconcileResult> {
    const started = performance.now();
    const polled = await source.poll({ force });
    options.observer?.polled?.(polled.type, performance.now() - started);
    let result: ReconcileResult;
    sourceProblem = polled.type === 'failed' ? `the repository cannot be read: ${polled.error.message}` : undefined;
    if (polled.type === 'failed') {
      result = { type: 'failed', message: polled.error.message };
    } else if (polled.type === 'rejected') {
      lastProblem = `commit ${polled.commit.slice(0, 12)} was refused: ${polled.message}`;
      logger.warn({ commit: polled.commit, reason: polled.reason }, 'head commit refused by the signature policy; the last good revision stays in force');
      result = { type: 'rejected', commit: polled.commit, message: polled.message };
    } else if (polled.type === 'unchanged' && loaded !== undefined) {
      result = { type: 'unchanged', commit: polled.commit };
    } else {
      const revision = polled.type === 'changed' ? polled.revision : source.lastGood();
      const changedFiles = polled.type === 'changed' ? polled.changedFiles : 'all';
      if (revision === undefined) {
        result = { type: 'failed', message: 'no revision checked out yet' };
      } else if (loaded !== undefined && loaded.result.config !== undefined && changedFiles !== 'all' && changedOnlyStatus(changedFiles, loaded.result.config.status)) {
        // rollgate's own in-tree status commit: nothing to roll out.
        source.markApplied(revision.commit);
        result = { type: 'status-only', commit: revision.commit };
      } else {
        result = await load(revision.commit, revision.dir, changedFiles);
      }
    }
    options.observer?.reconciled?.(result.type, performance.now() - started);
    return result;
  }

  async function load(commit: string, dir: string, changedFiles: readonly string[] | 'all'): Promise<ReconcileResult> {
    const result = loaded !== undefined && changedFiles !== 'all' ? await reload(loaded.result, changedFiles, dir) : await loadRepository(dir);
    if (!result.valid) {
      const problems = result.problems.map((p) => formatProblemLine(p));
      lastProblem = `commit ${commit.slice(0, 12)} is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}); the last valid revision stays in force`;
      for (const line of problems) logger.error({ commit }, line);
      return { type: 'invalid', commit, problems };
    }
    try {
      for (const cluster of result.clusters) await ensureCluster(cluster);
      await ensureStatusReporter(result);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      lastProblem = message;
      logger.error({ commit, err: message }, 'cannot reach a cluster of the repository; nothing applied');
      return { type: 'failed', message };
    }
    lastProblem = undefined;
    fileApprovals.setRevision(commit, changedFiles);
    loaded = { result, commit };
    apply(result, commit);
    source.markApplied(commit);
    logger.info({ commit, targets: result.targets.length, changedFiles: changedFiles === 'all' ? 'all' : changedFiles.length }, 'revision applied');
    return { type: 'applied', commit, targets: result.targets.length };
  }

  const agent: Agent = {
    reconcile(reconcileOptions = {}) {
      const force = reconcileOptions.force === true;
      if (inFlight !== undefined) {
        if (!force) return inFlight;
        // A push announced (by a webhook) during a reconcile may be newer than the head that reconcile saw:
        // one more runs after it, for however many such calls arrive meanwhile.
        followUp ??= inFlight.then(() => {
          followUp = undefined;
          return agent.reconcile({ force: true });
        });
        return followUp;
      }
      inFlight = reconcileOnce(force)
        .catch((err: unknown): ReconcileResult => {
          const message = err instanceof Error ? err.message : String(err);
          lastProblem = message;
          logger.error({ err: message }, 'reconcile failed');
          return { type: 'failed', message };
        })
        .finally(() => {
          inFlight = undefined;
        });
      return inFlight;
    },
    reapply() {
      if (loaded !== undefined) apply(loaded.result, loaded.commit);
      return Promise.resolve();
    },
    async resetRollouts() {
      const old = executor;
      executor = newExecutor();
      await old.stop();
    },
    settled: () => running,
    readiness() {
      const reasons: string[] = [];
      if (loaded === undefined) reasons.push('no revision loaded yet');
      if (sourceProblem !== undefined) reasons.push(sourceProblem);
      if (lastProblem !== undefined) reasons.push(lastProblem);
      for (const name of syncing) reasons.push(`cluster ${name}: watch cache not synced yet (first list in progress)`);
      for (const [name, handle] of clusters) {
        const health = handle.cache.health();
        if (!health.synced) reasons.push(`cluster ${name}: watch cache not synced`);
      }
      return { ok: loaded !== undefined && [...clusters.values()].every((c) => c.cache.health().synced), reasons };
    },
    targets: () => loaded?.result.targets ?? [],
    live: () => cacheLiveState(clusters),
    async stop(stopOptions = {}) {
      if (stopping.signal.aborted) return;
      await executor.stop();
      stopping.abort();
      if (statusReporter !== undefined) {
        const timeout = AbortSignal.timeout(stopOptions.flushTimeoutMs ?? 10_000);
        await statusReporter.flush({ signal: timeout }).catch((err: unknown) => logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'status transitions not written before shutdown are lost; the status file is rewritten at the next transition'));
        await statusReporter.close();
      }
      await Promise.all([...[...clusters.values()].map((c) => c.cache.stop()), source.pruned()]);
    },
  };
  return agent;
}
