/**
 * OnDelete: a template change restarts nothing; status shows the new
 * update revision with no updated pods; a pod deleted by hand comes back at
 * the update revision; `kubectl rollout status` refuses (reference §2).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../../helpers/sim.ts';
import type { ControllerFixture } from './helpers.ts';
import { imagePatch, startControllerFixture, statefulSetYaml } from './helpers.ts';

const ns = 'ondelete';

describe('StatefulSet OnDelete', () => {
  let f: ControllerFixture;
  const status = async () => (JSON.parse(await f.ok(['get', 'sts', 'od', '-n', ns, '-o', 'json'])) as { status: { currentRevision: string; updateRevision: string; updatedReplicas?: number; currentReplicas?: number; readyReplicas?: number } }).status;
  before(async () => {
    f = await startControllerFixture();
    await f.ok(['create', 'ns', ns]);
    await f.apply(statefulSetYaml({ name: 'od', namespace: ns, image: 'nginx:1.25', strategy: 'updateStrategy: {type: OnDelete}' }));
    await eventually(async () => assert.equal((await status()).readyReplicas, 3));
  });
  after(async () => {
    await f.close();
  });

  it('kubectl rollout status fails: only available for RollingUpdate', async () => {
    const r = await f.kubectl(['rollout', 'status', 'sts/od', '-n', ns, '--timeout=5s']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'error: rollout status is only available for RollingUpdate strategy type\n');
  });

  it('a template change restarts no pod', async () => {
    const before = await status();
    const since = f.sim.runtime().events.lastSeq;
    await f.ok(['patch', 'sts', 'od', '-n', ns, '--type=json', '-p', imagePatch('nginx:1.26')]);
    await eventually(async () => assert.notEqual((await status()).updateRevision, before.currentRevision));
    const start = f.sim.clock.now();
    await eventually(() => assert.ok(f.sim.clock.now() - start > 30_000));
    const s = await status();
    assert.equal(s.currentRevision, before.currentRevision);
    assert.equal(s.updatedReplicas, undefined, 'updatedReplicas 0 is omitted, as the API serialises it');
    assert.equal(s.currentReplicas, 3);
    assert.deepEqual(f.sim.runtime().events.list({ since, namespace: ns, types: ['PodTerminating'] }), []);
  });

  it('a deleted pod comes back at the update revision', async () => {
    const s = await status();
    await f.ok(['delete', 'pod', 'od-0', '-n', ns, '--wait=false']);
    await eventually(async () => {
      const pod = JSON.parse(await f.ok(['get', 'pod', 'od-0', '-n', ns, '-o', 'json'])) as { metadata: { labels: Record<string, string>; deletionTimestamp?: string }; spec: { containers: { image: string }[] } };
      assert.equal(pod.metadata.deletionTimestamp, undefined);
      assert.equal(pod.metadata.labels['controller-revision-hash'], s.updateRevision);
      assert.equal(pod.spec.containers[0]?.image, 'nginx:1.26');
    });
    await eventually(async () => {
      const after = await status();
      assert.equal(after.updatedReplicas, 1);
      assert.equal(after.currentReplicas, 2);
      assert.equal(after.readyReplicas, 3);
      // OnDelete never promotes currentRevision (kubernetes#73492), even when every pod is updated.
      assert.equal(after.currentRevision, s.currentRevision);
    });
  });
});
