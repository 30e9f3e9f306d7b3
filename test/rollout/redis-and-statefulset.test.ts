/**
 * Redis Enterprise: the operator Deployment is upgraded and Available
 * before the cluster image moves; the cluster then rolls in reverse ordinal
 * order. A generic StatefulSet rolls one pod per step with a soak between
 * pods; with `onFailure: rollback` a broken image is rolled back and the
 * StatefulSet ends healthy at the old revision.
 */
import { statefulSetManifest } from '../helpers/manifests.ts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { namespace, simConfig, startRolloutFixture, type RolloutFixture } from './helpers.ts';

function operator(version: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: redis-enterprise-operator
  namespace: redis
spec:
  replicas: 1
  selector:
    matchLabels:
      name: redis-enterprise-operator
  template:
    metadata:
      labels:
        name: redis-enterprise-operator
    spec:
      containers:
        - name: redis-enterprise-operator
          image: redislabs/operator:${version}
          readinessProbe:
            httpGet: {path: /healthz, port: 8080}
`;
}

function cluster(version: string): string {
  return `apiVersion: app.redislabs.com/v1
kind: RedisEnterpriseCluster
metadata:
  name: rec
  namespace: redis
spec:
  nodes: 3
  redisEnterpriseImageSpec:
    repository: redislabs/redis
    versionTag: ${version}
`;
}

const statefulSet = (image: string): string => statefulSetManifest({ name: 'web', namespace: 'apps', image });

describe('rollout: Redis Enterprise', () => {
  let r: RolloutFixture;
  before(async () => {
    r = await startRolloutFixture();
  });
  after(async () => {
    await r.close();
  });

  it('upgrades the operator, Available, before the cluster image; then the cluster from its highest ordinal down', async () => {
    const installed = await r.write({ 'rollgate.yaml': simConfig(), 'manifests/ns.yaml': namespace('redis'), 'manifests/operator.yaml': operator('7.4.6-2'), 'manifests/rec.yaml': cluster('7.4.6-22') });
    await r.install(installed);
    await r.f.ok(['--context', 'sim', 'wait', '--for=jsonpath={.status.state}=Running', 'rec/rec', '-n', 'redis', '--timeout=30s']);
    const next = await r.write({ 'manifests/operator.yaml': operator('7.8.2-6'), 'manifests/rec.yaml': cluster('7.8.2-10') });
    const since = r.lastSeq();
    const outcomes = await r.executor().apply({ targets: next.targets, source: 'feed5ee' });
    assert.deepEqual(Object.fromEntries(outcomes), { 'sim/redis/Deployment/redis-enterprise-operator': 'succeeded', 'sim/redis/RedisEnterpriseCluster/rec': 'succeeded' });

    const events = r.events(since, 'redis');
    const operatorAvailable = events.findIndex((e) => e.type === 'PodReady' && e.name.startsWith('redis-enterprise-operator-') && e.image === 'redislabs/operator:7.8.2-6');
    const clusterWrite = events.findIndex((e) => e.type === 'ClientWrite' && e.kind === 'RedisEnterpriseCluster' && e.verb === 'update');
    assert.ok(operatorAvailable >= 0, 'the new operator pod became Ready');
    assert.ok(clusterWrite > operatorAvailable, 'the cluster was written only after the operator was Available');
    const restarts = events.filter((e) => e.type === 'PodTerminating' && /^rec-\d$/.test(e.name)).map((e) => e.name);
    assert.deepEqual(restarts, ['rec-2', 'rec-1', 'rec-0']);
    const state = await r.f.ok(['--context', 'sim', 'get', 'rec', 'rec', '-n', 'redis', '-o', 'jsonpath={.status.state} {.spec.redisEnterpriseImageSpec.versionTag}']);
    assert.equal(state, 'Running 7.8.2-10');
  });
});

describe('rollout: a generic StatefulSet', () => {
  let r: RolloutFixture;
  before(async () => {
    r = await startRolloutFixture({ images: { images: [{ match: 'example/web:broken', neverReady: true }] } });
  });
  after(async () => {
    await r.close();
  });

  it('moves one pod per step, each after the soak of the one before', async () => {
    const installed = await r.write({ 'rollgate.yaml': simConfig(), 'manifests/ns.yaml': namespace('apps'), 'manifests/web.yaml': statefulSet('example/web:v1') });
    await r.install(installed);
    const next = await r.write({ 'manifests/web.yaml': statefulSet('example/web:v2') });
    const since = r.lastSeq();
    const outcomes = await r.executor().apply({ targets: next.targets, source: 'aaa111' });
    assert.deepEqual([...outcomes.values()], ['succeeded']);
    const events = r.events(since, 'apps');
    assert.deepEqual(
      events.filter((e) => e.type === 'PodTerminating').map((e) => e.name),
      ['web-2', 'web-1', 'web-0'],
    );
    // Each pod starts restarting only after the previous one has been Ready for the 10 s soak.
    const ready = (name: string) => events.find((e) => e.type === 'PodReady' && e.name === name && e.image === 'example/web:v2')?.simTimeMs ?? NaN;
    const terminating = (name: string) => events.find((e) => e.type === 'PodTerminating' && e.name === name)?.simTimeMs ?? NaN;
    assert.ok(terminating('web-1') - ready('web-2') >= 10_000, `soak between web-2 and web-1: ${terminating('web-1') - ready('web-2')} ms`);
    assert.ok(terminating('web-0') - ready('web-1') >= 10_000, `soak between web-1 and web-0: ${terminating('web-0') - ready('web-1')} ms`);
    const sts = JSON.parse(await r.f.ok(['--context', 'sim', 'get', 'sts', 'web', '-n', 'apps', '-o', 'json'])) as { spec: { updateStrategy: { rollingUpdate: { partition: number } } } };
    assert.equal(sts.spec.updateStrategy.rollingUpdate.partition, 0, 'the partition ends where Git has it');
  });

  it('with onFailure: rollback, a broken image is rolled back and the StatefulSet ends healthy at the old revision', async () => {
    const config = simConfig(`targets:\n  - target: "sim/apps/StatefulSet/web"\n    onFailure: rollback\n    progressDeadline: 2m\n`);
    const next = await r.write({ 'rollgate.yaml': config, 'manifests/web.yaml': statefulSet('example/web:broken') });
    const since = r.lastSeq();
    const outcomes = await r.executor().apply({ targets: next.targets, source: 'bbb222' });
    assert.deepEqual([...outcomes.values()], ['halted']);
    const halted = r.reporter.transitions.at(-1);
    assert.equal(halted?.phase, 'Halted');
    assert.match(halted?.message ?? '', /rolled back to the previous pod template/);
    const deletions = r.events(since, 'apps').filter((e) => e.type === 'ClientWrite' && e.verb === 'delete' && e.kind === 'Pod').map((e) => e.name);
    assert.deepEqual(deletions, ['web-2'], 'the one broken pod is deleted, once');
    const pods = await r.f.ok(['--context', 'sim', 'get', 'pods', '-n', 'apps', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.spec.containers[0].image}={.status.conditions[?(@.type=="Ready")].status} {end}']);
    assert.deepEqual(pods.trim().split(' ').sort(), ['web-0=example/web:v2=True', 'web-1=example/web:v2=True', 'web-2=example/web:v2=True']);
    const rollout = await r.f.kubectl(['--context', 'sim', 'rollout', 'status', 'sts/web', '-n', 'apps', '--timeout=10s']);
    assert.equal(rollout.code, 0, rollout.stdout + rollout.stderr);
  });
});
