/**
 * What happens around a rollout: a newer revision pushed while it runs
 * finishes the pod step in flight and re-plans; a suspend in Git stops at
 * the next step boundary and removing it resumes; a hold from a person
 * does the same until resumed; independent targets roll in parallel up to
 * the concurrency limit; `dependsOn` orders targets and whole clusters.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createFileApprovals } from '../../agent/rollout/approvals.ts';
import type { ApprovalSource } from '../../agent/rollout/gates.ts';
import type { RolloutTransition } from '../../agent/rollout/reporter.ts';
import type { SimEvent } from '../../sim/controllers/event-record.ts';
import { eventually } from '../helpers/sim.ts';
import { namespace, simConfig, startRolloutFixture, type RolloutFixture } from './helpers.ts';
import { statefulSetManifest } from '../helpers/manifests.ts';

function statefulSet(name: string, image: string, replicas = 4, ns = 'apps'): string {
  return statefulSetManifest({ name, namespace: ns, image, replicas, container: 'main' });
}

/** Waits until the reporter has a `Progressing` transition of `target` for a step restarting `pod`. */
function stepStarted(r: RolloutFixture, target: string, pod: string): Promise<RolloutTransition> {
  return eventually(() => {
    const found = r.reporter.transitions.find((t) => t.target === target && t.phase === 'Progressing' && t.message.includes(pod));
    if (found === undefined) throw new Error(`no step restarting ${pod} yet`);
    return found;
  }, 30_000);
}

const ready = (events: readonly SimEvent[], pod: string, image: string): SimEvent | undefined => events.find((e) => e.type === 'PodReady' && e.name === pod && e.image === image);

async function podImages(r: RolloutFixture, ns: string, context = 'sim'): Promise<string[]> {
  const out = await r.f.ok(['--context', context, 'get', 'pods', '-n', ns, '-o', 'jsonpath={range .items[*]}{.metadata.name}={.spec.containers[0].image} {end}']);
  return out.trim().split(' ').sort();
}

describe('rollout: a newer revision during a rollout', () => {
  let r: RolloutFixture;
  before(async () => {
    r = await startRolloutFixture();
  });
  after(async () => {
    await r.close();
  });

  it('finishes the pod step in flight, reports the old revision superseded, and re-plans from the live state', async () => {
    const id = 'sim/apps/StatefulSet/web';
    await r.install(await r.write({ 'rollgate.yaml': simConfig(), 'manifests/ns.yaml': namespace('apps'), 'manifests/web.yaml': statefulSet('web', 'example/web:v1') }));
    const since = r.lastSeq();
    const executor = r.executor();
    const v2 = await r.write({ 'manifests/web.yaml': statefulSet('web', 'example/web:v2') });
    const first = executor.apply({ targets: v2.targets, source: 'a'.repeat(40) });
    await stepStarted(r, id, 'web-3');

    const v3 = await r.write({ 'manifests/web.yaml': statefulSet('web', 'example/web:v3') });
    const second = executor.apply({ targets: v3.targets, source: 'b'.repeat(40) });
    assert.deepEqual([...(await first).values()], ['succeeded']);
    assert.deepEqual([...(await second).values()], ['succeeded']);

    const events = r.events(since, 'apps');
    const restarts = events.filter((e) => e.type === 'PodTerminating').map((e) => e.name);
    assert.deepEqual(restarts, ['web-3', 'web-3', 'web-2', 'web-1', 'web-0'], 'web-3 finished at v2, then every pod moved to v3');
    const secondRestart = events.filter((e) => e.type === 'PodTerminating' && e.name === 'web-3')[1];
    const finishedStep = ready(events, 'web-3', 'example/web:v2');
    assert.ok(finishedStep !== undefined && secondRestart !== undefined && finishedStep.seq < secondRestart.seq, 'the step in flight reached Ready before the new revision moved anything');
    assert.equal(events.some((e) => e.type === 'PodTerminating' && e.name !== 'web-3' && e.seq < (secondRestart?.seq ?? 0)), false, 'no other pod moved for the old revision');

    const phases = r.reporter.transitions.map((t) => `${t.phase}@${(t.source ?? '').slice(0, 1)}`);
    assert.ok(phases.includes('Superseded@a'), phases.join(' '));
    assert.equal(phases.at(-1), 'Succeeded@b');
    assert.equal(phases.includes('Succeeded@a'), false, 'the old revision never claims success');
    assert.deepEqual(await podImages(r, 'apps'), ['web-0=example/web:v3', 'web-1=example/web:v3', 'web-2=example/web:v3', 'web-3=example/web:v3']);
  });
});

