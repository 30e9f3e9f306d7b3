import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PatchError } from '../../../sim/patch/errors.ts';
import type { Json, JsonObject } from '../../../sim/patch/json.ts';
import { recordUpdate, serverSideApply } from '../../../sim/patch/managed-fields.ts';
import type { ServerSideApplyOptions } from '../../../sim/patch/managed-fields.ts';

const T0 = new Date('2024-05-01T10:00:00.250Z');
const T1 = new Date('2024-05-01T10:05:00Z');
const T2 = new Date('2024-05-01T10:10:00Z');

type Obj = JsonObject & {
  metadata: JsonObject & { managedFields?: JsonObject[]; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: JsonObject & {
    replicas?: number;
    updateStrategy?: JsonObject;
    template: { metadata: JsonObject; spec: { containers: (JsonObject & { name: string })[] } };
  };
};

/** What `kubectl apply --server-side` sends for a small StatefulSet. */
function config(overrides: { image?: string; replicas?: number; labels?: Record<string, string>; ports?: boolean; extraContainers?: JsonObject[] } = {}): JsonObject {
  const app: JsonObject = { name: 'app', image: overrides.image ?? 'nginx:1.25' };
  if (overrides.ports !== false) app['ports'] = [{ containerPort: 80, name: 'http' }];
  const spec: JsonObject = {
    serviceName: 'web',
    selector: { matchLabels: { app: 'web' } },
    template: { metadata: { labels: { app: 'web' } }, spec: { containers: [app, ...(overrides.extraContainers ?? [])] } },
  };
  if (overrides.replicas !== undefined) spec['replicas'] = overrides.replicas;
  const metadata: JsonObject = { name: 'web', namespace: 'db' };
  if (overrides.labels) metadata['labels'] = overrides.labels;
  return { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata, spec };
}

function apply(live: JsonObject | undefined, applied: JsonObject, manager: string, extra: Partial<ServerSideApplyOptions> = {}): Obj {
  const result = serverSideApply({ live, applied, manager, force: false, apiVersion: 'apps/v1', now: T1, ...extra });
  return result.object as Obj;
}

/** The store's part of a create: server-set metadata that the field manager never tracks. */
function stored(obj: JsonObject): Obj {
  const out = structuredClone(obj) as Obj;
  Object.assign(out.metadata, { uid: 'uid-1', resourceVersion: '7', generation: 1, creationTimestamp: '2024-05-01T10:00:00Z' });
  return out;
}

function entries(obj: Obj): { manager: Json | undefined; operation: Json | undefined; subresource?: Json | undefined; fields: Json | undefined }[] {
  return (obj.metadata.managedFields ?? []).map((e) => ({
    manager: e['manager'],
    operation: e['operation'],
    ...(e['subresource'] ? { subresource: e['subresource'] } : {}),
    fields: e['fieldsV1'],
  }));
}

function conflict(fn: () => unknown): PatchError {
  try {
    fn();
  } catch (err) {
    if (err instanceof PatchError) return err;
    throw err;
  }
  assert.fail('expected a conflict');
}

void describe('serverSideApply: create', () => {
  void it('creates the object and records exactly the applied fields (FieldsV1)', () => {
    const result = serverSideApply({ live: undefined, applied: config({ replicas: 3 }), manager: 'kubectl', force: false, apiVersion: 'apps/v1', now: T0 });
    assert.equal(result.changed, true);
    assert.deepEqual(result.managedFields, [
      {
        manager: 'kubectl',
        operation: 'Apply',
        apiVersion: 'apps/v1',
        time: '2024-05-01T10:00:00Z',
        fieldsType: 'FieldsV1',
        fieldsV1: {
          'f:spec': {
            'f:replicas': {},
            'f:selector': {},
            'f:serviceName': {},
            'f:template': {
              'f:metadata': { 'f:labels': { 'f:app': {} } },
              'f:spec': {
                'f:containers': {
                  'k:{"name":"app"}': {
                    '.': {},
                    'f:image': {},
                    'f:name': {},
                    'f:ports': {
                      // protocol is a key with a default: the item is keyed with TCP.
                      'k:{"containerPort":80,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {}, 'f:name': {} },
                    },
                  },
                },
              },
            },
          },
        },
      },
    ]);
    const { managedFields: _m, ...metadata } = (result.object as Obj).metadata;
    assert.deepEqual(metadata, { name: 'web', namespace: 'db' });
    assert.deepEqual((result.object as Obj).spec, (config({ replicas: 3 }) as Obj).spec);
  });

  void it('re-applying the same configuration changes nothing, not even the time', () => {
    const live = stored(apply(undefined, config({ replicas: 3 }), 'kubectl', { now: T0 }));
    const result = serverSideApply({ live, applied: config({ replicas: 3 }), manager: 'kubectl', force: false, apiVersion: 'apps/v1', now: T2 });
    assert.equal(result.changed, false);
    assert.deepEqual(result.object, live);
  });

  void it('does not track server-owned metadata sent in the configuration', () => {
    const applied = config();
    Object.assign(applied['metadata'] as JsonObject, { resourceVersion: '7', uid: 'uid-1', generation: 4, creationTimestamp: '2024-05-01T10:00:00Z' });
    const out = apply(undefined, applied, 'kubectl');
    assert.equal(Object.hasOwn(entries(out)[0]?.fields as JsonObject, 'f:metadata'), false);
    assert.deepEqual(Object.keys(entries(out)[0]?.fields as JsonObject), ['f:spec']);
  });
});

void describe('serverSideApply: several managers', () => {
  const base = (): Obj => stored(apply(undefined, config({ replicas: 3 }), 'kubectl', { now: T0 }));

  void it('applying the same value as another manager shares ownership', () => {
    const live = base();
    const out = apply(live, { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'web', namespace: 'db' }, spec: { replicas: 3 } }, 'hpa');
    // Nothing changed, so hpa's new entry has no time (managedFieldsUpdater), and an entry
    // without time sorts first (sortEncodedManagedFields counts it as 0 seconds).
    assert.deepEqual(
      entries(out).map((e) => e.manager),
      ['hpa', 'kubectl'],
    );
    assert.equal(out.metadata.managedFields?.[0]?.['time'], undefined);
    assert.deepEqual(entries(out)[0]?.fields, { 'f:spec': { 'f:replicas': {} } });
    // kubectl still owns replicas too.
    assert.ok(JSON.stringify(entries(out)[1]?.fields).includes('f:replicas'));
  });

  void it('a different value for a field another applier owns is a 409 conflict', () => {
    const live = base();
    const err = conflict(() => apply(live, { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'web', namespace: 'db' }, spec: { replicas: 5 } }, 'hpa'));
    assert.equal(err.code, 409);
    assert.equal(err.reason, 'Conflict');
    assert.equal(err.message, 'Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas');
    assert.deepEqual(err.causes, [{ type: 'FieldManagerConflict', message: 'conflict with "kubectl"', field: '.spec.replicas' }]);
    assert.deepEqual(err.toStatus(), {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas',
      reason: 'Conflict',
      details: { causes: [{ reason: 'FieldManagerConflict', message: 'conflict with "kubectl"', field: '.spec.replicas' }] },
      code: 409,
    });
  });

  void it('force takes the field over', () => {
    const live = base();
    const out = apply(live, { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'web', namespace: 'db' }, spec: { replicas: 5 } }, 'hpa', { force: true });
    assert.equal(out.spec.replicas, 5);
    assert.equal(JSON.stringify(entries(out)[0]?.fields).includes('f:replicas'), false, 'kubectl lost replicas');
    assert.deepEqual(entries(out)[1], { manager: 'hpa', operation: 'Apply', fields: { 'f:spec': { 'f:replicas': {} } } });
    // ... and the previous owner now conflicts when it applies its old value.
    const err = conflict(() => apply(out, config({ replicas: 3 }), 'kubectl'));
    assert.equal(err.message, 'Apply failed with 1 conflict: conflict with "hpa": .spec.replicas');
  });

  void it('a field written by an Update manager conflicts with "<manager> using <apiVersion>"', () => {
    const live = base();
    const scaled = recordUpdate({
      live,
      updated: { ...live, spec: { ...live.spec, replicas: 4 } },
      manager: 'kube-controller-manager',
      apiVersion: 'apps/v1',
      now: T1,
    }).object;
    const err = conflict(() => apply(scaled, config({ replicas: 3 }), 'kubectl'));
    assert.equal(err.message, 'Apply failed with 1 conflict: conflict with "kube-controller-manager" using apps/v1: .spec.replicas');
    assert.deepEqual(err.causes?.[0], { type: 'FieldManagerConflict', message: 'conflict with "kube-controller-manager" using apps/v1', field: '.spec.replicas' });
  });

  void it('several conflicts are listed per manager, managers in order', () => {
    let live = base();
    live = stored(apply(live, { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'web', namespace: 'db', labels: { tier: 'db' } } }, 'labeler'));
    live = recordUpdate({ live, updated: { ...live, spec: { ...live.spec, minReadySeconds: 10 } }, manager: 'editor', apiVersion: 'apps/v1', now: T1 }).object as Obj;
    const err = conflict(() =>
      apply(
        live,
        {
          apiVersion: 'apps/v1',
          kind: 'StatefulSet',
          metadata: { name: 'web', namespace: 'db', labels: { tier: 'cache' } },
          spec: { replicas: 1, minReadySeconds: 0, template: { spec: { containers: [{ name: 'app', image: 'nginx:1.26' }] } } },
        },
        'rollgate',
      ),
    );
    assert.equal(
      err.message,
      [
        'Apply failed with 4 conflicts: conflicts with "editor" using apps/v1:',
        '- .spec.minReadySeconds',
        'conflicts with "kubectl":',
        '- .spec.replicas',
        '- .spec.template.spec.containers[name="app"].image',
        'conflicts with "labeler":',
        '- .metadata.labels.tier',
      ].join('\n'),
    );
    assert.deepEqual(
      err.causes?.map((c) => c.field),
      ['.spec.minReadySeconds', '.spec.replicas', '.spec.template.spec.containers[name="app"].image', '.metadata.labels.tier'],
    );
  });

  void it('keyed lists merge: another manager adds a container; the first one keeps its own', () => {
    const live = base();
    const sidecar = { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'web', namespace: 'db' }, spec: { template: { spec: { containers: [{ name: 'proxy', image: 'envoy:1' }] } } } };
    const withSidecar = stored(apply(live, sidecar, 'mesh-injector'));
    assert.deepEqual(withSidecar.spec.template.spec.containers.map((c) => c.name), ['app', 'proxy']);
    // kubectl applies its unchanged config: the proxy container, owned by the injector, stays.
    const reapplied = apply(withSidecar, config({ replicas: 3, image: 'nginx:1.26' }), 'kubectl', { now: T2 });
    assert.deepEqual(
      reapplied.spec.template.spec.containers.map((c) => [c.name, c['image']]),
      [
        ['app', 'nginx:1.26'],
        ['proxy', 'envoy:1'],
      ],
    );
  });

  void it('an atomic list is replaced wholesale, and owned as one field', () => {
    const live = stored(apply(undefined, config({ extraContainers: [{ name: 'worker', image: 'w:1', args: ['--a', '--b'] }] }), 'kubectl'));
    const out = apply(live, config({ extraContainers: [{ name: 'worker', image: 'w:1', args: ['--c'] }] }), 'kubectl', { now: T2 });
    assert.deepEqual(out.spec.template.spec.containers[1]?.['args'], ['--c']);
    const fields = JSON.stringify(entries(out)[0]?.fields);
    assert.ok(fields.includes('"k:{\\"name\\":\\"worker\\"}":{".":{},"f:args":{},"f:image":{},"f:name":{}}'), fields);
  });
});

