/**
 * The types the manifests stage hands to the rest of rollgate: positions and
 * problems, the repository configuration read from `rollgate.yaml`, the policy
 * resolved for each target, and the typed targets themselves.
 *
 * Everything here is plain data: no methods except `locate`, no classes, so a
 * planner can treat a target as a value and tests can compare them.
 */

/** A place in the repository. `file` is repository-relative with `/` separators; line and column are 1-based. */
export interface Position {
  readonly file: string;
  readonly line: number;
  /** 1-based, in UTF-16 code units (what editors and GitHub annotations count). */
  readonly column: number;
}

/**
 * Stable identifiers for every kind of problem the loader reports. Tests and
 * machine consumers (`rollgate validate --format json`) key on these, so
 * existing codes never change meaning.
 */
export type ProblemCode =
  // reading files
  | 'io'
  | 'file-too-large'
  | 'too-many-files'
  | 'binary'
  | 'encoding'
  | 'symlink-escape'
  | 'symlink-loop'
  | 'symlink-dangling'
  | 'symlink-directory'
  | 'not-regular-file'
  // YAML
  | 'yaml-syntax'
  | 'yaml-version'
  | 'yaml-tag'
  | 'duplicate-key'
  | 'bad-key'
  | 'alias-limit'
  | 'nesting-limit'
  | 'too-many-documents'
  | 'not-json'
  // objects
  | 'not-an-object'
  | 'unknown-kind'
  | 'api-version'
  | 'schema'
  | 'invalid-value'
  | 'duplicate-target'
  | 'helm'
  // rollgate.yaml
  | 'config-missing'
  | 'config-misplaced'
  | 'duplicate-cluster'
  | 'unknown-cluster'
  | 'cluster-overlap'
  | 'unmatched-paths'
  | 'unmatched-selector'
  | 'unknown-target'
  | 'dependency-cycle'
  | 'conflicting-policy'
  | 'bad-reference'
  | 'bad-duration'
  | 'bad-cron'
  | 'bad-time-zone'
  // a bug in rollgate, never caused by content alone; the property tests assert it never appears
  | 'internal';

/** One problem found in the repository, at a position. Formatted as `file:line:col: message`. */
export interface Problem extends Position {
  readonly code: ProblemCode;
  readonly message: string;
}

/** Bounds applied while reading a repository. Every one has a clear message when exceeded. */
export interface Limits {
  /** Largest file read, in bytes. Default 1 MiB (1,048,576). */
  readonly maxFileBytes: number;
  /** Most YAML documents in one file. Default 500. */
  readonly maxDocumentsPerFile: number;
  /** Most YAML files considered in one repository. Default 50,000. */
  readonly maxFiles: number;
  /** Most nodes that alias expansion may add to one file (billion-laughs guard). Default 10,000. */
  readonly maxAliasNodes: number;
  /** Deepest nesting of mappings and sequences in a document. Default 64; never more than 512, whatever is asked (the YAML composer recurses per level). */
  readonly maxDepth: number;
}

/** The defaults for {@link Limits}. */
export const defaultLimits: Limits = Object.freeze({
  maxFileBytes: 1024 * 1024,
  maxDocumentsPerFile: 500,
  maxFiles: 50_000,
  maxAliasNodes: 10_000,
  maxDepth: 64,
});

// ---------------------------------------------------------------------------
// Kubernetes objects as rollgate reads them

/** A JSON value as read from YAML: what `JSON.parse` could return. */
export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** The part of `metadata` rollgate reads. */
export interface ObjectMeta {
  readonly name: string;
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly [key: string]: unknown;
}

/** Any Kubernetes object from the repository: plain JSON with apiVersion, kind and metadata. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: ObjectMeta;
  readonly [key: string]: unknown;
}

/** TidbCluster components, in TiDB Operator's upgrade order (PD → TiProxy → TiFlash → TiKV → Pump → TiDB → TiCDC). */
export const tidbComponents = ['pd', 'tiproxy', 'tiflash', 'tikv', 'pump', 'tidb', 'ticdc'] as const;
/** One TidbCluster component. */
export type TidbComponent = (typeof tidbComponents)[number];

/** The fields rollgate reads from `spec.<component>` of a TidbCluster. */
export interface TidbComponentSpec {
  readonly replicas?: number;
  /** Image tag, e.g. `v7.5.1`; overrides `spec.version` for this component. */
  readonly version?: string;
  /** Image without tag, e.g. `pingcap/pd` (or an enterprise image). */
  readonly baseImage?: string;
  /** Deprecated full image reference; used when no version is set (and by the pingcap/tidb-cluster chart). */
  readonly image?: string;
  readonly [key: string]: unknown;
}

