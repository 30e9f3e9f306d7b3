import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PatchError } from '../../../sim/patch/errors.ts';
import type { JsonObject } from '../../../sim/patch/json.ts';
import {
  managerOrUserAgent,
  MAX_UPDATE_MANAGERS,
  parseApplyPatch,
  recordUpdate,
  serverSideApply,
  validatePatchOptions,
  validateWriteOptions,
} from '../../../sim/patch/managed-fields.ts';

const T0 = new Date('2024-05-01T10:00:00Z');
const T1 = new Date('2024-05-01T10:05:00Z');
const T2 = new Date('2024-05-01T10:10:00Z');

type Obj = JsonObject & {
  metadata: JsonObject & { managedFields?: JsonObject[]; labels?: Record<string, string> };
  spec: JsonObject & { replicas: number };
  status?: JsonObject;
};

function statefulSet(): Obj {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'web', namespace: 'db', labels: { app: 'web' } },
    spec: {
      replicas: 1,
      serviceName: 'web',
      selector: { matchLabels: { app: 'web' } },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'app', image: 'nginx:1.25', ports: [{ containerPort: 80, protocol: 'TCP' }], resources: {} }] },
      },
    },
  };
}

/** kubectl create, as the store records it: server metadata added, managedFields by kubectl-create. */
function created(): Obj {
  const obj = statefulSet();
  Object.assign(obj.metadata, { uid: 'uid-1', resourceVersion: '1', generation: 1, creationTimestamp: '2024-05-01T10:00:00Z' });
  return recordUpdate({ live: undefined, updated: obj, manager: 'kubectl-create', apiVersion: 'apps/v1', now: T0 }).object as Obj;
}

function fields(obj: Obj, manager: string): JsonObject | undefined {
  return obj.metadata.managedFields?.find((e) => e['manager'] === manager)?.['fieldsV1'] as JsonObject | undefined;
}