void describe('serverSideApply: removing fields', () => {
  void it('a field the manager stops applying is removed when nobody else owns it', () => {
    const live = stored(apply(undefined, config({ replicas: 3, labels: { app: 'web', team: 'db' } }), 'kubectl', { now: T0 }));
    const out = apply(live, config({ replicas: 3, labels: { app: 'web' }, ports: false }), 'kubectl', { now: T2 });
    assert.deepEqual(out.metadata.labels, { app: 'web' });
    assert.equal('ports' in (out.spec.template.spec.containers[0] ?? {}), false);
    assert.equal(out.metadata.managedFields?.[0]?.['time'], '2024-05-01T10:10:00Z');
  });

  void it('removing the last applied label removes the labels map', () => {
    const live = stored(apply(undefined, config({ labels: { team: 'db' } }), 'kubectl'));
    const out = apply(live, config(), 'kubectl', { now: T2 });
    assert.equal('labels' in out.metadata, false);
  });

  void it('a field another manager also owns is kept', () => {
    let live = stored(apply(undefined, config({ labels: { team: 'db' } }), 'kubectl'));
    live = stored(apply(live, { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'web', namespace: 'db', labels: { team: 'db' } } }, 'labeler'));
    const out = apply(live, config(), 'kubectl', { now: T2 });
    assert.deepEqual(out.metadata.labels, { team: 'db' });
    assert.deepEqual(entries(out).map((e) => e.manager).sort(), ['kubectl', 'labeler']);
  });

  void it('a field written by an Update manager since is kept (addBackOwnedItems counts updaters)', () => {
    let live = stored(apply(undefined, config({ replicas: 3 }), 'kubectl'));
    live = recordUpdate({ live, updated: { ...live, spec: { ...live.spec, replicas: 4 } }, manager: 'kube-controller-manager', apiVersion: 'apps/v1', now: T1 }).object as Obj;
    const out = apply(live, config(), 'kubectl', { now: T2 });
    assert.equal(out.spec.replicas, 4);
  });

  void it('a container the manager stops applying is removed with everything in it', () => {
    const live = stored(apply(undefined, config({ extraContainers: [{ name: 'worker', image: 'w:1', env: [{ name: 'A', value: '1' }] }] }), 'kubectl'));
    const out = apply(live, config(), 'kubectl', { now: T2 });
    assert.deepEqual(out.spec.template.spec.containers.map((c) => c.name), ['app']);
  });

  void it('null in the configuration removes the field and keeps it owned', () => {
    const live = stored(apply(undefined, config({ replicas: 3 }), 'kubectl'));
    const applied = config();
    (applied['spec'] as JsonObject)['replicas'] = null;
    const out = apply(live, applied, 'kubectl', { now: T2 });
    assert.equal('replicas' in out.spec, false);
    assert.ok(JSON.stringify(entries(out)[0]?.fields).includes('f:replicas'));
  });
});

