/**
 * `rollgate validate`: the examples repository is valid (as a child process
 * and in-process), the output formats, and the command line's own errors.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { formatGithubAnnotation } from '../../agent/manifests/index.ts';
import { cases } from './corpus/cases.ts';
import { materialize } from './corpus/materialize.ts';
import { checkout, lines, runInProcess, runSpawned, stackTrace, tempDir } from './helpers.ts';

describe('rollgate validate examples-repo', () => {
  test('exits 0 as a child process', () => {
    const run = runSpawned(['validate', 'examples-repo'], checkout);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.equal(run.stdout, '');
    assert.equal(run.stderr, 'examples-repo: valid, 9 targets in 2 clusters\n');
  });

  test('exits 0 in-process', async () => {
    const run = await runInProcess(['validate', 'examples-repo'], checkout);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.equal(run.stdout, '');
  });

  test('prints a JSON report with --format json', async () => {
    const run = await runInProcess(['validate', '--format', 'json', 'examples-repo'], checkout);
    assert.equal(run.code, 0);
    const report = JSON.parse(run.stdout) as { valid: boolean; clusters: string[]; targets: { id: string; source: string }[]; problems: unknown[] };
    assert.equal(report.valid, true);
    assert.deepEqual(report.clusters, ['staging', 'prod']);
    assert.deepEqual(report.problems, []);
    assert.deepEqual(
      report.targets.map((t) => `${t.id} ${t.source}`),
      [
        'prod/etcd/StatefulSet/etcd manifest',
        'prod/redis/Deployment/redis-enterprise-operator manifest',
        'prod/redis/RedisEnterpriseCluster/rec manifest',
        'prod/tidb-analytics/TidbCluster/analytics helm',
        'prod/tidb/TidbCluster/tidb manifest',
        'staging/etcd/StatefulSet/etcd manifest',
        'staging/redis/Deployment/redis-enterprise-operator manifest',
        'staging/redis/RedisEnterpriseCluster/rec manifest',
        'staging/tidb/TidbCluster/tidb manifest',
      ],
    );
  });

  test('validates the current directory when DIR is left out', async () => {
    const run = await runInProcess(['validate'], join(checkout, 'examples-repo'));
    assert.equal(run.code, 0, run.stdout);
    assert.equal(run.stderr, '.: valid, 9 targets in 2 clusters\n');
  });
});

describe('rollgate validate on a broken repository', () => {
  let base: string;
  let remove: () => Promise<void>;
  before(async () => {
    ({ dir: base, remove } = await tempDir('validate-cli'));
    const testCase = cases.find((c) => c.name === 'http-gate-urls');
    assert.ok(testCase);
    await materialize(testCase, join(base, 'repo'));
  });
  after(async () => remove());

  test('prefixes paths with DIR as given', async () => {
    const run = await runInProcess(['validate', 'repo'], base);
    assert.equal(run.code, 1);
    assert.deepEqual(lines(run.stdout), [
      'repo/rollgate.yaml:11:19: defaults.gates[0].http.url: must not contain credentials: gate URLs are written to status commits and pull-request comments',
      'repo/rollgate.yaml:12:19: defaults.gates[1].http.url: unknown placeholder {host}; use {namespace}, {name} or {pod}',
      'repo/rollgate.yaml:13:19: defaults.gates[2].http.url: must be an http:// or https:// URL, not "ftp://example.com/"',
    ]);
    assert.equal(run.stderr, '3 problems in repo\n');
  });

  test('prints GitHub annotations with --format github', async () => {
    const run = await runInProcess(['validate', '--format', 'github', 'repo'], base);
    assert.equal(run.code, 1);
    assert.deepEqual(lines(run.stdout)[1], '::error file=repo/rollgate.yaml,line=12,col=19,title=rollgate validate (invalid-value)::defaults.gates[1].http.url: unknown placeholder {host}; use {namespace}, {name} or {pod}');
  });

  test('prints problems with codes and both paths in JSON', async () => {
    const run = await runInProcess(['validate', '-f', 'json', 'repo'], base);
    assert.equal(run.code, 1);
    const report = JSON.parse(run.stdout) as { valid: boolean; problems: { file: string; path: string; line: number; column: number; code: string }[] };
    assert.equal(report.valid, false);
    assert.deepEqual(report.problems[0], {
      file: 'rollgate.yaml',
      path: 'repo/rollgate.yaml',
      line: 11,
      column: 19,
      code: 'invalid-value',
      message: 'defaults.gates[0].http.url: must not contain credentials: gate URLs are written to status commits and pull-request comments',
    });
  });
});

describe('rollgate validate command line', () => {
  const table: { args: string[]; stderr: RegExp }[] = [
    { args: ['validate', '--format', 'xml', 'examples-repo'], stderr: /^rollgate validate: unknown format "xml"; use text, json or github\n$/ },
    { args: ['validate', 'does-not-exist'], stderr: /^rollgate validate: does-not-exist: no such file or directory\n$/ },
    { args: ['validate', 'package.json'], stderr: /^rollgate validate: package\.json: not a directory\n$/ },
    { args: ['validate', 'a', 'b'], stderr: /^rollgate validate: one directory at a time, got 2\n/ },
    { args: ['validate', '--nope'], stderr: /^rollgate validate: Unknown option '--nope'/ },
  ];
  for (const { args, stderr } of table) {
    test(`${args.slice(1).join(' ')} exits 2 with a one-line reason`, async () => {
      const run = await runInProcess(args, checkout);
      assert.equal(run.code, 2);
      assert.match(run.stderr, stderr);
      assert.doesNotMatch(run.stderr, stackTrace);
    });
  }

  test('--help prints usage and exits 0', async () => {
    const run = await runInProcess(['validate', '--help'], checkout);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /^usage: rollgate validate/);
  });

  test('a usage error as a child process has no stack trace either', () => {
    const run = runSpawned(['validate', 'does-not-exist'], checkout);
    assert.equal(run.code, 2);
    assert.equal(run.stderr, 'rollgate validate: does-not-exist: no such file or directory\n');
  });
});

describe('formatGithubAnnotation', () => {
  const table = [
    {
      problem: { file: 'a,b:c.yaml', line: 1, column: 2, code: 'schema' as const, message: '50% done\nnext line' },
      want: '::error file=a%2Cb%3Ac.yaml,line=1,col=2,title=rollgate validate (schema)::50%25 done%0Anext line',
    },
    { problem: { file: 'x.yaml', line: 3, column: 4, code: 'yaml-syntax' as const, message: 'a: b, c' }, want: '::error file=x.yaml,line=3,col=4,title=rollgate validate (yaml-syntax)::a: b, c' },
  ];
  for (const { problem, want } of table) {
    test(JSON.stringify(problem.message), () => assert.equal(formatGithubAnnotation(problem), want));
  }
});
