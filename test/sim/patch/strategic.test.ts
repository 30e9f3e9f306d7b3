import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PatchError } from '../../../sim/patch/errors.ts';
import { asJson } from '../../../sim/patch/json.ts';
import type { Json } from '../../../sim/patch/json.ts';
import { patchMetaFor } from '../../../sim/patch/schema.ts';
import type { KindSchema, SchemaNode } from '../../../sim/patch/schema.ts';
import { strategicMergePatch } from '../../../sim/patch/strategic.ts';

function schemaOf(group: string, kind: string): KindSchema {
  const schema = patchMetaFor(group, kind);
  assert.ok(schema, `${group}/${kind} has patch metadata`);
  return schema;
}

const statefulSet = {
  apiVersion: 'apps/v1',
  kind: 'StatefulSet',
  metadata: { name: 'web', namespace: 'default', labels: { app: 'web' }, finalizers: ['a.io/x', 'b.io/y'] },
  spec: {
    replicas: 3,
    serviceName: 'web',
    selector: { matchLabels: { app: 'web' } },
    updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: {
        containers: [
          {
            name: 'app',
            image: 'nginx:1.25',
            env: [
              { name: 'MODE', value: 'primary' },
              { name: 'LOG', value: 'info' },
            ],
            ports: [{ containerPort: 80, name: 'http', protocol: 'TCP' }],
            volumeMounts: [{ name: 'data', mountPath: '/data' }],
            resources: { limits: { cpu: '1', memory: '1Gi' } },
          },
          { name: 'sidecar', image: 'busybox:1.36' },
        ],
        tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoSchedule' }],
        volumes: [{ name: 'config', configMap: { name: 'web-config' } }],
      },
    },
  },
};
type Sts = typeof statefulSet;
const statefulSetJson = asJson(statefulSet);
const stsSchema = schemaOf('apps', 'StatefulSet');

const deployment = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'api' },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: 'api' } },
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
    template: { metadata: { labels: { app: 'api' } }, spec: { containers: [{ name: 'api', image: 'api:1' }] } },
  },
};