void describe('serverSideApply: subresources and reset fields', () => {
  const controllerStatus = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'web', namespace: 'db' },
    status: { replicas: 3, readyReplicas: 2, conditions: [{ type: 'Available', status: 'False' }] },
  };

  void it('an apply to /status records subresource "status" and ignores spec', () => {
    const live = stored(apply(undefined, config({ replicas: 3 }), 'kubectl'));
    const body = { ...controllerStatus, spec: { replicas: 9 } };
    const out = apply(live, body, 'statefulset-controller', { subresource: 'status' });
    assert.equal(out.spec.replicas, 3);
    assert.deepEqual(out['status'], controllerStatus.status);
    const entry = out.metadata.managedFields?.find((e) => e['manager'] === 'statefulset-controller');
    assert.deepEqual(entry, {
      manager: 'statefulset-controller',
      operation: 'Apply',
      apiVersion: 'apps/v1',
      time: '2024-05-01T10:05:00Z',
      fieldsType: 'FieldsV1',
      fieldsV1: { 'f:status': { 'f:conditions': { 'k:{"type":"Available"}': { '.': {}, 'f:status': {}, 'f:type': {} } }, 'f:readyReplicas': {}, 'f:replicas': {} } },
      subresource: 'status',
    });
  });

  void it('status in an apply to the main resource is neither merged nor owned', () => {
    const out = apply(undefined, { ...config(), status: { replicas: 5 } }, 'kubectl');
    assert.equal('status' in out, false);
    assert.equal(JSON.stringify(out.metadata.managedFields).includes('f:status'), false);
  });

  void it('conflicts name the subresource of an Update manager', () => {
    let live = stored(apply(undefined, config(), 'kubectl'));
    live = recordUpdate({ live, updated: { ...live, status: { replicas: 1 } }, manager: 'kube-controller-manager', apiVersion: 'apps/v1', now: T1, subresource: 'status' }).object as Obj;
    const err = conflict(() => apply(live, { ...controllerStatus, status: { replicas: 2 } }, 'rollgate', { subresource: 'status' }));
    assert.equal(err.message, 'Apply failed with 1 conflict: conflict with "kube-controller-manager" with subresource "status" using apps/v1: .status.replicas');
  });
});

