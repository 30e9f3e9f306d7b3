/**
 * `rollgate run --once` end to end, as a pipeline runs it: a real Git
 * remote, kube-sim, the CLI as a child process. Exit 0 when the cluster
 * matches Git, 3 when a rollout halted, 1 for an invalid revision (with
 * file:line and nothing changed in the cluster).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadRepository } from '../../agent/manifests/index.ts';
import { createTestRepository, run, testGitEnv, type TestRepository } from '../helpers/git-server.ts';
import { runCommand } from '../helpers/sim.ts';
import { startControllerFixture, type ControllerFixture } from '../sim/controllers/helpers.ts';
import { statefulSetManifest } from '../helpers/manifests.ts';

const config = (deadline = '5m') => `apiVersion: rollgate.dev/v1alpha1
kind: Config
clusters:
  - name: sim
    paths: [manifests]
defaults:
  progressDeadline: ${deadline}
  gates:
    - podReady: {}
    - rolloutStatus: {}
`;

const statefulSet = (image: string): string => statefulSetManifest({ name: 'web', namespace: 'apps', image, replicas: 3 });

describe('rollgate run --once', () => {
  let f: ControllerFixture;
  let root: string;
  let repo: TestRepository;
  let dataDir: string;

  before(async () => {
    f = await startControllerFixture({ clusters: ['sim'], images: { images: [{ match: 'example/web:broken', neverReady: true }] } });
    root = await mkdtemp(join(tmpdir(), 'rollgate-run-once-'));
    dataDir = join(root, 'data');
    repo = await createTestRepository(root);
    await repo.write({ 'rollgate.yaml': config(), 'manifests/ns.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n', 'manifests/web.yaml': statefulSet('example/web:v1') });
    await repo.commit('web v1');
    await repo.push();
    const installed = await loadRepository(repo.workDir);
    const report = f.sim.load('sim', [...installed.resources.map((r) => r.object), ...installed.targets.map((t) => t.object)] as never);
    assert.deepEqual(report.errors, []);
    await f.ok(['--context', 'sim', 'rollout', 'status', 'sts/web', '-n', 'apps', '--timeout=30s']);
  });
  after(async () => {
    await f.close();
    await rm(root, { recursive: true, force: true });
  });

  const runOnce = () =>
    runCommand(process.execPath, ['agent/cli/main.ts', 'run', '--once', '--repo', repo.bareDir, '--kubeconfig', f.kubeconfigPath], {
      env: { ...testGitEnv(), ROLLGATE_DATA_DIR: dataDir, ROLLGATE_LISTEN: '', ROLLGATE_LOG_LEVEL: 'info' },
      timeoutMs: 120_000,
    });
  const images = async () => (await f.ok(['--context', 'sim', 'get', 'pods', '-n', 'apps', '-o', 'jsonpath={range .items[*]}{.spec.containers[0].image} {end}'])).trim().split(' ').sort();

  it('rolls a pushed change out, writes status commits, and exits 0 once the cluster matches Git', async () => {
    await repo.write({ 'manifests/web.yaml': statefulSet('example/web:v2') });
    const commit = await repo.commit('web v2');
    await repo.push();
    const result = await runOnce();
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(await images(), ['example/web:v2', 'example/web:v2', 'example/web:v2']);
    const log = await run('git', ['--git-dir', repo.bareDir, 'log', '--format=%(trailers:key=Rollgate-Phase,valueonly,separator=)|%(trailers:key=Rollgate-Source,valueonly,separator=)', 'rollgate/status']);
    const phases = log.trim().split('\n').reverse();
    assert.ok(phases.includes(`Progressing|${commit}`), log);
    assert.equal(phases.at(-1), `Succeeded|${commit}`);
    assert.doesNotMatch(result.stderr, /"level":(50|60)/, 'no error was logged');
  });

  it('does nothing and exits 0 when Git has not moved', async () => {
    const before = f.sim.runtime('sim').events.lastSeq;
    const result = await runOnce();
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(f.sim.runtime('sim').events.list({ since: before, kind: 'Pod', types: ['PodTerminating'] }), []);
  });

  it('exits 1 for an invalid revision, naming the file and line, and changes nothing', async () => {
    await repo.write({ 'manifests/web.yaml': statefulSet('example/web:v3').replace('replicas: 3', 'replicas: three') });
    await repo.commit('web v3, broken');
    await repo.push();
    const before = f.sim.runtime('sim').events.lastSeq;
    const result = await runOnce();
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /manifests\/web\.yaml:7:\d+: /);
    assert.deepEqual(f.sim.runtime('sim').events.list({ since: before, kind: 'Pod', types: ['PodTerminating'] }), []);
    assert.deepEqual(await images(), ['example/web:v2', 'example/web:v2', 'example/web:v2']);
  });

  it('exits 3 when a rollout halts', async () => {
    await repo.write({ 'rollgate.yaml': config('3s'), 'manifests/web.yaml': statefulSet('example/web:broken') });
    await repo.commit('web broken image');
    await repo.push();
    const result = await runOnce();
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stderr, /"outcomes":\{"sim\/apps\/StatefulSet\/web":"halted"\}/);
  });

  it('refuses a bad configuration with where the value came from', async () => {
    const result = await runCommand(process.execPath, ['agent/cli/main.ts', 'run', '--once', '--repo', repo.bareDir, '--interval', 'soon'], { env: { ...testGitEnv(), ROLLGATE_CONCURRENCY: 'many' } });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /rollgate run: --interval: "soon" is not a duration/);
    assert.match(result.stderr, /rollgate run: ROLLGATE_CONCURRENCY: "many" is not a whole number from 1 to 1000/);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  });
});
