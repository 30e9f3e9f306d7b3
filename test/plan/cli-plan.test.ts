/**
 * `rollgate plan` against kube-sim loaded with examples-repo, as a user runs
 * it: a version bump of the staging TidbCluster lists stages pd, tikv, tidb
 * with their pods in restart order and exits 0; a downgrade is refused with
 * a non-zero exit; bad input gets one clear line and no stack trace.
 */
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { clusterObjects } from '../../agent/manifests/index.ts';
import type { Plan } from '../../agent/plan/index.ts';
import { eventually, runCommand, type KubectlResult } from '../helpers/sim.ts';
import { startControllerFixture, type ControllerFixture } from '../sim/controllers/helpers.ts';
import { examplesRepo } from './helpers.ts';

const main = new URL('../../agent/cli/main.ts', import.meta.url).pathname;
const gitEnv = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 'Ada', GIT_AUTHOR_EMAIL: 'ada@example.com', GIT_COMMITTER_NAME: 'Ada', GIT_COMMITTER_EMAIL: 'ada@example.com' };

describe('rollgate plan against kube-sim', () => {
  let f: ControllerFixture;
  let dir: string;
  const plan = (args: readonly string[], cwd?: string): Promise<KubectlResult> => runCommand(process.execPath, [main, 'plan', '--kubeconfig', f.kubeconfigPath, ...args], { env: { ...gitEnv, ...(cwd !== undefined ? {} : {}) } });
  const repoWith = async (name: string, edit?: (text: string) => string): Promise<string> => {
    const repo = join(dir, name);
    await cp(examplesRepo, repo, { recursive: true });
    if (edit !== undefined) {
      const file = join(repo, 'staging/tidb/tidb-cluster.yaml');
      await writeFile(file, edit(await readFile(file, 'utf8')));
    }
    return repo;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-plan-cli-'));
    f = await startControllerFixture({ clusters: ['staging', 'prod'] });
    const { clusters } = await clusterObjects(examplesRepo);
    for (const { name, objects } of clusters) {
      const report = f.sim.load(name, objects);
      assert.deepEqual(report.errors, []);
    }
    await eventually(async () => {
      const pods = await f.kubectl(['--context', 'staging', 'get', 'pods', '-n', 'tidb', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.status.phase} {end}']);
      assert.equal(pods.stdout.trim().split(' ').filter((p) => p.endsWith('=Running')).length, 8, pods.stdout);
    }, 30_000);
  });
  after(async () => {
    await f.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists pd, tikv and tidb with their pods, highest ordinal first, after a version bump, and exits 0', async () => {
    const repo = await repoWith('bump', (t) => t.replace('version: v7.5.1', 'version: v8.1.0'));
    const json = await plan(['--repo', repo, '--format', 'json']);
    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout) as Plan;
    assert.deepEqual(
      parsed.targets.map((t) => [t.kind, t.namespace, t.name]),
      [['TidbCluster', 'tidb', 'tidb']],
    );
    assert.deepEqual(
      parsed.targets[0]?.stages.map((s) => [s.component, s.from, s.to, s.pods]),
      [
        ['pd', 'v7.5.1', 'v8.1.0', ['tidb-pd-2', 'tidb-pd-1', 'tidb-pd-0']],
        ['tikv', 'v7.5.1', 'v8.1.0', ['tidb-tikv-2', 'tidb-tikv-1', 'tidb-tikv-0']],
        ['tidb', 'v7.5.1', 'v8.1.0', ['tidb-tidb-1', 'tidb-tidb-0']],
      ],
    );
    for (const stage of parsed.targets[0]?.stages ?? []) assert.ok(stage.gates.length > 0, `${stage.component} has gates`);
    assert.ok(Array.isArray(parsed.targets[0]?.warnings));

    const text = await plan(['--repo', repo]);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /stage 1: pd {2}v7\.5\.1 → v8\.1\.0.*\n {4}pods: {2}tidb-pd-2, tidb-pd-1, tidb-pd-0\n/);
    const markdown = await plan(['--repo', repo, '--format', 'markdown']);
    assert.match(markdown.stdout, /\| 1 \| pd \| v7\.5\.1 → v8\.1\.0 \| `tidb-pd-2`, `tidb-pd-1`, `tidb-pd-0` \|/);
    // Same inputs, same bytes.
    assert.equal((await plan(['--repo', repo, '--format', 'json'])).stdout, json.stdout);
  });

  it('reports a downgrade as refused and exits non-zero', async () => {
    const repo = await repoWith('downgrade', (t) => t.replace('version: v7.5.1', 'version: v7.1.0'));
    const result = await plan(['--repo', repo, '--format', 'json']);
    assert.equal(result.code, 3);
    const parsed = JSON.parse(result.stdout) as Plan;
    assert.equal(parsed.targets[0]?.action, 'refused');
    assert.match(parsed.targets[0]?.refusal ?? '', /downgrades, which policy denies/);
    assert.deepEqual(
      parsed.targets[0]?.warnings.map((w) => w.code),
      ['downgrade', 'downgrade', 'downgrade'],
    );
    assert.match(result.stderr, /1 target refused/);
  });

  it('plans an unchanged repository as no changes', async () => {
    const result = await plan(['--repo', await repoWith('same')]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'No changes: the clusters match Git (9 targets).\n');
  });

  it('plans a Git URL at a ref, and records the commit', async () => {
    const work = await repoWith('git-work');
    const git = (args: string[], cwd = work) => runCommand('git', ['-C', cwd, ...args], { env: gitEnv });
    assert.equal((await git(['init', '--quiet', '--initial-branch', 'main'])).code, 0);
    await git(['add', '-A']);
    await git(['commit', '--quiet', '-m', 'clusters']);
    await git(['checkout', '--quiet', '-b', 'upgrade']);
    const file = join(work, 'staging/tidb/tidb-cluster.yaml');
    await writeFile(file, (await readFile(file, 'utf8')).replace('version: v7.5.1', 'version: v7.5.2'));
    await git(['commit', '--quiet', '-am', 'staging: TiDB v7.5.2']);
    const head = (await git(['rev-parse', 'HEAD'])).stdout.trim();
    await git(['checkout', '--quiet', 'main']);
    const bare = join(dir, 'remote.git');
    assert.equal((await runCommand('git', ['clone', '--quiet', '--bare', work, bare], { env: gitEnv })).code, 0);

    const fromUrl = await plan(['--repo', `file://${bare}`, '--ref', 'upgrade', '--format', 'json']);
    assert.equal(fromUrl.code, 0, fromUrl.stderr);
    const parsed = JSON.parse(fromUrl.stdout) as Plan;
    assert.equal(parsed.source, head);
    assert.deepEqual(
      parsed.targets[0]?.stages.map((s) => s.to),
      ['v7.5.2', 'v7.5.2', 'v7.5.2'],
    );
    // A local repository at a ref: the working tree (on main) is not what is planned.
    const fromDir = await plan(['--repo', work, '--ref', 'upgrade', '--format', 'json']);
    assert.equal(fromDir.code, 0, fromDir.stderr);
    assert.equal((JSON.parse(fromDir.stdout) as Plan).targets[0]?.stages[0]?.to, 'v7.5.2');
    assert.equal((await git(['status', '--porcelain'])).stdout, '', 'the repository is left as it was');

    const missing = await plan(['--repo', work, '--ref', 'no-such-branch']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /has no revision "no-such-branch"/);
  });

  it('--context plans one cluster of the repository', async () => {
    const repo = await repoWith('context', (t) => t.replace('version: v7.5.1', 'version: v8.1.0'));
    const prodOnly = await plan(['--repo', repo, '--context', 'prod']);
    assert.equal(prodOnly.code, 0);
    assert.match(prodOnly.stdout, /^No changes: the clusters match Git \(5 targets\)\.\n$/);
    const unknown = await plan(['--repo', repo, '--context', 'qa']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /--context qa names no cluster of rollgate\.yaml \(staging, prod\)/);
  });

  it('bad input gets one clear line, never a stack trace', async () => {
    const invalid = await repoWith('invalid', (t) => t.replace('  pd:\n', '  pd:\n    replicas: many\n'));
    const cases: { args: string[]; code: number; says: RegExp }[] = [
      { args: ['--repo', invalid], code: 1, says: /staging\/tidb\/tidb-cluster\.yaml:\d+:\d+: .*replicas[\s\S]*not a valid rollgate repository \(\d+ problems?\); nothing was planned/ },
      { args: ['--repo', await repoWith('fmt'), '--format', 'yaml'], code: 2, says: /unknown format "yaml"; use text, markdown or json/ },
      { args: ['--repo=-oops'], code: 1, says: /"-oops" is not a repository path or URL/ },
      { args: ['--repo', join(dir, 'nowhere')], code: 1, says: /is neither a directory nor a Git URL/ },
      { args: ['--repo', 'ext::sh -c touch% /tmp/pwned'], code: 1, says: /neither a directory nor a Git URL/ },
      { args: ['--repo', await repoWith('x'), '--bogus'], code: 2, says: /Unknown option '--bogus'/ },
    ];
    for (const c of cases) {
      const result = await plan(c.args);
      assert.equal(result.code, c.code, `${c.args.join(' ')}: ${result.stderr}`);
      assert.match(result.stdout + result.stderr, c.says);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    }
  });

  it('a cluster that cannot be reached, or a context the kubeconfig lacks, is named with what to check', async () => {
    const repo = await repoWith('unreachable');
    const kubeconfig = (await readFile(f.kubeconfigPath, 'utf8')).replace(/server: https:\/\/127\.0\.0\.1:\d+/g, 'server: https://127.0.0.1:1');
    const broken = join(dir, 'broken-kubeconfig');
    await writeFile(broken, kubeconfig);
    const down = await runCommand(process.execPath, [main, 'plan', '--repo', repo, '--kubeconfig', broken], { env: gitEnv });
    assert.equal(down.code, 1);
    assert.match(down.stderr, /listing TidbCluster in namespace \w[\w-]* of cluster "(staging|prod)" \(context \1, https:\/\/127\.0\.0\.1:1\/clusters\/\1\) failed/);
    assert.doesNotMatch(down.stderr, /\n\s+at /);

    const wrongToken = join(dir, 'token-kubeconfig');
    await writeFile(wrongToken, (await readFile(f.kubeconfigPath, 'utf8')).replace(/token: .*/g, 'token: not-the-token'));
    const refused = await runCommand(process.execPath, [main, 'plan', '--repo', repo, '--kubeconfig', wrongToken], { env: gitEnv });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /HTTP 401\): the credentials were refused, check the kubeconfig/);
    assert.doesNotMatch(refused.stderr, /not-the-token/);

    const qa = await repoWith('qa');
    await writeFile(join(qa, 'rollgate.yaml'), (await readFile(join(qa, 'rollgate.yaml'), 'utf8')).replace('- name: staging ', '- name: qa ').replace('dependsOn: [staging]', 'dependsOn: [qa]'));
    const noContext = await plan(['--repo', qa]);
    assert.equal(noContext.code, 1, noContext.stdout + noContext.stderr);
    assert.match(noContext.stderr, /the kubeconfig has no context "qa" for cluster "qa" of rollgate\.yaml: add it, or name the context with --context/);
  });
});
