/**
 * The suite runner's arithmetic: figures matched across runs despite the
 * counts in their names, medians across runs, aims judged on the median,
 * and a comparison with an earlier run.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { render, stableName, summarise, type Summary } from '../../bench/run.ts';

const table = (p95: number, steps: number, polls: number) => ({
  title: 'Gates: 10 replicas (median of 3)',
  machine: 'test machine',
  figures: [
    { name: `rollgate reaction p50 (${steps} steps)`, value: p95 / 2, unit: 'ms' },
    { name: 'rollgate reaction p95', value: p95, unit: 'ms', aim: { value: 50, better: 'lower' as const } },
    { name: `no-change poll (median of ${polls})`, value: 20, unit: 'ms' },
  ],
});

describe('bench/run.ts', () => {
  it('drops the counts that vary between runs from names, and keeps the rest', () => {
    assert.equal(stableName('no-change poll (median of 27)'), 'no-change poll');
    assert.equal(stableName('rollgate reaction p50 (12 steps)'), 'rollgate reaction p50');
    assert.equal(stableName('shell loop / rollgate, reaction p95'), 'shell loop / rollgate, reaction p95');
    assert.equal(stableName('idle CPU (agent only)'), 'idle CPU (agent only)');
  });

  it('takes the median of each figure across runs and judges the aim on it', () => {
    const figures = summarise('rollout-gates', [[table(40, 9, 27)], [table(70, 10, 27)], [table(45, 9, 26)]]);
    assert.deepEqual(
      figures.map((f) => [f.title, f.name, f.median, f.values.length, f.met]),
      [
        ['Gates: 10 replicas', 'rollgate reaction p50', 22.5, 3, undefined],
        ['Gates: 10 replicas', 'rollgate reaction p95', 45, 3, true],
        ['Gates: 10 replicas', 'no-change poll', 20, 3, undefined],
      ],
    );
    const missed = summarise('rollout-gates', [[table(60, 9, 27)]]);
    assert.equal(missed[1]?.met, false);
  });

  it('renders one table with the spread, the verdicts and the change from an earlier run', () => {
    const now: Summary = { date: '2026-11-21T00:00:00.000Z', commit: 'abc1234', machine: '2 × test CPU', benchmarks: [{ name: 'rollout-gates', runs: 3, seconds: 90, ok: true }], figures: summarise('rollout-gates', [[table(40, 9, 27)], [table(60, 10, 27)], [table(45, 9, 26)]]) };
    const before: Summary = { ...now, date: '2026-11-20T00:00:00.000Z', commit: 'def5678', figures: summarise('rollout-gates', [[table(90, 9, 27)]]) };
    const text = render(now, before);
    assert.match(text, /machine: 2 × test CPU/);
    assert.match(text, /compared with: 2026-11-20T00:00:00.000Z · commit def5678/);
    assert.match(text, /rollgate reaction p95\s+45\.0 ms\s+40\.0–60\.0\s+< 50 ms\s+met\s+was 90\.0 \(-50 %\)/);
    assert.match(text, /1 aims met, 0 missed/);
    const failed = render({ ...now, benchmarks: [{ name: 'fleet', runs: 0, seconds: 1, ok: false, error: 'bench/fleet.ts exited with 1' }] });
    assert.match(failed, /benchmarks that failed: fleet \(bench\/fleet\.ts exited with 1\)/);
  });
});