void describe('strategicMergePatch: what kubectl and controllers send', () => {
  const cases: { name: string; patch: Json; check: (out: Sts) => void }[] = [
    {
      // kubectl apply (client-side) after changing the image: a three-way SMP with the order list.
      name: 'kubectl apply image change with $setElementOrder',
      patch: { spec: { template: { spec: { $setElementOrder_containers: [{ name: 'app' }, { name: 'sidecar' }], containers: [{ image: 'nginx:1.26', name: 'app' }] } } } },
      check: (out) => {
        const want = structuredClone(statefulSet);
        want.spec.template.spec.containers[0]!.image = 'nginx:1.26';
        assert.deepEqual(out, want);
      },
    },
    {
      name: '$setElementOrder reorders the list',
      patch: { spec: { template: { spec: { $setElementOrder_containers: [{ name: 'sidecar' }, { name: 'app' }] } } } },
      check: (out) => assert.deepEqual(out.spec.template.spec.containers.map((c) => c.name), ['sidecar', 'app']),
    },
    {
      name: 'adding a container in the order kubectl asks for',
      patch: {
        spec: {
          template: {
            spec: {
              $setElementOrder_containers: [{ name: 'app' }, { name: 'metrics' }, { name: 'sidecar' }],
              containers: [{ name: 'metrics', image: 'exporter:2' }],
            },
          },
        },
      },
      check: (out) => assert.deepEqual(out.spec.template.spec.containers.map((c) => c.name), ['app', 'metrics', 'sidecar']),
    },
    {
      // kubectl rollout restart (polymorphichelpers/objectrestarter.go).
      name: 'kubectl rollout restart adds the restartedAt annotation to the template',
      patch: { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': '2024-05-01T10:00:00Z' } } } } },
      check: (out) =>
        assert.deepEqual(out.spec.template.metadata, { labels: { app: 'web' }, annotations: { 'kubectl.kubernetes.io/restartedAt': '2024-05-01T10:00:00Z' } }),
    },
    {
      name: 'env merges by name: one changed, one added, the rest kept',
      patch: { spec: { template: { spec: { containers: [{ name: 'app', env: [{ name: 'LOG', value: 'debug' }, { name: 'NEW', value: '1' }] }] } } } },
      check: (out) =>
        // Patch items in patch order; MODE, only on the server, keeps its place before LOG.
        assert.deepEqual(out.spec.template.spec.containers[0]!.env, [
          { name: 'MODE', value: 'primary' },
          { name: 'LOG', value: 'debug' },
          { name: 'NEW', value: '1' },
        ]),
    },
    {
      name: 'a new item without $setElementOrder goes before server-only items (upstream mergeSortedSlice)',
      patch: { spec: { template: { spec: { containers: [{ name: 'app', env: [{ name: 'NEW', value: '1' }] }] } } } },
      check: (out) => assert.deepEqual((out.spec.template.spec.containers[0]?.env ?? []).map((e) => e.name), ['NEW', 'MODE', 'LOG']),
    },
    {
      name: '$patch: delete removes a container by merge key',
      patch: { spec: { template: { spec: { containers: [{ name: 'sidecar', $patch: 'delete' }] } } } },
      check: (out) => assert.deepEqual(out.spec.template.spec.containers.map((c) => c.name), ['app']),
    },
    {
      name: '$patch: delete of an item that is not there is a no-op',
      patch: { spec: { template: { spec: { containers: [{ name: 'ghost', $patch: 'delete' }] } } } },
      check: (out) => assert.deepEqual(out, statefulSet),
    },
    {
      name: '$patch: replace on a list replaces it',
      patch: { spec: { template: { spec: { containers: [{ name: 'only', image: 'x:1' }, { $patch: 'replace' }] } } } },
      check: (out) => assert.deepEqual(out.spec.template.spec.containers, [{ name: 'only', image: 'x:1' }]),
    },
    {
      name: '$patch: replace on a map replaces it',
      patch: { spec: { template: { spec: { containers: [{ name: 'app', resources: { $patch: 'replace', requests: { cpu: '100m' } } }] } } } },
      check: (out) => assert.deepEqual(out.spec.template.spec.containers[0]!.resources, { requests: { cpu: '100m' } }),
    },
    {
      name: '$patch: delete on a map empties it',
      patch: { spec: { template: { spec: { containers: [{ name: 'app', resources: { $patch: 'delete' } }] } } } },
      check: (out) => assert.deepEqual(out.spec.template.spec.containers[0]!.resources, {}),
    },
    {
      name: 'null deletes a member',
      patch: { spec: { updateStrategy: { rollingUpdate: null } } },
      check: (out) => assert.deepEqual(out.spec.updateStrategy, { type: 'RollingUpdate' }),
    },
    {
      name: 'nulls in a value that is new are discarded (discardNullValuesFromPatch)',
      patch: { metadata: { annotations: { a: '1', b: null } } },
      check: (out) => assert.deepEqual((out.metadata as Record<string, unknown>)['annotations'], { a: '1' }),
    },
    {
      name: 'tolerations have no patch strategy and are replaced',
      patch: { spec: { template: { spec: { tolerations: [{ key: 'spot', operator: 'Exists' }] } } } },
      check: (out) => assert.deepEqual(out.spec.template.spec.tolerations, [{ key: 'spot', operator: 'Exists' }]),
    },
    {
      name: 'volumes merge by name',
      patch: { spec: { template: { spec: { volumes: [{ name: 'scratch', emptyDir: {} }] } } } },
      check: (out) => assert.deepEqual(out.spec.template.spec.volumes.map((v) => v.name), ['scratch', 'config']),
    },
    {
      name: 'container ports merge by containerPort',
      patch: { spec: { template: { spec: { containers: [{ name: 'app', ports: [{ containerPort: 80, name: 'web' }] }] } } } },
      check: (out) => assert.deepEqual(out.spec.template.spec.containers[0]!.ports, [{ containerPort: 80, name: 'web', protocol: 'TCP' }]),
    },
    {
      name: 'volumeMounts merge by mountPath',
      patch: { spec: { template: { spec: { containers: [{ name: 'app', volumeMounts: [{ mountPath: '/data', readOnly: true }] }] } } } },
      check: (out) => assert.deepEqual(out.spec.template.spec.containers[0]!.volumeMounts, [{ name: 'data', mountPath: '/data', readOnly: true }]),
    },
    {
      name: 'finalizers merge as a set of strings',
      patch: { metadata: { finalizers: ['b.io/y', 'c.io/z'] } },
      check: (out) => assert.deepEqual(out.metadata.finalizers, ['a.io/x', 'b.io/y', 'c.io/z']),
    },
    {
      name: '$deleteFromPrimitiveList/finalizers removes one',
      patch: { metadata: { '$deleteFromPrimitiveList/finalizers': ['a.io/x'] } },
      check: (out) => assert.deepEqual(out.metadata.finalizers, ['b.io/y']),
    },
    {
      name: 'the selector (atomic for SSA) still merges member by member in SMP',
      patch: { spec: { selector: { matchLabels: { tier: 'db' } } } },
      check: (out) => assert.deepEqual(out.spec.selector, { matchLabels: { app: 'web', tier: 'db' } }),
    },
    {
      name: 'a JSON null body changes nothing',
      patch: null,
      check: (out) => assert.deepEqual(out, statefulSet),
    },
  ];
  for (const c of cases) {
    void it(c.name, () => {
      const before = structuredClone(statefulSet);
      const patch = JSON.parse(JSON.stringify(c.patch).replaceAll('$setElementOrder_', '$setElementOrder/')) as Json;
      c.check(strategicMergePatch(statefulSetJson, patch, stsSchema) as Sts);
      assert.deepEqual(statefulSet, before, 'the original is not mutated');
    });
  }

  void it('$retainKeys clears the members not listed (Deployment strategy to Recreate)', () => {
    const out = strategicMergePatch(deployment, { spec: { strategy: { $retainKeys: ['type'], type: 'Recreate' } } }, schemaOf('apps', 'Deployment')) as typeof deployment;
    assert.deepEqual(out.spec.strategy, { type: 'Recreate' });
  });

  void it('merges pod status conditions by type (kubelet status patch)', () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web-0' },
      status: {
        phase: 'Running',
        conditions: [
          { type: 'Initialized', status: 'True' },
          { type: 'Ready', status: 'False' },
        ],
      },
    };
    const patch = {
      status: {
        '$setElementOrder/conditions': [{ type: 'Initialized' }, { type: 'Ready' }],
        conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2024-05-01T10:00:00Z' }],
      },
    };
    const out = strategicMergePatch(pod, patch, schemaOf('', 'Pod')) as typeof pod;
    assert.deepEqual(out.status.conditions, [
      { type: 'Initialized', status: 'True' },
      { type: 'Ready', status: 'True', lastTransitionTime: '2024-05-01T10:00:00Z' },
    ]);
  });

  void it('merges Service ports by port', () => {
    const svc = { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }] } };
    const out = strategicMergePatch(svc, { spec: { ports: [{ port: 80, targetPort: 9090 }, { port: 443 }] } }, schemaOf('', 'Service')) as typeof svc;
    assert.deepEqual(out.spec.ports, [{ port: 80, targetPort: 9090, protocol: 'TCP' }, { port: 443 }]);
  });

  void it('merges ownerReferences by uid', () => {
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', ownerReferences: [{ uid: 'u1', name: 'a', kind: 'StatefulSet' }] } };
    const out = strategicMergePatch(cm, { metadata: { ownerReferences: [{ uid: 'u2', name: 'b', kind: 'StatefulSet' }] } }, schemaOf('', 'ConfigMap')) as typeof cm;
    assert.deepEqual(out.metadata.ownerReferences.map((o) => o.uid), ['u2', 'u1']);
  });
});

