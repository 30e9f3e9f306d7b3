/**
 * The audit trail of a real rollout: a rollgate repository in a local bare
 * remote, a TidbCluster running its old version in kube-sim, a commit by a
 * named author that bumps the version, the executor rolling it out with the
 * Git status writer as its reporter, and then the real CLI,
 * `node agent/cli/main.ts audit --repo <remote> --format json`, as a child
 * process. It must name the version change (from → to), its author and
 * commit, and the rollout's outcome and duration as the status recorded
 * them. A second bump to a TiKV image that never becomes Ready must show as
 * halted, with the reason.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { loadRepository } from '../../agent/manifests/index.ts';
import type { AuditReport } from '../../agent/report/audit/index.ts';
import { createGitStatusReporter, type GitStatusReporter } from '../../agent/report/git/index.ts';
import type { Reporter } from '../../agent/rollout/reporter.ts';
import { namespace, simConfig, startRolloutFixture, tidbCluster, type RolloutFixture } from '../rollout/helpers.ts';
import { checkout, commitAll, git, gitEnv, tempDir, writeText } from './helpers.ts';

const ann = { name: 'Ann Admin', email: 'ann@example.com' };
const alice = { name: 'Alice Ops', email: 'alice@example.com' };
const bob = { name: 'Bob Dev', email: 'bob@example.com' };
const target = 'sim/db/TidbCluster/basic';
const manifest = 'manifests/tidb.yaml';

/** Runs the CLI as a user would, in a child process; resolves with its exit code and output. */
function cli(args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(checkout, 'agent/cli/main.ts'), ...args], { cwd: checkout, env, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('rollgate audit after a rollout in kube-sim', () => {
  let root: string;
  let remove: () => Promise<void>;
  let env: NodeJS.ProcessEnv;
  let work: string;
  let remote: string;
  let r: RolloutFixture;
  let status: GitStatusReporter;
  let reporter: Reporter;
  const sha = { initial: '', bump: '', broken: '' };

  before(async () => {
    ({ dir: root, remove } = await tempDir('audit-rollout'));
    env = gitEnv(root);
    r = await startRolloutFixture({ images: { images: [{ match: 'pingcap/tikv:v8.1.1', neverReady: true }] } });

    // The repository: one cluster, one TidbCluster at v7.5.1, committed by Ann and cloned bare as the remote.
    work = join(root, 'work');
    await writeText(work, 'rollgate.yaml', simConfig().replace('progressDeadline: 5m', 'progressDeadline: 3m'));
    await writeText(work, 'manifests/ns.yaml', namespace('db'));
    await writeText(work, manifest, tidbCluster('basic', 'db', 'v7.5.1'));
    git(work, ['init', '--quiet', '--initial-branch=main'], env);
    sha.initial = commitAll(work, env, ann, '2024-05-01T10:00:00Z', 'TiDB at v7.5.1');
    remote = join(root, 'remote.git');
    git(root, ['clone', '--bare', '--quiet', work, remote], env);
    git(work, ['remote', 'add', 'origin', remote], env);

    // The cluster runs what the initial commit says.
    const initial = await loadRepository(work);
    assert.equal(initial.valid, true, initial.problems.map((p) => p.message).join('\n'));
    await r.install(initial);

    // The agent's status writer, fed every transition the executor reports.
    status = createGitStatusReporter({
      repoUrl: remote,
      workDir: join(root, 'agent'),
      mode: { mode: 'branch', branch: 'rollgate/status' },
      author: { name: 'rollgate', email: 'rollgate@example.com' },
      env,
      logger: pino({ level: 'silent' }),
    });
    reporter = {
      report: async (t) => {
        await r.reporter.report(t);
        await status.report(t);
      },
    };
  });
  after(async () => {
    await status.close();
    await r.close();
    await remove();
  });

  /** Commits a new version by `who`, pushes it, and rolls it out from what that commit says. */
  async function bumpAndRoll(version: string, who: typeof alice, date: string): Promise<{ commit: string; outcome: string | undefined; since: number }> {
    await writeText(work, manifest, tidbCluster('basic', 'db', version));
    const commit = commitAll(work, env, who, date, `TiDB to ${version}`);
    git(work, ['push', '--quiet', 'origin', 'main'], env);
    const desired = await loadRepository(work);
    assert.equal(desired.valid, true, desired.problems.map((p) => p.message).join('\n'));
    const since = r.reporter.transitions.length;
    const outcomes = await r.executor({ reporter }).apply({ targets: desired.targets, source: commit });
    await status.flush();
    return { commit, outcome: outcomes.get(target), since };
  }

  async function audit(): Promise<AuditReport> {
    const result = await cli(['audit', '--repo', remote, '--format', 'json'], env);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    return JSON.parse(result.stdout) as AuditReport;
  }

  test('lists the version change with its author and commit, and the rollout that succeeded, with its duration', async () => {
    const { commit, outcome, since } = await bumpAndRoll('v8.1.0', alice, '2024-05-02T09:00:00Z');
    sha.bump = commit;
    assert.equal(outcome, 'succeeded');
    const transitions = r.reporter.transitions.slice(since);
    const first = transitions[0];
    const last = transitions.at(-1);
    assert.equal(last?.phase, 'Succeeded');

    const report = await audit();
    assert.equal(report.head, sha.bump);
    assert.deepEqual(report.status, { mode: 'branch', branch: 'rollgate/status', found: true });
    const tidb = report.targets.find((t) => t.id === target);
    assert.ok(tidb, `the audit lists ${target}: ${report.targets.map((t) => t.id).join(', ')}`);
    const change = tidb.changes.find((c) => c.commit === sha.bump);
    assert.ok(change, `the audit lists commit ${sha.bump}`);
    assert.deepEqual(change.author, alice);
    assert.equal(change.date, '2024-05-02T09:00:00+00:00');
    assert.deepEqual(change.versions, ['pd', 'tikv', 'tidb'].map((component) => ({ component, from: 'v7.5.1', to: 'v8.1.0' })));
    // The initial commit is listed too, with no rollout: the cluster was installed, not rolled.
    assert.deepEqual(tidb.changes.map((c) => [c.commit, c.rollout?.outcome ?? null]), [[sha.initial, null], [sha.bump, 'Succeeded']]);

    const rollout = change.rollout;
    assert.ok(rollout);
    assert.equal(rollout.source, sha.bump);
    assert.equal(rollout.outcome, 'Succeeded');
    assert.deepEqual(rollout.halts, []);
    assert.equal(rollout.transitions, transitions.length, 'one status commit per transition');
    // Start and finish are the executor's own timestamps (simulated time), so the duration is theirs.
    assert.equal(Date.parse(rollout.startedAt), Date.parse(first?.startedAt ?? ''));
    assert.equal(Date.parse(rollout.finishedAt ?? ''), Date.parse(last?.finishedAt ?? ''));
    const expected = Math.round((Date.parse(last?.finishedAt ?? '') - Date.parse(first?.startedAt ?? '')) / 1000);
    assert.ok(expected > 0, `the rollout took time: ${expected} s`);
    assert.equal(rollout.durationSeconds, expected);
  });

  test('lists a rollout whose TiKV image never becomes Ready as halted, with the reason', async () => {
    assert.notEqual(sha.bump, '', 'runs after the successful rollout');
    const { commit, outcome, since } = await bumpAndRoll('v8.1.1', bob, '2024-05-03T09:00:00Z');
    sha.broken = commit;
    assert.equal(outcome, 'halted');
    const halted = r.reporter.transitions.slice(since).at(-1);
    assert.equal(halted?.phase, 'Halted');

    const report = await audit();
    const tidb = report.targets.find((t) => t.id === target);
    assert.ok(tidb);
    const change = tidb.changes.find((c) => c.commit === sha.broken);
    assert.ok(change, `the audit lists commit ${sha.broken}`);
    assert.deepEqual(change.author, bob);
    assert.deepEqual(change.versions, ['pd', 'tikv', 'tidb'].map((component) => ({ component, from: 'v8.1.0', to: 'v8.1.1' })));
    const rollout = change.rollout;
    assert.ok(rollout);
    assert.equal(rollout.outcome, 'Halted');
    assert.equal(rollout.halts.length, 1);
    const halt = rollout.halts[0];
    assert.equal(halt?.code, 'deadline');
    assert.match(halt?.message ?? '', /tikv did not finish within its progress deadline \(180 s\): waiting for basic-tikv-2 to be Ready/);
    assert.ok((rollout.durationSeconds ?? 0) >= 180, `halted after the 180 s deadline: ${String(rollout.durationSeconds)} s`);
    // The earlier rollout is still reported as it was.
    assert.equal(tidb.changes.find((c) => c.commit === sha.bump)?.rollout?.outcome, 'Succeeded');
  });
});
