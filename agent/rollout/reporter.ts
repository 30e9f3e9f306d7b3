/**
 * What a rollout tells the world: every transition of a target's rollout is
 * handed to reporters (logs and Kubernetes Events here; status commits on
 * Git, pull-request comments and commit statuses in `agent/report/`).
 *
 * A transition is plain data and carries everything a reporter needs, so a
 * reporter never reads the cluster or the plan, and two reporters never
 * disagree about what happened.
 */

/**
 * Where a target's rollout stands.
 * - `Pending`: planned, waiting for a dependency (another target or cluster) to finish.
 * - `Progressing`: moving a component or a pod, or waiting for one to pass its gates.
 * - `Waiting`: held by something a person or the calendar decides: an approval or a maintenance window.
 * - `Halted`: a gate failed or a deadline passed; nothing moves until a person acts.
 * - `Succeeded`: the cluster matches the desired revision.
 * - `Suspended`: Git suspends the target; it stopped at a step boundary.
 * - `Superseded`: a newer revision replaced this one before it finished.
 * - `Refused`: the plan was refused (a downgrade without policy, an invalid change); nothing was written.
 */
export type RolloutPhase = 'Pending' | 'Progressing' | 'Waiting' | 'Halted' | 'Succeeded' | 'Suspended' | 'Superseded' | 'Refused';

/** Progress of one stage (a TiDB component, a Redis Enterprise cluster, a workload) of a rollout. */
export interface StageProgress {
  /** `pd`, `tikv`, `tidb`, `redis-enterprise`, a workload name… */
  readonly component: string;
  readonly from?: string;
  readonly to?: string;
  readonly state: 'pending' | 'running' | 'waiting' | 'done' | 'halted';
  /** Pods restarted and past their gates so far. */
  readonly podsDone: number;
  /** Pods this stage restarts. */
  readonly podsTotal: number;
  /** RFC 3339. */
  readonly startedAt?: string;
  /** RFC 3339. */
  readonly finishedAt?: string;
}

/** One transition of one target's rollout. The key `(target, source, phase, stage, step)` identifies it: reporters write each key once. */
export interface RolloutTransition {
  /** Target id, `cluster/namespace/kind/name`. */
  readonly target: string;
  readonly cluster: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  /** The desired-state commit being rolled out (full sha), or undefined for a local directory. */
  readonly source: string | undefined;
  /** Hash of the plan being executed; a new plan (re-planned from live state) has a new hash. */
  readonly planHash: string;
  readonly phase: RolloutPhase;
  /** The stage in progress (its component), if any. */
  readonly stage?: string;
  /** 0-based index of the step within the stage, if any. */
  readonly step?: number;
  readonly stages: readonly StageProgress[];
  /** RFC 3339: when this rollout of this source started. */
  readonly startedAt: string;
  /** RFC 3339: when it reached Succeeded, Halted, Superseded or Refused. */
  readonly finishedAt?: string;
  /** RFC 3339: when this transition happened. */
  readonly at: string;
  /** One sentence for people: what happened, and for halts what to do. */
  readonly message: string;
  /** For Halted and Refused: a stable code and the reason. */
  readonly error?: { readonly code: string; readonly message: string };
  /** For Waiting: what the rollout waits for (`approval`, `maintenanceWindow`, `hold`) and until when, if known. */
  readonly waitingFor?: { readonly gate: string; readonly description: string; readonly until?: string };
  /**
   * True when the transition happened earlier and is reported again: a
   * process that resumes a rollout it did not start replays the rollout's
   * transitions from the progress record, because the process that first
   * reported them may have been killed before its reporters wrote them
   * (status commits are queued, not written, when `report` returns).
   * Reporters that record (status commits) write a replayed transition they
   * do not have yet; reporters that only announce (Kubernetes Events) may
   * skip it. `at` is the time of the replay.
   */
  readonly replay?: boolean;
}

/** Receives transitions. Implementations must be idempotent: the same transition may be reported again after a restart. */
export interface Reporter {
  report(transition: RolloutTransition): Promise<void>;
}
