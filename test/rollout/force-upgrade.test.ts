/**
 * TiDB force upgrade: with PD unavailable and policy allowing it, rollgate
 * sets `tidb.pingcap.com/force-upgrade`, PD rolls, and rollgate removes the
 * annotation as soon as PD is healthy; with policy forbidding it, the
 * rollout halts at once with a clear reason and nothing restarts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { namespace, simConfig, startRolloutFixture, tidbCluster, type RolloutFixture } from './helpers.ts';

interface Tc {
  metadata: { annotations?: Record<string, string> };
  spec: { version: string; paused?: boolean };
}

describe('rollout: TiDB force upgrade', () => {
  let r: RolloutFixture;
  const tc = async (ns: string): Promise<Tc> => JSON.parse(await r.f.ok(['--context', 'sim', 'get', 'tc', 'basic', '-n', ns, '-o', 'json'])) as Tc;
  before(async () => {
    r = await startRolloutFixture();
  });
  after(async () => {
    await r.close();
  });

  it('sets the annotation while PD is unavailable, and removes it once PD is healthy', async () => {
    const allow = simConfig(`targets:\n  - target: "*/*/TidbCluster/*"\n    forceUpgrade: whenPDUnavailable\n`);
    const installed = await r.write({ 'rollgate.yaml': allow, 'manifests/ns.yaml': namespace('forced'), 'manifests/tidb.yaml': tidbCluster('basic', 'forced', 'v7.5.1') });
    await r.install(installed);
    const operator = r.f.sim.runtime('sim').tidb;
    assert.ok(operator, 'the simulated TiDB Operator runs');
    operator.setPdUnavailable('forced', 'basic', true);
    await r.f.ok(['--context', 'sim', 'wait', '--for=jsonpath={.status.pd.synced}=false', 'tc/basic', '-n', 'forced', '--timeout=10s']);

    const next = await r.write({ 'manifests/tidb.yaml': tidbCluster('basic', 'forced', 'v8.1.0') });
    const since = r.lastSeq();
    const outcomes = await r.executor().apply({ targets: next.targets, source: 'f0rce01' });
    assert.deepEqual([...outcomes.values()], ['succeeded']);

    const final = await tc('forced');
    assert.equal(final.metadata.annotations?.['tidb.pingcap.com/force-upgrade'], undefined, 'the annotation is gone');
    assert.equal(final.spec.version, 'v8.1.0');
    const progress = JSON.parse(final.metadata.annotations?.['rollgate.dev/rollout'] ?? '{}') as { forceUpgrade?: { setAt: number; removedAt?: number } };
    assert.ok(progress.forceUpgrade?.setAt !== undefined && progress.forceUpgrade.removedAt !== undefined && progress.forceUpgrade.removedAt >= progress.forceUpgrade.setAt, JSON.stringify(progress.forceUpgrade));
    const restarted = r.restarts(since, 'forced');
    assert.deepEqual(restarted.filter((p) => p.includes('-pd-')).sort(), ['basic-pd-0', 'basic-pd-1', 'basic-pd-2']);
    assert.equal(new Set(restarted).size, restarted.length, 'no pod restarted twice');
  });

  it('halts with a clear reason, and restarts nothing, when policy forbids it', async () => {
    const installed = await r.write({ 'rollgate.yaml': simConfig(), 'manifests/ns.yaml': namespace('strict'), 'manifests/tidb.yaml': tidbCluster('basic', 'strict', 'v7.5.1') });
    await r.install(installed);
    const operator = r.f.sim.runtime('sim').tidb;
    assert.ok(operator, 'the simulated TiDB Operator runs');
    operator.setPdUnavailable('strict', 'basic', true);
    await r.f.ok(['--context', 'sim', 'wait', '--for=jsonpath={.status.pd.synced}=false', 'tc/basic', '-n', 'strict', '--timeout=10s']);
    const next = await r.write({ 'manifests/tidb.yaml': tidbCluster('basic', 'strict', 'v8.1.0') });
    const targets = next.targets.filter((t) => t.namespace === 'strict');
    const since = r.lastSeq();
    const outcomes = await r.executor().apply({ targets, source: 'str1ct0' });
    assert.deepEqual([...outcomes.values()], ['halted']);
    const halted = r.reporter.transitions.at(-1);
    assert.equal(halted?.error?.code, 'pd-unavailable');
    assert.match(halted?.message ?? '', /policy forbids a forced upgrade: repair PD, or allow forceUpgrade: whenPDUnavailable/);
    assert.deepEqual(r.restarts(since, 'strict'), []);
    const final = await tc('strict');
    assert.equal(final.metadata.annotations?.['tidb.pingcap.com/force-upgrade'], undefined);
    assert.equal(final.spec.paused, true);
  });
});
