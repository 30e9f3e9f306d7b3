/**
 * `rollgate audit` over a real history: two version bumps by different
 * authors (one signed with a fresh GPG key), a README-only commit that is
 * never loaded, a broken manifest reported in its row, and the rollouts the
 * status writer recorded for the bumps (one succeeded, one halted). Then the
 * command's errors: not a repository, no such branch, a bad command line.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { audit, auditCommand } from '../../agent/cli/commands/audit.ts';
import type { CommandIO } from '../../agent/cli/command.ts';
import { runAudit, type AuditReport } from '../../agent/report/audit/index.ts';
import { createGitStatusReporter } from '../../agent/report/git/index.ts';
import type { RolloutTransition } from '../../agent/rollout/reporter.ts';
import { createGpgKey, type TestGpgKey } from '../helpers/git-server.ts';
import { memoryLogger, commitAll, examplesRemote, git, gitEnv, tempDir, testClock, tidbStages, tidbTransition, writeText } from './helpers.ts';

const ann = { name: 'Ann Admin', email: 'ann@example.com' };
const alice = { name: 'Alice Ops', email: 'alice@example.com' };
const bob = { name: 'Bob Dev', email: 'bob@example.com' };
const manifest = 'staging/tidb/tidb-cluster.yaml';

async function runCommand(argv: readonly string[], env: NodeJS.ProcessEnv, cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const sink = (into: string[]): Writable =>
    new Writable({
      write(chunk: Buffer | string, _encoding, callback) {
        into.push(String(chunk));
        callback();
      },
    });
  const io: CommandIO = { stdout: sink(out), stderr: sink(err), env, cwd, stopped: new Promise<void>(() => undefined) };
  const code = await audit(argv, io);
  return { code, stdout: out.join(''), stderr: err.join('') };
}

describe('rollgate audit', () => {
  let root: string;
  let remove: () => Promise<void>;
  let key: TestGpgKey;
  let env: NodeJS.ProcessEnv;
  let remote: string;
  const sha: Record<'initial' | 'bump' | 'readme' | 'broken' | 'fix', string> = { initial: '', bump: '', readme: '', broken: '', fix: '' };

  before(async () => {
    ({ dir: root, remove } = await tempDir('audit'));
    key = await createGpgKey('Alice Ops');
    env = gitEnv(root, { GNUPGHOME: key.home });
    const repo = await examplesRemote(root, env, ann, '2024-05-01T10:00:00Z');
    const work = repo.work;
    remote = repo.remote;
    sha.initial = repo.initial;
    const original = git(work, ['show', `HEAD:${manifest}`], env) + '\n';

    await writeText(work, manifest, original.replace('version: v7.5.1', 'version: v7.5.2'));
    sha.bump = commitAll(work, env, alice, '2024-05-02T09:00:00Z', 'Upgrade staging TiDB to v7.5.2', key.fingerprint);
    await writeText(work, 'README.md', 'A note that is not a manifest.\n');
    sha.readme = commitAll(work, env, ann, '2024-05-02T12:00:00Z', 'Document the repository');
    await writeText(work, manifest, original.replace('version: v7.5.1', 'version: v8.1.0').replace('    replicas: 3\n    maxFailoverCount: 0\n    # Leader', '    replicas: three\n    maxFailoverCount: 0\n    # Leader'));
    sha.broken = commitAll(work, env, bob, '2024-05-03T08:00:00Z', 'Upgrade staging TiDB to v8.1.0 (typo)');
    await writeText(work, manifest, original.replace('version: v7.5.1', 'version: v8.1.0'));
    sha.fix = commitAll(work, env, bob, '2024-05-03T09:00:00Z', 'Fix TiKV replicas');
    git(work, ['push', '--quiet', 'origin', 'main'], env);

    // The agent's status for the two rollouts, written by the status writer itself.
    const reporter = createGitStatusReporter({
      repoUrl: remote,
      workDir: join(root, 'agent'),
      mode: { mode: 'branch', branch: 'rollgate/status' },
      author: { name: 'rollgate', email: 'rollgate@example.com' },
      env,
      clock: testClock('2024-05-04T00:00:00Z'),
      logger: memoryLogger().logger,
    });
    const first = (o: Partial<RolloutTransition>): RolloutTransition => tidbTransition(sha.bump, { startedAt: '2024-05-02T09:01:00Z', ...o });
    await reporter.report(first({ phase: 'Pending', stage: undefined, step: undefined, stages: tidbStages({}), at: '2024-05-02T09:01:00Z', message: 'Planned.' }));
    await reporter.report(first({ phase: 'Progressing', stage: 'pd', step: 0, at: '2024-05-02T09:02:00Z', message: 'Restarting pd-2.' }));
    await reporter.report(
      first({ phase: 'Succeeded', stage: undefined, step: undefined, stages: tidbStages({ pd: 'done', tikv: 'done', tidb: 'done' }), at: '2024-05-02T09:13:30Z', finishedAt: '2024-05-02T09:13:30Z', message: 'All components at v7.5.2.' }),
    );
    const second = (o: Partial<RolloutTransition>): RolloutTransition => tidbTransition(sha.fix, { planHash: 'plan-2', startedAt: '2024-05-03T09:05:00Z', ...o });
    await reporter.report(second({ phase: 'Pending', stage: undefined, step: undefined, at: '2024-05-03T09:05:00Z', message: 'Planned.' }));
    await reporter.report(second({ phase: 'Progressing', at: '2024-05-03T09:10:00Z' }));
    await reporter.report(
      second({
        phase: 'Halted',
        at: '2024-05-03T09:30:00Z',
        finishedAt: '2024-05-03T09:30:00Z',
        message: 'tikv-1 did not become Ready within 10m.',
        error: { code: 'progress-deadline', message: 'tikv-1 not Ready after 10m' },
      }),
    );
    await reporter.flush();
    await reporter.close();
  });
  after(async () => {
    await key.remove();
    await remove();
  });

  test('reports who changed the staging TiDB versions, signed or not, and what each rollout did (JSON)', async () => {
    const { report, stats } = await runAudit({ repo: remote, cwd: root, env });
    // Five commits; the README-only one was never read.
    assert.deepEqual(stats, { commits: 5, loads: 4, statusCommits: 6 });
    assert.equal(report.branch, 'main');
    assert.equal(report.head, sha.fix);
    assert.deepEqual(report.status, { mode: 'branch', branch: 'rollgate/status', found: true });
    assert.deepEqual(report.problems, []);
    const tidb = report.targets.find((t) => t.id === 'staging/tidb/TidbCluster/tidb');
    const all = ['pd', 'tikv', 'tidb'];
    const moves = (from: string | null, to: string) => all.map((component) => ({ component, from, to }));
    const unsigned = { status: 'none', code: 'N', signer: null };
    const succeeded = { source: sha.bump, startedAt: '2024-05-02T09:01:00Z', finishedAt: '2024-05-02T09:13:30Z', durationSeconds: 750, outcome: 'Succeeded', transitions: 3, halts: [] };
    const halted = {
      source: sha.fix,
      startedAt: '2024-05-03T09:05:00Z',
      finishedAt: '2024-05-03T09:30:00Z',
      durationSeconds: 1500,
      outcome: 'Halted',
      transitions: 3,
      halts: [{ at: '2024-05-03T09:30:00Z', stage: 'tikv', step: 1, code: 'progress-deadline', message: 'tikv-1 not Ready after 10m' }],
    };
    assert.deepEqual(tidb, {
      id: 'staging/tidb/TidbCluster/tidb',
      cluster: 'staging',
      namespace: 'tidb',
      kind: 'TidbCluster',
      name: 'tidb',
      changes: [
        { commit: sha.initial, author: ann, date: '2024-05-01T10:00:00+00:00', signature: unsigned, versions: moves(null, 'v7.5.1'), problems: [], rollout: null },
        { commit: sha.bump, author: alice, date: '2024-05-02T09:00:00+00:00', signature: { status: 'good', code: 'G', signer: 'Alice Ops <alice.ops@example.com>' }, versions: moves('v7.5.1', 'v7.5.2'), problems: [], rollout: succeeded },
        {
          commit: sha.broken,
          author: bob,
          date: '2024-05-03T08:00:00+00:00',
          signature: unsigned,
          versions: [],
          problems: ['staging/tidb/tidb-cluster.yaml:31:15: spec.tikv.replicas: must be an integer, not a string'],
          rollout: null,
        },
        { commit: sha.fix, author: bob, date: '2024-05-03T09:00:00+00:00', signature: unsigned, versions: moves('v7.5.2', 'v8.1.0'), problems: [], rollout: halted },
      ],
      rollouts: [succeeded, halted],
    });
    // Every other target changed once, at the first commit, and has no rollout.
    for (const target of report.targets.filter((t) => t.id !== tidb?.id)) {
      assert.deepEqual(
        target.changes.map((c) => c.commit),
        [sha.initial],
        target.id,
      );
      assert.deepEqual(target.rollouts, [], target.id);
    }
  });

  test('prints aligned tables, one block per target, with halts and problems under their rows', async () => {
    const run = await runCommand(['--repo', remote], env, root);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
    const block = run.stdout.split('\n\n').find((b) => b.startsWith('staging/tidb/TidbCluster/tidb\n'));
    const s = (x: string): string => x.slice(0, 7);
    assert.equal(
      block,
      [
        'staging/tidb/TidbCluster/tidb',
        '  COMMIT   DATE                  AUTHOR                         SIGNED  CHANGE                         ROLLOUT    STARTED               DURATION',
        `  ${s(sha.initial)}  2024-05-01 10:00:00Z  Ann Admin <ann@example.com>    no      pd,tikv,tidb: (none) → v7.5.1  -`,
        `  ${s(sha.bump)}  2024-05-02 09:00:00Z  Alice Ops <alice@example.com>  yes     pd,tikv,tidb: v7.5.1 → v7.5.2  Succeeded  2024-05-02 09:01:00Z  12m30s`,
        `  ${s(sha.broken)}  2024-05-03 08:00:00Z  Bob Dev <bob@example.com>      no      invalid manifest               -`,
        '           invalid: staging/tidb/tidb-cluster.yaml:31:15: spec.tikv.replicas: must be an integer, not a string',
        `  ${s(sha.fix)}  2024-05-03 09:00:00Z  Bob Dev <bob@example.com>      no      pd,tikv,tidb: v7.5.2 → v8.1.0  Halted     2024-05-03 09:05:00Z  25m`,
        '           halted 2024-05-03 09:30:00Z in tikv step 2: progress-deadline: tikv-1 not Ready after 10m',
        '',
      ].join('\n'),
    );
    const lines = run.stdout.split('\n');
    assert.equal(lines[0], `${remote}: branch main at ${s(sha.fix)}; status from branch rollgate/status`);
    assert.deepEqual(
      lines.filter((l) => /^[a-z]+\/[^ ]+$/.test(l)),
      [
        'prod/etcd/StatefulSet/etcd',
        'prod/redis/Deployment/redis-enterprise-operator',
        'prod/redis/RedisEnterpriseCluster/rec',
        'prod/tidb-analytics/TidbCluster/analytics',
        'prod/tidb/TidbCluster/tidb',
        'staging/etcd/StatefulSet/etcd',
        'staging/redis/Deployment/redis-enterprise-operator',
        'staging/redis/RedisEnterpriseCluster/rec',
        'staging/tidb/TidbCluster/tidb',
      ],
    );
  });

  test('--format json prints the report, parsed back equal to runAudit', async () => {
    const run = await runCommand(['--repo', remote, '--format', 'json'], env, root);
    assert.equal(run.code, 0, run.stderr);
    const printed = JSON.parse(run.stdout) as AuditReport;
    const { report } = await runAudit({ repo: remote, cwd: root, env });
    assert.deepEqual(printed, JSON.parse(JSON.stringify(report)));
  });

  test('a work tree given by a relative path audits the same, and auditCommand is the same command', async () => {
    assert.equal(auditCommand, audit);
    const run = await runCommand(['--repo', 'work', '--format', 'json', '--branch', 'main'], env, root);
    assert.equal(run.code, 0, run.stderr);
    const printed = JSON.parse(run.stdout) as AuditReport;
    assert.equal(printed.head, sha.fix);
    assert.equal(printed.repository, 'work');
    // The work tree has the status branch only as origin/rollgate/status, once fetched: before, changes without rollouts.
    assert.deepEqual(printed.status, { mode: 'branch', branch: 'rollgate/status', found: false });
    assert.equal(printed.targets.find((t) => t.id === 'staging/tidb/TidbCluster/tidb')?.changes.length, 4);
    git(join(root, 'work'), ['fetch', '--quiet', 'origin'], env);
    const fetched = JSON.parse((await runCommand(['--repo', 'work', '--format', 'json'], env, root)).stdout) as AuditReport;
    assert.deepEqual(fetched.status, { mode: 'branch', branch: 'rollgate/status', found: true });
    assert.deepEqual(
      fetched.targets.find((t) => t.id === 'staging/tidb/TidbCluster/tidb')?.rollouts.map((r) => r.outcome),
      ['Succeeded', 'Halted'],
    );
  });

  test('errors: not a repository, no such directory, no such branch (exit 1, one line, no stack trace)', async () => {
    const plain = join(root, 'plain');
    await mkdir(plain);
    const cases: [readonly string[], string][] = [
      [['--repo', plain], `rollgate audit: ${plain} is not a Git repository\n`],
      [['--repo', 'missing'], 'rollgate audit: missing: no such directory\n'],
      [['--repo', remote, '--branch', 'release'], `rollgate audit: no branch "release" in ${remote}; it has "main", "rollgate/status"\n`],
      [['--repo', 'http://user:pw-secret@127.0.0.1:1/repo.git'], ''],
    ];
    for (const [argv, stderr] of cases) {
      const run = await runCommand(argv, env, root);
      assert.equal(run.code, 1, argv.join(' '));
      assert.equal(run.stdout, '');
      if (stderr !== '') assert.equal(run.stderr, stderr);
      assert.doesNotMatch(run.stderr, /^\s+at /m);
      assert.doesNotMatch(run.stderr, /pw-secret/);
    }
  });

  test('a wrong command line is a usage error', async () => {
    await assert.rejects(runCommand([], env, root), { name: 'UsageError', message: /--repo is required/ });
    await assert.rejects(runCommand(['--repo', remote, '--format', 'yaml'], env, root), { name: 'UsageError', message: 'unknown format "yaml"; use table or json' });
    await assert.rejects(runCommand(['--repo', remote, 'extra'], env, root), { name: 'UsageError' });
    const help = await runCommand(['--help'], env, root);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^usage: rollgate audit --repo DIR\|URL/);
  });
});