describe('rollout: suspend in Git', () => {
  let r: RolloutFixture;
  before(async () => {
    r = await startRolloutFixture();
  });
  after(async () => {
    await r.close();
  });

  it('stops at the next step boundary, and removing the suspend resumes where it stopped', async () => {
    const id = 'sim/apps/StatefulSet/web';
    await r.install(await r.write({ 'rollgate.yaml': simConfig(), 'manifests/ns.yaml': namespace('apps'), 'manifests/web.yaml': statefulSet('web', 'example/web:v1') }));
    const since = r.lastSeq();
    const executor = r.executor();
    const v2 = await r.write({ 'manifests/web.yaml': statefulSet('web', 'example/web:v2') });
    const rolling = executor.apply({ targets: v2.targets, source: 'c'.repeat(40) });
    await stepStarted(r, id, 'web-3');

    const suspended = await r.write({ 'rollgate.yaml': simConfig(`targets:\n  - target: "${id}"\n    suspend: true\n`) });
    const whileSuspended = await executor.apply({ targets: suspended.targets, source: 'd'.repeat(40) });
    assert.deepEqual([...whileSuspended.values()], ['suspended']);
    await rolling;
    const events = r.events(since, 'apps');
    assert.deepEqual(events.filter((e) => e.type === 'PodTerminating').map((e) => e.name), ['web-3'], 'only the step in flight ran');
    assert.ok(ready(events, 'web-3', 'example/web:v2'), 'and it finished: web-3 is Ready at v2');
    assert.equal(r.reporter.transitions.at(-1)?.phase, 'Suspended');
    const partition = await r.f.ok(['--context', 'sim', 'get', 'sts', 'web', '-n', 'apps', '-o', 'jsonpath={.spec.updateStrategy.rollingUpdate.partition}']);
    assert.equal(partition, '3', 'the partition holds the other pods at v1');

    const resumedAt = r.lastSeq();
    const resumed = await r.write({ 'rollgate.yaml': simConfig() });
    assert.deepEqual([...(await executor.apply({ targets: resumed.targets, source: 'e'.repeat(40) })).values()], ['succeeded']);
    assert.deepEqual(r.restarts(resumedAt, 'apps'), ['web-2', 'web-1', 'web-0'], 'resumed where it stopped; web-3 did not restart again');
    assert.deepEqual(await podImages(r, 'apps'), ['web-0=example/web:v2', 'web-1=example/web:v2', 'web-2=example/web:v2', 'web-3=example/web:v2']);
  });
});

/** An approval source a test drives: holds per target, no approvals needed. */
function holdSwitch(): ApprovalSource & { hold(on: boolean): void } {
  let held = false;
  const listeners = new Set<() => void>();
  return {
    isApproved: () => Promise.resolve(true),
    isHeld: () => Promise.resolve(held),
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    hold(on) {
      held = on;
      for (const listener of [...listeners]) listener();
    },
  };
}

describe('rollout: a hold from a person', () => {
  let r: RolloutFixture;
  before(async () => {
    r = await startRolloutFixture();
  });
  after(async () => {
    await r.close();
  });

  it('finishes the step in flight, waits while held, and goes on when resumed', async () => {
    const id = 'sim/apps/StatefulSet/web';
    await r.install(await r.write({ 'rollgate.yaml': simConfig(), 'manifests/ns.yaml': namespace('apps'), 'manifests/web.yaml': statefulSet('web', 'example/web:v1', 3) }));
    const since = r.lastSeq();
    const approvals = holdSwitch();
    const v2 = await r.write({ 'manifests/web.yaml': statefulSet('web', 'example/web:v2', 3) });
    const rolling = r.executor({ approvals }).apply({ targets: v2.targets, source: 'f'.repeat(40) });
    await stepStarted(r, id, 'web-2');
    approvals.hold(true);
    const waiting = await eventually(() => {
      const found = r.reporter.transitions.find((t) => t.phase === 'Waiting' && t.waitingFor?.gate === 'hold');
      if (found === undefined) throw new Error('not waiting yet');
      return found;
    }, 30_000);
    assert.match(waiting.message, /on hold; \/rollgate resume/);
    assert.deepEqual(r.restarts(since, 'apps'), ['web-2'], 'nothing moved after the hold');
    assert.ok(ready(r.events(since, 'apps'), 'web-2', 'example/web:v2'), 'the step in flight finished');

    approvals.hold(false);
    assert.deepEqual([...(await rolling).values()], ['succeeded']);
    assert.deepEqual(r.restarts(since, 'apps'), ['web-2', 'web-1', 'web-0']);
  });
});

