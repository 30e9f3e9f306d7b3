/** Helm values merging and the TidbCluster the pingcap/tidb-cluster chart renders. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mergeValues, renderTidbCluster, valuesPathOf } from '../../agent/manifests/helm.ts';

describe('mergeValues', () => {
  const table: { name: string; files: object[]; want: object }[] = [
    { name: 'later files win', files: [{ a: 1, b: 1 }, { b: 2 }], want: { a: 1, b: 2 } },
    { name: 'mappings merge deeply', files: [{ pd: { image: 'x', replicas: 3 } }, { pd: { image: 'y' } }], want: { pd: { image: 'y', replicas: 3 } } },
    { name: 'sequences are replaced', files: [{ l: [1, 2] }, { l: [3] }], want: { l: [3] } },
    { name: 'null removes a key', files: [{ a: 1, b: { c: 1 } }, { b: null }], want: { a: 1 } },
    { name: 'a scalar replaces a mapping', files: [{ a: { b: 1 } }, { a: 'x' }], want: { a: 'x' } },
    { name: 'no files', files: [], want: {} },
  ];
  for (const { name, files, want } of table) test(name, () => assert.deepEqual(mergeValues(files as never), want));
});

describe('renderTidbCluster', () => {
  const release = { release: 'analytics', namespace: 'tidb', chart: { name: 'tidb-cluster', repository: 'https://charts.pingcap.org/', version: 'v1.5.0+build' } };
  const values = {
    pd: { image: 'pingcap/pd:v7.5.1', replicas: 3, resources: { requests: { storage: '10Gi' }, limits: {} } },
    tikv: { image: 'pingcap/tikv:v7.5.1', replicas: 3, imagePullPolicy: 'Always', storageClassName: 'ssd' },
    tidb: { image: 'pingcap/tidb:v7.5.1', replicas: 2 },
  };

  test('copies images and replicas verbatim, without spec.version', () => {
    const object = renderTidbCluster(release, values);
    assert.deepEqual(object, {
      apiVersion: 'pingcap.com/v1alpha1',
      kind: 'TidbCluster',
      metadata: {
        name: 'analytics',
        namespace: 'tidb',
        labels: {
          'app.kubernetes.io/name': 'tidb-cluster',
          'app.kubernetes.io/managed-by': 'Helm',
          'app.kubernetes.io/instance': 'analytics',
          'app.kubernetes.io/component': 'tidb-cluster',
          'helm.sh/chart': 'tidb-cluster-v1.5.0_build',
        },
        annotations: { 'meta.helm.sh/release-name': 'analytics', 'meta.helm.sh/release-namespace': 'tidb' },
      },
      spec: {
        timezone: 'UTC',
        pd: { replicas: 3, image: 'pingcap/pd:v7.5.1', imagePullPolicy: 'IfNotPresent', requests: { storage: '10Gi' } },
        tikv: { replicas: 3, image: 'pingcap/tikv:v7.5.1', imagePullPolicy: 'Always', storageClassName: 'ssd' },
        tidb: { replicas: 2, image: 'pingcap/tidb:v7.5.1', imagePullPolicy: 'IfNotPresent' },
      },
    });
  });

  test('names the cluster after clusterName when the values set it', () => {
    const object = renderTidbCluster(release, { ...values, clusterName: 'olap', nameOverride: 'tc' });
    assert.equal(object.metadata.name, 'olap');
    assert.equal(object.metadata.labels?.['app.kubernetes.io/name'], 'tc');
    assert.equal(object.metadata.labels?.['app.kubernetes.io/instance'], 'analytics');
  });

  test('maps rendered fields back to values', () => {
    assert.deepEqual(valuesPathOf(['spec', 'tikv', 'image'], values), ['tikv', 'image']);
    assert.deepEqual(valuesPathOf(['spec', 'timezone'], values), ['timezone']);
    assert.deepEqual(valuesPathOf(['metadata', 'name'], values), undefined);
    assert.deepEqual(valuesPathOf(['metadata', 'name'], { clusterName: 'x' }), ['clusterName']);
  });
});
