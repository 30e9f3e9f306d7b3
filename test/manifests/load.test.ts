/**
 * Loading examples-repo, and reloading after changes: a reload re-reads only
 * the changed files, keeps unchanged targets as the same objects, and always
 * ends where a cold load of the same tree would.
 */
import assert from 'node:assert/strict';
import { cp, readFile, realpath, rm, symlink, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { componentPolicy, formatProblemLine, loadRepository, reload, type LoadResult, type Target } from '../../agent/manifests/index.ts';
import { examplesRepo, tempDir } from './helpers.ts';

function byId(result: LoadResult, id: string): Target {
  const target = result.targets.find((t) => t.id === id);
  assert.ok(target, `no target ${id}`);
  return target;
}

/** What must be equal between a reload and a cold load (functions left out). */
function summary(result: LoadResult): unknown {
  return {
    valid: result.valid,
    problems: result.problems.map((p) => formatProblemLine(p)),
    clusters: result.clusters,
    targets: result.targets.map(({ locate: _, ...rest }) => rest),
    resources: result.resources,
  };
}

describe('loading examples-repo', () => {
  let result: LoadResult;
  before(async () => {
    result = await loadRepository(examplesRepo);
  });

  test('is valid, with two clusters and nine targets', () => {
    assert.deepEqual(result.problems, []);
    assert.equal(result.valid, true);
    assert.deepEqual(result.clusters, ['staging', 'prod']);
    assert.equal(result.targets.length, 9);
  });

  test('types a TidbCluster target with its position and policy', () => {
    const tc = byId(result, 'prod/tidb/TidbCluster/tidb');
    assert.equal(tc.kind, 'TidbCluster');
    assert.deepEqual(tc.position, { file: 'prod/tidb/tidb-cluster.yaml', line: 6, column: 1 });
    assert.deepEqual(tc.source, { type: 'manifest', document: 0 });
    assert.equal(tc.kind === 'TidbCluster' ? tc.object.spec.version : undefined, 'v7.5.1');
    assert.equal(tc.kind === 'TidbCluster' ? tc.object.spec.pd?.replicas : undefined, 3);
    assert.deepEqual(tc.locate('/spec/version'), { file: 'prod/tidb/tidb-cluster.yaml', line: 12, column: 12 });
    const { policy } = tc;
    assert.deepEqual(policy.gates.map((g) => g.kind), ['approval', 'podReady', 'rolloutStatus', 'http', 'soak']);
    assert.equal(policy.progressDeadline, 30 * 60_000);
    assert.equal(policy.forceUpgrade, 'whenPDUnavailable');
    assert.equal(policy.downgrade, 'deny');
    assert.deepEqual(policy.afterClusters, ['staging']);
    assert.deepEqual(componentPolicy(policy, 'tidb').gates.map((g) => g.kind), ['approval', 'podReady', 'rolloutStatus', 'http', 'soak', 'maintenanceWindow']);
    const window = componentPolicy(policy, 'tidb').gates.at(-1);
    assert.deepEqual(window, { kind: 'maintenanceWindow', schedule: '0 2 * * 1-5', duration: 3 * 3_600_000, timeZone: 'Europe/Berlin', position: { file: 'rollgate.yaml', line: 37, column: 13 } });
    assert.ok(Object.isFrozen(tc.object) && Object.isFrozen(tc.object.spec));
  });

  test('renders the Helm release as the TidbCluster its chart creates, located in the values', () => {
    const tc = byId(result, 'prod/tidb-analytics/TidbCluster/analytics');
    assert.equal(tc.source.type, 'helm');
    assert.deepEqual(tc.position, { file: 'prod/tidb-analytics/release.yaml', line: 7, column: 1 });
    assert.equal(tc.kind === 'TidbCluster' ? tc.object.spec.tikv?.image : undefined, 'pingcap/tikv:v7.5.1');
    assert.equal(tc.kind === 'TidbCluster' ? tc.object.spec.version : 'x', undefined);
    assert.deepEqual(tc.locate('/spec/tikv/image'), { file: 'prod/tidb-analytics/values.yaml', line: 20, column: 10 });
    assert.deepEqual(tc.locate('/metadata/name'), { file: 'prod/tidb-analytics/release.yaml', line: 10, column: 9 });
    if (tc.source.type === 'helm') {
      assert.deepEqual(tc.source.chart, { name: 'tidb-cluster', repository: 'https://charts.pingcap.org/', version: 'v1.5.0' });
      assert.deepEqual(tc.source.valuesFiles, ['prod/tidb-analytics/values.yaml']);
    }
  });

  test('orders Redis Enterprise after its operator', () => {
    const rec = byId(result, 'prod/redis/RedisEnterpriseCluster/rec');
    assert.deepEqual(rec.policy.dependsOn, ['prod/redis/Deployment/redis-enterprise-operator']);
    assert.equal(rec.kind === 'RedisEnterpriseCluster' ? rec.object.spec.redisEnterpriseImageSpec?.versionTag : undefined, '7.4.6-22');
    assert.equal(rec.policy.progressDeadline, 15 * 60_000);
  });

  test('keeps Services as resources of their cluster', () => {
    assert.deepEqual(result.resources.map((r) => `${r.cluster} ${r.object.kind} ${r.namespace ?? ''}/${r.object.metadata.name}`), ['prod Service etcd/etcd', 'staging Service etcd/etcd']);
  });
});

describe('reload', () => {
  let dir: string;
  let remove: () => Promise<void>;
  before(async () => {
    ({ dir, remove } = await tempDir('reload'));
    await cp(examplesRepo, dir, { recursive: true });
  });
  after(async () => remove());

  const edit = async (path: string, from: string, to: string): Promise<void> => {
    const file = join(dir, path);
    const text = await readFile(file, 'utf8');
    assert.ok(text.includes(from), `${path} has no ${from}`);
    await writeFile(file, text.replace(from, to));
  };

  /** Reloads and checks the result against a cold load of the same tree. */
  const reloadAndCompare = async (previous: LoadResult, changed: string[]): Promise<LoadResult> => {
    const next = await reload(previous, changed);
    assert.deepEqual(summary(next), summary(await loadRepository(dir)));
    return next;
  };

  test('keeps every target when nothing changed', async () => {
    const first = await loadRepository(dir);
    const next = await reloadAndCompare(first, []);
    next.targets.forEach((t, i) => assert.equal(t, first.targets[i]));
  });

  test('reads a new revision from its own snapshot directory', async () => {
    const first = await loadRepository(dir);
    const { dir: snapshot, remove: removeSnapshot } = await tempDir('reload-snapshot');
    try {
      await cp(dir, snapshot, { recursive: true });
      const file = join(snapshot, 'staging/tidb/tidb-cluster.yaml');
      await writeFile(file, (await readFile(file, 'utf8')).replace(/version: v[\d.]+/, 'version: v9.9.9'));
      const next = await reload(first, ['staging/tidb/tidb-cluster.yaml'], snapshot);
      assert.equal(next.root, await realpath(snapshot));
      assert.deepEqual(summary(next), summary(await loadRepository(snapshot)));
      assert.equal(next.targets.find((t) => t.id === 'staging/tidb/TidbCluster/tidb')?.object.spec['version'], 'v9.9.9');
    } finally {
      await removeSnapshot();
    }
  });

  test('recomputes only the targets of a changed file', async () => {
    const first = await loadRepository(dir);
    await edit('staging/tidb/tidb-cluster.yaml', 'version: v7.5.1', 'version: v7.5.2');
    const next = await reloadAndCompare(first, ['staging/tidb/tidb-cluster.yaml']);
    for (const target of next.targets) {
      const before = first.targets.find((t) => t.id === target.id);
      if (target.id === 'staging/tidb/TidbCluster/tidb') {
        assert.notEqual(target, before);
        assert.equal(target.kind === 'TidbCluster' ? target.object.spec.version : undefined, 'v7.5.2');
      } else assert.equal(target, before, target.id);
    }
  });

  test('reports a file broken by a change, and forgets it once fixed', async () => {
    const first = await loadRepository(dir);
    await edit('prod/etcd/etcd.yaml', '  replicas: 3', '  replicas: three');
    const broken = await reloadAndCompare(first, ['prod/etcd/etcd.yaml']);
    assert.deepEqual(broken.problems.map((p) => formatProblemLine(p)), ['prod/etcd/etcd.yaml:12:13: spec.replicas: must be an integer, not a string']);
    await edit('prod/etcd/etcd.yaml', '  replicas: three', '  replicas: 3');
    const fixed = await reloadAndCompare(broken, ['prod/etcd/etcd.yaml']);
    assert.equal(fixed.valid, true);
  });

  test('re-renders a Helm release when only its values change', async () => {
    const first = await loadRepository(dir);
    await edit('prod/tidb-analytics/values.yaml', 'pingcap/tikv:v7.5.1', 'pingcap/tikv:v7.5.2');
    const next = await reloadAndCompare(first, ['prod/tidb-analytics/values.yaml']);
    const tc = next.targets.find((t) => t.id === 'prod/tidb-analytics/TidbCluster/analytics');
    assert.equal(tc?.kind === 'TidbCluster' ? tc.object.spec.tikv?.image : undefined, 'pingcap/tikv:v7.5.2');
  });

  test('adds and removes files, and re-checks what depended on them', async () => {
    const first = await loadRepository(dir);
    await writeFile(join(dir, 'staging/etcd/etcd-2.yaml'), (await readFile(join(dir, 'staging/etcd/etcd.yaml'), 'utf8')).replaceAll('name: etcd', 'name: etcd-2'));
    const added = await reloadAndCompare(first, ['staging/etcd/etcd-2.yaml']);
    assert.ok(added.targets.some((t) => t.id === 'staging/etcd/StatefulSet/etcd-2'));
    await rm(join(dir, 'staging/etcd/etcd-2.yaml'));
    await rm(join(dir, 'prod/redis/redis-enterprise-operator.yaml'));
    const removed = await reloadAndCompare(added, ['staging/etcd/etcd-2.yaml', 'prod/redis/redis-enterprise-operator.yaml']);
    assert.deepEqual(removed.problems.map((p) => p.code), ['unknown-target']);
    await cp(join(examplesRepo, 'prod/redis/redis-enterprise-operator.yaml'), join(dir, 'prod/redis/redis-enterprise-operator.yaml'));
    assert.equal((await reloadAndCompare(removed, ['prod/redis/redis-enterprise-operator.yaml'])).valid, true);
  });

  test('re-resolves every policy when rollgate.yaml changes', async () => {
    const first = await loadRepository(dir);
    await edit('rollgate.yaml', '    dependsOn: [staging]', '    dependsOn: [staging]\n    suspend: true');
    const next = await reloadAndCompare(first, ['rollgate.yaml']);
    assert.ok(next.targets.filter((t) => t.cluster === 'prod').every((t) => t.policy.suspend));
    await edit('rollgate.yaml', '    dependsOn: [staging]\n    suspend: true', '    dependsOn: [staging]');
    await reloadAndCompare(next, ['rollgate.yaml']);
  });

  test('re-reads a symlink when the file it points at changes', async () => {
    await mkdir(join(dir, 'shared'), { recursive: true });
    await writeFile(join(dir, 'shared/cache.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n  namespace: etcd\ndata: {v: "1"}\n');
    await symlink('../../shared/cache.yaml', join(dir, 'staging/etcd/shared.yaml'));
    const first = await loadRepository(dir);
    assert.ok(first.resources.some((r) => r.object.metadata.name === 'shared'));
    await edit('shared/cache.yaml', 'v: "1"', 'v: "2"');
    const next = await reloadAndCompare(first, ['shared/cache.yaml']);
    const shared = next.resources.find((r) => r.object.metadata.name === 'shared');
    assert.deepEqual(shared?.object.data, { v: '2' });
    await rm(join(dir, 'staging/etcd/shared.yaml'));
    await rm(join(dir, 'shared'), { recursive: true });
  });

  test('refuses changed paths that leave the repository', async () => {
    const first = await loadRepository(dir);
    await assert.rejects(reload(first, ['../outside.yaml']), TypeError);
    await assert.rejects(reload(first, ['/etc/passwd']), TypeError);
  });
});
