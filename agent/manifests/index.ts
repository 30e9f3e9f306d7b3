/**
 * The manifests stage: reads a rollgate repository (rollgate.yaml and the
 * manifests in its clusters' paths) as hostile input, validates it against
 * `schemas/v1alpha1/`, and yields typed targets with positions and resolved
 * policy, or every problem with its file, line and column.
 *
 * This is the stage's public surface; the other modules of the folder are
 * its implementation.
 */
export { loadRepository, reload, type LoadOptions, type LoadResult, type Snapshot } from './load.ts';
export { clusterObjects, objectsOf, InvalidRepositoryError, type ClusterObjects, type PlainObject } from './cluster-objects.ts';
export { RepositoryRootError } from './repo-fs.ts';
export { formatProblemLine, formatGithubAnnotation, validationReport, problemFormats, type ProblemFormat, type DisplayPath } from './format.ts';
export { componentPolicy, targetId } from './policy.ts';
export { parseDuration, formatDuration } from './duration.ts';
export { imageTag } from './images.ts';
export { builtinPolicy, configFile, defaultStatusBranch, defaultStatusPath } from './config.ts';
export {
  defaultLimits,
  tidbComponents,
  type ClusterConfig,
  type ComponentPolicy,
  type Container,
  type DeploymentObject,
  type DowngradePolicy,
  type FailurePolicy,
  type ForceUpgradePolicy,
  type Gate,
  type GateKind,
  type HelmSource,
  type JsonValue,
  type KubeObject,
  type Limits,
  type ManifestSource,
  type ObjectMeta,
  type Policy,
  type PolicyField,
  type PolicyLayer,
  type PodTemplate,
  type Position,
  type Problem,
  type ProblemCode,
  type RedisEnterpriseClusterObject,
  type RedisImageSpec,
  type RepositoryConfig,
  type Resource,
  type StatefulSetObject,
  type StatusConfig,
  type Target,
  type TargetKind,
  type TargetRule,
  type TidbClusterObject,
  type TidbComponent,
  type TidbComponentSpec,
} from './types.ts';
