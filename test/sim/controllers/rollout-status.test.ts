/**
 * `kubectl rollout status` against the simulated controllers prints what
 * it prints against a real cluster (reference §2): the exact message in
 * each state of a StatefulSet rollout (pods not ready, partitioned roll out
 * under way, complete), for a nil `rollingUpdate` (the revision branch), and
 * for a Deployment. Each intermediate state is held still — old pods that
 * ignore SIGTERM for a long grace period, new images that are missing until
 * the catalogue says otherwise — and read with `--watch=false`, so no
 * assertion depends on how fast kubectl starts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../../helpers/sim.ts';
import type { ControllerFixture } from './helpers.ts';
import { admin, imagePatch, startControllerFixture } from './helpers.ts';

const ns = 'rollout-status';

function set(name: string, replicas: number, image: string, strategy: string): string {
  return `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: ${name}, namespace: ${ns}}
spec:
  serviceName: ${name}
  replicas: ${replicas}
  ${strategy}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      terminationGracePeriodSeconds: 3600
      containers: [{name: app, image: "${image}"}]
`;
}

describe('kubectl rollout status', () => {
  let f: ControllerFixture;
  const catalogue = (images: object[]) => admin(f, 'images', { method: 'PUT', body: { images } });
  const snapshot = async (target: string): Promise<string> => {
    const r = await f.kubectl(['rollout', 'status', target, '-n', ns, '--watch=false']);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };
  const terminating = async (pod: string) => {
    await eventually(async () => assert.notEqual(await f.ok(['get', 'pod', pod, '-n', ns, '-o', 'jsonpath={.metadata.deletionTimestamp}']), ''));
  };
  const forceDelete = (pod: string) => f.ok(['delete', 'pod', pod, '-n', ns, '--grace-period=0', '--force']);
  before(async () => {
    f = await startControllerFixture();
    await f.ok(['create', 'ns', ns]);
  });
  after(async () => {
    await f.close();
  });

  it('StatefulSet being created: waits for pods to be ready, then the partitioned roll out completes', async () => {
    await catalogue([{ match: 'example/web:1', missing: true }]);
    await f.apply(set('web', 3, 'example/web:1', ''));
    await eventually(async () => assert.equal(await f.ok(['get', 'sts', 'web', '-n', ns, '-o', 'jsonpath={.status.replicas}']), '1'));
    assert.equal(await snapshot('sts/web'), 'Waiting for 3 pods to be ready...\n');
    await catalogue([{ match: 'example/web:*', ignoreSigterm: true }]);
    const r = await f.kubectl(['rollout', 'status', 'sts/web', '-n', ns, '--timeout=30s']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n').filter((l) => l !== '');
    assert.equal(lines.at(-1), 'partitioned roll out complete: 3 new pods have been updated...');
    for (const l of lines.slice(0, -1)) assert.match(l, /^Waiting for [123] pods to be ready\.\.\.$/);
  });

  it('StatefulSet image change: each state prints its message', async () => {
    await catalogue([{ match: 'example/web:1', ignoreSigterm: true }, { match: 'example/web:2', missing: true }]);
    await f.ok(['patch', 'sts', 'web', '-n', ns, '--type=json', '-p', imagePatch('example/web:2')]);
    // web-2 is terminating but still Ready: nothing updated yet.
    await terminating('web-2');
    assert.equal(await snapshot('sts/web'), 'Waiting for partitioned roll out to finish: 0 out of 3 new pods have been updated...\n');
    // The new web-2 cannot pull its image: one pod not ready.
    await forceDelete('web-2');
    await eventually(async () => assert.match(await f.ok(['get', 'pod', 'web-2', '-n', ns, '-o', 'jsonpath={.status.containerStatuses[0].state.waiting.reason}']), /ErrImagePull|ImagePullBackOff/));
    assert.equal(await snapshot('sts/web'), 'Waiting for 1 pods to be ready...\n');
    // The image appears: web-2 becomes Ready, web-1 starts terminating.
    await catalogue([{ match: 'example/web:1', ignoreSigterm: true }]);
    await terminating('web-1');
    assert.equal(await snapshot('sts/web'), 'Waiting for partitioned roll out to finish: 1 out of 3 new pods have been updated...\n');
    await forceDelete('web-1');
    await terminating('web-0');
    assert.equal(await snapshot('sts/web'), 'Waiting for partitioned roll out to finish: 2 out of 3 new pods have been updated...\n');
    await forceDelete('web-0');
    const r = await f.kubectl(['rollout', 'status', 'sts/web', '-n', ns, '--timeout=30s']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /(^|\n)partitioned roll out complete: 3 new pods have been updated\.\.\.\n$/);
    assert.equal(await snapshot('sts/web'), 'partitioned roll out complete: 3 new pods have been updated...\n');
  });

  it('StatefulSet with partition 2: complete once ordinal 2 is updated', async () => {
    await catalogue([]);
    await f.ok(['patch', 'sts', 'web', '-n', ns, '--type=merge', '-p', '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":2}}}}']);
    await f.ok(['patch', 'sts', 'web', '-n', ns, '--type=json', '-p', imagePatch('example/web:3')]);
    const r = await f.kubectl(['rollout', 'status', 'sts/web', '-n', ns, '--timeout=30s']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n').filter((l) => l !== '');
    assert.equal(lines.at(-1), 'partitioned roll out complete: 1 new pods have been updated...');
    for (const l of lines.slice(0, -1)) assert.match(l, /^(Waiting for partitioned roll out to finish: 0 out of 1 new pods have been updated\.\.\.|Waiting for 1 pods to be ready\.\.\.)$/);
  });

  it('StatefulSet with type RollingUpdate and no rollingUpdate: the revision branch', async () => {
    // An explicit type without rollingUpdate stays nil after defaulting (reference §1 gotcha).
    await catalogue([{ match: 'example/nil:1', ignoreSigterm: true }]);
    await f.apply(set('nilru', 2, 'example/nil:1', 'updateStrategy: {type: RollingUpdate}'));
    const first = await f.kubectl(['rollout', 'status', 'sts/nilru', '-n', ns, '--timeout=30s']);
    assert.equal(first.code, 0, first.stderr);
    const rev1 = await f.ok(['get', 'sts', 'nilru', '-n', ns, '-o', 'jsonpath={.status.currentRevision}']);
    assert.match(first.stdout, new RegExp(`(^|\\n)statefulset rolling update complete 2 pods at revision ${rev1}\\.\\.\\.\\n$`));
    await f.ok(['patch', 'sts', 'nilru', '-n', ns, '--type=json', '-p', imagePatch('example/nil:2')]);
    await terminating('nilru-1');
    const rev2 = await f.ok(['get', 'sts', 'nilru', '-n', ns, '-o', 'jsonpath={.status.updateRevision}']);
    assert.notEqual(rev2, rev1);
    assert.equal(await snapshot('sts/nilru'), `waiting for statefulset rolling update to complete 0 pods at revision ${rev2}...\n`);
    await forceDelete('nilru-1');
    await terminating('nilru-0');
    assert.equal(await snapshot('sts/nilru'), `waiting for statefulset rolling update to complete 1 pods at revision ${rev2}...\n`);
    await forceDelete('nilru-0');
    const done = await f.kubectl(['rollout', 'status', 'sts/nilru', '-n', ns, '--timeout=30s']);
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, new RegExp(`(^|\\n)statefulset rolling update complete 2 pods at revision ${rev2}\\.\\.\\.\\n$`));
  });

  it('Deployment: new replicas updated, then available, then rolled out', async () => {
    await catalogue([{ match: 'example/api:2', missing: true }]);
    await f.apply(`apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: ${ns}}
spec:
  replicas: 3
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: api, image: example/api:1}]
`);
    const first = await f.kubectl(['rollout', 'status', 'deploy/api', '-n', ns, '--timeout=30s']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /(^|\n)deployment "api" successfully rolled out\n$/);
    await f.ok(['patch', 'deploy', 'api', '-n', ns, '--type=json', '-p', imagePatch('example/api:2')]);
    // maxSurge 25% of 3 is 1 and maxUnavailable 25% is 0: one new pod that cannot start.
    await eventually(async () => assert.equal(await f.ok(['get', 'deploy', 'api', '-n', ns, '-o', 'jsonpath={.status.updatedReplicas}']), '1'));
    assert.equal(await snapshot('deploy/api'), 'Waiting for deployment "api" rollout to finish: 1 out of 3 new replicas have been updated...\n');
    await catalogue([]);
    const done = await f.kubectl(['rollout', 'status', 'deploy/api', '-n', ns, '--timeout=30s']);
    assert.equal(done.code, 0, done.stderr);
    const lines = done.stdout.split('\n').filter((l) => l !== '');
    assert.equal(lines.at(-1), 'deployment "api" successfully rolled out');
    for (const l of lines.slice(0, -1)) assert.match(l, /^Waiting for deployment "api" rollout to finish: (\d out of 3 new replicas have been updated|\d old replicas are pending termination|\d of 3 updated replicas are available)\.\.\.$/);
  });
});