/** A `pingcap.com/v1alpha1` TidbCluster, typed where rollgate reads it. */
export interface TidbClusterObject extends KubeObject {
  readonly apiVersion: 'pingcap.com/v1alpha1';
  readonly kind: 'TidbCluster';
  readonly spec: {
    readonly version?: string;
    readonly paused?: boolean;
    readonly [key: string]: unknown;
  } & { readonly [C in TidbComponent]?: TidbComponentSpec };
}

/** A Redis Enterprise image spec (`{repository, versionTag, …}`; there is no `imageName`). */
export interface RedisImageSpec {
  readonly repository?: string;
  readonly versionTag?: string;
  readonly imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  readonly digestHash?: string;
}

/** An `app.redislabs.com/v1` RedisEnterpriseCluster, typed where rollgate reads it. */
export interface RedisEnterpriseClusterObject extends KubeObject {
  readonly apiVersion: 'app.redislabs.com/v1';
  readonly kind: 'RedisEnterpriseCluster';
  readonly spec: {
    /** Pod count; the operator defaults it to 3. */
    readonly nodes?: number;
    readonly redisEnterpriseImageSpec?: RedisImageSpec;
    readonly redisEnterpriseServicesRiggerImageSpec?: RedisImageSpec;
    readonly bootstrapperImageSpec?: RedisImageSpec;
    readonly upgradeSpec?: { readonly autoUpgradeRedisEnterprise?: boolean };
    readonly redisUpgradePolicy?: 'major' | 'latest';
    readonly [key: string]: unknown;
  };
}

/** A container as rollgate reads it. */
export interface Container {
  readonly name: string;
  readonly image: string;
  readonly [key: string]: unknown;
}

/** The pod template rollgate reads from workloads. */
export interface PodTemplate {
  readonly metadata?: { readonly labels?: Readonly<Record<string, string>>; readonly [key: string]: JsonValue | undefined };
  readonly spec: {
    readonly containers: readonly Container[];
    readonly initContainers?: readonly Container[];
    readonly [key: string]: unknown;
  };
}

/** An `apps/v1` StatefulSet, typed where rollgate reads it. */
export interface StatefulSetObject extends KubeObject {
  readonly apiVersion: 'apps/v1';
  readonly kind: 'StatefulSet';
  readonly spec: {
    readonly replicas?: number;
    readonly serviceName?: string;
    readonly podManagementPolicy?: 'OrderedReady' | 'Parallel';
    readonly updateStrategy?: {
      readonly type?: 'RollingUpdate' | 'OnDelete';
      readonly rollingUpdate?: { readonly partition?: number; readonly maxUnavailable?: number | string };
    };
    readonly minReadySeconds?: number;
    readonly template: PodTemplate;
    readonly [key: string]: unknown;
  };
}

/** An `apps/v1` Deployment, typed where rollgate reads it. */
export interface DeploymentObject extends KubeObject {
  readonly apiVersion: 'apps/v1';
  readonly kind: 'Deployment';
  readonly spec: {
    readonly replicas?: number;
    readonly progressDeadlineSeconds?: number;
    readonly minReadySeconds?: number;
    readonly template: PodTemplate;
    readonly [key: string]: unknown;
  };
}

// ---------------------------------------------------------------------------
// Policy

/**
 * A gate: a condition that must hold before each step of a rollout starts
 * (and after the last step, for the target to count as done). `position` is
 * where it is written in `rollgate.yaml`, or undefined for a built-in default.
 */
export type Gate =
  /** Every pod of the workload (or of the component) is Running and Ready. */
  | { readonly kind: 'podReady'; readonly position?: Position }
  /** The workload's own status says the rollout is complete: `kubectl rollout status` for StatefulSets and Deployments, phase Normal for TidbCluster components, state Running for a RedisEnterpriseCluster. */
  | { readonly kind: 'rolloutStatus'; readonly position?: Position }
  /** At least `duration` (ms) has passed since the previous step's pods became Ready. */
  | { readonly kind: 'soak'; readonly duration: number; readonly position?: Position }
  /** An HTTP GET of `url` answers `expectStatus`, and, if set, the JSON field at `expectJSON.path` equals `expectJSON.equals`. */
  | {
      readonly kind: 'http';
      /** May hold the placeholders `{namespace}`, `{name}` (the target) and `{pod}` (the pod just restarted). */
      readonly url: string;
      readonly expectStatus: number;
      readonly expectJSON?: { readonly path: readonly (string | number)[]; readonly equals: string | number | boolean | null };
      /** Per request, in ms. */
      readonly timeout: number;
      readonly position?: Position;
    }
  /**
   * A person approves: with `comment`, a `/rollgate approve` comment on the pull
   * request that brought the change; with `file`, a commit in the range being
   * rolled out that adds or changes that repository file. Either one suffices.
   */
  | { readonly kind: 'approval'; readonly comment: boolean; readonly file?: string; readonly position?: Position }
  /** A step may start only inside a window that opens at each `schedule` (5-field cron) match in `timeZone` and lasts `duration` (ms). */
  | { readonly kind: 'maintenanceWindow'; readonly schedule: string; readonly duration: number; readonly timeZone: string; readonly position?: Position };

