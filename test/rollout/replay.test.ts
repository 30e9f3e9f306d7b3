/**
 * A process that resumes a rollout it did not start reports the rollout's
 * transitions again, because the process that first reported them may have
 * died before its reporters wrote them (status commits are queued, not
 * written, when `report` returns). Found by the chaos campaign
 * (chaos/scenarios/agent-kill.ts): with the agent SIGKILLed at every step
 * boundary, the status branch lacked the Progressing commits of steps and
 * the final Succeeded. Each Progressing transition also carries its step's
 * index within its stage: without it the status writer took the second and
 * third pod of a StatefulSet stage for repeats of the first and dropped them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseStepKey, stepIndex } from '../../agent/rollout/progress.ts';
import type { RolloutTransition } from '../../agent/rollout/reporter.ts';
import { statefulSetManifest } from '../helpers/manifests.ts';
import { eventually } from '../helpers/sim.ts';
import { namespace, recordingReporter, simConfig, startRolloutFixture, type RolloutFixture } from './helpers.ts';

const statefulSet = (image: string): string => statefulSetManifest({ name: 'web', namespace: 'replay', image });

const key = (t: RolloutTransition): string => `${t.phase}|${t.stage ?? ''}|${t.step ?? ''}`;

describe('progress: step keys and indices', () => {
  it('counts the steps of a stage already done, and splits keys', () => {
    const cases: { done: string[]; stage: string; want: number }[] = [
      { done: [], stage: 'pd', want: 0 },
      { done: ['pd:basic-pd-2,basic-pd-1,basic-pd-0'], stage: 'pd', want: 1 },
      { done: ['pd:a', 'tikv:b'], stage: 'tikv', want: 1 },
      { done: ['web:web-2', 'web:web-1'], stage: 'web', want: 2 },
      { done: ['web-2:x'], stage: 'web', want: 0 },
    ];
    for (const c of cases) assert.equal(stepIndex(c.done, c.stage), c.want, JSON.stringify(c));
    assert.deepEqual(parseStepKey('pd:basic-pd-2,basic-pd-1'), { stage: 'pd', pods: ['basic-pd-2', 'basic-pd-1'] });
    assert.deepEqual(parseStepKey('web:'), { stage: 'web', pods: [] });
    assert.equal(parseStepKey('nocolon'), undefined);
  });
});

describe('rollout: transitions replayed by the process that resumes', () => {
  let r: RolloutFixture;
  before(async () => {
    r = await startRolloutFixture({ seed: 5 });
  });
  after(async () => {
    await r.close();
  });

  it('numbers each step within its stage, and a resuming executor reports again what the stopped one reported', async () => {
    const installed = await r.write({ 'rollgate.yaml': simConfig(), 'manifests/ns.yaml': namespace('replay'), 'manifests/web.yaml': statefulSet('example/web:v1') });
    await r.install(installed);
    const next = await r.write({ 'manifests/web.yaml': statefulSet('example/web:v2') });

    // The first "process": its reporter loses everything, as a killed agent's queue does. It stops after the first pod's step.
    const lost = recordingReporter();
    const first = r.executor({ reporter: lost });
    const firstRun = first.apply({ targets: next.targets, source: 'feed01' });
    await eventually(() => assert.ok(lost.transitions.some((t) => t.phase === 'Progressing' && t.step === 1), 'the second step started'), 30_000);
    await first.stop();
    assert.deepEqual([...(await firstRun).values()], ['stopped']);
    assert.deepEqual(lost.transitions.filter((t) => t.phase === 'Progressing').map(key), ['Progressing|web|0', 'Progressing|web|1']);

    // The second process resumes: it replays what the record shows, then reports the rest itself.
    const seen = recordingReporter();
    const outcomes = await r.executor({ reporter: seen }).apply({ targets: next.targets, source: 'feed01' });
    assert.deepEqual([...outcomes.values()], ['succeeded']);
    const replayed = seen.transitions.filter((t) => t.replay === true).map(key);
    assert.ok(replayed.includes('Progressing|web|0'), `the first step is replayed: ${replayed.join(', ')}`);
    assert.ok(replayed.includes('Progressing|web|1'), `the step in flight is replayed: ${replayed.join(', ')}`);
    const all = new Set(seen.transitions.map(key));
    assert.deepEqual(['Progressing|web|0', 'Progressing|web|1', 'Progressing|web|2', 'Succeeded||'].filter((k) => !all.has(k)), [], 'every transition reached the second reporter');
    assert.deepEqual(r.restarts(0, 'replay'), ['web-2', 'web-1', 'web-0'], 'each pod restarted once');

    // A third process finds the rollout finished: it replays its success once, and no more.
    const third = recordingReporter();
    const executor = r.executor({ reporter: third });
    await executor.apply({ targets: next.targets, source: 'feed01' });
    await executor.apply({ targets: next.targets, source: 'feed01' });
    assert.equal(third.transitions.filter((t) => t.phase === 'Succeeded').length, 1);
    assert.ok(third.transitions.every((t) => t.replay === true));

    // Past the replay window, an old rollout is not replayed.
    const late = recordingReporter();
    await r.executor({ reporter: late, replayWindowMs: 0 }).apply({ targets: next.targets, source: 'feed01' });
    assert.deepEqual(late.transitions, []);
  });
});
