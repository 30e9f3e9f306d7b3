/**
 * The chaos campaign's own code: the counting, as tables; the command line
 * and the verdict; and one short run of three cheap scenarios (the agent
 * killed at a few step boundaries of a TiDB upgrade, the forge down, a
 * superseding push) against kube-sim, a real Git server and the real agent,
 * so that `npm test` keeps the campaign from rotting. The full campaign is
 * `npm run chaos`.
 */
import assert from 'node:assert/strict';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { formatTable, runCampaign, summarise, verdict, type RunResult, type Scenario } from '../../chaos/campaign.ts';
import { main, parseFlags, runHostile } from '../../chaos/cli.ts';
import { agentKillScenario } from '../../chaos/scenarios/agent-kill.ts';
import { errorRate } from '../../chaos/scenarios/api-faults.ts';
import { forgeDownScenario } from '../../chaos/scenarios/forge-down.ts';
import { supersedeScenario } from '../../chaos/scenarios/supersede.ts';
import { duplicatedComments } from '../../chaos/support/forge.ts';
import { compareStatus, expectedTransitions, keyText, longestStall, repeatedRestarts } from '../../chaos/support/measure.ts';

const ok: RunResult = { completed: true, repeatedRestarts: [], statusLost: [], statusDuplicated: [], statusUnexpected: [], longestStallMs: 1200, notes: [] };

describe('chaos: counting', () => {
  it('counts a pod restarted twice toward the same image, not one restarted again toward a newer one', () => {
    const term = (name: string, image: string) => ({ type: 'PodTerminating', kind: 'Pod', name, image });
    const made = (name: string, image: string) => ({ type: 'PodCreated', kind: 'Pod', name, image });
    const cases: { events: ReturnType<typeof term>[]; want: string[] }[] = [
      { events: [term('pd-0', 'v1'), made('pd-0', 'v2')], want: [] },
      { events: [term('pd-0', 'v1'), made('pd-0', 'v2'), term('pd-0', 'v2'), made('pd-0', 'v3')], want: [] },
      { events: [term('pd-0', 'v1'), made('pd-0', 'v2'), term('pd-0', 'v2'), made('pd-0', 'v2')], want: ['pd-0@v2'] },
      { events: [term('op-abc', 'v1'), term('op-abc', 'v1')], want: [] },
    ];
    for (const c of cases) assert.deepEqual(repeatedRestarts(c.events), c.want, JSON.stringify(c.events));
  });

  it('finds the longest stall, leaving out blocked time', () => {
    const cases: { at: number[]; start: number; end: number; blocked?: { start: number; end: number }[]; want: number }[] = [
      { at: [], start: 0, end: 10, want: 10 },
      { at: [2, 3, 9], start: 0, end: 10, want: 6 },
      { at: [2, 3, 9], start: 0, end: 10, blocked: [{ start: 4, end: 8 }], want: 2 },
      { at: [-5, 15], start: 0, end: 10, want: 10 },
    ];
    for (const c of cases) assert.equal(longestStall(c.at, c.start, c.end, c.blocked), c.want, JSON.stringify(c));
  });

  it('derives the transitions a progress history implies', () => {
    const t = 'sim/tidb/TidbCluster/basic';
    const got = expectedTransitions(t, [
      { source: 'a', done: [] },
      { source: 'a', step: { stage: 'pd', pods: ['pd-2'] }, done: [] },
      { source: 'a', done: ['pd:pd-2'] },
      { source: 'b', done: [] },
      { source: 'b', step: { stage: 'pd', pods: ['pd-1'] }, done: [] },
      { source: 'b', step: { stage: 'pd', pods: ['pd-0'] }, done: ['pd:pd-1'] },
      { source: 'b', done: ['pd:pd-1', 'pd:pd-0'], finishedAt: 5 },
    ]).map(keyText);
    assert.deepEqual(got, [`${t}|a|Progressing|pd|0`, `${t}|a|Superseded||`, `${t}|b|Progressing|pd|0`, `${t}|b|Progressing|pd|1`, `${t}|b|Succeeded||`]);
  });

  it('compares the status branch with what happened', () => {
    const p = (step: number) => ({ target: 't', source: 's', phase: 'Progressing', stage: 'web', step });
    const done = { target: 't', source: 's', phase: 'Succeeded' };
    assert.deepEqual(compareStatus([p(0), p(1), done], [p(0), p(0), done, { target: 't', source: 's', phase: 'Waiting' }]), { lost: ['t|s|Progressing|web|1'], duplicated: ['t|s|Progressing|web|0'], unexpected: ['t|s|Waiting||'] });
    assert.deepEqual(compareStatus([{ target: 't', source: 's', phase: 'Halted', stage: 'pd' }], [{ target: 't', source: 's', phase: 'Halted' }]), { lost: [], duplicated: [], unexpected: [] });
  });

  it('counts duplicated sticky comments by marker key', () => {
    const c = (body: string, id: number) => ({ id, body, createdAt: '' });
    assert.equal(duplicatedComments([c('<!-- rollgate:rollout sha256:0123456789abcdef -->\nx', 1), c('hello', 2), c('<!-- rollgate:plan sha256:0123456789abcdef -->', 3)]), 0);
    assert.equal(duplicatedComments([c('<!-- rollgate:rollout sha256:0123456789abcdef -->', 1), c('<!-- rollgate:rollout sha256:fedcba9876543210 -->', 2)]), 1);
  });

  it('spreads API error rates from 1 % to 20 % over the runs', () => {
    assert.deepEqual([0, 1, 2].map((i) => Math.round(errorRate(i, 3) * 1000) / 1000), [0.01, 0.105, 0.2]);
    assert.equal(errorRate(0, 1), 0.2);
  });
});

