/**
 * @kubernetes/client-node against kube-sim: typed clients for each kind,
 * KubernetesObjectApi with every PatchStrategy, and an informer that
 * follows ADD/UPDATE/DELETE and recovers from a 410 by relisting.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import {
  ApiException,
  ApiextensionsV1Api,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  makeInformer,
  setHeaderOptions,
} from '@kubernetes/client-node';
import type { SimFixture } from '../helpers/sim.ts';
import { eventually, startSimFixture } from '../helpers/sim.ts';

const ns = 'client';

function pod(name: string, labels: Record<string, string> = {}): V1Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, labels }, spec: { containers: [{ name: 'app', image: 'busybox:1.36' }] } };
}

async function expectStatus(promise: Promise<unknown>, code: number): Promise<{ reason?: string; message?: string }> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ApiException, `expected ApiException, got ${String(err)}`);
    assert.equal(err.code, code, String(err.body));
    return JSON.parse(String(err.body)) as { reason?: string; message?: string };
  }
  assert.fail(`expected HTTP ${code}`);
}

describe('client-node against kube-sim', () => {
  let f: SimFixture;
  let kc: KubeConfig;
  const lists: string[] = [];
  before(async () => {
    f = await startSimFixture({
      beforeRequest: (_cluster, req, url) => {
        if (req.method === 'GET' && url.pathname.endsWith('/pods') && url.searchParams.get('watch') === null) lists.push(url.search);
      },
    });
    kc = new KubeConfig();
    kc.loadFromFile(f.kubeconfigPath);
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
  });
  after(async () => {
    await f.close();
  });

  it('CoreV1Api: pods created, listed by label and field selectors, replaced with conflict detection, deleted', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const created = await core.createNamespacedPod({ namespace: ns, body: pod('p1', { tier: 'db' }) });
    assert.equal(created.status?.phase, 'Pending');
    assert.equal(created.metadata?.generation, 1);
    await core.createNamespacedPod({ namespace: ns, body: pod('p2', { tier: 'web' }) });
    const byLabel = await core.listNamespacedPod({ namespace: ns, labelSelector: 'tier in (db,cache)' });
    assert.deepEqual(byLabel.items.map((p) => p.metadata?.name), ['p1']);
    const byField = await core.listNamespacedPod({ namespace: ns, fieldSelector: 'metadata.name!=p1,status.phase=Pending' });
    assert.deepEqual(byField.items.map((p) => p.metadata?.name), ['p2']);
    const paged = await core.listNamespacedPod({ namespace: ns, limit: 1 });
    assert.equal(paged.items.length, 1);
    assert.ok(paged.metadata?._continue);
    const rest = await core.listNamespacedPod({ namespace: ns, limit: 1, _continue: paged.metadata._continue });
    assert.deepEqual(rest.items.map((p) => p.metadata?.name), ['p2']);
    const stale = { ...created, metadata: { ...created.metadata, labels: { tier: 'x' } } };
    await core.replaceNamespacedPod({ namespace: ns, name: 'p1', body: { ...stale, metadata: { ...stale.metadata, labels: { tier: 'y' } } } });
    const conflict = await expectStatus(core.replaceNamespacedPod({ namespace: ns, name: 'p1', body: stale }), 409);
    assert.equal(conflict.reason, 'Conflict');
    await core.deleteNamespacedPod({ namespace: ns, name: 'p2' });
    const missing = await expectStatus(core.readNamespacedPod({ namespace: ns, name: 'p2' }), 404);
    assert.equal(missing.message, 'pods "p2" not found');
  });

  it('AppsV1Api: StatefulSet status and scale subresources', async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    const sts = await apps.createNamespacedStatefulSet({
      namespace: ns,
      body: {
        metadata: { name: 'db' },
        spec: { serviceName: 'db', replicas: 3, selector: { matchLabels: { app: 'db' } }, template: { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'db', image: 'redis:7' }] } } },
      },
    });
    assert.equal(sts.spec?.updateStrategy?.type, 'RollingUpdate');
    assert.equal(sts.spec?.updateStrategy?.rollingUpdate?.partition, 0);
    const withStatus = await apps.replaceNamespacedStatefulSetStatus({ namespace: ns, name: 'db', body: { ...sts, spec: { ...sts.spec, replicas: 9 }, status: { replicas: 3, readyReplicas: 2, observedGeneration: 1 } } });
    assert.equal(withStatus.status?.readyReplicas, 2);
    assert.equal(withStatus.spec?.replicas, 3, 'a status write ignores spec');
    assert.equal(withStatus.metadata?.generation, 1, 'a status write never bumps generation');
    const scale = await apps.readNamespacedStatefulSetScale({ namespace: ns, name: 'db' });
    assert.equal(scale.spec?.replicas, 3);
    assert.equal(scale.status?.selector, 'app=db');
    const patched = await apps.patchNamespacedStatefulSet({ namespace: ns, name: 'db', body: [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'redis:7.2' }] });
    assert.equal(patched.metadata?.generation, 2);
    assert.equal(patched.status?.readyReplicas, 2, 'main writes keep status');
  });

  it('typed clients create, read, list and delete every other built-in kind', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const apps = kc.makeApiClient(AppsV1Api);
    const template = { metadata: { labels: { app: 'k' } }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } };
    const kinds: { kind: string; create: () => Promise<unknown>; read: () => Promise<{ metadata?: { name?: string } }>; list: () => Promise<{ items: unknown[] }>; remove: () => Promise<unknown> }[] = [
      {
        kind: 'Service',
        create: () => core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'k' }, spec: { selector: { app: 'k' }, ports: [{ port: 80 }] } } }),
        read: () => core.readNamespacedService({ namespace: ns, name: 'k' }),
        list: () => core.listNamespacedService({ namespace: ns }),
        remove: () => core.deleteNamespacedService({ namespace: ns, name: 'k' }),
      },
      {
        kind: 'ConfigMap',
        create: () => core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'k' }, data: { a: '1' } } }),
        read: () => core.readNamespacedConfigMap({ namespace: ns, name: 'k' }),
        list: () => core.listNamespacedConfigMap({ namespace: ns }),
        remove: () => core.deleteNamespacedConfigMap({ namespace: ns, name: 'k' }),
      },
      {
        kind: 'Secret',
        create: () => core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'k' }, stringData: { token: 'x' } } }),
        read: () => core.readNamespacedSecret({ namespace: ns, name: 'k' }),
        list: () => core.listNamespacedSecret({ namespace: ns }),
        remove: () => core.deleteNamespacedSecret({ namespace: ns, name: 'k' }),
      },
      {
        kind: 'Event',
        create: () => core.createNamespacedEvent({ namespace: ns, body: { metadata: { name: 'k' }, involvedObject: { kind: 'Pod', name: 'p1', namespace: ns }, reason: 'Test', message: 'hello', type: 'Normal' } }),
        read: () => core.readNamespacedEvent({ namespace: ns, name: 'k' }),
        list: () => core.listNamespacedEvent({ namespace: ns, fieldSelector: 'involvedObject.name=p1' }),
        remove: () => core.deleteNamespacedEvent({ namespace: ns, name: 'k' }),
      },
      {
        kind: 'Deployment',
        create: () => apps.createNamespacedDeployment({ namespace: ns, body: { metadata: { name: 'k' }, spec: { selector: { matchLabels: { app: 'k' } }, template } } }),
        read: () => apps.readNamespacedDeployment({ namespace: ns, name: 'k' }),
        list: () => apps.listNamespacedDeployment({ namespace: ns }),
        remove: () => apps.deleteNamespacedDeployment({ namespace: ns, name: 'k' }),
      },
      {
        kind: 'ReplicaSet',
        create: () => apps.createNamespacedReplicaSet({ namespace: ns, body: { metadata: { name: 'k' }, spec: { selector: { matchLabels: { app: 'k' } }, template } } }),
        read: () => apps.readNamespacedReplicaSet({ namespace: ns, name: 'k' }),
        list: () => apps.listNamespacedReplicaSet({ namespace: ns }),
        remove: () => apps.deleteNamespacedReplicaSet({ namespace: ns, name: 'k' }),
      },
      {
        kind: 'ControllerRevision',
        create: () => apps.createNamespacedControllerRevision({ namespace: ns, body: { metadata: { name: 'k' }, revision: 1, data: { spec: { template } } } }),
        read: () => apps.readNamespacedControllerRevision({ namespace: ns, name: 'k' }),
        list: () => apps.listNamespacedControllerRevision({ namespace: ns }),
        remove: () => apps.deleteNamespacedControllerRevision({ namespace: ns, name: 'k' }),
      },
    ];
    for (const k of kinds) {
      await k.create();
      assert.equal((await k.read()).metadata?.name, 'k', k.kind);
      assert.equal((await k.list()).items.length, 1, k.kind);
      await k.remove();
      await expectStatus(k.read(), 404);
    }
    const secretType = await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'typed' }, data: { a: 'MQ==' } } });
    assert.equal(secretType.type, 'Opaque');
    const deploy = await apps.createNamespacedDeployment({ namespace: ns, body: { metadata: { name: 'defaults' }, spec: { selector: { matchLabels: { app: 'k' } }, template } } });
    assert.equal(deploy.spec?.strategy?.rollingUpdate?.maxSurge, '25%');
    assert.equal(deploy.spec?.progressDeadlineSeconds, 600);
  });

  it('CoordinationV1Api: leases with optimistic updates', async () => {
    const coord = kc.makeApiClient(CoordinationV1Api);
    const lease = await coord.createNamespacedLease({ namespace: ns, body: { metadata: { name: 'leader' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15 } } });
    const renewed = await coord.replaceNamespacedLease({ namespace: ns, name: 'leader', body: { ...lease, spec: { ...lease.spec, holderIdentity: 'b' } } });
    assert.equal(renewed.spec?.holderIdentity, 'b');
    await expectStatus(coord.replaceNamespacedLease({ namespace: ns, name: 'leader', body: { ...lease, spec: { ...lease.spec, holderIdentity: 'c' } } }), 409);
  });

  it('CustomObjectsApi and a CRD applied at run time', async () => {
    const custom = kc.makeApiClient(CustomObjectsApi);
    await custom.createNamespacedCustomObject({
      group: 'pingcap.com',
      version: 'v1alpha1',
      namespace: ns,
      plural: 'tidbclusters',
      body: { apiVersion: 'pingcap.com/v1alpha1', kind: 'TidbCluster', metadata: { name: 'tc1' }, spec: { version: 'v7.5.1' }, status: { ignored: true } },
    });
    const merged = (await custom.patchNamespacedCustomObject(
      { group: 'pingcap.com', version: 'v1alpha1', namespace: ns, plural: 'tidbclusters', name: 'tc1', body: { spec: { paused: true } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )) as { spec: { version: string; paused: boolean }; status?: unknown; metadata: { generation: number } };
    assert.deepEqual(merged.spec, { version: 'v7.5.1', paused: true });
    assert.equal(merged.status, undefined, 'status is dropped on create when it is a subresource');
    assert.equal(merged.metadata.generation, 2);

    const ext = kc.makeApiClient(ApiextensionsV1Api);
    await ext.createCustomResourceDefinition({
      body: {
        metadata: { name: 'widgets.example.com' },
        spec: {
          group: 'example.com',
          names: { kind: 'Widget', plural: 'widgets', singular: 'widget', shortNames: ['wd'] },
          scope: 'Namespaced',
          versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', x_kubernetes_preserve_unknown_fields: true } } }],
        },
      },
    });
    await custom.createNamespacedCustomObject({ group: 'example.com', version: 'v1', namespace: ns, plural: 'widgets', body: { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' }, spec: { size: 1 } } });
    const list = (await custom.listNamespacedCustomObject({ group: 'example.com', version: 'v1', namespace: ns, plural: 'widgets' })) as { items: { metadata: { name: string } }[] };
    assert.deepEqual(list.items.map((i) => i.metadata.name), ['w']);
  });

  it('KubernetesObjectApi patches with every PatchStrategy', async () => {
    const objects = KubernetesObjectApi.makeApiClient(kc);
    const base = { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'db', namespace: ns } };
    // KubernetesObjectApi addresses the object by the body's metadata, so a JSON Patch (a list of
    // operations) goes through a typed client: the default strategy of patchNamespaced* calls.
    const json = await kc.makeApiClient(AppsV1Api).patchNamespacedStatefulSet(
      { namespace: ns, name: 'db', body: [{ op: 'add', path: '/metadata/labels', value: { patched: 'json' } }] },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );
    assert.equal(json.metadata?.labels?.['patched'], 'json');
    const merge = await objects.patch({ ...base, metadata: { ...base.metadata, labels: { patched: 'merge' } } }, undefined, undefined, undefined, undefined, PatchStrategy.MergePatch);
    assert.equal(merge.metadata?.labels?.['patched'], 'merge');
    const smp = await objects.patch(
      { ...base, spec: { template: { spec: { containers: [{ name: 'db', image: 'redis:7.4' }] } } } } as KubernetesObject,
      undefined,
      undefined,
      undefined,
      undefined,
      PatchStrategy.StrategicMergePatch,
    );
    assert.equal((smp as { spec: { template: { spec: { containers: { image: string }[] } } } }).spec.template.spec.containers[0]?.image, 'redis:7.4');
    const tcSmp = objects.patch({ apiVersion: 'pingcap.com/v1alpha1', kind: 'TidbCluster', metadata: { name: 'tc1', namespace: ns }, spec: { version: 'v8.1.0' } } as KubernetesObject, undefined, undefined, undefined, undefined, PatchStrategy.StrategicMergePatch);
    const unsupported = await expectStatus(tcSmp, 415);
    assert.equal(unsupported.reason, 'UnsupportedMediaType');

    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ssa', namespace: ns }, data: { a: '1' } };
    const created = await objects.patch(cm, undefined, undefined, 'rollgate', undefined, PatchStrategy.ServerSideApply);
    assert.equal((created as { data: Record<string, string> }).data['a'], '1');
    const conflict = await expectStatus(objects.patch({ ...cm, data: { a: '2' } }, undefined, undefined, 'someone-else', undefined, PatchStrategy.ServerSideApply), 409);
    assert.match(conflict.message ?? '', /^Apply failed with 1 conflict: conflict with "rollgate"/);
    const forced = await objects.patch({ ...cm, data: { a: '2' } }, undefined, undefined, 'someone-else', true, PatchStrategy.ServerSideApply);
    assert.equal((forced as { data: Record<string, string> }).data['a'], '2');
    const noManager = await expectStatus(objects.patch(cm, undefined, undefined, undefined, undefined, PatchStrategy.ServerSideApply), 422);
    assert.match(noManager.message ?? '', /fieldManager: Required value/);
  });

  it('an informer sees ADD, UPDATE and DELETE and recovers from 410 Gone by relisting', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const informer = makeInformer(kc, `/api/v1/namespaces/${ns}/pods`, () => core.listNamespacedPod({ namespace: ns, labelSelector: 'informer=yes' }), 'informer=yes');
    const seen: string[] = [];
    informer.on('add', (p) => seen.push(`add ${p.metadata?.name ?? ''}`));
    informer.on('update', (p) => seen.push(`update ${p.metadata?.name ?? ''} ${p.metadata?.labels?.['step'] ?? ''}`));
    informer.on('delete', (p) => seen.push(`delete ${p.metadata?.name ?? ''}`));
    const listsBefore = lists.length;
    await informer.start();
    await core.createNamespacedPod({ namespace: ns, body: pod('i1', { informer: 'yes' }) });
    await eventually(() => assert.ok(seen.includes('add i1')));
    await core.patchNamespacedPod({ namespace: ns, name: 'i1', body: [{ op: 'add', path: '/metadata/labels/step', value: 'two' }] });
    await eventually(() => assert.ok(seen.includes('update i1 two')));
    await core.deleteNamespacedPod({ namespace: ns, name: 'i1' });
    await eventually(() => assert.ok(seen.includes('delete i1')));

    // Compact the history and cut the watch: the informer's resumed watch gets 410 and must relist.
    const listed = lists.length;
    await core.createNamespacedPod({ namespace: ns, body: pod('other') });
    f.sim.cluster().store.compact();
    f.sim.dropWatches();
    await core.createNamespacedPod({ namespace: ns, body: pod('i2', { informer: 'yes' }) });
    await eventually(() => assert.ok(seen.includes('add i2')), 15_000);
    await eventually(() => assert.ok(lists.length > listed, 'the informer listed again after 410'));
    assert.ok(listed > listsBefore);
    assert.deepEqual(informer.list(ns).map((p) => p.metadata?.name), ['i2']);
    await informer.stop();
  });
});
