/**
 * A Deployment whose new image never becomes Ready: after
 * progressDeadlineSeconds without progress the Progressing condition turns
 * False with ProgressDeadlineExceeded, and `kubectl rollout status` fails
 * with the real message (reference §2). The old ReplicaSet keeps serving.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { V1Deployment } from '@kubernetes/client-node';
import { eventually } from '../../helpers/sim.ts';
import type { ControllerFixture } from './helpers.ts';
import { imagePatch, startControllerFixture } from './helpers.ts';

const ns = 'deadline';

describe('Deployment progress deadline', () => {
  let f: ControllerFixture;
  const deployment = async () => JSON.parse(await f.ok(['get', 'deploy', 'web', '-n', ns, '-o', 'json'])) as V1Deployment;
  before(async () => {
    f = await startControllerFixture({ images: { images: [{ match: 'example/web:stuck', neverReady: true }] } });
    await f.ok(['create', 'ns', ns]);
    await f.apply(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ${ns}}
spec:
  replicas: 3
  progressDeadlineSeconds: 60
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: example/web:1}]
`);
    await eventually(async () => assert.equal((await deployment()).status?.availableReplicas, 3));
  });
  after(async () => {
    await f.close();
  });

  it('a never-ready image ends in ProgressDeadlineExceeded', async () => {
    await f.ok(['patch', 'deploy', 'web', '-n', ns, '--type=json', '-p', imagePatch('example/web:stuck')]);
    await eventually(async () => {
      const d = await deployment();
      const c = d.status?.conditions?.find((x) => x.type === 'Progressing');
      assert.equal(c?.status, 'False');
      assert.equal(c?.reason, 'ProgressDeadlineExceeded');
      assert.match(c?.message ?? '', /^ReplicaSet "web-[a-z0-9]+" has timed out progressing\.$/);
    });
    const d = await deployment();
    // maxSurge 25% of 3 rounds up to 1, maxUnavailable 25% rounds down to 0: one new pod, old ones all kept.
    assert.equal(d.status?.updatedReplicas, 1);
    assert.equal(d.status?.availableReplicas, 3);
    assert.equal(d.status?.unavailableReplicas, 1);
    assert.equal(d.status?.conditions?.find((x) => x.type === 'Available')?.status, 'True');
  });

  it('kubectl rollout status fails with "exceeded its progress deadline"', async () => {
    const r = await f.kubectl(['rollout', 'status', 'deploy/web', '-n', ns, '--timeout=10s']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'error: deployment "web" exceeded its progress deadline\n');
  });

  it('a fixed image makes progress again', async () => {
    await f.ok(['patch', 'deploy', 'web', '-n', ns, '--type=json', '-p', imagePatch('example/web:2')]);
    const r = await f.kubectl(['rollout', 'status', 'deploy/web', '-n', ns, '--timeout=20s']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /deployment "web" successfully rolled out\n$/);
    const c = (await deployment()).status?.conditions?.find((x) => x.type === 'Progressing');
    assert.equal(c?.reason, 'NewReplicaSetAvailable');
  });
});
