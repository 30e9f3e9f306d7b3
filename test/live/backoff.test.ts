/**
 * backoffDelay: a table of attempts, options and random draws against the
 * exact delay, the cap, the jitter bounds, and every invalid input.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BackoffOptions } from '../../agent/live/index.ts';
import { BackoffOptionsError, backoffDelay, defaultBackoff } from '../../agent/live/index.ts';

const noJitter: BackoffOptions = { initialMs: 200, maxMs: 30_000, factor: 2, jitter: 0 };

describe('backoffDelay', () => {
  const table: { name: string; attempt: number; options: BackoffOptions; random: number; want: number }[] = [
    { name: 'first retry is initialMs', attempt: 0, options: noJitter, random: 0.7, want: 200 },
    { name: 'doubles: attempt 1', attempt: 1, options: noJitter, random: 0.7, want: 400 },
    // XOR would give 200 ^ 3 = 203 here, the Renovate bug STYLE.md §17 recalls.
    { name: 'doubles: attempt 3 is 1.6 s (a power, not XOR)', attempt: 3, options: noJitter, random: 0.7, want: 1600 },
    { name: 'attempt 7 is 25.6 s', attempt: 7, options: noJitter, random: 0, want: 25_600 },
    { name: 'attempt 8 is capped at maxMs', attempt: 8, options: noJitter, random: 0, want: 30_000 },
    { name: 'a huge attempt is capped, not Infinity or NaN', attempt: 5000, options: noJitter, random: 0, want: 30_000 },
    { name: 'factor 1 is constant', attempt: 9, options: { ...noJitter, factor: 1 }, random: 0.3, want: 200 },
    { name: 'factor 1.5', attempt: 2, options: { ...noJitter, factor: 1.5 }, random: 0, want: 450 },
    { name: 'full jitter, random 0: the whole base', attempt: 2, options: { ...noJitter, jitter: 1 }, random: 0, want: 800 },
    { name: 'full jitter, random 0.5: half', attempt: 2, options: { ...noJitter, jitter: 1 }, random: 0.5, want: 400 },
    { name: 'full jitter, random near 1: near 0', attempt: 2, options: { ...noJitter, jitter: 1 }, random: 0.999, want: 800 * 0.001 },
    { name: 'proportional jitter 0.2, random 0.5: 10 % off', attempt: 1, options: { ...noJitter, jitter: 0.2 }, random: 0.5, want: 360 },
    { name: 'jitter applies below the cap', attempt: 20, options: { ...noJitter, jitter: 0.5 }, random: 1, want: 15_000 },
    { name: 'random above 1 is clamped', attempt: 0, options: { ...noJitter, jitter: 1 }, random: 3, want: 0 },
    { name: 'random below 0 is clamped', attempt: 0, options: { ...noJitter, jitter: 1 }, random: -2, want: 200 },
    { name: 'random NaN counts as 0', attempt: 0, options: { ...noJitter, jitter: 1 }, random: Number.NaN, want: 200 },
    { name: 'defaults: 200 ms base, half jitter', attempt: 0, options: defaultBackoff, random: 0.5, want: 150 },
    { name: 'defaults: capped at 30 s', attempt: 30, options: defaultBackoff, random: 0, want: 30_000 },
  ];
  for (const row of table)
    it(row.name, () => {
      assert.ok(Math.abs(backoffDelay(row.attempt, row.options, () => row.random) - row.want) < 1e-9, `got ${backoffDelay(row.attempt, row.options, () => row.random)}, want ${row.want}`);
    });

  it('the default sequence grows, stays within its jitter band and never exceeds 30 s', () => {
    let previousBase = 0;
    for (let attempt = 0; attempt < 40; attempt++) {
      const high = backoffDelay(attempt, defaultBackoff, () => 0);
      const low = backoffDelay(attempt, defaultBackoff, () => 0.999_999);
      assert.ok(high >= previousBase, `attempt ${attempt}: ${high} < ${previousBase}`);
      assert.ok(high <= 30_000 && low >= high / 2 - 1e-6 && low <= high, `attempt ${attempt}: [${low}, ${high}]`);
      previousBase = high;
    }
  });

  const bad: { name: string; attempt: number; options: BackoffOptions; message: RegExp }[] = [
    { name: 'negative attempt', attempt: -1, options: noJitter, message: /attempt must be a whole number/ },
    { name: 'fractional attempt', attempt: 1.5, options: noJitter, message: /attempt must be a whole number/ },
    { name: 'initialMs 0', attempt: 0, options: { ...noJitter, initialMs: 0 }, message: /initialMs: must be a number above 0/ },
    { name: 'maxMs below initialMs', attempt: 0, options: { ...noJitter, maxMs: 100 }, message: /maxMs: must be at least initialMs \(200\)/ },
    { name: 'factor below 1', attempt: 0, options: { ...noJitter, factor: 0.5 }, message: /factor: must be a number of 1 or more/ },
    { name: 'jitter above 1', attempt: 0, options: { ...noJitter, jitter: 1.5 }, message: /jitter: must be a number from 0 to 1/ },
    { name: 'NaN maxMs', attempt: 0, options: { ...noJitter, maxMs: Number.NaN }, message: /maxMs: must be a number above 0, got NaN/ },
  ];
  for (const row of bad)
    it(`rejects ${row.name}`, () => {
      assert.throws(() => backoffDelay(row.attempt, row.options, () => 0), row.message);
    });

  it('lists every problem of an options object at once, with a stable code', () => {
    assert.throws(
      () => backoffDelay(0, { initialMs: -1, maxMs: 0, factor: 0, jitter: 2 }, () => 0),
      (err: unknown) => err instanceof BackoffOptionsError && err.code === 'invalid-backoff' && err.problems.length === 4,
    );
  });
});
