/** parseDuration and formatDuration: table tests and a round-trip property. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { formatDuration, parseDuration } from '../../agent/manifests/duration.ts';

describe('parseDuration', () => {
  const valid: [string, number][] = [
    ['30s', 30_000],
    ['10m', 600_000],
    ['2h', 7_200_000],
    ['1h30m', 5_400_000],
    ['500ms', 500],
    ['1m30s500ms', 90_500],
    ['1h0m0s', 3_600_000],
    ['0s', 0],
    ['0ms', 0],
    ['90m', 5_400_000],
    ['168h', 604_800_000],
  ];
  for (const [text, ms] of valid) test(`${text} is ${ms} ms`, () => assert.equal(parseDuration(text), ms));

  const invalid = ['', '10', '10 m', ' 10m', '10m ', '1.5h', '-5m', '+5m', '30m1h', '1h1h', '10mm', 's', 'ms', '1d', '1w', '10M', '1h 30m', '١٠m', `${'9'.repeat(20)}h`, `${'1'.repeat(70)}s`];
  for (const text of invalid) test(`${JSON.stringify(text)} is not a duration`, () => assert.equal(parseDuration(text), undefined));
});

describe('formatDuration', () => {
  const table: [number, string][] = [
    [0, '0s'],
    [500, '500ms'],
    [1_000, '1s'],
    [90_500, '1m30s500ms'],
    [600_000, '10m'],
    [5_400_000, '1h30m'],
    [90_000_000, '25h'],
  ];
  for (const [ms, text] of table) test(`${ms} ms is ${text}`, () => assert.equal(formatDuration(ms), text));

  test('refuses negative and fractional values', () => {
    assert.throws(() => formatDuration(-1), RangeError);
    assert.throws(() => formatDuration(1.5), RangeError);
  });

  test('parseDuration reads back whatever formatDuration writes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 * 365 * 24 * 3_600_000 }), (ms) => parseDuration(formatDuration(ms)) === ms),
      { numRuns: 2_000 },
    );
  });
});
