/**
 * What a StatefulSet's pods and claims look like, and how it scales:
 * identity (name, hostname, subdomain, labels, owner reference), PVCs per
 * claim template bound at once, ControllerRevisions with the hash label,
 * scale-down from the highest ordinal one at a time, minReadySeconds
 * holding availableReplicas back, and a Failed pod replaced.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { V1ControllerRevision, V1PersistentVolumeClaim, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import { eventually } from '../../helpers/sim.ts';
import type { ControllerFixture } from './helpers.ts';
import { admin, startControllerFixture, statefulSetYaml, watchObjects } from './helpers.ts';

const ns = 'identity';

describe('StatefulSet identity and scaling', () => {
  let f: ControllerFixture;
  const get = async <T>(args: string[]): Promise<T> => JSON.parse(await f.ok([...args, '-n', ns, '-o', 'json'])) as T;
  before(async () => {
    f = await startControllerFixture();
    await f.ok(['create', 'ns', ns]);
    await f.apply(statefulSetYaml({ name: 'pd', namespace: ns, image: 'pingcap/pd:v7.5.1', claims: true }));
    await eventually(async () => assert.equal((await get<V1StatefulSet>(['get', 'sts', 'pd'])).status?.readyReplicas, 3));
  });
  after(async () => {
    await f.close();
  });

  it('pods carry the StatefulSet identity', async () => {
    const set = await get<V1StatefulSet>(['get', 'sts', 'pd']);
    const pod = await get<V1Pod>(['get', 'pod', 'pd-1']);
    assert.equal(pod.spec?.hostname, 'pd-1');
    assert.equal(pod.spec?.subdomain, 'pd');
    assert.equal(pod.metadata?.generateName, 'pd-');
    assert.deepEqual(pod.metadata?.labels, { app: 'pd', 'statefulset.kubernetes.io/pod-name': 'pd-1', 'apps.kubernetes.io/pod-index': '1', 'controller-revision-hash': set.status?.currentRevision });
    assert.deepEqual(pod.metadata?.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'pd', uid: set.metadata?.uid, controller: true, blockOwnerDeletion: true }]);
    assert.deepEqual(pod.spec?.volumes, [{ name: 'data', persistentVolumeClaim: { claimName: 'data-pd-1' } }]);
    assert.match(pod.spec?.nodeName ?? '', /^sim-node-[123]$/);
    assert.match(pod.status?.podIP ?? '', /^10\.244\.[123]\.\d+$/);
  });

  it('one Bound claim per pod, named <template>-<set>-<ordinal>', async () => {
    const claims = await get<{ items: V1PersistentVolumeClaim[] }>(['get', 'pvc']);
    assert.deepEqual(claims.items.map((c) => [c.metadata?.name, c.status?.phase, c.status?.capacity?.['storage']]), [
      ['data-pd-0', 'Bound', '1Gi'],
      ['data-pd-1', 'Bound', '1Gi'],
      ['data-pd-2', 'Bound', '1Gi'],
    ]);
    assert.deepEqual(claims.items[0]?.metadata?.labels, { app: 'pd' });
    assert.match(claims.items[0]?.spec?.volumeName ?? '', /^pvc-[0-9a-f-]{36}$/);
  });

  it('the ControllerRevision holds the template and is named <set>-<hash>', async () => {
    const set = await get<V1StatefulSet>(['get', 'sts', 'pd']);
    const rev = await get<V1ControllerRevision>(['get', 'controllerrevision', set.status?.currentRevision ?? '']);
    const hash = rev.metadata?.labels?.['controller.kubernetes.io/hash'] ?? '';
    assert.equal(rev.metadata?.name, `pd-${hash}`);
    assert.match(hash, /^[bcdfghjklmnpqrstvwxz2456789]{1,10}$/);
    assert.equal(rev.revision, 1);
    assert.equal(rev.metadata?.labels?.['app'], 'pd');
    const data = rev.data as { spec: { template: { $patch: string; spec: { containers: { image: string }[] } } } };
    assert.equal(data.spec.template.$patch, 'replace');
    assert.equal(data.spec.template.spec.containers[0]?.image, 'pingcap/pd:v7.5.1');
    const table = await f.ok(['get', 'controllerrevisions', '-n', ns]);
    assert.match(table, new RegExp(`${set.status?.currentRevision ?? ''}\\s+statefulset\\.apps/pd\\s+1\\s`));
  });

  it('scales down from the highest ordinal, one pod at a time; claims are retained', async () => {
    const since = f.sim.runtime().events.lastSeq;
    await f.ok(['scale', 'sts', 'pd', '-n', ns, '--replicas=1']);
    await eventually(async () => {
      const s = await get<V1StatefulSet>(['get', 'sts', 'pd']);
      assert.equal(s.status?.replicas, 1);
      assert.equal(s.status?.readyReplicas, 1);
    });
    const steps = f.sim.runtime().events.list({ since, namespace: ns, types: ['PodTerminating', 'PodDeleted'] }).map((e) => `${e.type} ${e.name}`);
    assert.deepEqual(steps, ['PodTerminating pd-2', 'PodDeleted pd-2', 'PodTerminating pd-1', 'PodDeleted pd-1']);
    const claims = await get<{ items: unknown[] }>(['get', 'pvc']);
    assert.equal(claims.items.length, 3, 'whenScaled: Retain keeps the claims');
  });

  it('scales up in order and reuses the claims', async () => {
    await f.ok(['scale', 'sts', 'pd', '-n', ns, '--replicas=3']);
    await eventually(async () => assert.equal((await get<V1StatefulSet>(['get', 'sts', 'pd'])).status?.readyReplicas, 3));
    const pod = await get<V1Pod>(['get', 'pod', 'pd-2']);
    assert.equal(pod.spec?.volumes?.[0]?.persistentVolumeClaim?.claimName, 'data-pd-2');
  });

  it('a Failed pod is deleted and recreated', async () => {
    const uid = (await get<V1Pod>(['get', 'pod', 'pd-1'])).metadata?.uid;
    const r = await admin(f, `pods/${ns}/pd-1/fail`, { method: 'POST', body: { reason: 'Evicted' } });
    assert.equal(r.status, 200);
    await eventually(async () => {
      const pod = await get<V1Pod>(['get', 'pod', 'pd-1']);
      assert.notEqual(pod.metadata?.uid, uid);
      assert.equal(pod.status?.phase, 'Running');
    });
    const finished = f.sim.runtime().events.list({ namespace: ns, name: 'pd-1', types: ['PodFinished'] });
    assert.equal(finished.at(-1)?.reason, 'Failed');
  });

  it('minReadySeconds holds availableReplicas back until pods have been Ready long enough', async () => {
    const watch = await watchObjects<V1StatefulSet>(f, `/apis/apps/v1/namespaces/${ns}/statefulsets`);
    try {
      await f.apply(statefulSetYaml({ name: 'slow', namespace: ns, replicas: 2, image: 'nginx:1.25', minReadySeconds: 30 }));
      await eventually(async () => assert.equal((await get<V1StatefulSet>(['get', 'sts', 'slow'])).status?.availableReplicas, 2));
      const states = watch.seen.filter((s) => s.object.metadata?.name === 'slow').map((s) => ({ ready: s.object.status?.readyReplicas ?? 0, available: s.object.status?.availableReplicas ?? 0, at: s.simTimeMs }));
      const allReady = states.find((s) => s.ready === 2);
      const allAvailable = states.find((s) => s.available === 2);
      assert.ok(allReady && allAvailable);
      assert.ok(allReady.available < 2, 'available lags ready');
      // The last pod became Ready with the first status showing 2 ready; 30 s later it counts as
      // available. Arrival times carry the watch's delivery lag, so allow 10 simulated seconds.
      assert.ok(allAvailable.at - allReady.at >= 20_000, `available ${allAvailable.at - allReady.at} ms after ready`);
    } finally {
      watch.stop();
    }
  });

  it('ordinals.start numbers the pods from that ordinal', async () => {
    await f.apply(statefulSetYaml({ name: 'shifted', namespace: ns, replicas: 2, image: 'nginx:1.25' }).replace('  replicas: 2', '  replicas: 2\n  ordinals: {start: 5}'));
    await eventually(async () => assert.equal((await get<V1StatefulSet>(['get', 'sts', 'shifted'])).status?.readyReplicas, 2));
    const pods = await get<{ items: V1Pod[] }>(['get', 'pods', '-l', 'app=shifted']);
    assert.deepEqual(pods.items.map((p) => [p.metadata?.name, p.metadata?.labels?.['apps.kubernetes.io/pod-index']]), [['shifted-5', '5'], ['shifted-6', '6']]);
  });

  it('pods orphaned by a cascade=orphan delete are adopted by the recreated set, not replaced', async () => {
    const before = await get<{ items: V1Pod[] }>(['get', 'pods', '-l', 'app=shifted']);
    await f.ok(['delete', 'sts', 'shifted', '-n', ns, '--cascade=orphan']);
    await eventually(async () => {
      const pods = await get<{ items: V1Pod[] }>(['get', 'pods', '-l', 'app=shifted']);
      assert.ok(pods.items.every((p) => p.metadata?.ownerReferences === undefined));
    });
    await f.apply(statefulSetYaml({ name: 'shifted', namespace: ns, replicas: 2, image: 'nginx:1.25' }).replace('  replicas: 2', '  replicas: 2\n  ordinals: {start: 5}'));
    const set = await get<V1StatefulSet>(['get', 'sts', 'shifted']);
    await eventually(async () => {
      const pods = await get<{ items: V1Pod[] }>(['get', 'pods', '-l', 'app=shifted']);
      assert.deepEqual(pods.items.map((p) => p.metadata?.ownerReferences?.[0]?.uid), [set.metadata?.uid, set.metadata?.uid]);
      assert.deepEqual(pods.items.map((p) => p.metadata?.uid), before.items.map((p) => p.metadata?.uid));
    });
    await eventually(async () => assert.equal((await get<V1StatefulSet>(['get', 'sts', 'shifted'])).status?.readyReplicas, 2));
  });

  it('deleting the StatefulSet garbage-collects its pods and revisions', async () => {
    await f.ok(['delete', 'sts', 'slow', '-n', ns, '--wait=false']);
    await eventually(async () => {
      const pods = await get<{ items: V1Pod[] }>(['get', 'pods', '-l', 'app=slow']);
      assert.equal(pods.items.length, 0);
    });
    const revs = await get<{ items: V1ControllerRevision[] }>(['get', 'controllerrevisions', '-l', 'app=slow']);
    assert.equal(revs.items.length, 0);
  });
});
