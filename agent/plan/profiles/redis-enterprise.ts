/**
 * The Redis Enterprise profile: the operator Deployment (from the operator's
 * bundle.yaml) moves first and must be Available; then
 * `spec.redisEnterpriseImageSpec.versionTag` on the RedisEnterpriseCluster,
 * whose operator restarts the cluster's StatefulSet (named after the
 * cluster) in reverse ordinal order while `status.state` reads `Upgrade`,
 * back to `Running` when done.
 */
import { imageTag, type KubeObject, type Target } from '../../manifests/index.ts';
import { redisClusterImage, redisComponent, templateImages } from '../versions.ts';
import type { PlanChange, PlanStage, PlanWarning } from '../types.ts';
import { parseVersion } from '../versions-order.ts';
import {
  driftWarnings,
  effectiveGates,
  fieldChange,
  imageChangeKind,
  imageChangeWarnings,
  imageRepository,
  numberAt,
  ordinalPods,
  planGate,
  shownVersion,
  specField,
  stageHolds,
  unhealthyWarning,
  type ProfileContext,
  type ProfileResult,
} from './common.ts';
import { podContainerImage } from '../pods.ts';

type RedisTarget = Target & { readonly kind: 'RedisEnterpriseCluster' };

/** The name of the operator Deployment in the operator's bundle.yaml. */
export const redisOperatorDeployment = 'redis-enterprise-operator';
/** The container of a Redis Enterprise node pod that runs Redis Enterprise. */
export const redisNodeContainer = 'redis-enterprise-node';

// Fields that restart no pod: node count (scaling), upgrade policy switches, volume size (expanded in place).
const inPlaceFields = new Set(['nodes', 'upgradeSpec', 'redisUpgradePolicy', 'persistentSpec', 'license', 'licenseSecretName', 'username', 'uiServiceType', 'servicesRiggerSpec']);

/**
 * True when an operator release runs a cluster release: they share the
 * major.minor.patch of the Redis Enterprise release they ship with
 * (operator 7.4.6-2 runs 7.4.6-22), and an operator runs older clusters, not newer ones.
 */
export function operatorSupports(operatorTag: string, clusterTag: string): boolean {
  const operator = parseVersion(operatorTag);
  const cluster = parseVersion(clusterTag);
  if (operator === undefined || cluster === undefined) return false;
  const first = [cluster.major - operator.major, cluster.minor - operator.minor, cluster.patch - operator.patch].find((d) => d !== 0);
  return first === undefined || first < 0;
}

/** The operator Deployment that runs a cluster: the repository's target if it has one in the same namespace, else the live one. */
function operatorOf(ctx: ProfileContext<RedisTarget>): { target?: Target; image?: string } {
  const { target, state, targets } = ctx;
  const declared = targets.find((t) => t.kind === 'Deployment' && t.cluster === target.cluster && t.namespace === target.namespace && (t.name === redisOperatorDeployment || Object.values(templateImages(t.object)).some(isOperatorImage)));
  if (declared !== undefined) return { target: declared, image: Object.values(templateImages(declared.object)).find(isOperatorImage) ?? Object.values(templateImages(declared.object))[0] };
  const live = state.object(target.cluster, 'Deployment', target.namespace, redisOperatorDeployment);
  return live === undefined ? {} : { image: Object.values(templateImages(live)).find(isOperatorImage) ?? Object.values(templateImages(live))[0] };
}

function isOperatorImage(image: string): boolean {
  return imageRepository(image).endsWith('/operator');
}

/** A warning when the operator that will run the cluster does not support its desired version. */
function operatorWarning(ctx: ProfileContext<RedisTarget>, clusterImage: string | undefined): PlanWarning | undefined {
  if (clusterImage === undefined) return undefined;
  const operator = operatorOf(ctx);
  const operatorTag = operator.image !== undefined ? imageTag(operator.image) : undefined;
  const clusterTag = imageTag(clusterImage);
  if (operatorTag === undefined || clusterTag === undefined || operatorSupports(operatorTag, clusterTag)) return undefined;
  return {
    code: 'redis-operator-unsupported',
    component: redisComponent,
    position: ctx.target.locate('/spec/redisEnterpriseImageSpec/versionTag'),
    message: `the Redis Enterprise operator ${operatorTag}${operator.target !== undefined ? ` (${operator.target.position.file})` : ' (in the cluster)'} does not support Redis Enterprise ${clusterTag}, and the cluster would go to InvalidUpgrade: upgrade the operator Deployment to the release that ships ${clusterTag} first (bundle.yaml), then the cluster`,
  };
}

