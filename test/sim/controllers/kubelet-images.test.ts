/**
 * The kubelet model and the image catalogue: nodes, scheduling, pod
 * conditions and container statuses, and each image behaviour — missing
 * (ErrImagePull, ImagePullBackOff, then Running once the image exists),
 * crash (CrashLoopBackOff with a growing restartCount), never ready, slow
 * start, ready then failing — and graceful termination.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { eventually } from '../../helpers/sim.ts';
import type { ControllerFixture } from './helpers.ts';
import { admin, startControllerFixture } from './helpers.ts';

const ns = 'kubelet';

function podYaml(name: string, image: string, extra = ''): string {
  return `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${ns}}
spec:
  containers:
    - name: main
      image: ${image}
${extra}`;
}

/**
 * A simulated duration is `expected` seconds: timers never fire early, but at
 * time scale 100 a busy event loop delays them by hundreds of simulated ms,
 * so only the model's figure is checked, not the machine's speed.
 */
function within(actual: number | undefined, expected: number): boolean {
  return actual !== undefined && actual >= expected - 0.5 && actual < expected + Math.max(5, expected / 2);
}

describe('kubelet and image catalogue', () => {
  let f: ControllerFixture;
  const pod = async (name: string) => JSON.parse(await f.ok(['get', 'pod', name, '-n', ns, '-o', 'json'])) as V1Pod;
  const waiting = (p: V1Pod) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason;
  before(async () => {
    f = await startControllerFixture({
      images: {
        images: [
          { match: 'example/missing:*', missing: true },
          { match: 'example/crash:*', crash: true, crashAfterSeconds: 1 },
          { match: 'example/stuck:*', neverReady: true },
          { match: 'example/slow:*', startSeconds: 60 },
          { match: 'example/flaky:*', readyForSeconds: 20 },
        ],
      },
    });
    await f.ok(['create', 'ns', ns]);
  });
  after(async () => {
    await f.close();
  });

  it('three Ready nodes exist', async () => {
    const out = await f.ok(['get', 'nodes']);
    assert.match(out, /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\n/);
    for (const n of ['sim-node-1', 'sim-node-2', 'sim-node-3']) assert.match(out, new RegExp(`\\n${n}\\s+Ready\\s+<none>\\s+\\S+\\s+v1\\.\\d+\\.0`));
    const node = JSON.parse(await f.ok(['get', 'node', 'sim-node-2', '-o', 'json'])) as V1Node;
    assert.equal(node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address, '10.0.0.12');
    assert.equal(node.metadata?.labels?.['kubernetes.io/hostname'], 'sim-node-2');
  });

  it('a plain pod is scheduled, created, Running and Ready with the usual status', async () => {
    await f.apply(podYaml('plain', 'nginx:1.25'));
    await eventually(async () => assert.equal((await pod('plain')).status?.phase, 'Running'));
    const p = await pod('plain');
    assert.deepEqual(p.status?.conditions?.map((c) => `${c.type}=${c.status}`), ['PodReadyToStartContainers=True', 'Initialized=True', 'Ready=True', 'ContainersReady=True', 'PodScheduled=True']);
    const cs = p.status?.containerStatuses?.[0];
    assert.equal(cs?.image, 'docker.io/library/nginx:1.25');
    assert.match(cs?.imageID ?? '', /^docker\.io\/library\/nginx@sha256:[0-9a-f]{64}$/);
    assert.match(cs?.containerID ?? '', /^containerd:\/\/[0-9a-f]{64}$/);
    assert.equal(cs?.ready, true);
    assert.equal(cs?.started, true);
    assert.equal(cs?.restartCount, 0);
    assert.ok(cs?.state?.running?.startedAt);
    assert.equal(p.status?.qosClass, 'BestEffort');
    assert.ok(p.status?.podIP && p.status.hostIP && p.status.startTime);
    const created = f.sim.runtime().events.list({ namespace: ns, name: 'plain' }).map((e) => `${e.type}:${e.actor}`);
    assert.deepEqual(created.slice(0, 4), ['ClientWrite:client', 'PodCreated:client', 'PodScheduled:default-scheduler', 'PodRunning:kubelet']);
    assert.ok(created.includes('PodReady:kubelet'));
  });

  it('a readiness probe delays Ready by initialDelaySeconds', async () => {
    await f.apply(podYaml('probed', 'nginx:1.25', '      readinessProbe: {httpGet: {path: /, port: 80}, initialDelaySeconds: 30}\n'));
    const events = () => f.sim.runtime().events.list({ namespace: ns, name: 'probed', types: ['PodRunning', 'PodReady'] });
    await eventually(() => assert.equal(events().length, 2));
    const [running, ready] = events();
    const delay = (ready?.simTimeMs ?? 0) - (running?.simTimeMs ?? 0);
    assert.ok(within(delay / 1000, 31), `Ready ${delay} ms after Running`);
  });

  it('a missing image: ErrImagePull, then ImagePullBackOff; once the image exists, it runs', async () => {
    await f.apply(podYaml('missing', 'example/missing:1'));
    await eventually(async () => assert.equal(waiting(await pod('missing')), 'ImagePullBackOff'));
    const p = await pod('missing');
    assert.equal(p.status?.phase, 'Pending');
    assert.equal(p.status?.containerStatuses?.[0]?.state?.waiting?.message, 'Back-off pulling image "example/missing:1"');
    const reasons = f.sim.runtime().events.list({ namespace: ns, name: 'missing', types: ['ContainerWaiting'] }).map((e) => e.reason);
    assert.deepEqual(reasons.slice(0, 2), ['ErrImagePull', 'ImagePullBackOff']);
    const table = await f.ok(['get', 'pod', 'missing', '-n', ns]);
    assert.match(table, /missing\s+0\/1\s+(ImagePullBackOff|ErrImagePull)\s+0\s/);
    const put = await admin(f, 'images', { method: 'PUT', body: { images: [] } });
    assert.equal(put.status, 200);
    await eventually(async () => assert.equal((await pod('missing')).status?.phase, 'Running'));
  });

  it('a crashing image: CrashLoopBackOff with a growing restartCount, phase Running', async () => {
    await admin(f, 'images', { method: 'PUT', body: { images: [{ match: 'example/crash:*', crash: true, crashAfterSeconds: 1 }] } });
    await f.apply(podYaml('crash', 'example/crash:1'));
    await eventually(async () => {
      const p = await pod('crash');
      assert.equal(waiting(p), 'CrashLoopBackOff');
      assert.ok((p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 3);
      assert.equal(p.status?.phase, 'Running');
      assert.equal(p.status?.containerStatuses?.[0]?.lastState?.terminated?.reason, 'Error');
      assert.equal(p.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode, 1);
    }, 15_000);
    const restarts = f.sim.runtime().events.list({ namespace: ns, name: 'crash', types: ['ContainerRestarted'] }).map((e) => e.restartCount);
    assert.deepEqual(restarts.slice(0, 3), [1, 2, 3]);
    // Back-off doubles: 10 s, then 20 s between crashes, plus the second the container runs.
    const times = f.sim.runtime().events.list({ namespace: ns, name: 'crash', types: ['ContainerRestarted'] }).map((e) => e.simTimeMs);
    const gaps = times.slice(1, 3).map((t, i) => (t - (times[i] ?? 0)) / 1000);
    assert.ok(within(gaps[0], 11), `first gap ${gaps[0]} s`);
    assert.ok(within(gaps[1], 21), `second gap ${gaps[1]} s`);
  });

  it('a never-ready image runs but is never Ready', async () => {
    await admin(f, 'images', { method: 'PUT', body: { images: [{ match: 'example/stuck:*', neverReady: true }] } });
    await f.apply(podYaml('stuck', 'example/stuck:1'));
    await eventually(async () => assert.equal((await pod('stuck')).status?.phase, 'Running'));
    const start = f.sim.clock.now();
    await eventually(() => assert.ok(f.sim.clock.now() - start > 60_000));
    const p = await pod('stuck');
    const ready = p.status?.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'False');
    assert.equal(ready?.reason, 'ContainersNotReady');
    assert.equal(ready?.message, 'containers with unready status: [main]');
  });

  it('a slow image stays ContainerCreating for its start time', async () => {
    await admin(f, 'images', { method: 'PUT', body: { images: [{ match: 'example/slow:*', startSeconds: 60 }] } });
    await f.apply(podYaml('slow', 'example/slow:1'));
    await eventually(async () => assert.equal(waiting(await pod('slow')), 'ContainerCreating'));
    await eventually(async () => assert.equal((await pod('slow')).status?.phase, 'Running'));
    const e = f.sim.runtime().events.list({ namespace: ns, name: 'slow', types: ['PodScheduled', 'PodRunning'] });
    const delay = (e[1]?.simTimeMs ?? 0) - (e[0]?.simTimeMs ?? 0);
    assert.ok(within(delay / 1000, 60), `running ${delay} ms after scheduling`);
  });

  it('a flaky image is Ready for a while, then not', async () => {
    await admin(f, 'images', { method: 'PUT', body: { images: [{ match: 'example/flaky:*', readyForSeconds: 20 }] } });
    await f.apply(podYaml('flaky', 'example/flaky:1'));
    const events = () => f.sim.runtime().events.list({ namespace: ns, name: 'flaky', types: ['PodReady', 'PodNotReady'] });
    await eventually(() => assert.deepEqual(events().map((e) => e.type), ['PodReady', 'PodNotReady']));
    const [ready, notReady] = events();
    const held = ((notReady?.simTimeMs ?? 0) - (ready?.simTimeMs ?? 0)) / 1000;
    assert.ok(within(held, 20), `Ready for ${held} s`);
  });

  it('deletion is graceful: Terminating, containers stop, the pod goes', async () => {
    const r = await f.kubectl(['delete', 'pod', 'plain', '-n', ns]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'pod "plain" deleted');
    const e = f.sim.runtime().events.list({ namespace: ns, name: 'plain', types: ['PodTerminating', 'PodFinished', 'PodDeleted'] });
    assert.deepEqual(e.map((x) => `${x.type}:${x.actor}`), ['PodTerminating:client', 'PodFinished:kubelet', 'PodDeleted:kubelet']);
    assert.equal(e[1]?.reason, 'Succeeded');
    const stop = (e[2]?.simTimeMs ?? 0) - (e[0]?.simTimeMs ?? 0);
    assert.ok(within(stop / 1000, 1), `stopped after ${stop} ms, the image's stop time, not the 30 s grace period`);
  });

  it('an image that ignores SIGTERM takes the whole grace period', async () => {
    await admin(f, 'images', { method: 'PUT', body: { images: [{ match: 'example/stubborn:*', ignoreSigterm: true }] } });
    await f.apply(podYaml('stubborn', 'example/stubborn:1', '  terminationGracePeriodSeconds: 45\n'));
    await eventually(async () => assert.equal((await pod('stubborn')).status?.phase, 'Running'));
    await f.ok(['delete', 'pod', 'stubborn', '-n', ns]);
    const e = f.sim.runtime().events.list({ namespace: ns, name: 'stubborn', types: ['PodTerminating', 'PodDeleted'] });
    const took = ((e[1]?.simTimeMs ?? 0) - (e[0]?.simTimeMs ?? 0)) / 1000;
    assert.ok(within(took, 45), `stopped after ${took} s`);
  });
});
