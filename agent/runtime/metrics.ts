/**
 * The agent's Prometheus metrics (prom-client), on a registry of their own:
 * nothing goes to prom-client's global default registry, so two agents in
 * one process (tests, `rollgate demo`) never collide, and nothing is
 * registered at import time.
 *
 * Names follow the Prometheus conventions: the `rollgate_` prefix, base
 * units in the name (`_seconds`), `_total` on counters. The process and
 * Node.js metrics of `collectDefaultMetrics` keep their standard names
 * (`process_cpu_seconds_total`, `nodejs_eventloop_lag_seconds`, …) so that
 * stock dashboards work.
 *
 * Label values come from small closed sets (phases, gate kinds, forges,
 * status codes, cluster and target names from the repository), never from
 * free text, so the number of series stays bounded.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { GateKind } from '../manifests/types.ts';
import type { RolloutPhase } from '../rollout/reporter.ts';
import type { PollResult } from '../source/index.ts';
import type { ForgeKind } from '../webhook/events.ts';
import type { LeaderEvent } from './leader.ts';

/** Every rollout phase, in the order the one-hot series are written. */
export const rolloutPhases = ['Pending', 'Progressing', 'Waiting', 'Halted', 'Succeeded', 'Suspended', 'Superseded', 'Refused'] as const satisfies readonly RolloutPhase[];

// Fails to compile when RolloutPhase gains a member that `rolloutPhases` lacks.
const everyPhaseListed: Exclude<RolloutPhase, (typeof rolloutPhases)[number]> extends never ? true : never = true;
void everyPhaseListed;

/** The outcome of one source poll, as the source stage reports it. */
export type GitPollResult = PollResult['type'];

/** Options of {@link createMetrics}. */
export interface MetricsOptions {
  /** Register process and Node.js metrics (CPU, memory, event loop lag, GC) too. Default true. */
  readonly defaultMetrics?: boolean;
  /** Labels added to every series (e.g. `{ replica: 'rollgate-0' }`). Default none. */
  readonly defaultLabels?: Readonly<Record<string, string>>;
}

/** The agent's metrics and typed helpers to update them. Durations are in seconds, as Prometheus expects. */
export interface Metrics {
  /** The registry holding every series below; serve it with the ops server. */
  readonly registry: Registry;
  /** `rollgate_reconcile_duration_seconds{result}`: one reconcile, from reading the source to the last write. */
  observeReconcile(seconds: number, result: 'success' | 'error'): void;
  /** `rollgate_git_polls_total{result}`: `unchanged`, `changed`, `rejected`, `failed`. */
  countGitPoll(result: GitPollResult): void;
  /** `rollgate_git_fetches_total{result}`: fetches of new revisions (polls that found nothing new fetch nothing). */
  countGitFetch(result: 'success' | 'error'): void;
  /** `rollgate_source_degraded{source}`: 1 while the source keeps failing and the agent works from its last good revision. */
  setSourceDegraded(source: string, degraded: boolean): void;
  /**
   * `rollgate_rollout_phase{target,phase}`: 1 for the target's current
   * phase, 0 for every other phase (one-hot, as kube-state-metrics writes
   * pod phases), so `rollgate_rollout_phase{phase="Halted"} == 1` finds halted targets.
   */
  setRolloutPhase(target: string, phase: RolloutPhase): void;
  /** Removes a target's phase series (the target left the repository). */
  forgetTarget(target: string): void;
  /** `rollgate_gate_wait_seconds{gate}`: how long a step waited for a gate of this kind to pass (or fail). */
  observeGateWait(gate: GateKind, seconds: number): void;
  /** `rollgate_api_errors_total{cluster,code}`: failed Kubernetes API requests; `code` is the HTTP status or `network`/`timeout`. */
  countApiError(cluster: string, code: string | number): void;
  /** `rollgate_forge_errors_total{forge,code}`: failed forge API requests; `code` is the HTTP status or `network`/`timeout`. */
  countForgeError(forge: ForgeKind, code: string | number): void;
  /** `rollgate_leader_status{shard}`: 1 while this replica holds the shard's Lease, else 0 (`shard` "0" for plain leader election). */
  setLeader(shard: number | string, leading: boolean): void;
  /** `rollgate_webhook_deliveries_total{forge,result}`: webhook deliveries by outcome (`accepted`, `duplicate`, `ignored`, `unauthorized`, `invalid`…, a closed set). */
  countWebhookDelivery(forge: ForgeKind, result: string): void;
  /**
   * Feeds a leader elector's events into `rollgate_leader_status` (0 from
   * the first record read, 1 during each term) and
   * `rollgate_api_errors_total` (Lease request failures other than the 409
   * of a lost race, which is the protocol working). Pass it to
   * `elector.subscribe` or, with the shard, to `subscribeElectors`.
   */
  leaderEvents(cluster: string): (shard: number, event: LeaderEvent) => void;
  /** The Prometheus text exposition of the registry. */
  text(): Promise<string>;
}