/** The kinds of gate, as written in `rollgate.yaml`. */
export type GateKind = Gate['kind'];

/** What rollgate does when Git asks for an older version than the live one. */
export type DowngradePolicy = 'deny' | 'allow';

/**
 * TidbCluster only: whether rollgate may set `tidb.pingcap.com/force-upgrade=true`
 * when PD is unavailable (and remove it once PD is healthy again).
 */
export type ForceUpgradePolicy = 'never' | 'whenPDUnavailable';

/** What rollgate does when a step fails: halt, or (partition-driven StatefulSets only) roll back to the previous template. */
export type FailurePolicy = 'halt' | 'rollback';

/** The policy fields that layers of `rollgate.yaml` set. */
export type PolicyField = 'suspend' | 'progressDeadline' | 'gates' | 'downgrade' | 'forceUpgrade' | 'onFailure';

/** Gates and deadline for the steps of one TidbCluster component that `components.<name>` changes. */
export interface ComponentPolicy {
  /** The gates in force for this component's steps: the target's gates, then the component's `extraGates`. */
  readonly gates: readonly Gate[];
  /** ms */
  readonly progressDeadline: number;
  /** Where the component's `extraGates` and `progressDeadline` are written; undefined means the target's value applies. */
  readonly origin: { readonly extraGates?: Position; readonly progressDeadline?: Position };
}

/** The policy that applies to one target, resolved from built-in defaults, `defaults`, its cluster and matching `targets` entries. */
export interface Policy {
  /** When true, rollgate leaves the target alone (it still validates and reports it). */
  readonly suspend: boolean;
  /** How long one step (one pod, or one component) may take to pass its gates, in ms, not counting waits for an approval or a maintenance window. Default 10 minutes. */
  readonly progressDeadline: number;
  /** Checked before each step starts. Default: podReady and rolloutStatus. */
  readonly gates: readonly Gate[];
  /** Default `deny`. */
  readonly downgrade: DowngradePolicy;
  /** Default `never`. */
  readonly forceUpgrade: ForceUpgradePolicy;
  /** Default `halt`. `rollback` applies to StatefulSets rolled by partition; other kinds halt. */
  readonly onFailure: FailurePolicy;
  /** Target ids (`cluster/namespace/kind/name`) that must have finished rolling out before this one starts. */
  readonly dependsOn: readonly string[];
  /** Clusters whose targets must all have finished before this target starts (its cluster's `dependsOn`). */
  readonly afterClusters: readonly string[];
  /** TidbCluster only: components with extra gates or their own deadline; the others use the fields above. See `componentPolicy`. */
  readonly components: Readonly<Partial<Record<TidbComponent, ComponentPolicy>>>;
  /** Where each field's value was written; undefined means the built-in default. Answers "why is this gate here?". */
  readonly origin: Readonly<Partial<Record<PolicyField, Position>>>;
}

// ---------------------------------------------------------------------------
// rollgate.yaml

/** One layer of policy as written (defaults, a cluster, or a targets entry); absent fields leave lower layers in force. */
export interface PolicyLayer {
  readonly suspend?: { readonly value: boolean; readonly position: Position };
  readonly progressDeadline?: { readonly value: number; readonly position: Position };
  readonly gates?: { readonly value: readonly Gate[]; readonly position: Position };
  readonly downgrade?: { readonly value: DowngradePolicy; readonly position: Position };
  readonly forceUpgrade?: { readonly value: ForceUpgradePolicy; readonly position: Position };
  readonly onFailure?: { readonly value: FailurePolicy; readonly position: Position };
  readonly components?: Readonly<
    Partial<
      Record<
        TidbComponent,
        {
          readonly extraGates?: { readonly value: readonly Gate[]; readonly position: Position };
          readonly progressDeadline?: { readonly value: number; readonly position: Position };
        }
      >
    >
  >;
}

