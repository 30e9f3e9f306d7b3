/**
 * `partition: 2` on a 3-replica StatefulSet updates only ordinal 2; a pod
 * below the partition that is deleted comes back at the old revision
 * (reference §1, newVersionedStatefulSetPod); lowering the partition
 * continues the rollout, and completeRollingUpdate then promotes the
 * current revision.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../../helpers/sim.ts';
import type { ControllerFixture } from './helpers.ts';
import { imagePatch, startControllerFixture, statefulSetYaml } from './helpers.ts';

const ns = 'partition';

interface Status {
  currentRevision: string;
  updateRevision: string;
  updatedReplicas?: number;
  currentReplicas?: number;
  readyReplicas?: number;
}

describe('StatefulSet partitioned rolling update', () => {
  let f: ControllerFixture;
  const status = async (): Promise<Status> => (JSON.parse(await f.ok(['get', 'sts', 'db', '-n', ns, '-o', 'json'])) as { status: Status }).status;
  const revisions = async (): Promise<Record<string, string>> => {
    const pods = JSON.parse(await f.ok(['get', 'pods', '-n', ns, '-o', 'json'])) as { items: { metadata: { name: string; labels: Record<string, string>; deletionTimestamp?: string } }[] };
    return Object.fromEntries(pods.items.filter((p) => !p.metadata.deletionTimestamp).map((p) => [p.metadata.name, p.metadata.labels['controller-revision-hash'] ?? '']));
  };
  before(async () => {
    f = await startControllerFixture();
    await f.ok(['create', 'ns', ns]);
    await f.apply(statefulSetYaml({ name: 'db', namespace: ns, image: 'redis:7.2', strategy: 'updateStrategy:\n  type: RollingUpdate\n  rollingUpdate: {partition: 2}' }));
    await eventually(async () => assert.equal((await status()).readyReplicas, 3));
  });
  after(async () => {
    await f.close();
  });

  it('updates only ordinal 2 and reports the partitioned rollout complete', async () => {
    const old = (await status()).currentRevision;
    await f.ok(['patch', 'sts', 'db', '-n', ns, '--type=json', '-p', imagePatch('redis:7.4')]);
    let next = '';
    await eventually(async () => {
      const s = await status();
      next = s.updateRevision;
      assert.notEqual(next, old);
      assert.equal(s.updatedReplicas, 1);
      assert.equal(s.readyReplicas, 3);
    });
    assert.deepEqual(await revisions(), { 'db-0': old, 'db-1': old, 'db-2': next });
    const s = await status();
    assert.equal(s.currentRevision, old, 'current revision is not promoted while the partition holds pods back');
    assert.equal(s.currentReplicas, 2);
    const r = await f.kubectl(['rollout', 'status', 'sts/db', '-n', ns, '--timeout=10s']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'partitioned roll out complete: 1 new pods have been updated...\n');
  });

  it('a deleted pod below the partition comes back at the old revision', async () => {
    const old = (await status()).currentRevision;
    const uid = await f.ok(['get', 'pod', 'db-0', '-n', ns, '-o', 'jsonpath={.metadata.uid}']);
    await f.ok(['delete', 'pod', 'db-0', '-n', ns, '--wait=false']);
    await eventually(async () => {
      const pod = JSON.parse(await f.ok(['get', 'pod', 'db-0', '-n', ns, '-o', 'json'])) as { metadata: { uid: string; labels: Record<string, string> }; spec: { containers: { image: string }[] }; status: { conditions?: { type: string; status: string }[] } };
      assert.notEqual(pod.metadata.uid, uid);
      assert.equal(pod.metadata.labels['controller-revision-hash'], old);
      assert.equal(pod.spec.containers[0]?.image, 'redis:7.2');
      assert.ok(pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    });
  });

  it('lowering the partition to 0 finishes the rollout in reverse order and promotes the revision', async () => {
    const next = (await status()).updateRevision;
    const since = f.sim.runtime().events.lastSeq;
    await f.ok(['patch', 'sts', 'db', '-n', ns, '--type=merge', '-p', '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}']);
    await eventually(async () => {
      const s = await status();
      assert.equal(s.currentRevision, next);
      assert.equal(s.updatedReplicas, 3);
      assert.equal(s.readyReplicas, 3);
    });
    assert.deepEqual(await revisions(), { 'db-0': next, 'db-1': next, 'db-2': next });
    const stopped = f.sim.runtime().events.list({ since, namespace: ns, types: ['PodTerminating'] }).map((e) => e.name);
    assert.deepEqual(stopped, ['db-1', 'db-0']);
  });
});