describe('chaos: verdict and command line', () => {
  it('fails on a run that did not complete and on every must-be-zero count', () => {
    const rows = [summarise('a', [ok, { ...ok, completed: false, failure: 'timeout' }]), summarise('b', [{ ...ok, repeatedRestarts: ['pd-0@v2'], statusLost: ['x'], statusDuplicated: ['y', 'z'], commentsDuplicated: 1, longestStallMs: 3000 }])];
    assert.deepEqual(
      { ...rows[1], results: undefined },
      { scenario: 'b', runs: 1, completed: 1, podsRestartedTwice: 1, statusLost: 1, statusDuplicated: 2, commentsDuplicated: 1, longestStallMs: 3000, results: undefined },
    );
    assert.deepEqual(verdict(rows, { status: 'ran', counts: { cases: 10, crashes: 0, partialApplies: 1, unlocated: 0 } }), [
      'a: 1 of 2 runs did not complete correctly',
      'b: 1 pods restarted more than once',
      'b: 1 status commits lost',
      'b: 2 status commits duplicated',
      'b: 1 comments duplicated',
      'hostile-input: 1 partial applies',
    ]);
    assert.deepEqual(verdict([summarise('a', [ok])], { status: 'missing', message: 'not there' }), []);
    const table = formatTable({ seed: 3, rows, failures: verdict(rows), hostile: { status: 'missing', message: 'not there' } });
    assert.match(table, /^scenario +runs +completed/);
    assert.match(table, /\nb +1 +1 +1 +1 +2 +1 +3\.0 s\n/);
    assert.match(table, /hostile-input: missing: not there/);
    assert.match(table, /seed 3: FAIL/);
  });

  it('parses flags, and refuses bad ones with what to write instead', () => {
    assert.deepEqual(parseFlags([], '/w', ['x']), { seed: 1, runs: undefined, only: undefined, json: '/w/chaos-results.json', keep: undefined, hostile: true });
    assert.deepEqual(parseFlags(['--seed', '42', '--runs', '3', '--only', 'x', '--json', 'out.json', '--no-hostile'], '/w', ['x']), { seed: 42, runs: 3, only: ['x'], json: '/w/out.json', keep: undefined, hostile: false });
    assert.throws(() => parseFlags(['--runs', '0'], '/w', ['x']), /--runs "0": give a whole number of at least 1/);
    assert.throws(() => parseFlags(['--seed', 'abc'], '/w', ['x']), /--seed "abc"/);
    assert.throws(() => parseFlags(['--only', 'y'], '/w', ['x']), /no scenario "y"; the scenarios are x/);
    assert.throws(() => parseFlags(['--bogus'], '/w', ['x']), /Unknown option '--bogus'/);
  });

  it('runs through main: table on stdout, JSON file, exit 1 on a failed run, 2 on a usage error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rollgate-chaos-main-'));
    try {
      const scenario = (name: string, result: RunResult): Scenario => ({ name, description: name, defaultRuns: 2, run: async () => result });
      let out = '';
      let err = '';
      const io = { stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) }, cwd: dir };
      assert.equal(await main(['--no-hostile', '--seed', '9', '--keep', join(dir, 'runs')], io, [scenario('fine', ok), scenario('bad', { ...ok, statusLost: ['t|s|Succeeded||'] })]), 1);
      assert.match(out, /\nfine +2 +2 +0 +0 +0 +- +1\.2 s\n/);
      assert.match(out, /bad: 2 status commits lost/);
      const written = JSON.parse(await readFile(join(dir, 'chaos-results.json'), 'utf8')) as { seed: number; rows: { scenario: string; results: { notes: string[] }[] }[] };
      assert.equal(written.seed, 9);
      assert.deepEqual(written.rows.map((r) => r.scenario), ['fine', 'bad']);
      assert.match(written.rows[0]?.results[0]?.notes[0] ?? '', /^seed \d+$/);
      assert.equal(await main(['--only', 'fine', '--runs', '1', '--no-hostile', '--json', 'x.json'], io, [scenario('fine', ok)]), 0);
      assert.match(err, /files under (\S+)/);
      const temporary = [...err.matchAll(/files under (\S+)/g)].at(-1)?.[1] ?? '';
      await assert.rejects(access(temporary), { code: 'ENOENT' }, 'a temporary directory with only passed runs is removed');
      assert.equal(await main(['--runs', 'many'], io, [scenario('fine', ok)]), 2);
      assert.match(err, /chaos: --runs "many"/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('says when the hostile-input campaign is not there, and fails one that exports nothing to run', async () => {
    const missing = await runHostile(new URL('../../chaos/hostile/not-there.ts', import.meta.url));
    assert.equal(missing.status, 'missing');
    const empty = await runHostile(new URL('../../chaos/support/measure.ts', import.meta.url));
    assert.deepEqual(empty.status === 'failed' && /exports no runHostileCampaign\(\)/.test(empty.message), true, JSON.stringify(empty));
  });
});

describe('chaos: one short run of the cheapest scenarios', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-chaos-test-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('kills the agent at a few boundaries, takes the forge down, supersedes a rollout: every run completes, every count is zero', async () => {
    const log: string[] = [];
    const result = await runCampaign({ scenarios: [agentKillScenario('tidb', { stride: 6 }), forgeDownScenario(), supersedeScenario()], seed: 7, runs: 1, dir, log: (m) => log.push(m) });
    assert.deepEqual(result.failures, [], `${formatTable(result)}\n${log.join('\n')}\n${JSON.stringify(result.rows.flatMap((r) => r.results), null, 1)}`);
    assert.deepEqual(result.rows.map((r) => [r.scenario, r.runs, r.completed]), [
      ['agent-kill-tidb', 1, 1],
      ['forge-down', 1, 1],
      ['supersede', 1, 1],
    ]);
    assert.match(result.rows[0]?.results[0]?.notes.join('; ') ?? '', /[1-9]\d* kills/, 'the agent was killed');
    assert.equal(result.rows[1]?.commentsDuplicated, 0);
  });
});
