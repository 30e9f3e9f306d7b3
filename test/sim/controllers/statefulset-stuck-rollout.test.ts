/**
 * The stuck rollout of kubernetes#67250 (reference §1 "Stuck rollout"): an
 * image that never becomes Ready stops an OrderedReady rollout at the first
 * pod; reverting the template alone does not heal it, because the sync
 * stops at the broken pod before the update step could replace it; deleting
 * the broken pod does, and the rollback reuses the old ControllerRevision
 * under its old name with a new revision number.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../../helpers/sim.ts';
import type { ControllerFixture } from './helpers.ts';
import { admin, imagePatch, startControllerFixture, statefulSetYaml } from './helpers.ts';

const ns = 'stuck';

interface Pod {
  metadata: { name: string; uid: string; labels: Record<string, string>; deletionTimestamp?: string };
  spec: { containers: { image: string }[] };
  status: { phase: string; conditions?: { type: string; status: string }[] };
}

describe('StatefulSet stuck rollout', () => {
  let f: ControllerFixture;
  const pods = async (): Promise<Map<string, Pod>> => new Map((JSON.parse(await f.ok(['get', 'pods', '-n', ns, '-o', 'json'])) as { items: Pod[] }).items.map((p) => [p.metadata.name, p]));
  const ready = (p: Pod | undefined) => p?.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  let goodRevision = '';
  let badRevision = '';
  before(async () => {
    f = await startControllerFixture();
    const put = await admin(f, 'images', { method: 'PUT', body: { images: [{ match: 'example/app:broken', neverReady: true }] } });
    assert.equal(put.status, 200);
    await f.ok(['create', 'ns', ns]);
    await f.apply(statefulSetYaml({ name: 'app', namespace: ns, image: 'example/app:1.0' }));
    await eventually(async () => assert.equal(await f.ok(['get', 'sts', 'app', '-n', ns, '-o', 'jsonpath={.status.readyReplicas}']), '3'));
    goodRevision = await f.ok(['get', 'sts', 'app', '-n', ns, '-o', 'jsonpath={.status.currentRevision}']);
  });
  after(async () => {
    await f.close();
  });

  it('a never-ready image stops the rollout at the first pod', async () => {
    await f.ok(['patch', 'sts', 'app', '-n', ns, '--type=json', '-p', imagePatch('example/app:broken')]);
    await eventually(async () => {
      const p = (await pods()).get('app-2');
      assert.equal(p?.spec.containers[0]?.image, 'example/app:broken');
      assert.equal(p?.status.phase, 'Running');
    });
    badRevision = await f.ok(['get', 'sts', 'app', '-n', ns, '-o', 'jsonpath={.status.updateRevision}']);
    // Let plenty of simulated time pass: nothing else moves.
    const start = f.sim.clock.now();
    await eventually(() => assert.ok(f.sim.clock.now() - start > 60_000));
    const now = await pods();
    assert.equal(ready(now.get('app-2')), false);
    assert.equal(now.get('app-1')?.metadata.labels['controller-revision-hash'], goodRevision);
    assert.equal(now.get('app-0')?.metadata.labels['controller-revision-hash'], goodRevision);
    assert.equal(now.get('app-1')?.metadata.deletionTimestamp, undefined);
    const r = await f.kubectl(['rollout', 'status', 'sts/app', '-n', ns, '--timeout=1s']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^Waiting for 1 pods to be ready\.\.\.\n/);
    assert.equal(r.stderr, 'error: timed out waiting for the condition\n');
  });

  it('reverting the template does not heal it', async () => {
    const brokenUid = (await pods()).get('app-2')?.metadata.uid;
    await f.ok(['patch', 'sts', 'app', '-n', ns, '--type=json', '-p', imagePatch('example/app:1.0')]);
    await eventually(async () => assert.equal(await f.ok(['get', 'sts', 'app', '-n', ns, '-o', 'jsonpath={.status.updateRevision}']), goodRevision));
    const start = f.sim.clock.now();
    await eventually(() => assert.ok(f.sim.clock.now() - start > 60_000));
    const p = (await pods()).get('app-2');
    assert.equal(p?.metadata.uid, brokenUid, 'the broken pod is still there');
    assert.equal(p?.metadata.labels['controller-revision-hash'], badRevision);
    assert.equal(p?.metadata.deletionTimestamp, undefined);
    assert.equal(ready(p), false);
  });

  it('the rollback reused the old revision: same name, new revision number', async () => {
    const list = JSON.parse(await f.ok(['get', 'controllerrevisions', '-n', ns, '-o', 'json'])) as { items: { metadata: { name: string }; revision: number }[] };
    const byName = Object.fromEntries(list.items.map((r) => [r.metadata.name, r.revision]));
    assert.deepEqual(byName, { [goodRevision]: 3, [badRevision]: 2 });
  });

  it('deleting the broken pod heals it: recreated from the reverted template', async () => {
    await f.ok(['delete', 'pod', 'app-2', '-n', ns, '--wait=false']);
    await eventually(async () => {
      const s = JSON.parse(await f.ok(['get', 'sts', 'app', '-n', ns, '-o', 'json'])) as { status: { readyReplicas: number; currentRevision: string; updateRevision: string; updatedReplicas: number } };
      assert.equal(s.status.readyReplicas, 3);
      assert.equal(s.status.updatedReplicas, 3);
      assert.equal(s.status.currentRevision, goodRevision);
    });
    const p = (await pods()).get('app-2');
    assert.equal(p?.spec.containers[0]?.image, 'example/app:1.0');
    const r = await f.kubectl(['rollout', 'status', 'sts/app', '-n', ns, '--timeout=5s']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'partitioned roll out complete: 3 new pods have been updated...\n');
  });
});

describe('StatefulSet stuck rollout with Parallel pod management', () => {
  let f: ControllerFixture;
  const ns2 = 'stuck-parallel';
  before(async () => {
    f = await startControllerFixture({ images: { images: [{ match: 'example/app:broken', neverReady: true }] } });
    await f.ok(['create', 'ns', ns2]);
    await f.apply(statefulSetYaml({ name: 'par', namespace: ns2, image: 'example/app:1.0', podManagementPolicy: 'Parallel' }));
    await eventually(async () => assert.equal(await f.ok(['get', 'sts', 'par', '-n', ns2, '-o', 'jsonpath={.status.readyReplicas}']), '3'));
  });
  after(async () => {
    await f.close();
  });

  it('heals on its own when the template is reverted: the broken pod is replaced (reference §1)', async () => {
    const good = await f.ok(['get', 'sts', 'par', '-n', ns2, '-o', 'jsonpath={.status.currentRevision}']);
    await f.ok(['patch', 'sts', 'par', '-n', ns2, '--type=json', '-p', imagePatch('example/app:broken')]);
    await eventually(async () => assert.equal(await f.ok(['get', 'pod', 'par-2', '-n', ns2, '-o', 'jsonpath={.status.phase} {.spec.containers[0].image}']), 'Running example/app:broken'));
    await f.ok(['patch', 'sts', 'par', '-n', ns2, '--type=json', '-p', imagePatch('example/app:1.0')]);
    await eventually(async () => {
      const s = JSON.parse(await f.ok(['get', 'sts', 'par', '-n', ns2, '-o', 'json'])) as { status: { readyReplicas: number; updatedReplicas: number; currentRevision: string } };
      assert.equal(s.status.readyReplicas, 3);
      assert.equal(s.status.updatedReplicas, 3);
      assert.equal(s.status.currentRevision, good);
    });
    assert.equal(await f.ok(['get', 'pod', 'par-2', '-n', ns2, '-o', 'jsonpath={.spec.containers[0].image}']), 'example/app:1.0');
  });
});