/** The Redis Enterprise profile's plan for a cluster that exists. */
export function planRedisEnterpriseCluster(ctx: ProfileContext<RedisTarget>): ProfileResult {
  const { target, live, diff, state } = ctx;
  const changes: PlanChange[] = [];
  const warnings: PlanWarning[] = [];
  const reasons: string[] = [];
  const from = redisClusterImage(live);
  const to = redisClusterImage(target.object);
  if (from !== undefined && to !== undefined && from !== to) {
    const kind = imageChangeKind(from, to);
    changes.push({ kind, path: '/spec/redisEnterpriseImageSpec', component: redisComponent, from: shownVersion(from), to: shownVersion(to), restarts: true });
    reasons.push(shownVersion(from) === shownVersion(to) ? `image ${from} → ${to}` : `version ${shownVersion(from)} → ${shownVersion(to)}`);
    warnings.push(...imageChangeWarnings(target, redisComponent, from, to, target.locate('/spec/redisEnterpriseImageSpec/versionTag')));
  }
  for (const op of diff.patch) {
    const { top } = specField(op.path);
    if (top === 'redisEnterpriseImageSpec' && (op.path.endsWith('/versionTag') || op.path.endsWith('/repository') || op.path === '/spec/redisEnterpriseImageSpec')) continue;
    const restarts = top !== undefined && !inPlaceFields.has(top);
    changes.push(fieldChange(diff, op, live, restarts, top === undefined ? undefined : redisComponent));
    if (restarts) reasons.push(op.path.slice(1).replace(/\//g, '.'));
  }
  warnings.push(...driftWarnings(target, changes));
  const operator = operatorOf(ctx);
  const unsupported = operatorWarning(ctx, to);
  if (unsupported !== undefined && reasons.length > 0) warnings.push(unsupported);

  const stages: PlanStage[] = [];
  if (reasons.length > 0) {
    const liveSts = state.object(target.cluster, 'StatefulSet', target.namespace, target.name);
    const liveReplicas = numberAt(liveSts, 'spec', 'replicas') ?? numberAt(live, 'spec', 'nodes') ?? 3;
    const replicas = Math.min(liveReplicas, target.object.spec.nodes ?? liveReplicas);
    const onlyImage = reasons.every((r) => r.startsWith('version ') || r.startsWith('image '));
    const { pods, skipped } = ordinalPods(state, target.cluster, target.namespace, target.name, replicas, 0, (pod: KubeObject) => onlyImage && to !== undefined && podContainerImage(pod, redisNodeContainer) === to);
    if (pods.length > 0) {
      const gates = effectiveGates(target.policy.gates);
      stages.push({
        component: redisComponent,
        ...(from !== undefined && to !== undefined ? { from: shownVersion(from), to: shownVersion(to) } : {}),
        drive: 'operator',
        workload: { kind: 'StatefulSet', name: target.name },
        pods,
        skipped,
        reasons,
        steps: [{ pods }],
        gates: gates.map((g) => planGate(g, 'StatefulSet rolled out and RedisEnterpriseCluster state Running')),
        progressDeadline: target.policy.progressDeadline,
        holds: stageHolds(gates, ctx.now),
      });
      const unhealthy = unhealthyWarning(state, target, redisComponent, pods);
      if (unhealthy !== undefined) warnings.push(unhealthy);
    }
  }
  return { changes, stages, warnings, ...(operator.target !== undefined ? { dependsOn: [operator.target.id] } : {}) };
}

/** Warnings about a cluster that does not exist yet. */
export function redisCreateWarnings(ctx: ProfileContext<RedisTarget>): PlanWarning[] {
  const warning = operatorWarning(ctx, redisClusterImage(ctx.target.object));
  return warning === undefined ? [] : [warning];
}

/** The operator dependency of a cluster, for targets planned without a live object. */
export function redisOperatorDependency(ctx: ProfileContext<RedisTarget>): string[] {
  const operator = operatorOf(ctx);
  return operator.target === undefined ? [] : [operator.target.id];
}