void describe('serverSideApply: taking over existing objects', () => {
  void it('fields of an object without managedFields belong to "before-first-apply"', () => {
    const live = stored(config({ replicas: 3 }));
    const err = conflict(() => apply(live, config({ replicas: 5 }), 'rollgate'));
    assert.equal(err.message, 'Apply failed with 1 conflict: conflict with "before-first-apply" using apps/v1: .spec.replicas');
  });

  void it('kubectl may take over fields still equal to its client-side last-applied-configuration', () => {
    // `kubectl apply` (client-side) created it: manager kubectl-client-side-apply, plus the annotation.
    const lastApplied = { ...config({ replicas: 3 }) };
    const created = structuredClone(lastApplied) as Obj;
    created.metadata.annotations = { 'kubectl.kubernetes.io/last-applied-configuration': `${JSON.stringify(lastApplied)}\n` };
    const live = stored(recordUpdate({ live: undefined, updated: created, manager: 'kubectl-client-side-apply', apiVersion: 'apps/v1', now: T0 }).object);

    // Another manager would conflict ...
    assert.equal(conflict(() => apply(live, config({ replicas: 5 }), 'rollgate')).code, 409);
    // ... kubectl --server-side does not, and rewrites the annotation with what it applied.
    const out = apply(live, config({ replicas: 5 }), 'kubectl');
    assert.equal(out.spec.replicas, 5);
    const annotation = out.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration'] ?? '';
    assert.ok(annotation.endsWith('\n'));
    assert.deepEqual(JSON.parse(annotation), config({ replicas: 5 }));
    assert.ok(annotation.startsWith('{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":'), 'keys sorted as encoding/json writes them');
  });
});

