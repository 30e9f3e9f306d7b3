/**
 * TiDB through its operator: a version change rolls PD, then TiKV, then
 * TiDB, and the pods restart in exactly the order of the plan; a TiKV image
 * that never becomes Ready halts after one TiKV pod with the cluster paused.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createPlan } from '../../agent/plan/index.ts';
import { cacheLiveState } from '../../agent/rollout/executor.ts';
import { namespace, simConfig, startRolloutFixture, tidbCluster, type RolloutFixture } from './helpers.ts';

describe('rollout: TiDB', () => {
  let r: RolloutFixture;
  before(async () => {
    r = await startRolloutFixture();
  });
  after(async () => {
    await r.close();
  });

  it('rolls PD, then TiKV, then TiDB, pod by pod in the order of the plan', async () => {
    const installed = await r.write({ 'rollgate.yaml': simConfig(), 'manifests/ns.yaml': namespace('db'), 'manifests/tidb.yaml': tidbCluster('basic', 'db', 'v7.5.1') });
    await r.install(installed);
    const next = await r.write({ 'manifests/tidb.yaml': tidbCluster('basic', 'db', 'v8.1.0') });
    const plan = createPlan({ targets: next.targets, live: cacheLiveState(new Map([['sim', { cache: r.cache }]])), now: Date.now() });
    const planned = plan.targets[0]?.stages.flatMap((s) => s.pods);
    assert.deepEqual(planned, ['basic-pd-2', 'basic-pd-1', 'basic-pd-0', 'basic-tikv-2', 'basic-tikv-1', 'basic-tikv-0', 'basic-tidb-1', 'basic-tidb-0']);

    const since = r.lastSeq();
    const outcomes = await r.executor().apply({ targets: next.targets, source: 'c0ffee1' });
    assert.deepEqual([...outcomes], [['sim/db/TidbCluster/basic', 'succeeded']]);
    assert.deepEqual(r.restarts(since, 'db'), planned, 'the pods restarted in the order of the plan, each once');

    const tc = JSON.parse((await r.f.ok(['--context', 'sim', 'get', 'tc', 'basic', '-n', 'db', '-o', 'json']))) as { spec: Record<string, { version?: string }> & { version: string }; metadata: { annotations: Record<string, string> } };
    assert.equal(tc.spec.version, 'v8.1.0', 'the final state is written as spec.version');
    for (const component of ['pd', 'tikv', 'tidb']) assert.equal(tc.spec[component]?.version, undefined, `no ${component} pin is left`);
    assert.ok(tc.metadata.annotations['rollgate.dev/last-applied']);
    const phases = r.reporter.transitions.map((t) => `${t.phase}${t.stage !== undefined ? ` ${t.stage}` : ''}`);
    assert.deepEqual(phases, ['Progressing pd', 'Progressing tikv', 'Progressing tidb', 'Succeeded']);
    // Planning again finds nothing to do.
    const again = await r.executor().apply({ targets: next.targets, source: 'c0ffee1' });
    assert.deepEqual([...again], [['sim/db/TidbCluster/basic', 'succeeded']]);
    assert.deepEqual(r.restarts(since, 'db').length, 8);
  });
});

describe('rollout: TiDB with a TiKV image that never becomes Ready', () => {
  let r: RolloutFixture;
  before(async () => {
    r = await startRolloutFixture({ images: { images: [{ match: 'pingcap/tikv:v8.1.1', neverReady: true }] } });
  });
  after(async () => {
    await r.close();
  });

  it('halts after exactly one TiKV pod, pauses the TidbCluster, restarts no TiDB pod, and records why', async () => {
    const installed = await r.write({ 'rollgate.yaml': simConfig(), 'manifests/ns.yaml': namespace('db'), 'manifests/tidb.yaml': tidbCluster('basic', 'db', 'v7.5.1') });
    await r.install(installed);
    const next = await r.write({ 'rollgate.yaml': simConfig().replace('progressDeadline: 5m', 'progressDeadline: 3m'), 'manifests/tidb.yaml': tidbCluster('basic', 'db', 'v8.1.1') });
    const since = r.lastSeq();
    const outcomes = await r.executor().apply({ targets: next.targets, source: 'badc0de' });
    assert.deepEqual([...outcomes], [['sim/db/TidbCluster/basic', 'halted']]);
    assert.deepEqual(r.restarts(since, 'db'), ['basic-pd-2', 'basic-pd-1', 'basic-pd-0', 'basic-tikv-2']);

    const tc = JSON.parse(await r.f.ok(['--context', 'sim', 'get', 'tc', 'basic', '-n', 'db', '-o', 'json'])) as { spec: { paused?: boolean }; metadata: { annotations: Record<string, string> } };
    assert.equal(tc.spec.paused, true);
    const progress = JSON.parse(tc.metadata.annotations['rollgate.dev/rollout'] ?? '{}') as { halted?: { code: string; message: string } };
    assert.equal(progress.halted?.code, 'deadline');
    assert.match(progress.halted?.message ?? '', /tikv did not finish within its progress deadline \(180 s\): waiting for basic-tikv-2 to be Ready/);
    const halted = r.reporter.transitions.at(-1);
    assert.equal(halted?.phase, 'Halted');
    assert.equal(halted?.error?.code, 'deadline');
    assert.match(halted?.message ?? '', /the TidbCluster is paused/);

    // The same revision stays halted: nothing moves until a new one is pushed.
    const seq = r.lastSeq();
    const again = await r.executor().apply({ targets: next.targets, source: 'badc0de' });
    assert.deepEqual([...again], [['sim/db/TidbCluster/basic', 'halted']]);
    assert.deepEqual(r.restarts(seq, 'db'), []);
  });
});
