/**
 * The Redis Enterprise operator model (reference §5): a cluster version
 * newer than the running operator gives InvalidUpgrade; once the operator
 * Deployment is upgraded and Available, the cluster's StatefulSet rolls in
 * reverse ordinal order and `kubectl rollout status sts` follows it to the
 * end, with `status.state` Upgrade, then Running.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../../helpers/sim.ts';
import type { ControllerFixture, ObjectWatch } from '../controllers/helpers.ts';
import { admin, startControllerFixture, watchObjects } from '../controllers/helpers.ts';

const ns = 'redis';

function operatorYaml(version: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: redis-enterprise-operator
  namespace: ${ns}
spec:
  replicas: 1
  selector:
    matchLabels: {name: redis-enterprise-operator}
  template:
    metadata:
      labels: {name: redis-enterprise-operator}
    spec:
      containers:
        - name: redis-enterprise-operator
          image: redislabs/operator:${version}
`;
}

function clusterYaml(versionTag: string): string {
  return `apiVersion: app.redislabs.com/v1
kind: RedisEnterpriseCluster
metadata:
  name: rec
  namespace: ${ns}
spec:
  nodes: 3
  redisEnterpriseImageSpec:
    repository: redislabs/redis
    versionTag: ${versionTag}
`;
}

describe('Redis Enterprise operator: operator first, then the cluster', () => {
  let f: ControllerFixture;
  let recWatch: ObjectWatch<{ status?: { state?: string } }>;
  const state = () => f.ok(['get', 'rec', 'rec', '-n', ns, '-o', 'jsonpath={.status.state}']);
  before(async () => {
    f = await startControllerFixture({ timeScale: 100 });
    await f.ok(['create', 'ns', ns]);
    await f.apply(operatorYaml('7.4.6-2'));
    await f.apply(clusterYaml('7.4.6-22'));
    await eventually(async () => assert.equal(await state(), 'Running'), 30_000);
    recWatch = await watchObjects(f, `/apis/app.redislabs.com/v1/namespaces/${ns}/redisenterpriseclusters`);
  });
  after(async () => {
    recWatch.stop();
    await f.close();
  });

  it('the cluster runs three nodes at its version', async () => {
    assert.equal(await f.ok(['get', 'sts', 'rec', '-n', ns, '-o', 'jsonpath={.status.readyReplicas} {.spec.template.spec.containers[0].image}']), '3 redislabs/redis:7.4.6-22');
    assert.match(await f.ok(['get', 'rec', '-n', ns]), /\nrec\s+3\s+7\.4\.6-22\s+Running\s+Valid/);
  });

  it('a newer cluster version with the old operator gives InvalidUpgrade and restarts nothing', async () => {
    await f.ok(['patch', 'rec', 'rec', '-n', ns, '--type=merge', '-p', '{"spec":{"redisEnterpriseImageSpec":{"versionTag":"7.8.2-6"}}}']);
    await eventually(async () => assert.equal(await state(), 'InvalidUpgrade'));
    assert.equal(await f.ok(['get', 'sts', 'rec', '-n', ns, '-o', 'jsonpath={.spec.template.spec.containers[0].image}']), 'redislabs/redis:7.4.6-22');
    assert.equal(f.sim.runtime().events.list({ namespace: ns, name: 'rec-*', types: ['PodDeleted'] }).length, 0);
  });

  it('after the operator is upgraded, the cluster rolls 2, 1, 0 and rollout status follows it to completion', async () => {
    const since = f.sim.runtime().events.lastSeq;
    await f.apply(operatorYaml('7.8.2-6'));
    const status = await f.kubectl(['rollout', 'status', 'deploy/redis-enterprise-operator', '-n', ns, '--timeout=60s']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /deployment "redis-enterprise-operator" successfully rolled out\n$/);
    const rollout = await f.kubectl(['rollout', 'status', 'sts/rec', '-n', ns, '--timeout=60s']);
    assert.equal(rollout.code, 0, rollout.stderr);
    assert.match(rollout.stdout, /partitioned roll out complete: 3 new pods have been updated\.\.\.\n$/);
    await eventually(async () => assert.equal(await state(), 'Running'));
    const deleted = f.sim.runtime().events.list({ since, namespace: ns, name: 'rec-*', types: ['PodDeleted'] }).map((e) => e.name);
    assert.deepEqual(deleted, ['rec-2', 'rec-1', 'rec-0']);
    const states = recWatch.seen.map((s) => s.object.status?.state).filter((s, i, all) => s !== all[i - 1]);
    assert.deepEqual(states.slice(-3), ['InvalidUpgrade', 'Upgrade', 'Running']);
    assert.equal(await f.ok(['get', 'pods', '-n', ns, '-l', 'app=redis-enterprise', '-o', 'jsonpath={range .items[*]}{.spec.containers[0].image} {end}']), 'redislabs/redis:7.8.2-6 redislabs/redis:7.8.2-6 redislabs/redis:7.8.2-6 ');
  });

  it('a node that will not rejoin stays not Ready until it is let back in', async () => {
    const held = await admin(f, `/redisenterpriseclusters/${ns}/rec/held-out-node`, { method: 'PUT', body: { ordinal: 1 } });
    assert.equal(held.status, 200);
    await eventually(async () => assert.equal(await f.ok(['get', 'sts', 'rec', '-n', ns, '-o', 'jsonpath={.status.readyReplicas}']), '2'));
    assert.equal(await f.ok(['get', 'pod', 'rec-1', '-n', ns, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']), 'False');
    await admin(f, `/redisenterpriseclusters/${ns}/rec/held-out-node`, { method: 'DELETE' });
    await eventually(async () => assert.equal(await f.ok(['get', 'sts', 'rec', '-n', ns, '-o', 'jsonpath={.status.readyReplicas}']), '3'));
  });
});
