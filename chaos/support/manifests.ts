/**
 * The desired-state files the scenarios push: one cluster named `sim`, a
 * TiDB cluster (PD×3, TiKV×3, TiDB×2) or a Redis Enterprise operator and
 * cluster, with the gates a real repository would use except soak times:
 * the agent's clock is the wall clock while kube-sim runs faster, so a soak
 * would only make every run slower without testing anything more.
 */

/** `rollgate.yaml`: everything under `manifests/` goes to cluster `sim`. `extra` is appended (targets: …). */
export function rollgateYaml(extra = ''): string {
  return `apiVersion: rollgate.dev/v1alpha1
kind: Config
clusters:
  - name: sim
    paths: [manifests]
defaults:
  progressDeadline: 5m
  gates:
    - podReady: {}
    - rolloutStatus: {}
${extra}`;
}

/** A Namespace. */
export function namespaceYaml(name: string): string {
  return `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n`;
}

/** A TidbCluster `basic` at `version`. */
export function tidbClusterYaml(namespace: string, version: string): string {
  return `apiVersion: pingcap.com/v1alpha1
kind: TidbCluster
metadata:
  name: basic
  namespace: ${namespace}
spec:
  version: ${version}
  pd:
    baseImage: pingcap/pd
    replicas: 3
  tikv:
    baseImage: pingcap/tikv
    replicas: 3
  tidb:
    baseImage: pingcap/tidb
    replicas: 2
`;
}

/** The Redis Enterprise operator Deployment at `version` (as in examples-repo/, trimmed). */
export function redisOperatorYaml(namespace: string, version: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: redis-enterprise-operator
  namespace: ${namespace}
spec:
  replicas: 1
  selector:
    matchLabels:
      name: redis-enterprise-operator
  strategy:
    type: Recreate
  template:
    metadata:
      labels:
        name: redis-enterprise-operator
    spec:
      containers:
        - name: redis-enterprise-operator
          image: redislabs/operator:${version}
          readinessProbe:
            httpGet: {path: /healthz, port: 8080}
`;
}

/** A RedisEnterpriseCluster `rec` of three nodes at `versionTag`. */
export function redisClusterYaml(namespace: string, versionTag: string): string {
  return `apiVersion: app.redislabs.com/v1
kind: RedisEnterpriseCluster
metadata:
  name: rec
  namespace: ${namespace}
spec:
  nodes: 3
  redisEnterpriseImageSpec:
    repository: redislabs/redis
    versionTag: ${versionTag}
`;
}

/** Versions the scenarios move between. */
export const versions = {
  tidb: { from: 'v7.5.1', to: 'v8.1.0', next: 'v8.5.0' },
  redisOperator: { from: '7.4.6-2', to: '7.8.2-6' },
  redisCluster: { from: '7.4.6-22', to: '7.8.2-10' },
} as const;

/** What a finished rollout of a target looks like in the cluster. */
export interface TargetExpectation {
  /** `sim/<namespace>/<kind>/<name>`. */
  readonly id: string;
  readonly kind: 'TidbCluster' | 'RedisEnterpriseCluster' | 'Deployment';
  readonly namespace: string;
  readonly name: string;
  /** Pods of the target: name prefix, and the image each must run once done. */
  readonly pods: readonly { readonly prefix: string; readonly image: string; readonly count: number }[];
}

/** The TidbCluster `basic` of `namespace` at `version`. */
export function tidbExpectation(namespace: string, version: string): TargetExpectation {
  return {
    id: `sim/${namespace}/TidbCluster/basic`,
    kind: 'TidbCluster',
    namespace,
    name: 'basic',
    pods: [
      { prefix: 'basic-pd-', image: `pingcap/pd:${version}`, count: 3 },
      { prefix: 'basic-tikv-', image: `pingcap/tikv:${version}`, count: 3 },
      { prefix: 'basic-tidb-', image: `pingcap/tidb:${version}`, count: 2 },
    ],
  };
}

/** The Redis Enterprise operator and cluster of `namespace` at the `to` versions. */
export function redisExpectations(namespace: string): TargetExpectation[] {
  return [
    { id: `sim/${namespace}/Deployment/redis-enterprise-operator`, kind: 'Deployment', namespace, name: 'redis-enterprise-operator', pods: [{ prefix: 'redis-enterprise-operator-', image: `redislabs/operator:${versions.redisOperator.to}`, count: 1 }] },
    { id: `sim/${namespace}/RedisEnterpriseCluster/rec`, kind: 'RedisEnterpriseCluster', namespace, name: 'rec', pods: [{ prefix: 'rec-', image: `redislabs/redis:${versions.redisCluster.to}`, count: 3 }] },
  ];
}
