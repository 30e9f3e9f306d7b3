/**
 * Planning: a pure function of the desired targets, the live state and the
 * time (for maintenance windows). Same input, same plan, byte for byte.
 */
import { createHash } from 'node:crypto';
import type { Target } from '../manifests/index.ts';
import { diffObjects, normalize } from './diff.ts';
import type { ProfileContext, ProfileResult } from './profiles/common.ts';
import { redisCreateWarnings, redisOperatorDependency, planRedisEnterpriseCluster } from './profiles/redis-enterprise.ts';
import { planTidbCluster, tidbCreateWarnings } from './profiles/tidb.ts';
import { planDeployment, planStatefulSet, readinessProbeWarning } from './profiles/workloads.ts';
import type { LiveState, PatchOperation, Plan, PlanWarning, TargetAction, TargetPlan } from './types.ts';

/** What a plan is made from. */
export interface PlanInput {
  /** Every target of the repository, in repository order. */
  readonly targets: readonly Target[];
  readonly live: LiveState;
  /** ms since the epoch: when maintenance windows are judged. */
  readonly now: number;
  /** The desired-state commit, recorded in the plan. */
  readonly source?: string;
  /**
   * Only these target ids are planned (the rest count as unchanged), for an
   * agent that knows which files changed. Default: every target.
   */
  readonly only?: ReadonlySet<string>;
}

function profileOf(ctx: ProfileContext): ProfileResult {
  const { target } = ctx;
  switch (target.kind) {
    case 'TidbCluster':
      return planTidbCluster({ ...ctx, target });
    case 'RedisEnterpriseCluster':
      return planRedisEnterpriseCluster({ ...ctx, target });
    case 'StatefulSet':
      return planStatefulSet({ ...ctx, target });
    case 'Deployment':
      return planDeployment({ ...ctx, target });
  }
}

/** Warnings and dependencies for a target that does not exist yet: nothing restarts. */
function createResult(ctx: ProfileContext): ProfileResult {
  const { target } = ctx;
  switch (target.kind) {
    case 'TidbCluster':
      return { changes: [], stages: [], warnings: tidbCreateWarnings(target) };
    case 'RedisEnterpriseCluster': {
      const redis = { ...ctx, target };
      return { changes: [], stages: [], warnings: redisCreateWarnings(redis), dependsOn: redisOperatorDependency(redis) };
    }
    case 'StatefulSet': {
      const probe = readinessProbeWarning(target);
      return { changes: [], stages: [], warnings: probe === undefined ? [] : [probe] };
    }
    case 'Deployment':
      return { changes: [], stages: [], warnings: [] };
  }
}

function hashOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}

/** The plan of one target, or undefined when the target has nothing to do and nothing to say. */
export function planTarget(target: Target, input: Omit<PlanInput, 'targets' | 'only'> & { readonly targets: readonly Target[] }): TargetPlan | undefined {
  const live = input.live.object(target.cluster, target.kind, target.namespace, target.name);
  // A target missing from the cluster is planned against its own desired object (nothing to diff, nothing restarts).
  const base: ProfileContext = { target, live: live ?? target.object, diff: { patch: [], drifted: new Set() }, state: input.live, now: input.now, targets: input.targets };
  let result: ProfileResult;
  let patch: readonly PatchOperation[] = [];
  if (live === undefined) {
    result = createResult(base);
  } else {
    const diff = diffObjects(target.object, live);
    result = profileOf({ ...base, diff });
    patch = [...diff.patch, ...(result.patch ?? [])];
  }
  const warnings: PlanWarning[] = [...result.warnings];
  if (target.policy.suspend) {
    warnings.unshift({
      code: 'suspended',
      position: target.policy.origin.suspend ?? target.position,
      message: `rollgate.yaml suspends this target: rollgate validates and plans it but changes nothing until \`suspend\` is removed`,
    });
  }
  const downgrades = target.policy.downgrade === 'deny' ? result.changes.filter((c) => c.kind === 'downgrade') : [];
  const refusals = [
    ...(result.refusal !== undefined ? [result.refusal] : []),
    ...(downgrades.length > 0
      ? [`${downgrades.map((c) => `${c.component ?? c.path} ${c.from ?? ''} → ${c.to ?? ''}`).join(', ')} ${downgrades.length === 1 ? 'is a downgrade' : 'are downgrades'}, which policy denies (downgrade: deny); nothing is changed`]
      : []),
  ];
  const hasChanges = live === undefined || patch.length > 0 || result.stages.length > 0;
  const action: TargetAction = !hasChanges ? 'none' : refusals.length > 0 ? 'refused' : target.policy.suspend ? 'suspended' : live === undefined ? 'create' : 'update';
  if (action === 'none' && warnings.length === 0) return undefined;
  const dependsOn = [...new Set([...target.policy.dependsOn, ...(result.dependsOn ?? [])])].filter((id) => id !== target.id);
  const withoutHash = {
    id: target.id,
    cluster: target.cluster,
    kind: target.kind,
    namespace: target.namespace,
    name: target.name,
    position: target.position,
    action,
    ...(refusals.length > 0 ? { refusal: refusals.join('; ') } : {}),
    changes: result.changes,
    stages: action === 'none' ? [] : result.stages,
    warnings: sortWarnings(warnings),
    patch,
    dependsOn,
  };
  // Holds say whether a window is open now; the same change planned an hour later is the same plan.
  const stable = { ...withoutHash, stages: withoutHash.stages.map(({ holds: _holds, ...stage }) => stage) };
  return { ...withoutHash, hash: hashOf({ ...stable, desired: normalize(target.object) }) };
}

