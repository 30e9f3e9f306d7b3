/**
 * Table tests of each profile: an edit of examples-repo against the live
 * state of the unedited repository, and the stages, pods, changes and
 * patches the plan must hold.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPlan, type LiveState, type Plan, type TargetPlan } from '../../agent/plan/index.ts';
import { examplesLive, examplesWith, planningTime, type Edit, type LiveOptions } from './helpers.ts';

async function planOf(edits: readonly Edit[], live: LiveOptions | LiveState = {}): Promise<Plan> {
  const repo = await examplesWith(edits);
  try {
    const state = 'object' in live && typeof live.object === 'function' ? live : await examplesLive(live as LiveOptions);
    return createPlan({ targets: repo.result.targets, live: state, now: planningTime });
  } finally {
    await repo.cleanup();
  }
}

function only(plan: Plan, id: string): TargetPlan {
  const target = plan.targets.find((t) => t.id === id);
  assert.ok(target, `${id} is in the plan: ${plan.targets.map((t) => t.id).join(', ')}`);
  return target;
}

const tidbFile = 'staging/tidb/tidb-cluster.yaml';
const stagingTidb = 'staging/tidb/TidbCluster/tidb';

describe('plan: TiDB through the TidbCluster CR', () => {
  it('a spec.version bump moves PD, then TiKV, then TiDB, each from the highest ordinal down', async () => {
    const plan = await planOf([{ file: tidbFile, from: 'version: v7.5.1', to: 'version: v8.1.0' }]);
    assert.deepEqual(
      plan.targets.map((t) => t.id),
      [stagingTidb],
      'only the changed target appears',
    );
    const target = only(plan, stagingTidb);
    assert.equal(target.action, 'update');
    assert.deepEqual(target.patch, [{ op: 'replace', path: '/spec/version', value: 'v8.1.0' }]);
    assert.deepEqual(
      target.stages.map((s) => [s.component, s.from, s.to, s.drive, s.pods]),
      [
        ['pd', 'v7.5.1', 'v8.1.0', 'operator', ['tidb-pd-2', 'tidb-pd-1', 'tidb-pd-0']],
        ['tikv', 'v7.5.1', 'v8.1.0', 'operator', ['tidb-tikv-2', 'tidb-tikv-1', 'tidb-tikv-0']],
        ['tidb', 'v7.5.1', 'v8.1.0', 'operator', ['tidb-tidb-1', 'tidb-tidb-0']],
      ],
    );
    assert.deepEqual(
      target.changes.map((c) => [c.kind, c.component, c.from, c.to]),
      [
        ['upgrade', 'pd', 'v7.5.1', 'v8.1.0'],
        ['upgrade', 'tikv', 'v7.5.1', 'v8.1.0'],
        ['upgrade', 'tidb', 'v7.5.1', 'v8.1.0'],
      ],
    );
    // The operator walks the pods; rollgate's gates stand between components.
    assert.deepEqual(target.stages[0]?.steps, [{ pods: ['tidb-pd-2', 'tidb-pd-1', 'tidb-pd-0'] }]);
    assert.deepEqual(
      target.stages[0]?.gates.map((g) => g.kind),
      ['podReady', 'rolloutStatus', 'soak'],
    );
    // The tidb component carries the nightly window of rollgate.yaml, closed at noon on a Friday.
    const tidb = target.stages[2];
    assert.deepEqual(tidb?.gates.map((g) => g.kind), ['podReady', 'rolloutStatus', 'soak', 'maintenanceWindow']);
    assert.deepEqual(tidb?.holds, [
      { gate: 'maintenanceWindow', open: false, opensAt: '2026-11-23T01:00:00Z', description: 'waits for the maintenance window "0 2 * * 1-5" (Europe/Berlin, 3h) opening 2026-11-23T01:00:00Z' },
    ]);
    assert.equal(target.stages[0]?.progressDeadline, 600_000);
  });

  it('a component version moves only that component', async () => {
    const plan = await planOf([{ file: tidbFile, from: '    baseImage: pingcap/tikv\n', to: '    baseImage: pingcap/tikv\n    version: v7.5.2\n' }]);
    const target = only(plan, stagingTidb);
    assert.deepEqual(
      target.stages.map((s) => [s.component, s.from, s.to]),
      [['tikv', 'v7.5.1', 'v7.5.2']],
    );
    assert.deepEqual(target.patch, [{ op: 'add', path: '/spec/tikv/version', value: 'v7.5.2' }]);
  });

  it('the deprecated image field counts as the version when there is no baseImage', async () => {
    const plan = await planOf([{ file: tidbFile, from: '    baseImage: pingcap/tidb\n', to: '    image: pingcap/tidb:v7.5.3\n' }]);
    const target = only(plan, stagingTidb);
    assert.deepEqual(
      target.stages.map((s) => [s.component, s.from, s.to, s.pods]),
      [['tidb', 'v7.5.1', 'v7.5.3', ['tidb-tidb-1', 'tidb-tidb-0']]],
    );
  });

  it('a configuration change restarts its component; the version stays', async () => {
    const plan = await planOf([{ file: tidbFile, from: '    evictLeaderTimeout: 10m\n    requests:\n      storage: 50Gi\n    config: {}', to: '    evictLeaderTimeout: 10m\n    requests:\n      storage: 50Gi\n    config:\n      raftstore:\n        sync-log: true' }]);
    const target = only(plan, stagingTidb);
    assert.deepEqual(
      target.stages.map((s) => [s.component, s.from, s.to, s.reasons]),
      [['tikv', 'v7.5.1', 'v7.5.1', ['spec.tikv.config.raftstore']]],
    );
    assert.deepEqual(
      target.changes.map((c) => [c.kind, c.path, c.restarts]),
      [['restart', '/spec/tikv/config/raftstore', true]],
    );
  });

  it('replicas, failover settings and labels change in place, restarting nothing', async () => {
    const plan = await planOf([
      { file: tidbFile, from: '    replicas: 2\n', to: '    replicas: 3\n' },
      { file: tidbFile, from: '    evictLeaderTimeout: 10m', to: '    evictLeaderTimeout: 20m' },
      { file: tidbFile, from: '  namespace: tidb\n', to: '  namespace: tidb\n  labels:\n    team: storage\n' },
    ]);
    const target = only(plan, stagingTidb);
    assert.equal(target.action, 'update');
    assert.deepEqual(target.stages, []);
    assert.deepEqual(
      target.changes.map((c) => [c.kind, c.path]),
      [
        ['in-place', '/spec/tidb/replicas'],
        ['in-place', '/spec/tikv/evictLeaderTimeout'],
        ['in-place', '/metadata/labels'],
      ],
    );
  });

  it('pods already at the new version are left alone', async () => {
    const plan = await planOf([{ file: tidbFile, from: 'version: v7.5.1', to: 'version: v8.1.0' }], { podImages: { 'tidb-pd-2': 'pingcap/pd:v8.1.0', 'tidb-tikv-2': 'pingcap/tikv:v8.1.0', 'tidb-tikv-1': 'pingcap/tikv:v8.1.0', 'tidb-tikv-0': 'pingcap/tikv:v8.1.0' } });
    const target = only(plan, stagingTidb);
    assert.deepEqual(
      target.stages.map((s) => [s.component, s.pods, s.skipped]),
      [
        ['pd', ['tidb-pd-1', 'tidb-pd-0'], ['tidb-pd-2']],
        ['tidb', ['tidb-tidb-1', 'tidb-tidb-0'], []],
      ],
    );
  });

  it('a scale-down together with an upgrade restarts only the pods that stay', async () => {
    const plan = await planOf([
      { file: tidbFile, from: 'version: v7.5.1', to: 'version: v8.1.0' },
      { file: tidbFile, from: '  tikv:\n    baseImage: pingcap/tikv\n    replicas: 3', to: '  tikv:\n    baseImage: pingcap/tikv\n    replicas: 2' },
    ]);
    assert.deepEqual(only(plan, stagingTidb).stages[1]?.pods, ['tidb-tikv-1', 'tidb-tikv-0']);
  });

  it('a TidbCluster missing from the cluster is created, with no restarts', async () => {
    const live = await examplesLive();
    const withoutTidb: LiveState = { ...live, object: (cluster, kind, namespace, name) => (kind === 'TidbCluster' && name === 'tidb' && cluster === 'staging' ? undefined : live.object(cluster, kind, namespace, name)) };
    const plan = await planOf([], withoutTidb);
    const target = only(plan, stagingTidb);
    assert.equal(target.action, 'create');
    assert.deepEqual(target.stages, []);
    assert.deepEqual(target.patch, []);
    assert.equal(plan.summary.restarts, 0);
  });

  it('an unchanged repository plans nothing, although the server defaulted and annotated its objects', async () => {
    const plan = await planOf([], { overrides: { 'StatefulSet/etcd': (o) => ((o['metadata'] as Record<string, unknown>)['annotations'] = { 'deployment.kubernetes.io/revision': '3' }) } });
    assert.deepEqual(plan.targets, []);
    assert.deepEqual(plan.summary, { targets: 9, changed: 0, refused: 0, restarts: 0, warnings: 0 });
  });
});

describe('plan: TiDB through pingcap/tidb-cluster Helm values', () => {
  it('an image bump in values.yaml moves that component of the release’s TidbCluster, located in the values file', async () => {
    const plan = await planOf([{ file: 'prod/tidb-analytics/values.yaml', from: 'image: pingcap/pd:v7.5.1', to: 'image: pingcap/pd:v7.5.2' }]);
    const target = only(plan, 'prod/tidb-analytics/TidbCluster/analytics');
    assert.deepEqual(target.patch, [{ op: 'replace', path: '/spec/pd/image', value: 'pingcap/pd:v7.5.2' }]);
    assert.deepEqual(
      target.stages.map((s) => [s.component, s.from, s.to, s.pods]),
      [['pd', 'v7.5.1', 'v7.5.2', ['analytics-pd-2', 'analytics-pd-1', 'analytics-pd-0']]],
    );
    assert.equal(target.position.file, 'prod/tidb-analytics/release.yaml');
  });

  it('all three images in the values move PD, TiKV and TiDB in order, TiDB held by its window', async () => {
    const plan = await planOf([{ file: 'prod/tidb-analytics/values.yaml', from: /:v7\.5\.1/g, to: ':v8.1.0' }]);
    const target = only(plan, 'prod/tidb-analytics/TidbCluster/analytics');
    assert.deepEqual(
      target.stages.map((s) => s.component),
      ['pd', 'tikv', 'tidb'],
    );
    assert.equal(target.stages[2]?.holds[0]?.gate, 'maintenanceWindow');
  });
});

describe('plan: Redis Enterprise', () => {
  const operatorFile = 'prod/redis/redis-enterprise-operator.yaml';
  const clusterFile = 'prod/redis/redis-enterprise-cluster.yaml';
  it('the operator Deployment moves first, then the cluster from its highest ordinal down', async () => {
    const plan = await planOf([
      { file: operatorFile, from: 'redislabs/operator:7.4.6-2', to: 'redislabs/operator:7.8.2-6' },
      { file: clusterFile, from: 'versionTag: 7.4.6-22', to: 'versionTag: 7.8.2-10' },
    ]);
    assert.deepEqual(
      plan.targets.map((t) => t.id),
      ['prod/redis/Deployment/redis-enterprise-operator', 'prod/redis/RedisEnterpriseCluster/rec'],
    );
    const [operator, cluster] = plan.targets;
    assert.deepEqual(
      operator?.stages.map((s) => [s.component, s.from, s.to, s.drive, s.pods]),
      [['redis-enterprise-operator', '7.4.6-2', '7.8.2-6', 'native', ['redis-enterprise-operator-5d4f8b7c9-a']]],
    );
    assert.deepEqual(cluster?.dependsOn, ['prod/redis/Deployment/redis-enterprise-operator']);
    assert.deepEqual(
      cluster?.stages.map((s) => [s.component, s.from, s.to, s.drive, s.pods, s.progressDeadline]),
      [['redis-enterprise', '7.4.6-22', '7.8.2-10', 'operator', ['rec-2', 'rec-1', 'rec-0'], 900_000]],
    );
    assert.deepEqual(cluster?.patch, [{ op: 'replace', path: '/spec/redisEnterpriseImageSpec/versionTag', value: '7.8.2-10' }]);
    assert.deepEqual(cluster?.warnings, [], 'the operator in this plan supports the new cluster version');
  });

  it('changing the node count restarts nothing', async () => {
    const plan = await planOf([{ file: clusterFile, from: 'nodes: 3', to: 'nodes: 5' }]);
    const cluster = only(plan, 'prod/redis/RedisEnterpriseCluster/rec');
    assert.deepEqual(cluster.stages, []);
    assert.deepEqual(
      cluster.changes.map((c) => [c.kind, c.path]),
      [['in-place', '/spec/nodes']],
    );
  });
});

describe('plan: generic StatefulSets and Deployments', () => {
  const etcdFile = 'prod/etcd/etcd.yaml';
  it('a StatefulSet image bump is partition-driven, one pod per step', async () => {
    const plan = await planOf([{ file: etcdFile, from: 'etcd:v3.5.13', to: 'etcd:v3.5.15' }]);
    const target = only(plan, 'prod/etcd/StatefulSet/etcd');
    assert.deepEqual(target.patch, [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'gcr.io/etcd-development/etcd:v3.5.15' }]);
    const [stage] = target.stages;
    assert.equal(stage?.drive, 'partition');
    assert.deepEqual(stage?.steps, [{ pods: ['etcd-2'] }, { pods: ['etcd-1'] }, { pods: ['etcd-0'] }]);
    assert.deepEqual(
      stage?.gates.map((g) => g.summary),
      ['pods Running and Ready', 'StatefulSet rolled out (as kubectl rollout status judges)', 'GET http://{pod}.etcd.{namespace}.svc:2379/health → 200 with health = "true"', 'soak 1m'],
    );
  });

  it('a partition in Git is respected: ordinals below it are left alone', async () => {
    const plan = await planOf([
      { file: etcdFile, from: 'etcd:v3.5.13', to: 'etcd:v3.5.15' },
      { file: etcdFile, from: '  podManagementPolicy: Parallel\n', to: '  podManagementPolicy: Parallel\n  updateStrategy:\n    type: RollingUpdate\n    rollingUpdate:\n      partition: 1\n' },
    ]);
    const [stage] = only(plan, 'prod/etcd/StatefulSet/etcd').stages;
    assert.deepEqual(stage?.pods, ['etcd-2', 'etcd-1']);
    assert.deepEqual(stage?.skipped, ['etcd-0']);
  });

  it('an OnDelete StatefulSet has its pods deleted one at a time', async () => {
    const plan = await planOf([
      { file: etcdFile, from: 'etcd:v3.5.13', to: 'etcd:v3.5.15' },
      { file: etcdFile, from: '  podManagementPolicy: Parallel\n', to: '  podManagementPolicy: Parallel\n  updateStrategy:\n    type: OnDelete\n' },
    ]);
    assert.equal(only(plan, 'prod/etcd/StatefulSet/etcd').stages[0]?.drive, 'on-delete');
  });

  it('a configuration change of the pod template restarts every pod, even those already at the image', async () => {
    const plan = await planOf([{ file: etcdFile, from: '            periodSeconds: 5', to: '            periodSeconds: 10' }], { podImages: {} });
    const [stage] = only(plan, 'prod/etcd/StatefulSet/etcd').stages;
    assert.deepEqual(stage?.pods, ['etcd-2', 'etcd-1', 'etcd-0']);
    assert.deepEqual(stage?.reasons, ['spec.template.spec.containers.0.readinessProbe.periodSeconds']);
    assert.equal(stage?.from, undefined, 'no version moves');
  });

  it('a rollout left half-way is finished even when Git did not change', async () => {
    const plan = await planOf([], {
      overrides: {
        'StatefulSet/etcd': (o) => Object.assign(o['status'] as object, { currentRevision: 'etcd-rev1', updateRevision: 'etcd-rev2' }),
        'Pod/etcd-2': (o) => ((o['metadata'] as { labels: Record<string, string> }).labels['controller-revision-hash'] = 'etcd-rev2'),
      },
    });
    const staging = only(plan, 'staging/etcd/StatefulSet/etcd');
    assert.deepEqual(staging.stages[0]?.pods, ['etcd-1', 'etcd-0']);
    assert.deepEqual(staging.stages[0]?.skipped, ['etcd-2']);
  });
});