/** Buckets of a reconcile: 10 ms to 5 minutes. Seconds. */
const reconcileBuckets = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Buckets of a gate wait: a second (pod Ready) to a day (an approval, a weekly window). Seconds. */
const gateBuckets = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400];

/** Creates the metrics on a new registry. Default metrics start collecting on scrape only (prom-client collects them when asked). */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.defaultLabels) registry.setDefaultLabels({ ...options.defaultLabels });
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const reconcile = new Histogram({ name: 'rollgate_reconcile_duration_seconds', help: 'Duration of one reconcile, from reading the source to the last write.', labelNames: ['result'] as const, buckets: reconcileBuckets, registers });
  const polls = new Counter({ name: 'rollgate_git_polls_total', help: 'Polls of the Git source (one ls-remote each), by result.', labelNames: ['result'] as const, registers });
  const fetches = new Counter({ name: 'rollgate_git_fetches_total', help: 'Fetches of new revisions from the Git source, by result.', labelNames: ['result'] as const, registers });
  const degraded = new Gauge({ name: 'rollgate_source_degraded', help: '1 while the Git source keeps failing and the agent works from its last good revision.', labelNames: ['source'] as const, registers });
  const phase = new Gauge({ name: 'rollgate_rollout_phase', help: "1 for each target's current rollout phase, 0 for its other phases.", labelNames: ['target', 'phase'] as const, registers });
  const gateWait = new Histogram({ name: 'rollgate_gate_wait_seconds', help: 'Time a rollout step waited on a gate, by gate kind.', labelNames: ['gate'] as const, buckets: gateBuckets, registers });
  const apiErrors = new Counter({ name: 'rollgate_api_errors_total', help: 'Failed Kubernetes API requests, by cluster and HTTP status (or network, timeout).', labelNames: ['cluster', 'code'] as const, registers });
  const forgeErrors = new Counter({ name: 'rollgate_forge_errors_total', help: 'Failed forge API requests, by forge and HTTP status (or network, timeout).', labelNames: ['forge', 'code'] as const, registers });
  const leader = new Gauge({ name: 'rollgate_leader_status', help: "1 while this replica holds the shard's Lease, else 0.", labelNames: ['shard'] as const, registers });
  const webhooks = new Counter({ name: 'rollgate_webhook_deliveries_total', help: 'Webhook deliveries received, by forge and outcome.', labelNames: ['forge', 'result'] as const, registers });

  // A negative or NaN duration is a bug upstream; dropping it keeps one bad caller from poisoning a histogram's sum.
  const validSeconds = (seconds: number) => Number.isFinite(seconds) && seconds >= 0;

  const metrics: Metrics = {
    registry,
    observeReconcile: (seconds, result) => {
      if (validSeconds(seconds)) reconcile.observe({ result }, seconds);
    },
    countGitPoll: (result) => polls.inc({ result }),
    countGitFetch: (result) => fetches.inc({ result }),
    setSourceDegraded: (source, isDegraded) => degraded.set({ source }, isDegraded ? 1 : 0),
    setRolloutPhase: (target, current) => {
      for (const p of rolloutPhases) phase.set({ target, phase: p }, p === current ? 1 : 0);
    },
    forgetTarget: (target) => {
      for (const p of rolloutPhases) phase.remove({ target, phase: p });
    },
    observeGateWait: (gate, seconds) => {
      if (validSeconds(seconds)) gateWait.observe({ gate }, seconds);
    },
    countApiError: (cluster, code) => apiErrors.inc({ cluster, code: String(code) }),
    countForgeError: (forge, code) => forgeErrors.inc({ forge, code: String(code) }),
    setLeader: (shard, leading) => leader.set({ shard: String(shard) }, leading ? 1 : 0),
    countWebhookDelivery: (forge, result) => webhooks.inc({ forge, result }),
    leaderEvents: (cluster) => (shard, event) => {
      if (event.type === 'started-leading') metrics.setLeader(shard, true);
      else if (event.type === 'stopped-leading') metrics.setLeader(shard, false);
      // The first record a follower reads creates its series at 0; an acquisition reads its own name here just before started-leading.
      else if (event.type === 'new-leader') metrics.setLeader(shard, false);
      else if (event.type === 'request-failed' && event.code !== '409') metrics.countApiError(cluster, event.code);
    },
    text: () => registry.metrics(),
  };
  return metrics;
}
