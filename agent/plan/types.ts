/**
 * The plan: what a reviewer reads before anything restarts and what the
 * executor follows step by step. Plain data, serialisable as it is, so the
 * JSON output is the plan itself and a plan's hash identifies it.
 */
import type { KubeObject, Position, TargetKind } from '../manifests/index.ts';

/**
 * Stable codes of the warnings a plan carries. Pull-request bots and tests
 * key on them, so a code never changes meaning.
 */
export type WarningCode =
  /** A component runs fewer replicas than the highly available minimum (PD×3, TiKV×3, TiDB×2). */
  | 'small-topology'
  /** TiDB servers restart; clients that cannot retry see their connections closed. */
  | 'tidb-client-connections'
  /** Git asks for an older version than the cluster runs; refused unless policy allows it. */
  | 'downgrade'
  /** A version change skips at least one major version. */
  | 'major-version-skip'
  /** A component moves to (or from) the enterprise images. */
  | 'enterprise-images'
  /** The Redis Enterprise operator that will run the cluster does not support the cluster's version. */
  | 'redis-operator-unsupported'
  /** `tidb.pingcap.com/force-upgrade` is still set on a TidbCluster whose PD is healthy. */
  | 'stale-force-upgrade'
  /** PD is unavailable, so TiDB Operator will not upgrade gracefully. */
  | 'pd-unavailable'
  /** The TidbCluster is paused (`spec.paused: true`), so its operator does nothing. */
  | 'paused'
  /** Git suspends the target; rollgate leaves it alone. */
  | 'suspended'
  /** A workload rollgate rolls pod by pod has no readiness probe, so Ready only means started. */
  | 'no-readiness-probe'
  /** A field someone changed in the cluster that Git did not; rollgate restores Git's value. */
  | 'drift'
  /** Git changes a field the API server will not let change in place. */
  | 'immutable-field'
  /** A version rollgate cannot compare (not a semantic version, e.g. `latest`). */
  | 'unversioned-image'
  /** The pods of a stage are not all Running and Ready before the rollout starts. */
  | 'unhealthy-before-start';

/** A warning: a stable code, a sentence that says what to do, and where in the repository it applies. */
export interface PlanWarning {
  readonly code: WarningCode;
  readonly message: string;
  /** Component the warning concerns, when one does. */
  readonly component?: string;
  readonly position?: Position;
}

/** How a change is classified. */
export type ChangeKind =
  /** The version (image tag) moves forward. */
  | 'upgrade'
  /** The version moves backward. */
  | 'downgrade'
  /** The image changes in a way that is not a version order (another repository, an unparseable tag). */
  | 'image'
  /** A configuration change that restarts pods. */
  | 'restart'
  /** A change that restarts nothing: labels, annotations, replicas, policy fields. */
  | 'in-place'
  /** A field someone changed in the cluster that Git did not; restoring it may restart pods. */
  | 'drift';

/** One difference between Git and the cluster, classified. */
export interface PlanChange {
  readonly kind: ChangeKind;
  /** JSON pointer into the desired object (`/spec/pd/baseImage`), or a component for a version change. */
  readonly path: string;
  /** The component it concerns, if any. */
  readonly component?: string;
  /** Rendered values (versions for upgrades, JSON for the rest); undefined when absent. */
  readonly from?: string;
  readonly to?: string;
  /** Whether applying it restarts pods. */
  readonly restarts: boolean;
}

/** A JSON patch operation (RFC 6902) from the live object to the desired one. */
export type PatchOperation =
  | { readonly op: 'add' | 'replace'; readonly path: string; readonly value: unknown }
  | { readonly op: 'remove'; readonly path: string };

/**
 * How a stage is carried out.
 * - `operator`: rollgate writes the component's version and the operator restarts its pods (TiDB, Redis Enterprise).
 * - `force`: TiDB PD with `tidb.pingcap.com/force-upgrade`: the operator restarts every PD pod without its graceful steps.
 * - `partition`: rollgate lowers a StatefulSet's partition one ordinal at a time.
 * - `on-delete`: an `OnDelete` StatefulSet: rollgate deletes one pod at a time.
 * - `native`: a Deployment rolls its pods itself.
 */
export type DriveMode = 'operator' | 'force' | 'partition' | 'on-delete' | 'native';

