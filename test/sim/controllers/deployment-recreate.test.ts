/**
 * The Recreate strategy: every old pod is gone before the first new pod is
 * created.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { V1Deployment } from '@kubernetes/client-node';
import { eventually } from '../../helpers/sim.ts';
import type { ControllerFixture } from './helpers.ts';
import { imagePatch, startControllerFixture } from './helpers.ts';

const ns = 'recreate';

describe('Deployment Recreate', () => {
  let f: ControllerFixture;
  const deployment = async () => JSON.parse(await f.ok(['get', 'deploy', 'job', '-n', ns, '-o', 'json'])) as V1Deployment;
  before(async () => {
    f = await startControllerFixture();
    await f.ok(['create', 'ns', ns]);
    await f.apply(`apiVersion: apps/v1
kind: Deployment
metadata: {name: job, namespace: ${ns}}
spec:
  replicas: 3
  strategy: {type: Recreate}
  selector: {matchLabels: {app: job}}
  template:
    metadata: {labels: {app: job}}
    spec:
      containers: [{name: job, image: busybox:1.36}]
`);
    await eventually(async () => assert.equal((await deployment()).status?.availableReplicas, 3));
  });
  after(async () => {
    await f.close();
  });

  it('deletes all old pods before creating new ones', async () => {
    const since = f.sim.runtime().events.lastSeq;
    await f.ok(['patch', 'deploy', 'job', '-n', ns, '--type=json', '-p', imagePatch('busybox:1.37')]);
    await eventually(async () => {
      const d = await deployment();
      assert.equal(d.status?.updatedReplicas, 3);
      assert.equal(d.status?.availableReplicas, 3);
      assert.equal(d.status?.replicas, 3);
    });
    const events = f.sim.runtime().events.list({ since, namespace: ns, types: ['PodDeleted', 'PodCreated'] });
    const lastOldGone = events.map((e) => e.type === 'PodDeleted' && e.image === 'busybox:1.36').lastIndexOf(true);
    const firstNew = events.findIndex((e) => e.type === 'PodCreated' && e.image === 'busybox:1.37');
    assert.equal(events.filter((e) => e.type === 'PodDeleted').length, 3);
    assert.ok(lastOldGone < firstNew, 'the first new pod comes after the last old pod is gone');
  });
});