// A schema like the MergeItem struct of apimachinery's strategicpatch tests.
const mergeItem: { type: 'struct'; fields: Record<string, SchemaNode> } = { type: 'struct', fields: {} };
Object.assign(mergeItem.fields, {
  mergingList: { type: 'list', patchStrategy: 'merge', patchMergeKey: 'name', elem: mergeItem },
  nonMergingList: { type: 'list', elem: mergeItem },
  mergingIntList: { type: 'list', patchStrategy: 'merge' },
  nonMergingIntList: { type: 'list' },
  simpleMap: { type: 'map' },
  replacingItem: { type: 'struct', patchStrategy: 'replace' },
} satisfies Record<string, SchemaNode>);

void describe('strategicMergePatch: upstream patch_test.go cases', () => {
  const cases: { name: string; original: Json; patch: Json; want: Json }[] = [
    { name: 'unique scalars when merging lists', original: { mergingIntList: [1, 2] }, patch: { mergingIntList: [2, 3] }, want: { mergingIntList: [1, 2, 3] } },
    { name: 'delete map from nested map', original: { simpleMap: { key1: 1, key2: 1 } }, patch: { simpleMap: { $patch: 'delete' } }, want: { simpleMap: {} } },
    {
      name: 'delete all items from merging list',
      original: { mergingList: [{ name: 1 }, { name: 2 }] },
      patch: { mergingList: [{ $patch: 'replace' }] },
      want: { mergingList: [] },
    },
    { name: 'delete all keys from map', original: { name: 1, value: 1 }, patch: { $patch: 'replace' }, want: {} },
    { name: 'add key and delete all keys from map', original: { name: 1, value: 1 }, patch: { other: 'a', $patch: 'replace' }, want: { other: 'a' } },
    {
      name: 'delete all duplicate entries in a merging list',
      original: { mergingList: [{ name: 1 }, { name: 1 }, { name: 2, value: 'a' }, { name: 3 }, { name: 3 }] },
      patch: { mergingList: [{ name: 1, $patch: 'delete' }, { name: 3, $patch: 'delete' }] },
      want: { mergingList: [{ name: 2, value: 'a' }] },
    },
    {
      name: 'preserve the order from the patch in a merging list',
      original: { mergingList: [{ name: 1 }, { name: 2, value: 'b' }, { name: 3 }] },
      patch: { mergingList: [{ name: 3, value: 'c' }, { name: 1, value: 'a' }, { name: 2, other: 'x' }] },
      want: { mergingList: [{ name: 3, value: 'c' }, { name: 1, value: 'a' }, { name: 2, value: 'b', other: 'x' }] },
    },
    {
      name: 'preserve the order from the patch in a merging list 2',
      original: { mergingList: [{ name: 1 }, { name: 2, value: 'b' }, { name: 3 }] },
      patch: { mergingList: [{ name: 3, value: 'c' }, { name: 1, value: 'a' }] },
      want: { mergingList: [{ name: 2, value: 'b' }, { name: 3, value: 'c' }, { name: 1, value: 'a' }] },
    },
    { name: 'preserve the order from the patch in a merging int list', original: { mergingIntList: [1, 2, 3] }, patch: { mergingIntList: [3, 1] }, want: { mergingIntList: [2, 3, 1] } },
    {
      name: '$setElementOrder contains item that is not present in the list to be merged',
      original: { mergingList: [{ name: 1 }, { name: 3 }] },
      patch: { '$setElementOrder/mergingList': [{ name: 3 }, { name: 2 }, { name: 1 }], mergingList: [{ name: 3, value: 3 }, { name: 1, value: 1 }] },
      want: { mergingList: [{ name: 3, value: 3 }, { name: 1, value: 1 }] },
    },
    {
      name: '$setElementOrder contains item that is not present in the int list to be merged',
      original: { mergingIntList: [1, 3] },
      patch: { '$setElementOrder/mergingIntList': [3, 2, 1] },
      want: { mergingIntList: [3, 1] },
    },
    {
      name: '$deleteFromPrimitiveList of nonexistent item in primitive list should not add the item to the list',
      original: { mergingIntList: [1, 2] },
      patch: { '$deleteFromPrimitiveList/mergingIntList': [3] },
      want: { mergingIntList: [1, 2] },
    },
    {
      name: '$deleteFromPrimitiveList on empty primitive list should not add the item to the list',
      original: { mergingIntList: null },
      patch: { '$deleteFromPrimitiveList/mergingIntList': [3] },
      want: { mergingIntList: null },
    },
    {
      name: '$deleteFromPrimitiveList on nonexistent primitive list should not add the primitive list',
      original: { foo: ['bar'] },
      patch: { '$deleteFromPrimitiveList/mergingIntList': [3] },
      want: { foo: ['bar'] },
    },
    {
      name: '$deleteFromPrimitiveList should delete item from a list without merge patch strategy',
      original: { nonMergingIntList: [1, 2, 3] },
      patch: { '$deleteFromPrimitiveList/nonMergingIntList': [2] },
      want: { nonMergingIntList: [1, 3] },
    },
    {
      name: 'add and delete items in lists of scalars',
      original: { mergingIntList: [1, 2, 3, 4] },
      patch: { '$setElementOrder/mergingIntList': [1, 2, 4], '$deleteFromPrimitiveList/mergingIntList': [3] },
      want: { mergingIntList: [1, 2, 4] },
    },
    {
      name: 'merge lists of maps',
      original: { mergingList: [{ name: 1, other: 'a' }, { name: 2, value: 2, other: 'b' }] },
      patch: {
        '$setElementOrder/mergingList': [{ name: 4 }, { name: 1 }, { name: 2 }, { name: 3 }],
        mergingList: [{ name: 4, value: 4 }, { name: 3, value: 3 }],
      },
      want: { mergingList: [{ name: 4, value: 4 }, { name: 1, other: 'a' }, { name: 2, value: 2, other: 'b' }, { name: 3, value: 3 }] },
    },
    {
      name: 'nested patch merge with empty list',
      original: { name: 'hi', mergingList: [{ name: 'hello2' }] },
      patch: {
        '$setElementOrder/mergingList': [{ name: 'hello' }, { name: 'doesntexist' }],
        mergingList: [{ name: 'hello' }, { $patch: 'delete', name: 'doesntexist' }],
      },
      want: { name: 'hi', mergingList: [{ name: 'hello' }, { name: 'hello2' }] },
    },
    { name: 'replace list of scalars', original: { nonMergingIntList: [1, 2] }, patch: { nonMergingIntList: [2, 3] }, want: { nonMergingIntList: [2, 3] } },
    { name: 'a replace-strategy struct is replaced', original: { replacingItem: { a: 1, b: 2 } }, patch: { replacingItem: { c: 3 } }, want: { replacingItem: { c: 3 } } },
  ];
  for (const c of cases) void it(c.name, () => assert.deepEqual(strategicMergePatch(c.original, c.patch, mergeItem), c.want));
});

