/**
 * The same TiDB upgrade with the API server misbehaving: 10% of requests
 * answered 5xx, 5% of writes 409 Conflict, and every watch dropped every few
 * seconds. The upgrade completes, in the same order, with no pod restarted
 * twice.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { namespace, simConfig, startRolloutFixture, tidbCluster, type RolloutFixture } from './helpers.ts';

describe('rollout: under API faults', () => {
  let r: RolloutFixture;
  before(async () => {
    r = await startRolloutFixture({ seed: 11 });
  });
  after(async () => {
    await r.close();
  });

  it('completes the upgrade in the same order', async () => {
    const installed = await r.write({ 'rollgate.yaml': simConfig(), 'manifests/ns.yaml': namespace('flaky'), 'manifests/tidb.yaml': tidbCluster('basic', 'flaky', 'v7.5.1') });
    await r.install(installed);
    r.f.sim.runtime('sim').faults.set({
      dropWatchesEverySeconds: 3,
      rules: [
        { verbs: ['patch', 'update', 'create', 'delete'], resources: ['*'], status: 409, rate: 0.05 },
        { verbs: ['*'], resources: ['*'], status: 500, rate: 0.05 },
        { verbs: ['*'], resources: ['*'], status: 503, rate: 0.05, retryAfterSeconds: 1 },
      ],
    });
    const next = await r.write({ 'manifests/tidb.yaml': tidbCluster('basic', 'flaky', 'v8.1.0') });
    const since = r.lastSeq();
    const outcomes = await r.executor().apply({ targets: next.targets, source: 'f1a4e' });
    const stats = r.f.sim.runtime('sim').faults.stats();
    r.f.sim.runtime('sim').faults.set({});
    assert.deepEqual([...outcomes.values()], ['succeeded']);
    assert.deepEqual(r.restarts(since, 'flaky'), ['basic-pd-2', 'basic-pd-1', 'basic-pd-0', 'basic-tikv-2', 'basic-tikv-1', 'basic-tikv-0', 'basic-tidb-1', 'basic-tidb-0']);
    assert.ok(stats.fired.reduce((a, b) => a + b, 0) > 0 && stats.watchesDropped > 0, `faults were injected: ${JSON.stringify(stats)}`);
  });
});