/** For each target, the indices of its first Progressing and its Succeeded transition. */
function spans(transitions: readonly RolloutTransition[]): Map<string, { start: number; end: number }> {
  const result = new Map<string, { start: number; end: number }>();
  transitions.forEach((t, i) => {
    const span = result.get(t.target);
    if (t.phase === 'Progressing' && span === undefined) result.set(t.target, { start: i, end: Infinity });
    if (t.phase === 'Succeeded' && span !== undefined) span.end = i;
  });
  return result;
}

/** The most spans open at one time. */
function maxOverlap(all: Iterable<{ start: number; end: number }>): number {
  const list = [...all];
  return Math.max(...list.map((s) => list.filter((o) => o.start <= s.start && s.start < o.end).length));
}

/** Outcomes of the `kv` targets only: the repository still holds the first case's targets, already done. */
function kvOutcomes(outcomes: ReadonlyMap<string, string>): Record<string, string> {
  return Object.fromEntries([...outcomes].filter(([id]) => id.endsWith('/StatefulSet/kv')));
}

describe('rollout: concurrency and dependsOn', () => {
  let r: RolloutFixture;
  const config = (targets = '') => `apiVersion: rollgate.dev/v1alpha1
kind: Config
clusters:
  - name: staging
    paths: [staging]
  - name: prod
    paths: [prod]
    dependsOn: [staging]
defaults:
  progressDeadline: 5m
  gates:
    - podReady: {}
    - rolloutStatus: {}
    - soak: {duration: 10s}
targets:
  - target: "staging/apps/StatefulSet/d"
    dependsOn: ["staging/apps/StatefulSet/a"]
${targets}`;
  const apps = (tag: string): Record<string, string> => Object.fromEntries(['a', 'b', 'c', 'd'].map((name) => [`staging/${name}.yaml`, statefulSet(name, `example/${name}:${tag}`, 2)]));
  const kv = (tag: string): Record<string, string> => ({
    'staging/kv.yaml': statefulSet('kv', `example/kv:${tag}`, 3, 'db'),
    'prod/kv.yaml': statefulSet('kv', `example/kv:${tag}`, 3, 'db'),
  });

  before(async () => {
    r = await startRolloutFixture({ clusters: ['staging', 'prod'], images: { images: [{ match: 'example/kv:never-ready', neverReady: true }] } });
    const namespaces = { 'staging/apps.yaml': namespace('apps'), 'staging/db.yaml': namespace('db'), 'prod/db.yaml': namespace('db') };
    await r.install(await r.write({ 'rollgate.yaml': config(), ...namespaces, ...apps('v1'), ...kv('v1') }));
  });
  after(async () => {
    await r.close();
  });

  it('rolls independent targets in parallel up to the limit, and a target after the one it depends on', async () => {
    const next = await r.write(apps('v2'));
    const before = r.reporter.transitions.length;
    const outcomes = await r.executor({ concurrency: 2 }).apply({ targets: next.targets, source: '1'.repeat(40) });
    assert.deepEqual([...outcomes.values()], ['succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded']);

    const runs = spans(r.reporter.transitions.slice(before));
    assert.deepEqual([...runs.keys()].sort(), ['staging/apps/StatefulSet/a', 'staging/apps/StatefulSet/b', 'staging/apps/StatefulSet/c', 'staging/apps/StatefulSet/d']);
    assert.equal(maxOverlap(runs.values()), 2, 'two targets rolled at once, never three');
    const a = runs.get('staging/apps/StatefulSet/a');
    const d = runs.get('staging/apps/StatefulSet/d');
    assert.ok(a !== undefined && d !== undefined && d.start > a.end, 'd started only after a succeeded');
  });

  it('rolls a cluster only after every target of the cluster it depends on has finished', async () => {
    const before = r.reporter.transitions.length;
    const outcomes = await r.executor({ concurrency: 4 }).apply({ targets: (await r.write(kv('v2'))).targets, source: '2'.repeat(40) });
    assert.deepEqual(kvOutcomes(outcomes), { 'staging/db/StatefulSet/kv': 'succeeded', 'prod/db/StatefulSet/kv': 'succeeded' });
    const runs = spans(r.reporter.transitions.slice(before));
    const staging = runs.get('staging/db/StatefulSet/kv');
    const prod = runs.get('prod/db/StatefulSet/kv');
    assert.ok(staging !== undefined && prod !== undefined && prod.start > staging.end, 'prod started after staging succeeded');
    assert.deepEqual(await podImages(r, 'db', 'prod'), ['kv-0=example/kv:v2', 'kv-1=example/kv:v2', 'kv-2=example/kv:v2']);
  });

  it('holds a dependent cluster when its dependency halts', async () => {
    const since = r.lastSeq('prod');
    const next = await r.write({ 'rollgate.yaml': config(`  - target: "staging/db/StatefulSet/kv"\n    progressDeadline: 1m\n`), ...kv('never-ready') });
    const outcomes = await r.executor().apply({ targets: next.targets, source: '3'.repeat(40) });
    assert.deepEqual(kvOutcomes(outcomes), { 'staging/db/StatefulSet/kv': 'halted', 'prod/db/StatefulSet/kv': 'waiting' });
    assert.deepEqual(r.restarts(since, 'db', 'prod'), [], 'nothing in prod moved');
    const pending = r.reporter.transitions.findLast((t) => t.target === 'prod/db/StatefulSet/kv');
    assert.equal(pending?.phase, 'Pending');
    assert.match(pending?.message ?? '', /waits for staging\/db\/StatefulSet\/kv, which did not finish/);
  });
});