void describe('recordUpdate', () => {
  void it('a create is owned by its manager, with "." entries where the real server shows them', () => {
    const obj = created();
    assert.deepEqual(obj.metadata.managedFields, [
      {
        manager: 'kubectl-create',
        operation: 'Update',
        apiVersion: 'apps/v1',
        time: '2024-05-01T10:00:00Z',
        fieldsType: 'FieldsV1',
        fieldsV1: {
          'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
          'f:spec': {
            'f:replicas': {},
            'f:selector': {},
            'f:serviceName': {},
            'f:template': {
              'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
              'f:spec': {
                'f:containers': {
                  'k:{"name":"app"}': {
                    '.': {},
                    'f:image': {},
                    'f:name': {},
                    'f:ports': { '.': {}, 'k:{"containerPort":80,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {}, 'f:protocol': {} } },
                    'f:resources': {},
                  },
                },
              },
            },
            'f:updateStrategy': { 'f:rollingUpdate': { '.': {}, 'f:partition': {} }, 'f:type': {} },
          },
        },
      },
    ]);
  });

  void it('an update takes the changed fields from their previous owner', () => {
    const live = created();
    const updated = structuredClone(live);
    updated.spec.replicas = 3;
    const out = recordUpdate({ live, updated, manager: 'kube-controller-manager', apiVersion: 'apps/v1', now: T1 }).object as Obj;
    assert.deepEqual(fields(out, 'kube-controller-manager'), { 'f:spec': { 'f:replicas': {} } });
    assert.equal(JSON.stringify(fields(out, 'kubectl-create')).includes('f:replicas'), false);
    assert.deepEqual(
      out.metadata.managedFields?.map((e) => [e['manager'], e['time']]),
      [
        ['kubectl-create', '2024-05-01T10:00:00Z'],
        ['kube-controller-manager', '2024-05-01T10:05:00Z'],
      ],
    );
  });

  void it('successive updates by one manager accumulate', () => {
    let obj = created();
    for (const [i, change] of [(o: Obj) => (o.spec.replicas = 2), (o: Obj) => (o.spec['minReadySeconds'] = 5)].entries()) {
      const next = structuredClone(obj);
      change(next);
      obj = recordUpdate({ live: obj, updated: next, manager: 'rollgate', apiVersion: 'apps/v1', now: i === 0 ? T1 : T2 }).object as Obj;
    }
    assert.deepEqual(fields(obj, 'rollgate'), { 'f:spec': { 'f:minReadySeconds': {}, 'f:replicas': {} } });
    assert.equal(obj.metadata.managedFields?.find((e) => e['manager'] === 'rollgate')?.['time'], '2024-05-01T10:10:00Z');
  });

  void it('a removed field leaves every owner, and a removal alone does not stamp the writer', () => {
    const live = created();
    const updated = structuredClone(live);
    delete updated.metadata.labels;
    const out = recordUpdate({ live, updated, manager: 'kubectl-edit', apiVersion: 'apps/v1', now: T1 }).object as Obj;
    assert.equal(Object.hasOwn(fields(out, 'kubectl-create') ?? {}, 'f:metadata'), false);
    assert.equal(fields(out, 'kubectl-edit'), undefined);
  });

  void it('server-owned metadata changes are never owned', () => {
    const live = created();
    const updated = structuredClone(live);
    Object.assign(updated.metadata, { resourceVersion: '99', generation: 2, deletionTimestamp: '2024-05-01T11:00:00Z' });
    const out = recordUpdate({ live, updated, manager: 'kube-apiserver', apiVersion: 'apps/v1', now: T1 }).object as Obj;
    assert.deepEqual(out.metadata.managedFields, live.metadata.managedFields);
  });

  void it('a /status write records subresource "status" and owns only status', () => {
    const live = created();
    const updated = structuredClone(live);
    updated.status = { replicas: 1, readyReplicas: 1, observedGeneration: 1 };
    updated.spec.replicas = 7; // the status strategy resets spec; it must not be owned
    const out = recordUpdate({ live, updated, manager: 'kube-controller-manager', apiVersion: 'apps/v1', now: T1, subresource: 'status' }).object as Obj;
    assert.deepEqual(out.metadata.managedFields?.[1], {
      manager: 'kube-controller-manager',
      operation: 'Update',
      apiVersion: 'apps/v1',
      time: '2024-05-01T10:05:00Z',
      fieldsType: 'FieldsV1',
      fieldsV1: { 'f:status': { 'f:observedGeneration': {}, 'f:readyReplicas': {}, 'f:replicas': {} } },
      subresource: 'status',
    });
  });

  void it('status changed through the main resource is not owned (the strategy resets it)', () => {
    const live = created();
    const updated = structuredClone(live);
    updated.status = { replicas: 5 };
    const out = recordUpdate({ live, updated, manager: 'someone', apiVersion: 'apps/v1', now: T1 }).object as Obj;
    assert.equal(fields(out, 'someone'), undefined);
  });

  void it('an existing object without managedFields stays untracked (skipNonAppliedManager)', () => {
    const live = statefulSet();
    const updated = structuredClone(live);
    updated.spec.replicas = 2;
    const result = recordUpdate({ live, updated, manager: 'kubectl-edit', apiVersion: 'apps/v1', now: T1 });
    assert.deepEqual(result.managedFields, []);
    assert.equal('managedFields' in (result.object as Obj).metadata, false);
  });

  void it('managedFields: [{}] in the request clears them', () => {
    const live = created();
    const updated = structuredClone(live);
    updated.metadata.managedFields = [{}];
    const result = recordUpdate({ live, updated, manager: 'kubectl-patch', apiVersion: 'apps/v1', now: T1 });
    assert.deepEqual(result.managedFields, []);
    assert.equal('managedFields' in (result.object as Obj).metadata, false);
  });

  void it('a client that drops managedFields does not erase them', () => {
    const live = created();
    const updated = structuredClone(live);
    delete updated.metadata.managedFields;
    updated.spec.replicas = 2;
    const out = recordUpdate({ live, updated, manager: 'client', apiVersion: 'apps/v1', now: T1 }).object as Obj;
    assert.deepEqual(out.metadata.managedFields?.map((e) => e['manager']), ['kubectl-create', 'client']);
  });

  void it(`keeps at most ${MAX_UPDATE_MANAGERS} Update entries, folding the oldest into "ancient-changes"`, () => {
    let obj = created();
    for (let i = 0; i < 11; i++) {
      const next = structuredClone(obj);
      (next.metadata.labels as Record<string, string>)[`l${i}`] = 'x';
      obj = recordUpdate({ live: obj, updated: next, manager: `m${i}`, apiVersion: 'apps/v1', now: new Date(T1.getTime() + i * 1000) }).object as Obj;
    }
    const managers = obj.metadata.managedFields?.map((e) => e['manager']);
    assert.equal(managers?.length, MAX_UPDATE_MANAGERS);
    // The 11th writer folded kubectl-create (oldest) and m0 into a bucket; the 12th folded m1 into it.
    assert.deepEqual(managers, ['ancient-changes', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9', 'm10']);
    const bucket = JSON.stringify(fields(obj, 'ancient-changes'));
    assert.ok(bucket.includes('f:l0') && bucket.includes('f:l1') && bucket.includes('f:replicas') && !bucket.includes('f:l2'), bucket);
    // The bucket keeps the time of the newest update folded into it.
    assert.equal(obj.metadata.managedFields?.[0]?.['time'], '2024-05-01T10:05:01Z');
  });
});

void describe('managedFields order', () => {
  void it('sorts Apply before Update, then by time, then by manager', () => {
    let obj = created();
    const patch = (o: Obj, change: (x: Obj) => void, manager: string, now: Date): Obj => {
      const next = structuredClone(o);
      change(next);
      return recordUpdate({ live: o, updated: next, manager, apiVersion: 'apps/v1', now }).object as Obj;
    };
    obj = patch(obj, (o) => (o.spec['minReadySeconds'] = 1), 'zeta', T1);
    obj = patch(obj, (o) => (o.spec['revisionHistoryLimit'] = 3), 'alpha', T1);
    obj = serverSideApply({
      live: obj,
      applied: { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'web', namespace: 'db' }, spec: { replicas: 2 } },
      manager: 'rollgate',
      force: true,
      apiVersion: 'apps/v1',
      now: T2,
    }).object as Obj;
    assert.deepEqual(
      obj.metadata.managedFields?.map((e) => `${e['operation'] as string}:${e['manager'] as string}`),
      ['Apply:rollgate', 'Update:kubectl-create', 'Update:alpha', 'Update:zeta'],
    );
  });
});

void describe('validatePatchOptions', () => {
  const cases: { name: string; input: Parameters<typeof validatePatchOptions>[0]; message?: string }[] = [
    {
      name: 'apply without fieldManager',
      input: { patchType: 'application/apply-patch+yaml' },
      message: 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
    },
    { name: 'apply with fieldManager', input: { patchType: 'application/apply-patch+yaml', fieldManager: 'rollgate', force: true } },
    {
      name: 'force on a merge patch',
      input: { patchType: 'application/merge-patch+json', force: false },
      message: 'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch',
    },
    { name: 'merge patch without fieldManager', input: { patchType: 'application/merge-patch+json' } },
    {
      name: 'a fieldManager longer than 128 bytes',
      input: { patchType: 'application/strategic-merge-patch+json', fieldManager: 'x'.repeat(129) },
      message: 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Too long: may not be more than 128 bytes',
    },
    {
      name: 'force and no fieldManager... on apply only the missing manager',
      input: { patchType: 'application/apply-patch+yaml', force: true, fieldManager: '' },
      message: 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
    },
  ];
  for (const c of cases) {
    void it(c.name, () => {
      const err = validatePatchOptions(c.input);
      if (c.message === undefined) return assert.equal(err, undefined);
      assert.ok(err instanceof PatchError);
      assert.equal(err.code, 422);
      assert.equal(err.reason, 'Invalid');
      assert.equal(err.message, c.message);
    });
  }

  void it('carries the cause the Status needs', () => {
    assert.deepEqual(validatePatchOptions({ patchType: 'application/apply-patch+yaml' })?.toStatus(), {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
      reason: 'Invalid',
      details: {
        group: 'meta.k8s.io',
        kind: 'PatchOptions',
        causes: [{ reason: 'FieldValueRequired', message: 'Required value: is required for apply patch', field: 'fieldManager' }],
      },
      code: 422,
    });
  });

  void it('validates the fieldManager of creates and updates too', () => {
    assert.equal(validateWriteOptions('UpdateOptions', 'ok'), undefined);
    assert.equal(validateWriteOptions('CreateOptions', 'a\u0007b')?.message, 'CreateOptions.meta.k8s.io "" is invalid: fieldManager: Invalid value: "a\\u0007b": invalid character U+0007 (at position 1)');
  });
});

void describe('managerOrUserAgent', () => {
  const cases: { fieldManager?: string; userAgent?: string; want: string }[] = [
    { fieldManager: 'rollgate', userAgent: 'kubectl/v1.31.0 (linux/amd64) kubernetes/abc', want: 'rollgate' },
    { userAgent: 'kubectl/v1.31.0 (linux/amd64) kubernetes/abc', want: 'kubectl' },
    { userAgent: 'kubernetes-client-typescript', want: 'kubernetes-client-typescript' },
    { userAgent: 'bad\u0000agent/1', want: 'badagent' },
    { userAgent: `${'a'.repeat(200)}/1`, want: 'a'.repeat(128) },
    { want: '' },
  ];
  for (const c of cases) void it(`${String(c.fieldManager)} ${String(c.userAgent).slice(0, 30)} → ${c.want.slice(0, 20)}`, () => assert.equal(managerOrUserAgent(c.fieldManager, c.userAgent), c.want));
});

void describe('parseApplyPatch', () => {
  void it('decodes YAML', () => {
    assert.deepEqual(parseApplyPatch('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  created: 2024-05-01T10:00:00Z\n'), {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'c' },
      data: { created: '2024-05-01T10:00:00Z' },
    });
  });

  void it('decodes JSON, which is YAML', () => {
    assert.deepEqual(parseApplyPatch('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}'), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } });
  });

  void it('decodes an empty body to {}', () => assert.deepEqual(parseApplyPatch(''), {}));

  const errors: { name: string; body: string; message: RegExp }[] = [
    { name: 'a list', body: '- a\n- b\n', message: /^error decoding YAML: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array into Go value of type map\[string\]interface \{\}$/ },
    { name: 'malformed YAML', body: 'a: [1, 2\nb: c', message: /^error decoding YAML: error converting YAML to JSON: yaml: / },
  ];
  for (const c of errors) {
    void it(`rejects ${c.name} with 400`, () => {
      assert.throws(
        () => parseApplyPatch(c.body),
        (err: unknown) => err instanceof PatchError && err.code === 400 && c.message.test(err.message),
      );
    });
  }
});
