/** clusterObjects: what `rollgate sim --load` creates in each cluster. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { clusterObjects, InvalidRepositoryError } from '../../agent/manifests/index.ts';
import { cases } from './corpus/cases.ts';
import { materialize } from './corpus/materialize.ts';
import { examplesRepo, tempDir } from './helpers.ts';

describe('clusterObjects', () => {
  test('lists each cluster of examples-repo with its objects in creation order', async () => {
    const { clusters } = await clusterObjects(examplesRepo);
    assert.deepEqual(
      clusters.map((c) => [c.name, c.objects.map((o) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`)]),
      [
        [
          'staging',
          [
            'Namespace /etcd',
            'Namespace /redis',
            'Namespace /tidb',
            'Service etcd/etcd',
            'Deployment redis/redis-enterprise-operator',
            'StatefulSet etcd/etcd',
            'RedisEnterpriseCluster redis/rec',
            'TidbCluster tidb/tidb',
          ],
        ],
        [
          'prod',
          [
            'Namespace /etcd',
            'Namespace /redis',
            'Namespace /tidb',
            'Namespace /tidb-analytics',
            'Service etcd/etcd',
            'Deployment redis/redis-enterprise-operator',
            'StatefulSet etcd/etcd',
            'RedisEnterpriseCluster redis/rec',
            'TidbCluster tidb/tidb',
            'TidbCluster tidb-analytics/analytics',
          ],
        ],
      ],
    );
  });

  test('renders the Helm release as a TidbCluster with the chart images, replicas and no spec.version', async () => {
    const { clusters } = await clusterObjects(examplesRepo);
    const prod = clusters.find((c) => c.name === 'prod');
    const tc = prod?.objects.find((o) => o.kind === 'TidbCluster' && o.metadata.name === 'analytics');
    assert.ok(tc);
    const spec = tc.spec as Record<string, { image?: string; replicas?: number }> & { version?: string };
    assert.equal(tc.metadata.namespace, 'tidb-analytics');
    assert.equal(spec.version, undefined);
    assert.deepEqual(['pd', 'tikv', 'tidb'].map((c) => [spec[c]?.image, spec[c]?.replicas]), [
      ['pingcap/pd:v7.5.1', 3],
      ['pingcap/tikv:v7.5.1', 3],
      ['pingcap/tidb:v7.5.1', 2],
    ]);
  });

  test('returns plain objects the caller may change', async () => {
    const { clusters } = await clusterObjects(examplesRepo);
    const object = clusters[0]?.objects.find((o) => o.kind === 'StatefulSet');
    assert.ok(object && !Object.isFrozen(object));
    object.metadata.name = 'changed';
    const again = await clusterObjects(examplesRepo);
    assert.ok(again.clusters[0]?.objects.some((o) => o.kind === 'StatefulSet' && o.metadata.name === 'etcd'));
  });

  describe('of a broken repository', () => {
    let dir: string;
    let remove: () => Promise<void>;
    before(async () => {
      ({ dir, remove } = await tempDir('cluster-objects'));
      const testCase = cases.find((c) => c.name === 'duplicate-target');
      assert.ok(testCase);
      await materialize(testCase, join(dir, 'repo'));
    });
    after(async () => remove());

    test('throws with the problems', async () => {
      await assert.rejects(clusterObjects(join(dir, 'repo')), (err: unknown) => {
        assert.ok(err instanceof InvalidRepositoryError);
        assert.deepEqual(err.problems.map((p) => p.code), ['duplicate-target']);
        assert.match(err.message, /is not a valid rollgate repository \(1 problem\):\nprod\/cache\.yaml:1:1: duplicate target/);
        return true;
      });
    });
  });
});
