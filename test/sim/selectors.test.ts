/**
 * Label and field selectors as the API server parses and applies them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError } from '../../sim/api/errors.ts';
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from '../../sim/api/selectors.ts';

const labels = { app: 'tidb', tier: 'db', 'app.kubernetes.io/component': 'pd' };

describe('label selectors', () => {
  const cases: [string, boolean][] = [
    ['', true],
    ['app=tidb', true],
    ['app==tidb', true],
    ['app!=tidb', false],
    ['app!=redis', true],
    ['missing!=x', true],
    ['tier in (db,cache)', true],
    ['tier in (cache)', false],
    ['tier notin (cache, web)', true],
    ['tier notin (db)', false],
    ['missing notin (db)', true],
    ['app.kubernetes.io/component', true],
    ['missing', false],
    ['!missing', true],
    ['!app', false],
    ['app=tidb,tier in (db),!missing', true],
    ['app=tidb,tier=web', false],
    ['tier=', false],
  ];
  for (const [selector, expected] of cases) {
    it(`"${selector}" ${expected ? 'matches' : 'does not match'}`, () => {
      assert.equal(matchesLabels(parseLabelSelector(selector), labels), expected);
    });
  }
  for (const bad of ['a in (b', 'a in ()', '-bad-=x', 'a=b c']) {
    it(`"${bad}" is a 400`, () => {
      assert.throws(() => parseLabelSelector(bad), (err: unknown) => err instanceof ApiError && err.code === 400);
    });
  }
});

describe('field selectors', () => {
  const supported = new Set(['metadata.name', 'metadata.namespace', 'status.phase', 'spec.nodeName']);
  const fields: Record<string, string> = { 'metadata.name': 'web-0', 'metadata.namespace': 'db', 'status.phase': 'Running', 'spec.nodeName': 'node-1' };
  const cases: [string, boolean][] = [
    ['metadata.name=web-0', true],
    ['metadata.name==web-0,status.phase=Running', true],
    ['status.phase!=Running', false],
    ['spec.nodeName=node-2', false],
    ['spec.nodeName!=node-2,metadata.namespace=db', true],
  ];
  for (const [selector, expected] of cases) {
    it(`"${selector}" ${expected ? 'matches' : 'does not match'}`, () => {
      assert.equal(matchesFields(parseFieldSelector(selector, supported), (f) => fields[f] ?? ''), expected);
    });
  }
  it('an unsupported field is a 400 with the real message', () => {
    assert.throws(
      () => parseFieldSelector('spec.hostname=x', supported),
      (err: unknown) => err instanceof ApiError && err.code === 400 && err.message === 'field label not supported: spec.hostname',
    );
  });
});
