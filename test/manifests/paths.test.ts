/** Reference checks, path patterns and branch names: table tests. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compilePattern, isValidBranchName, isYamlName, joinReference, normalizeReference, referenceProblem } from '../../agent/manifests/paths.ts';

describe('referenceProblem', () => {
  const table: [string, string | undefined][] = [
    ['values.yaml', undefined],
    ['./a/b.yaml', undefined],
    ['a//b/', undefined],
    ['a/.hidden/b', undefined],
    ['a..b/c', undefined],
    ['', 'must not be empty'],
    ['/etc/passwd', 'must be relative to the repository root, not absolute'],
    ['~/x', 'must be relative to the repository root, not absolute'],
    ['C:/x', 'must be relative to the repository root, not absolute'],
    ['a\\b', 'must use "/" as the separator'],
    ['..', 'must not contain ".." segments'],
    ['a/../../b', 'must not contain ".." segments'],
    ['a/..', 'must not contain ".." segments'],
    ['a\u0000b', 'must not contain control characters'],
    ['a\nb', 'must not contain control characters'],
  ];
  for (const [ref, want] of table) test(JSON.stringify(ref), () => assert.equal(referenceProblem(ref), want));
});

describe('normalizeReference and joinReference', () => {
  const table: [string, string][] = [
    ['./a//b/', 'a/b'],
    ['.', ''],
    ['a/./b', 'a/b'],
  ];
  for (const [ref, want] of table) test(JSON.stringify(ref), () => assert.equal(normalizeReference(ref), want));
  test('joins a folder and a reference', () => {
    assert.equal(joinReference('prod/tidb', './values.yaml'), 'prod/tidb/values.yaml');
    assert.equal(joinReference('', 'values.yaml'), 'values.yaml');
  });
});

describe('compilePattern', () => {
  const table: { pattern: string; base: string; covers: string[]; misses: string[] }[] = [
    { pattern: 'prod', base: 'prod', covers: ['prod/a.yaml', 'prod/x/y/z.yml', 'prod'], misses: ['production/a.yaml', 'staging/prod/a.yaml', 'prod.yaml'] },
    { pattern: 'prod/', base: 'prod', covers: ['prod/a.yaml'], misses: ['prodx/a.yaml'] },
    { pattern: 'prod/**', base: 'prod', covers: ['prod/a.yaml', 'prod/x/y.yaml'], misses: ['staging/a.yaml'] },
    { pattern: 'clusters/*/prod', base: 'clusters', covers: ['clusters/eu/prod/a.yaml', 'clusters/us/prod/x/b.yaml'], misses: ['clusters/prod/a.yaml', 'clusters/eu/x/prod/a.yaml'] },
    { pattern: '**/prod/*.yaml', base: '', covers: ['prod/a.yaml', 'x/y/prod/b.yaml'], misses: ['prod/a.yml', 'prod/x/a.yaml'] },
    { pattern: 'env-?', base: '', covers: ['env-a/x.yaml'], misses: ['env-ab/x.yaml', 'env-/x.yaml'] },
    { pattern: 'a.b+c(d)', base: 'a.b+c(d)', covers: ['a.b+c(d)/x.yaml'], misses: ['aXb+c(d)/x.yaml'] },
    { pattern: '.', base: '', covers: ['anything.yaml', 'a/b/c.yaml'], misses: [] },
    { pattern: 'prod/db.yaml', base: 'prod/db.yaml', covers: ['prod/db.yaml'], misses: ['prod/db.yaml.bak', 'prod/cache.yaml'] },
  ];
  for (const { pattern, base, covers, misses } of table) {
    test(pattern, () => {
      const compiled = compilePattern(pattern);
      assert.equal(compiled.base, base);
      for (const path of covers) assert.ok(compiled.covers(path), `${pattern} should cover ${path}`);
      for (const path of misses) assert.ok(!compiled.covers(path), `${pattern} should not cover ${path}`);
    });
  }
});

describe('isValidBranchName', () => {
  const valid = ['rollgate/status', 'main', 'feature/x-1', 'a.b'];
  const invalid = ['', 'rollgate status', 'a..b', '/a', 'a/', 'a.', '-a', 'a.lock', 'a/.b', 'a~b', 'a^b', 'a:b', 'a?b', 'a*b', 'a[b', 'a\\b', 'a@{b', '@', 'a//b'];
  for (const name of valid) test(`${JSON.stringify(name)} is valid`, () => assert.equal(isValidBranchName(name), true));
  for (const name of invalid) test(`${JSON.stringify(name)} is not`, () => assert.equal(isValidBranchName(name), false));
});

test('isYamlName', () => {
  assert.deepEqual(['a.yaml', 'a.yml', 'a.json', 'a.yaml.bak', 'yaml'].map(isYamlName), [true, true, false, false, false]);
});
