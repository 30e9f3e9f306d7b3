import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { customResourceSchema, groupOf, normalizeObject, patchMetaFor } from '../../../sim/patch/schema.ts';
import { serverSideApply } from '../../../sim/patch/managed-fields.ts';

void describe('patchMetaFor', () => {
  const served: [string, string][] = [
    ['', 'Pod'],
    ['', 'Service'],
    ['', 'ConfigMap'],
    ['', 'Secret'],
    ['', 'Namespace'],
    ['', 'Event'],
    ['apps', 'StatefulSet'],
    ['apps', 'Deployment'],
    ['apps', 'ReplicaSet'],
    ['apps', 'ControllerRevision'],
    ['coordination.k8s.io', 'Lease'],
  ];
  for (const [group, kind] of served) {
    void it(`knows ${group || 'core'}/${kind}`, () => {
      const meta = patchMetaFor(group, kind);
      assert.ok(meta);
      assert.equal(meta.kind, kind);
      assert.equal(meta.strategicMergePatch, true);
    });
  }

  const unknown: [string, string][] = [
    ['pingcap.com', 'TidbCluster'],
    ['app.redislabs.com', 'RedisEnterpriseCluster'],
    ['core', 'Pod'], // the core group is '', not 'core'
    ['apps', 'Pod'],
  ];
  for (const [group, kind] of unknown) void it(`has nothing for ${group}/${kind} (SMP is a 415)`, () => assert.equal(patchMetaFor(group, kind), undefined));

  void it('knows which kinds have a status subresource', () => {
    assert.equal(patchMetaFor('apps', 'StatefulSet')?.statusSubresource, true);
    assert.deepEqual(patchMetaFor('apps', 'StatefulSet')?.mainResetFields, [['status']]);
    assert.equal(patchMetaFor('', 'ConfigMap')?.statusSubresource, false);
    assert.deepEqual(patchMetaFor('', 'ConfigMap')?.mainResetFields, []);
    assert.deepEqual(patchMetaFor('', 'Pod')?.statusResetFields, [['spec'], ['metadata', 'deletionTimestamp'], ['metadata', 'ownerReferences']]);
  });

  void it('describes the pod template lists of workloads', () => {
    const podSpec = patchMetaFor('apps', 'Deployment')?.root.fields?.['spec']?.fields?.['template']?.fields?.['spec'];
    assert.equal(podSpec?.fields?.['containers']?.patchMergeKey, 'name');
    assert.equal(podSpec?.fields?.['containers']?.elem?.fields?.['env']?.patchMergeKey, 'name');
    assert.deepEqual(podSpec?.fields?.['containers']?.elem?.fields?.['ports']?.listMapKeys, ['containerPort', 'protocol']);
    assert.equal(podSpec?.fields?.['containers']?.elem?.fields?.['volumeMounts']?.patchMergeKey, 'mountPath');
    assert.equal(podSpec?.fields?.['volumes']?.patchMergeKey, 'name');
    assert.equal(podSpec?.fields?.['imagePullSecrets']?.patchMergeKey, 'name');
    assert.equal(podSpec?.fields?.['tolerations'], undefined, 'tolerations: no strategy, replaced');
  });
});

void describe('customResourceSchema', () => {
  void it('applies to a CR: objects are granular, lists atomic, status reset on the main resource', () => {
    const schema = customResourceSchema('pingcap.com', 'TidbCluster', true);
    const applied = {
      apiVersion: 'pingcap.com/v1alpha1',
      kind: 'TidbCluster',
      metadata: { name: 'basic' },
      spec: { version: 'v7.5.0', tikv: { replicas: 3, config: {} }, tolerations: [{ key: 'a' }] },
      status: { phase: 'Normal' },
    };
    const out = serverSideApply({ live: undefined, applied, manager: 'rollgate', force: false, apiVersion: 'pingcap.com/v1alpha1', now: new Date(0), schema });
    assert.equal('status' in out.object, false);
    assert.deepEqual(out.managedFields[0]?.['fieldsV1'], {
      'f:spec': { 'f:tikv': { 'f:config': {}, 'f:replicas': {} }, 'f:tolerations': {}, 'f:version': {} },
    });
  });
});

void describe('groupOf', () => {
  for (const [apiVersion, group] of [
    ['v1', ''],
    ['apps/v1', 'apps'],
    ['coordination.k8s.io/v1', 'coordination.k8s.io'],
  ] as const) {
    void it(`${apiVersion} → '${group}'`, () => assert.equal(groupOf(apiVersion), group));
  }
});

void describe('normalizeObject', () => {
  void it('drops nulls and empty known maps, as decoding into the Go type does', () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', labels: {}, annotations: { a: null }, finalizers: null },
      spec: { nodeName: null, containers: [{ name: 'c', resources: { limits: {} }, securityContext: {} }] },
    };
    assert.deepEqual(normalizeObject(pod, patchMetaFor('', 'Pod')), {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p' },
      // Empty structs stay, as a non-nil pointer to an empty struct serialises to {}.
      spec: { containers: [{ name: 'c', resources: {}, securityContext: {} }] },
    });
  });

  void it('does not mutate its input', () => {
    const obj = { metadata: { labels: {} } };
    normalizeObject(obj, patchMetaFor('', 'ConfigMap'));
    assert.deepEqual(obj, { metadata: { labels: {} } });
  });
});
