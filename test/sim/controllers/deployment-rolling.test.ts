/**
 * A Deployment rolling update with maxSurge 1 and maxUnavailable 1: a new
 * ReplicaSet `<deployment>-<pod-template-hash>`, pods `<rs>-<5 chars>`, never
 * more than replicas+maxSurge pods nor fewer than replicas−maxUnavailable
 * Ready, revision annotations, the old ReplicaSet scaled to zero and kept,
 * and the Available/Progressing conditions of a finished rollout.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { V1Deployment, V1ReplicaSet } from '@kubernetes/client-node';
import { eventually } from '../../helpers/sim.ts';
import type { ControllerFixture, PodWatch } from './helpers.ts';
import { imagePatch, startControllerFixture, watchPods } from './helpers.ts';

const ns = 'deploy-rolling';

const manifest = `apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: ${ns}}
spec:
  replicas: 4
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 1}
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: api, image: nginx:1.25}]
`;

describe('Deployment rolling update', () => {
  let f: ControllerFixture;
  let watch: PodWatch;
  const deployment = async () => JSON.parse(await f.ok(['get', 'deploy', 'api', '-n', ns, '-o', 'json'])) as V1Deployment;
  const replicaSets = async () => (JSON.parse(await f.ok(['get', 'rs', '-n', ns, '-o', 'json'])) as { items: V1ReplicaSet[] }).items;
  before(async () => {
    f = await startControllerFixture();
    await f.ok(['create', 'ns', ns]);
    watch = await watchPods(f.kc, ns);
    await f.apply(manifest);
    await eventually(async () => assert.equal((await deployment()).status?.availableReplicas, 4));
  });
  after(async () => {
    watch.stop();
    await f.close();
  });

  it('creates one ReplicaSet named after the pod template hash, and pods named after it', async () => {
    const [rs] = await replicaSets();
    const hash = rs?.metadata?.labels?.['pod-template-hash'] ?? '';
    assert.match(hash, /^[bcdfghjklmnpqrstvwxz2456789]+$/);
    assert.equal(rs?.metadata?.name, `api-${hash}`);
    assert.deepEqual(rs?.spec?.selector?.matchLabels, { app: 'api', 'pod-template-hash': hash });
    assert.equal(rs?.metadata?.annotations?.['deployment.kubernetes.io/revision'], '1');
    assert.equal(rs?.metadata?.annotations?.['deployment.kubernetes.io/desired-replicas'], '4');
    assert.equal(rs?.metadata?.annotations?.['deployment.kubernetes.io/max-replicas'], '5');
    const d = await deployment();
    assert.equal(d.metadata?.annotations?.['deployment.kubernetes.io/revision'], '1');
    assert.equal(d.metadata?.generation, 1);
    const pods = JSON.parse(await f.ok(['get', 'pods', '-n', ns, '-o', 'json'])) as { items: { metadata: { name: string; generateName: string } }[] };
    for (const p of pods.items) {
      assert.match(p.metadata.name, new RegExp(`^api-${hash}-[bcdfghjklmnpqrstvwxz2456789]{5}$`));
      assert.equal(p.metadata.generateName, `api-${hash}-`);
    }
    const available = d.status?.conditions?.find((c) => c.type === 'Available');
    const progressing = d.status?.conditions?.find((c) => c.type === 'Progressing');
    assert.deepEqual([available?.status, available?.reason, available?.message], ['True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.']);
    assert.deepEqual([progressing?.status, progressing?.reason, progressing?.message], ['True', 'NewReplicaSetAvailable', `ReplicaSet "api-${hash}" has successfully progressed.`]);
  });

  it('rolls to a new ReplicaSet within maxSurge and maxUnavailable', async () => {
    const from = watch.seen.length;
    const oldRs = (await replicaSets())[0]?.metadata?.name;
    await f.ok(['patch', 'deploy', 'api', '-n', ns, '--type=json', '-p', imagePatch('nginx:1.26')]);
    await eventually(async () => {
      const d = await deployment();
      assert.equal(d.status?.updatedReplicas, 4);
      assert.equal(d.status?.availableReplicas, 4);
      assert.equal(d.status?.replicas, 4);
      assert.equal(d.status?.conditions?.find((c) => c.type === 'Progressing')?.reason, 'NewReplicaSetAvailable');
    });
    // Replay the watch: count live (not terminating) pods and Ready pods after each event.
    const live = new Map<string, { ready: boolean; terminating: boolean }>();
    for (const s of watch.seen.slice(0, from)) {
      if (s.type === 'DELETED') live.delete(s.name);
      else live.set(s.name, { ready: s.ready, terminating: s.terminating });
    }
    let maxPods = 0;
    let minReady = Infinity;
    for (const s of watch.seen.slice(from)) {
      if (s.type === 'DELETED') live.delete(s.name);
      else live.set(s.name, { ready: s.ready, terminating: s.terminating });
      const pods = [...live.values()].filter((p) => !p.terminating);
      maxPods = Math.max(maxPods, pods.length);
      minReady = Math.min(minReady, pods.filter((p) => p.ready).length);
    }
    assert.ok(maxPods <= 5, `at most replicas + maxSurge pods (saw ${maxPods})`);
    assert.equal(maxPods, 5, 'the surge is used');
    assert.ok(minReady >= 3, `at least replicas - maxUnavailable Ready pods (saw ${minReady})`);
    const sets = await replicaSets();
    assert.equal(sets.length, 2);
    const old = sets.find((rs) => rs.metadata?.name === oldRs);
    const next = sets.find((rs) => rs.metadata?.name !== oldRs);
    assert.equal(old?.spec?.replicas, 0);
    assert.equal(next?.spec?.replicas, 4);
    assert.equal(next?.metadata?.annotations?.['deployment.kubernetes.io/revision'], '2');
    assert.equal((await deployment()).metadata?.annotations?.['deployment.kubernetes.io/revision'], '2');
  });

  it('rolling back reuses the old ReplicaSet with the next revision number', async () => {
    const before = await replicaSets();
    await f.ok(['patch', 'deploy', 'api', '-n', ns, '--type=json', '-p', imagePatch('nginx:1.25')]);
    await eventually(async () => {
      const d = await deployment();
      assert.equal(d.status?.updatedReplicas, 4);
      assert.equal(d.status?.availableReplicas, 4);
      assert.equal(d.status?.replicas, 4);
      assert.equal(d.metadata?.annotations?.['deployment.kubernetes.io/revision'], '3');
    });
    const after = await replicaSets();
    assert.deepEqual(after.map((rs) => rs.metadata?.name).sort(), before.map((rs) => rs.metadata?.name).sort());
    const first = after.find((rs) => rs.spec?.template?.spec?.containers[0]?.image === 'nginx:1.25');
    assert.equal(first?.metadata?.annotations?.['deployment.kubernetes.io/revision'], '3');
    assert.equal(first?.metadata?.annotations?.['deployment.kubernetes.io/revision-history'], '1');
  });

  it('kubectl scale changes only the active ReplicaSet', async () => {
    await f.ok(['scale', 'deploy', 'api', '-n', ns, '--replicas=6']);
    await eventually(async () => {
      const d = await deployment();
      assert.equal(d.status?.availableReplicas, 6);
      assert.equal(d.status?.replicas, 6);
    });
    const sizes = (await replicaSets()).map((rs) => rs.spec?.replicas).sort();
    assert.deepEqual(sizes, [0, 6]);
    await f.ok(['scale', 'deploy', 'api', '-n', ns, '--replicas=4']);
    await eventually(async () => assert.equal((await deployment()).status?.replicas, 4));
  });

  it('kubectl get deploy and rs show the counts', async () => {
    const out = await f.ok(['get', 'deploy', 'api', '-n', ns]);
    assert.match(out, /\napi\s+4\/4\s+4\s+4\s/);
    const rs = await f.ok(['get', 'rs', '-n', ns]);
    assert.match(rs, /api-\S+\s+4\s+4\s+4\s/);
    assert.match(rs, /api-\S+\s+0\s+0\s+0\s/);
  });
});
