/** Small text helpers: suggestions, image tags. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { imageTag } from '../../agent/manifests/images.ts';
import { closest, didYouMean, editDistance } from '../../agent/manifests/suggest.ts';

describe('editDistance', () => {
  const table: [string, string, number][] = [
    ['', '', 0],
    ['soak', 'soek', 1],
    ['kitten', 'sitting', 3],
    ['abc', '', 3],
  ];
  for (const [a, b, d] of table) test(`${a} / ${b}`, () => assert.equal(editDistance(a, b), d));
});

describe('closest and didYouMean', () => {
  const table: [string, string[], string | undefined][] = [
    ['soek', ['podReady', 'soak', 'http'], 'soak'],
    ['defautls', ['defaults', 'targets'], 'defaults'],
    ['Status', ['status'], 'status'],
    ['xyz', ['podReady', 'soak'], undefined],
    ['soak', ['soak'], undefined],
  ];
  for (const [name, candidates, want] of table) test(name, () => assert.equal(closest(name, candidates), want));
  test('formats the hint', () => {
    assert.equal(didYouMean('prd', ['prod', 'staging']), ' (did you mean "prod"?)');
    assert.equal(didYouMean('zzz', ['prod']), '');
  });
});

describe('imageTag', () => {
  const table: [string, string | undefined][] = [
    ['pingcap/pd:v7.5.1', 'v7.5.1'],
    ['pingcap/pd', undefined],
    ['registry.local:5000/pingcap/pd', undefined],
    ['registry.local:5000/pingcap/pd:v7.5.1', 'v7.5.1'],
    ['pingcap/pd@sha256:0123', undefined],
    ['pingcap/pd:v7.5.1@sha256:0123', 'v7.5.1'],
    ['redislabs/operator:7.4.6-2', '7.4.6-2'],
    ['pd:', undefined],
  ];
  for (const [ref, want] of table) test(ref, () => assert.equal(imageTag(ref), want));
});