// Warnings that stop or endanger a rollout come first.
const warningRank: Readonly<Record<PlanWarning['code'], number>> = {
  suspended: 0,
  downgrade: 1,
  'immutable-field': 1,
  'redis-operator-unsupported': 2,
  'pd-unavailable': 2,
  paused: 3,
  'small-topology': 4,
  'unhealthy-before-start': 4,
  'stale-force-upgrade': 5,
  'major-version-skip': 6,
  'enterprise-images': 6,
  'tidb-client-connections': 7,
  drift: 8,
  'no-readiness-probe': 9,
  'unversioned-image': 9,
};

function sortWarnings(warnings: readonly PlanWarning[]): PlanWarning[] {
  return warnings.map((w, i) => ({ w, i })).sort((a, b) => warningRank[a.w.code] - warningRank[b.w.code] || a.i - b.i).map(({ w }) => w);
}

/**
 * Orders targets so that each comes after what it depends on (its
 * `dependsOn` targets and every target of the clusters its cluster waits
 * for), keeping repository order otherwise. Cycles, which the loader
 * rejects, fall back to repository order.
 */
export function rolloutOrder(targets: readonly Target[], extraDependencies: ReadonlyMap<string, readonly string[]> = new Map()): Target[] {
  const byId = new Map(targets.map((t) => [t.id, t]));
  const byCluster = new Map<string, Target[]>();
  for (const t of targets) byCluster.set(t.cluster, [...(byCluster.get(t.cluster) ?? []), t]);
  const prerequisites = (t: Target): string[] => [
    ...t.policy.dependsOn,
    ...(extraDependencies.get(t.id) ?? []),
    ...t.policy.afterClusters.flatMap((cluster) => (byCluster.get(cluster) ?? []).map((d) => d.id)),
  ];
  const placed = new Set<string>();
  const out: Target[] = [];
  const visiting = new Set<string>();
  const visit = (t: Target): void => {
    if (placed.has(t.id) || visiting.has(t.id)) return;
    visiting.add(t.id);
    for (const id of prerequisites(t)) {
      const dependency = byId.get(id);
      if (dependency !== undefined) visit(dependency);
    }
    visiting.delete(t.id);
    placed.add(t.id);
    out.push(t);
  };
  for (const t of targets) visit(t);
  return out;
}

/** Plans every target of a repository against the live state. */
export function createPlan(input: PlanInput): Plan {
  const planned = new Map<string, TargetPlan>();
  for (const target of input.targets) {
    if (input.only !== undefined && !input.only.has(target.id)) continue;
    const plan = planTarget(target, input);
    if (plan !== undefined) planned.set(target.id, plan);
  }
  const extra = new Map([...planned.values()].map((p) => [p.id, p.dependsOn]));
  const targets = rolloutOrder(input.targets, extra)
    .map((t) => planned.get(t.id))
    .filter((p): p is TargetPlan => p !== undefined);
  const changed = targets.filter((t) => t.action !== 'none');
  return {
    apiVersion: 'rollgate.dev/v1alpha1',
    kind: 'Plan',
    ...(input.source !== undefined ? { source: input.source } : {}),
    targets,
    summary: {
      targets: input.targets.length,
      changed: changed.length,
      refused: targets.filter((t) => t.action === 'refused').length,
      restarts: changed.filter((t) => t.action !== 'refused').reduce((sum, t) => sum + t.stages.reduce((n, s) => n + s.pods.length, 0), 0),
      warnings: targets.reduce((n, t) => n + t.warnings.length, 0),
    },
  };
}
