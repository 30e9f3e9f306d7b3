/**
 * The kubectl rollout commands people use during an upgrade work on the
 * simulated controllers: `set image`, `rollout history` (ControllerRevisions
 * and ReplicaSet revisions), `rollout undo` (back to the old revision's
 * name) and `rollout restart` (a new revision from the restartedAt
 * annotation).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../../helpers/sim.ts';
import type { ControllerFixture } from './helpers.ts';
import { startControllerFixture, statefulSetYaml } from './helpers.ts';

const ns = 'rollout-commands';

describe('kubectl rollout commands', () => {
  let f: ControllerFixture;
  const jsonpath = (kind: string, path: string) => f.ok(['get', kind, '-n', ns, '-o', `jsonpath=${path}`]);
  before(async () => {
    f = await startControllerFixture();
    await f.ok(['create', 'ns', ns]);
  });
  after(async () => {
    await f.close();
  });

  it('StatefulSet: set image, history, undo to the old revision, restart', async () => {
    await f.apply(statefulSetYaml({ name: 'web', namespace: ns, image: 'nginx:1.25' }));
    assert.equal((await f.kubectl(['rollout', 'status', 'sts/web', '-n', ns, '--timeout=20s'])).code, 0);
    const first = await jsonpath('sts/web', '{.status.currentRevision}');
    assert.equal(await f.ok(['set', 'image', 'sts/web', '-n', ns, 'app=nginx:1.26']), 'statefulset.apps/web image updated\n');
    assert.equal((await f.kubectl(['rollout', 'status', 'sts/web', '-n', ns, '--timeout=20s'])).code, 0);
    assert.equal(await f.ok(['rollout', 'history', 'sts/web', '-n', ns]), 'statefulset.apps/web \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n\n');
    assert.equal(await f.ok(['rollout', 'undo', 'sts/web', '-n', ns]), 'statefulset.apps/web rolled back\n');
    const done = await f.kubectl(['rollout', 'status', 'sts/web', '-n', ns, '--timeout=20s']);
    assert.match(done.stdout, /partitioned roll out complete: 3 new pods have been updated\.\.\.\n$/);
    assert.equal(await jsonpath('sts/web', '{.spec.template.spec.containers[0].image} {.status.currentRevision}'), `nginx:1.25 ${first}`);
    assert.equal(await f.ok(['rollout', 'restart', 'sts/web', '-n', ns]), 'statefulset.apps/web restarted\n');
    await eventually(async () => {
      const [current, update, updated] = (await jsonpath('sts/web', '{.status.currentRevision} {.status.updateRevision} {.status.updatedReplicas}')).split(' ');
      assert.notEqual(current, first);
      assert.equal(current, update);
      assert.equal(updated, '3');
    });
    assert.match(await jsonpath('pod/web-0', '{.metadata.annotations}'), /kubectl\.kubernetes\.io\/restartedAt/);
  });

  it('Deployment: set image, history, undo reuses the first ReplicaSet', async () => {
    await f.apply(`apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: ${ns}}
spec:
  replicas: 2
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: api, image: nginx:1.25}]
`);
    assert.equal((await f.kubectl(['rollout', 'status', 'deploy/api', '-n', ns, '--timeout=20s'])).code, 0);
    const firstRs = await f.ok(['get', 'rs', '-n', ns, '-l', 'app=api', '-o', 'jsonpath={.items[0].metadata.name}']);
    await f.ok(['set', 'image', 'deploy/api', '-n', ns, 'api=nginx:1.26']);
    assert.equal((await f.kubectl(['rollout', 'status', 'deploy/api', '-n', ns, '--timeout=20s'])).code, 0);
    assert.equal(await f.ok(['rollout', 'history', 'deploy/api', '-n', ns]), 'deployment.apps/api \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n\n');
    assert.equal(await f.ok(['rollout', 'undo', 'deploy/api', '-n', ns]), 'deployment.apps/api rolled back\n');
    const done = await f.kubectl(['rollout', 'status', 'deploy/api', '-n', ns, '--timeout=20s']);
    assert.match(done.stdout, /deployment "api" successfully rolled out\n$/);
    assert.equal(await jsonpath(`rs/${firstRs}`, '{.spec.replicas} {.metadata.annotations.deployment\\.kubernetes\\.io/revision}'), '2 3');
    const describe = await f.ok(['describe', 'deploy', 'api', '-n', ns]);
    assert.match(describe, /Replicas:\s+2 desired \| 2 updated \| 2 total \| 2 available \| 0 unavailable/);
    assert.match(describe, new RegExp(`NewReplicaSet:\\s+${firstRs} \\(2/2 replicas created\\)`));
  });
});