void describe('strategicMergePatch: errors', () => {
  const cases: { name: string; patch: unknown; code: number; message: string | RegExp; original?: Json }[] = [
    {
      name: 'a body that is not an object',
      patch: [{ op: 'add' }],
      code: 400,
      message: 'json: cannot unmarshal array into Go value of type map[string]interface {}',
    },
    {
      name: 'a list item without its merge key',
      patch: { spec: { template: { spec: { containers: [{ image: 'nginx:1.26' }] } } } },
      code: 500,
      message: 'map: map[image:nginx:1.26] does not contain declared merge key: name',
    },
    {
      name: '$patch: merge on a map',
      patch: { spec: { $patch: 'merge', replicas: 1 } },
      code: 500,
      message: 'unknown patch type: merge in map: map[$patch:merge replicas:1]',
    },
    {
      name: '$patch: merge in a list',
      patch: { spec: { template: { spec: { containers: [{ name: 'app', $patch: 'merge' }] } } } },
      code: 500,
      message: 'merging lists cannot yet be specified in the patch',
    },
    {
      name: '$setElementOrder that contradicts the patch list',
      patch: { spec: { template: { spec: { '$setElementOrder/containers': [{ name: 'sidecar' }], containers: [{ name: 'app', image: 'x' }] } } } },
      code: 500,
      message: /^The order in patch list:\n\[map\[image:x name:app\]\]\n doesn't match \$setElementOrder list:\n\[map\[name:sidecar\]\]\n$/,
    },
    {
      name: '$retainKeys that is not a list',
      patch: { spec: { updateStrategy: { $retainKeys: 'type', type: 'OnDelete' } } },
      code: 400,
      message: 'invalid patch format of retainKeys',
    },
    {
      name: '$retainKeys that leaves out a member the patch sets',
      patch: { spec: { updateStrategy: { $retainKeys: ['rollingUpdate'], type: 'OnDelete' } } },
      code: 400,
      message: 'invalid patch format of retainKeys',
    },
    {
      name: 'a $setElementOrder key without a field',
      patch: { spec: { $setElementOrder: [] } },
      code: 400,
      message: 'invalid patch format of setElementOrder list',
    },
    {
      name: 'a list of lists (mergepatch.ErrNoListOfLists)',
      original: { metadata: { finalizers: [] } },
      patch: { metadata: { finalizers: [['x']] } },
      code: 422,
      message: 'the server rejected our request due to an error in our request',
    },
    {
      name: 'list items of different types',
      patch: { metadata: { finalizers: [1] } },
      code: 500,
      message: 'list element types are not identical: [[a.io/x b.io/y] [1]]',
    },
  ];
  for (const c of cases) {
    void it(`${c.name} → ${c.code}`, () => {
      assert.throws(
        () => strategicMergePatch(c.original ?? statefulSetJson, c.patch, stsSchema),
        (err: unknown) => {
          assert.ok(err instanceof PatchError, String(err));
          assert.equal(err.code, c.code);
          if (typeof c.message === 'string') assert.equal(err.message, c.message);
          else assert.match(err.message, c.message);
          return true;
        },
      );
    });
  }
});