void describe('serverSideApply: errors', () => {
  const cases: { name: string; applied: unknown; code: number; message: string; live?: JsonObject }[] = [
    { name: 'another version', applied: { ...config(), apiVersion: 'apps/v1beta2' }, code: 400, message: 'invalid object type: apps/v1beta2, Kind=StatefulSet' },
    { name: 'another kind', applied: { ...config(), kind: 'Deployment' }, code: 400, message: 'invalid object type: apps/v1, Kind=Deployment', live: stored(config()) },
    { name: 'an empty body', applied: {}, code: 400, message: 'invalid object type: /, Kind=' },
    {
      name: 'managedFields in the body',
      applied: { ...config(), metadata: { name: 'web', managedFields: [] } },
      code: 400,
      message: 'metadata.managedFields must be nil',
    },
    {
      name: 'a container without its name',
      applied: { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'web' }, spec: { template: { spec: { containers: [{ image: 'x' }] } } } },
      code: 500,
      message:
        'failed to create typed patch object (apps/v1, Kind=StatefulSet): .spec.template.spec.containers: element 0: associative list with keys has an element that omits key field "name" (and doesn\'t have default value)',
    },
    {
      name: 'two containers with the same name',
      applied: {
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        metadata: { name: 'web' },
        spec: { template: { spec: { containers: [{ name: 'a' }, { name: 'a' }] } } },
      },
      code: 500,
      message: 'failed to create typed patch object (apps/v1, Kind=StatefulSet): .spec.template.spec.containers: duplicate entries for key [name="a"]',
    },
    { name: 'a list body', applied: [], code: 400, message: 'error decoding YAML: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array into Go value of type map[string]interface {}' },
  ];
  for (const c of cases) {
    void it(`${c.name} → ${c.code}`, () => {
      assert.throws(
        () => serverSideApply({ live: c.live, applied: c.applied, manager: 'kubectl', force: false, apiVersion: 'apps/v1', now: T0 }),
        (err: unknown) => {
          assert.ok(err instanceof PatchError, String(err));
          assert.equal(err.code, c.code);
          assert.equal(err.message, c.message);
          return true;
        },
      );
    });
  }
});