/** A cluster named in `rollgate.yaml`: a kubeconfig context and the repository paths whose manifests go to it. */
export interface ClusterConfig {
  readonly name: string;
  /** Repository paths or globs (`*`, `**`, `?`); a path also covers everything below it. */
  readonly paths: readonly string[];
  /** Where each of `paths` is written, index for index. */
  readonly pathPositions: readonly Position[];
  /** Namespace for manifests that do not set `metadata.namespace`. Default `default`. */
  readonly namespace: string;
  /** Clusters that must finish a revision before this one starts it. */
  readonly dependsOn: readonly string[];
  readonly policy: PolicyLayer;
  readonly position: Position;
}

/** A `targets` entry: a selector `cluster/namespace/kind/name` (`*` for a whole segment) and the policy for the targets it matches. */
export interface TargetRule {
  readonly selector: string;
  /** Where the selector is written. */
  readonly selectorPosition: Position;
  /** As written: `cluster/namespace/kind/name`, or `namespace/kind/name` for the matched target's own cluster. */
  readonly dependsOn: readonly { readonly ref: string; readonly position: Position }[];
  readonly policy: PolicyLayer;
  readonly position: Position;
}

/** Where rollgate writes status: a branch (default `rollgate/status`), or a folder of the watched branch. */
export type StatusConfig = { readonly mode: 'branch'; readonly branch: string } | { readonly mode: 'inTree'; readonly path: string };

/** `rollgate.yaml`, parsed and checked. */
export interface RepositoryConfig {
  readonly apiVersion: 'rollgate.dev/v1alpha1';
  readonly kind: 'Config';
  readonly clusters: readonly ClusterConfig[];
  readonly defaults: PolicyLayer;
  readonly targets: readonly TargetRule[];
  /** Globs of files rollgate never reads, even inside a cluster's paths. */
  readonly exclude: readonly string[];
  readonly status: StatusConfig;
}

// ---------------------------------------------------------------------------
// Targets

/** The object kinds rollgate rolls out. */
export type TargetKind = 'TidbCluster' | 'RedisEnterpriseCluster' | 'StatefulSet' | 'Deployment';

/** A target written as a manifest: `document` is its 0-based index in its file. */
export interface ManifestSource {
  readonly type: 'manifest';
  readonly document: number;
}

/** A TidbCluster rendered from a Helm release of pingcap/tidb-cluster. */
export interface HelmSource {
  readonly type: 'helm';
  /** Release name (`helm upgrade <release>`). */
  readonly release: string;
  readonly namespace: string;
  readonly chart: { readonly name: string; readonly repository: string; readonly version: string };
  /** Repository paths, merged in order like `helm -f a -f b`. */
  readonly valuesFiles: readonly string[];
  /** The merged values. */
  readonly values: { readonly [key: string]: JsonValue };
}

interface TargetCommon {
  /** `cluster/namespace/kind/name`: unique in the repository. */
  readonly id: string;
  readonly cluster: string;
  readonly namespace: string;
  readonly name: string;
  /** Where the target is declared (its document, or its HelmRelease descriptor). */
  readonly position: Position;
  readonly policy: Policy;
  /**
   * Where a field of the desired object is written, as a JSON pointer
   * (`/spec/pd/replicas`); the nearest written ancestor if the field itself is
   * not. For Helm targets it points into the values file that set the field.
   * Re-reads the source text kept in memory, so it costs a parse: call it to
   * report something, not in a loop.
   */
  readonly locate: (pointer: string) => Position;
}

/** One thing rollgate rolls out, with its desired object, where it came from, and the policy that applies. */
export type Target =
  | (TargetCommon & { readonly kind: 'TidbCluster'; readonly object: TidbClusterObject; readonly source: ManifestSource | HelmSource })
  | (TargetCommon & { readonly kind: 'RedisEnterpriseCluster'; readonly object: RedisEnterpriseClusterObject; readonly source: ManifestSource })
  | (TargetCommon & { readonly kind: 'StatefulSet'; readonly object: StatefulSetObject; readonly source: ManifestSource })
  | (TargetCommon & { readonly kind: 'Deployment'; readonly object: DeploymentObject; readonly source: ManifestSource });

/**
 * Another object found in a cluster's paths (a Service, ConfigMap, RBAC, a
 * CRD…): part of the cluster's desired state, created by `rollgate sim
 * --load`, but not rolled out by rollgate.
 */
export interface Resource {
  readonly cluster: string;
  /** undefined for cluster-scoped kinds. */
  readonly namespace: string | undefined;
  readonly object: KubeObject;
  readonly position: Position;
}