/** A gate as the plan shows it: its kind, a short description, and where it is written. */
export interface PlanGate {
  readonly kind: 'podReady' | 'rolloutStatus' | 'soak' | 'http' | 'approval' | 'maintenanceWindow';
  /** `soak 30s`, `GET http://… → 200`, `window "0 2 * * 1-5" for 3h (Europe/Berlin)`. */
  readonly summary: string;
  /** Where the gate is written; undefined for gates the profile always applies. */
  readonly position?: Position;
}

/** What holds a stage before it can start: a person or the calendar. */
export interface StageHold {
  readonly gate: 'approval' | 'maintenanceWindow';
  /** What it waits for, as a sentence. */
  readonly description: string;
  /** For windows: whether the window is open at planning time, and the next opening or the closing (RFC 3339). */
  readonly open?: boolean;
  readonly opensAt?: string;
  readonly closesAt?: string;
}

/** One step: the pods that restart together, then the stage's gates. */
export interface PlanStep {
  readonly pods: readonly string[];
}

/** One stage: a component (or a whole workload) moving to its desired state. */
export interface PlanStage {
  /** `pd`, `tikv`, `tidb`, `redis-enterprise`, or the workload's name. */
  readonly component: string;
  /** Version before and after (equal for a configuration change). */
  readonly from?: string;
  readonly to?: string;
  readonly drive: DriveMode;
  /** The workload whose pods restart. */
  readonly workload: { readonly kind: 'StatefulSet' | 'Deployment'; readonly name: string };
  /** Every pod that restarts, in restart order (highest ordinal first). */
  readonly pods: readonly string[];
  /** Pods of the workload left alone: already at the desired revision, or below the partition. */
  readonly skipped: readonly string[];
  /** Why the stage exists: `version v7.5.1 → v8.1.0`, `spec.tikv.config`. */
  readonly reasons: readonly string[];
  readonly steps: readonly PlanStep[];
  /** The gates every step passes before the next starts, and the stage before the next stage. */
  readonly gates: readonly PlanGate[];
  /** ms */
  readonly progressDeadline: number;
  readonly holds: readonly StageHold[];
}

/** What the executor does with a target. */
export type TargetAction =
  /** Nothing: the cluster matches Git. Shown only when a warning concerns the target. */
  | 'none'
  /** The target does not exist in the cluster: create it. */
  | 'create'
  /** Apply changes, restarting pods through the stages. */
  | 'update'
  /** A change is refused (a downgrade without policy); nothing is written. */
  | 'refused'
  /** Git suspends the target; its changes wait. */
  | 'suspended';

/** The plan of one target. */
export interface TargetPlan {
  readonly id: string;
  readonly cluster: string;
  readonly kind: TargetKind;
  readonly namespace: string;
  readonly name: string;
  /** Where the target is declared. */
  readonly position: Position;
  readonly action: TargetAction;
  /** For `refused`: why, as a sentence that says what to do. */
  readonly refusal?: string;
  readonly changes: readonly PlanChange[];
  readonly stages: readonly PlanStage[];
  readonly warnings: readonly PlanWarning[];
  /** The patch from the live object to the desired one (empty for `create`). */
  readonly patch: readonly PatchOperation[];
  /** Target ids that must finish first: `dependsOn`, the clusters this one waits for, and profile dependencies (a Redis Enterprise operator before its cluster). */
  readonly dependsOn: readonly string[];
  /** Hash of everything above: the executor records it and re-plans when it changes. */
  readonly hash: string;
}

/** A whole plan: the targets with something to do or to say, in the order they roll out. */
export interface Plan {
  readonly apiVersion: 'rollgate.dev/v1alpha1';
  readonly kind: 'Plan';
  /** The desired-state commit, when planned from Git. */
  readonly source?: string;
  readonly targets: readonly TargetPlan[];
  readonly summary: {
    /** Targets in the repository. */
    readonly targets: number;
    readonly changed: number;
    readonly refused: number;
    readonly restarts: number;
    readonly warnings: number;
  };
}

/** Target kinds and the pods of a cluster, as the planner reads them. */
export type LiveKind = TargetKind;

/**
 * The live side of planning: objects read from each cluster, by kind,
 * namespace and name, and the pods of each namespace. An immutable view; the
 * one-shot reader of `rollgate plan` and the agent's watch cache both make one.
 */
export interface LiveState {
  /** undefined when the object does not exist. */
  object(cluster: string, kind: LiveKind, namespace: string, name: string): KubeObject | undefined;
  /** A pod by name, or undefined. */
  pod(cluster: string, namespace: string, name: string): KubeObject | undefined;
  /** Every pod of a namespace. */
  pods(cluster: string, namespace: string): readonly KubeObject[];
}
