/**
 * The two upgrades the scenarios put under stress: a TidbCluster (PD, TiKV,
 * TiDB stages, operator-driven) and Redis Enterprise (the operator
 * Deployment, then the RedisEnterpriseCluster). Each is the files of the
 * first install, the change, and how the cluster looks before and after.
 */
import { namespaceYaml, redisClusterYaml, redisExpectations, redisOperatorYaml, rollgateYaml, tidbClusterYaml, tidbExpectation, versions, type TargetExpectation } from '../support/manifests.ts';

/** An upgrade of one system. */
export interface Upgrade {
  readonly initial: Readonly<Record<string, string>>;
  readonly installed: readonly TargetExpectation[];
  readonly upgrade: Readonly<Record<string, string>>;
  readonly expected: readonly TargetExpectation[];
}

/** The systems the scenarios upgrade. */
export type System = 'tidb' | 'redis';

/** TiDB v7.5.1 → v8.1.0 in namespace `tidb`. */
export function tidbUpgrade(rollgate = rollgateYaml()): Upgrade {
  const ns = 'tidb';
  return {
    initial: { 'rollgate.yaml': rollgate, 'manifests/ns.yaml': namespaceYaml(ns), 'manifests/tidb.yaml': tidbClusterYaml(ns, versions.tidb.from) },
    installed: [tidbExpectation(ns, versions.tidb.from)],
    upgrade: { 'manifests/tidb.yaml': tidbClusterYaml(ns, versions.tidb.to) },
    expected: [tidbExpectation(ns, versions.tidb.to)],
  };
}

/** Redis Enterprise: operator 7.4.6-2 → 7.8.2-6, then the cluster 7.4.6-22 → 7.8.2-10, in namespace `redis` (the profile orders them; no `dependsOn` needed). */
export function redisUpgrade(rollgate = rollgateYaml()): Upgrade {
  const ns = 'redis';
  const [operator, cluster] = redisExpectations(ns);
  return {
    initial: { 'rollgate.yaml': rollgate, 'manifests/ns.yaml': namespaceYaml(ns), 'manifests/operator.yaml': redisOperatorYaml(ns, versions.redisOperator.from), 'manifests/rec.yaml': redisClusterYaml(ns, versions.redisCluster.from) },
    installed: [
      { ...(operator as TargetExpectation), pods: [{ prefix: 'redis-enterprise-operator-', image: `redislabs/operator:${versions.redisOperator.from}`, count: 1 }] },
      { ...(cluster as TargetExpectation), pods: [{ prefix: 'rec-', image: `redislabs/redis:${versions.redisCluster.from}`, count: 3 }] },
    ],
    upgrade: { 'manifests/operator.yaml': redisOperatorYaml(ns, versions.redisOperator.to), 'manifests/rec.yaml': redisClusterYaml(ns, versions.redisCluster.to) },
    expected: redisExpectations(ns),
  };
}

/** The upgrade of `system`. */
export function upgradeOf(system: System): Upgrade {
  return system === 'tidb' ? tidbUpgrade() : redisUpgrade();
}