describe('rollout: an approval file', () => {
  let r: RolloutFixture;
  before(async () => {
    r = await startRolloutFixture();
  });
  after(async () => {
    await r.close();
  });

  it('waits until a revision changes the approval file, then rolls that revision', async () => {
    const id = 'sim/apps/StatefulSet/web';
    const config = simConfig(`targets:\n  - target: "${id}"\n    gates:\n      - approval: {file: approvals/web}\n      - podReady: {}\n`);
    await r.install(await r.write({ 'rollgate.yaml': config, 'manifests/ns.yaml': namespace('apps'), 'manifests/web.yaml': statefulSet('web', 'example/web:v1', 2) }));
    const since = r.lastSeq();
    const approvals = createFileApprovals();
    const executor = r.executor({ approvals });
    const unapproved = await r.write({ 'manifests/web.yaml': statefulSet('web', 'example/web:v2', 2) });
    approvals.setRevision('a1'.repeat(20), ['manifests/web.yaml']);
    const waiting = executor.apply({ targets: unapproved.targets, source: 'a1'.repeat(20) });
    await eventually(() => assert.ok(r.reporter.transitions.some((t) => t.target === id && t.phase === 'Waiting' && t.waitingFor?.gate === 'approval')), 30_000);
    assert.deepEqual(r.restarts(since, 'apps'), [], 'nothing moves without the approval');

    const approved = await r.write({ 'approvals/web': 'approved by dba-oncall\n' });
    approvals.setRevision('b2'.repeat(20), ['approvals/web']);
    const outcome = await executor.apply({ targets: approved.targets, source: 'b2'.repeat(20) });
    assert.deepEqual([...outcome.values()], ['succeeded']);
    assert.deepEqual([...(await waiting).values()], ['succeeded']);
    assert.deepEqual(r.restarts(since, 'apps'), ['web-1', 'web-0']);
    assert.equal(r.reporter.transitions.at(-1)?.source, 'b2'.repeat(20));
  });
});

describe('rollout: an OnDelete StatefulSet', () => {
  let r: RolloutFixture;
  before(async () => {
    r = await startRolloutFixture();
  });
  after(async () => {
    await r.close();
  });

  it('deletes the pods one at a time from the highest ordinal, each once, and finishes', async () => {
    const onDelete = (image: string): string => statefulSet('kv', image, 3).replace('  serviceName: kv\n', '  serviceName: kv\n  updateStrategy:\n    type: OnDelete\n');
    await r.install(await r.write({ 'rollgate.yaml': simConfig(), 'manifests/ns.yaml': namespace('apps'), 'manifests/kv.yaml': onDelete('example/kv:v1') }));
    const since = r.lastSeq();
    const next = await r.write({ 'manifests/kv.yaml': onDelete('example/kv:v2') });
    const outcome = await r.executor().apply({ targets: next.targets, source: '4'.repeat(40) });
    assert.deepEqual([...outcome.values()], ['succeeded'], r.reporter.transitions.at(-1)?.message);
    const deletions = r.events(since, 'apps').filter((e) => e.type === 'ClientWrite' && e.verb === 'delete' && e.kind === 'Pod').map((e) => e.name);
    assert.deepEqual(deletions, ['kv-2', 'kv-1', 'kv-0'], 'each pod deleted once, highest ordinal first');
    assert.deepEqual(await podImages(r, 'apps'), ['kv-0=example/kv:v2', 'kv-1=example/kv:v2', 'kv-2=example/kv:v2']);
  });
});
