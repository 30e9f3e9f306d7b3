/**
 * A newer revision arrives while a step is in flight, and the process that
 * finishes the step is not the one that started it (the agent restarted,
 * or the step began just as the revision changed). The step must be
 * finished against the images it was started toward, then the rollout
 * superseded. Found by the chaos campaign (chaos/scenarios/supersede.ts,
 * campaign seed 1, run seed 867035281): the in-flight TiDB step waited for
 * the newer revision's image, which its pods would never run, until the
 * progress deadline halted the rollout.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { progressAnnotation, readProgress } from '../../agent/rollout/progress.ts';
import { namespace, simConfig, startRolloutFixture, tidbCluster, type RolloutFixture } from './helpers.ts';

describe('rollout: a newer revision while a step is in flight', () => {
  let r: RolloutFixture;
  before(async () => {
    r = await startRolloutFixture({ seed: 13 });
  });
  after(async () => {
    await r.close();
  });

  it('finishes the step toward its own version, then rolls the newer one out', async () => {
    const ns = 'inflight';
    const installed = await r.write({ 'rollgate.yaml': simConfig(), 'manifests/ns.yaml': namespace(ns), 'manifests/tidb.yaml': tidbCluster('basic', ns, 'v7.5.1') });
    await r.install(installed);
    const first = await r.write({ 'manifests/tidb.yaml': tidbCluster('basic', ns, 'v8.1.0') });
    const since = r.lastSeq();

    // The first process stops the moment its PD step is written: the step is in flight.
    const executor = r.executor();
    const store = r.f.sim.cluster('sim').store;
    const tcType = store.registry.lookup('pingcap.com', 'v1alpha1', 'tidbclusters');
    let stopping: Promise<void> | undefined;
    const off = r.f.sim.runtime('sim').events.subscribe((e) => {
      if (stopping !== undefined || e.type !== 'ClientWrite' || e.kind !== 'TidbCluster' || e.namespace !== ns || tcType === undefined) return;
      const progress = readProgress(store.find(tcType, ns, 'basic')?.metadata.annotations);
      if (progress?.step?.written === true) stopping = executor.stop();
    });
    const outcome = await executor.apply({ targets: first.targets, source: 'aaa111' });
    off();
    await stopping;
    assert.deepEqual([...outcome.values()], ['stopped']);
    const tc = store.find(tcType ?? (undefined as never), ns, 'basic');
    const inFlight = readProgress(tc?.metadata.annotations);
    assert.equal(inFlight?.step?.stage, 'pd', tc?.metadata.annotations?.[progressAnnotation]);
    assert.deepEqual(inFlight?.step?.images, { pd: 'pingcap/pd:v8.1.0' }, 'the step records the image it moves its pods to');

    // The next process has only the newer revision.
    const newer = await r.write({ 'manifests/tidb.yaml': tidbCluster('basic', ns, 'v8.5.0') });
    const outcomes = await r.executor().apply({ targets: newer.targets, source: 'bbb222' });
    assert.deepEqual(Object.fromEntries(outcomes), { [`sim/${ns}/TidbCluster/basic`]: 'succeeded' });
    const phases = r.reporter.transitions.filter((t) => t.target === `sim/${ns}/TidbCluster/basic` && t.replay !== true).map((t) => `${t.phase}:${t.source ?? ''}`);
    assert.ok(phases.includes('Superseded:aaa111'), phases.join(', '));
    const version = await r.f.ok(['--context', 'sim', 'get', 'tc', 'basic', '-n', ns, '-o', 'jsonpath={.spec.version}']);
    assert.equal(version, 'v8.5.0');

    // PD moved to v8.1.0 once (the step in flight), then every pod to v8.5.0 once.
    const pods = r.events(since, ns).filter((e) => e.kind === 'Pod');
    const toward = pods.flatMap((e, i) => (e.type === 'PodTerminating' ? [`${e.name}@${pods.slice(i + 1).find((n) => n.type === 'PodCreated' && n.name === e.name)?.image ?? '?'}`] : []));
    assert.deepEqual(new Set(toward).size, toward.length, `no pod restarted twice toward the same image: ${toward.join(', ')}`);
    assert.ok(toward.filter((k) => k.endsWith('@pingcap/pd:v8.5.0')).length === 3 && toward.filter((k) => k.endsWith('@pingcap/tidb:v8.5.0')).length === 2, toward.join(', '));
  });
});
