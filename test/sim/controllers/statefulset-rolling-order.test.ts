/**
 * An image change on a 3-replica StatefulSet restarts pods 2, 1, 0 in that
 * order, each only after the one before is back Running and Ready at the
 * new revision, as a client watching pods sees it (reference §1, step 7).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../../helpers/sim.ts';
import type { ControllerFixture, PodWatch } from './helpers.ts';
import { imagePatch, startControllerFixture, statefulSetYaml, watchPods } from './helpers.ts';

const ns = 'rolling-order';

describe('StatefulSet rolling update order', () => {
  let f: ControllerFixture;
  let watch: PodWatch;
  before(async () => {
    f = await startControllerFixture();
    await f.ok(['create', 'ns', ns]);
    watch = await watchPods(f.kc, ns);
  });
  after(async () => {
    watch.stop();
    await f.close();
  });

  it('creates web-0, web-1, web-2 in order, each after the previous is Ready', async () => {
    await f.apply(statefulSetYaml({ name: 'web', namespace: ns, image: 'nginx:1.25' }));
    await eventually(async () => assert.equal(await f.ok(['get', 'sts', 'web', '-n', ns, '-o', 'jsonpath={.status.readyReplicas}']), '3'));
    const added = watch.seen.filter((s) => s.type === 'ADDED').map((s) => s.name);
    assert.deepEqual(added, ['web-0', 'web-1', 'web-2']);
    for (const [prev, next] of [['web-0', 'web-1'], ['web-1', 'web-2']] as const) {
      const ready = watch.seen.findIndex((s) => s.name === prev && s.ready);
      const created = watch.seen.findIndex((s) => s.name === next && s.type === 'ADDED');
      assert.ok(ready >= 0 && ready < created, `${next} was created only after ${prev} was Ready`);
    }
  });

  it('an image change restarts 2, then 1, then 0, each after the previous is Running and Ready', async () => {
    const from = watch.seen.length;
    const oldRevision = await f.ok(['get', 'sts', 'web', '-n', ns, '-o', 'jsonpath={.status.currentRevision}']);
    await f.ok(['patch', 'sts', 'web', '-n', ns, '--type=json', '-p', imagePatch('nginx:1.26')]);
    await eventually(async () => {
      const s = JSON.parse(await f.ok(['get', 'sts', 'web', '-n', ns, '-o', 'json'])) as { status: { currentRevision: string; updateRevision: string; updatedReplicas: number; readyReplicas: number } };
      assert.notEqual(s.status.updateRevision, oldRevision);
      assert.equal(s.status.currentRevision, s.status.updateRevision);
      assert.equal(s.status.updatedReplicas, 3);
      assert.equal(s.status.readyReplicas, 3);
    });
    const events = watch.seen.slice(from);
    const newRevision = await f.ok(['get', 'sts', 'web', '-n', ns, '-o', 'jsonpath={.status.updateRevision}']);
    const firstIndex = (pred: (s: (typeof events)[number]) => boolean): number => events.findIndex(pred);
    const stopped = (name: string) => firstIndex((s) => s.name === name && s.revision === oldRevision && (s.terminating || s.type === 'DELETED'));
    const readyAgain = (name: string) => firstIndex((s) => s.name === name && s.revision === newRevision && s.phase === 'Running' && s.ready);
    const order = ['web-0', 'web-1', 'web-2'].sort((a, b) => stopped(a) - stopped(b));
    assert.deepEqual(order, ['web-2', 'web-1', 'web-0'], 'pods stop in reverse ordinal order');
    assert.ok(stopped('web-2') >= 0 && readyAgain('web-2') > stopped('web-2'));
    assert.ok(readyAgain('web-2') < stopped('web-1'), 'web-1 stops only after web-2 is Running and Ready at the new revision');
    assert.ok(readyAgain('web-1') < stopped('web-0'), 'web-0 stops only after web-1 is Running and Ready at the new revision');
    assert.ok(readyAgain('web-0') > stopped('web-0'));
    // One pod at a time: never two old pods stopped while a new one is not yet Ready.
    for (const s of events.filter((e) => e.type === 'ADDED')) assert.equal(s.revision, newRevision, `${s.name} comes back at the new revision`);
  });

  it('the event record tells the same story, with revisions and images', () => {
    const record = f.sim.runtime().events.list({ namespace: ns, types: ['PodTerminating', 'PodReady'] });
    const lastThree = record.filter((e) => e.type === 'PodTerminating').map((e) => `${e.name}@${e.image ?? ''}`);
    assert.deepEqual(lastThree, ['web-2@nginx:1.25', 'web-1@nginx:1.25', 'web-0@nginx:1.25']);
    const terminations = record.filter((e) => e.type === 'PodTerminating');
    assert.ok(terminations.every((e) => e.actor === 'statefulset-controller'));
    const readyNew = record.filter((e) => e.type === 'PodReady' && e.image === 'nginx:1.26').map((e) => e.name);
    assert.deepEqual(readyNew, ['web-2', 'web-1', 'web-0']);
  });
});
