/**
 * The status writer on a status branch of a local bare remote: files and
 * commits with exact trailers, an orphan branch that leaves `main` alone,
 * one commit per transition even when reported twice or after a restart,
 * and a concurrent writer whose commit is kept (never a forced push).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { createGitStatusReporter, type GitStatusReporter } from '../../agent/report/git/index.ts';
import { memoryLogger, commitAll, examplesRemote, git, gitEnv, tempDir, testClock, tidbStages, tidbTransition, writeText } from './helpers.ts';

const bot = { name: 'rollgate', email: 'rollgate@example.com' };
const ann = { name: 'Ann Admin', email: 'ann@example.com' };

describe('status branch', () => {
  let root: string;
  let remove: () => Promise<void>;
  let env: NodeJS.ProcessEnv;
  let remote: string;
  let source: string;
  let mainBefore: string;

  before(async () => {
    ({ dir: root, remove } = await tempDir('status-branch'));
    env = gitEnv(root);
    const repo = await examplesRemote(root, env, ann, '2024-05-01T10:00:00Z');
    remote = repo.remote;
    source = repo.initial;
    // The remote refuses forced updates, as a protected branch would: a forced push would fail this test.
    git(remote, ['config', 'receive.denyNonFastForwards', 'true'], env);
    git(remote, ['config', 'receive.denyDeletes', 'true'], env);
    mainBefore = git(remote, ['rev-parse', 'refs/heads/main'], env);
  });
  after(() => remove());

  const reporter = (workDir: string, log = memoryLogger(), now = '2024-05-02T09:10:00Z'): GitStatusReporter =>
    createGitStatusReporter({
      repoUrl: remote,
      workDir: join(root, workDir),
      mode: { mode: 'branch', branch: 'rollgate/status' },
      author: bot,
      env,
      clock: testClock(now),
      logger: log.logger,
      backoff: { baseMs: 5, maxMs: 20 },
    });

  const log = (ref: string, format: string): string[] => git(remote, ['log', `--format=${format}`, ref], env).split('\n').filter((l) => l !== '');

  test('transitions become one commit each on an orphan branch, with the file and exact trailers', async () => {
    const r = reporter('agent-1');
    await r.report(tidbTransition(source, { phase: 'Pending', stage: undefined, step: undefined, stages: tidbStages({}), at: '2024-05-02T09:00:00Z', message: 'Planned: pd, tikv, tidb to v7.5.2.' }));
    await r.report(tidbTransition(source, { phase: 'Progressing', stage: 'pd', step: 0, stages: tidbStages({ pd: 'running' }), at: '2024-05-02T09:01:00Z', message: 'Restarting pd-2.' }));
    await r.report(tidbTransition(source));
    await r.flush();
    await r.close();

    const subjects = log('rollgate/status', '%s');
    assert.deepEqual(subjects, [
      'staging/tidb/TidbCluster/tidb: Progressing tikv (step 2/3)',
      'staging/tidb/TidbCluster/tidb: Progressing pd (step 1/3)',
      'staging/tidb/TidbCluster/tidb: Pending',
    ]);
    // An orphan branch: its root commit has no parent, and main did not move.
    assert.equal(git(remote, ['rev-list', '--max-parents=0', 'rollgate/status'], env).split('\n').length, 1);
    assert.throws(() => git(remote, ['merge-base', 'main', 'rollgate/status'], env), /failed \(1\)/);
  });

  test('the last commit has exactly these trailers, author and dates', () => {
    const body = git(remote, ['log', '-1', '--format=%B', 'rollgate/status'], env);
    assert.equal(
      body,
      [
        'staging/tidb/TidbCluster/tidb: Progressing tikv (step 2/3)',
        '',
        'Restarting tikv-1.',
        '',
        'Rollgate-Target: staging/tidb/TidbCluster/tidb',
        `Rollgate-Source: ${source}`,
        'Rollgate-Plan: plan-1',
        'Rollgate-Phase: Progressing',
        'Rollgate-Stage: tikv',
        'Rollgate-Step: 2/3',
        '',
      ].join('\n'),
    );
    // git's own trailer parser agrees.
    assert.equal(
      git(remote, ['log', '-1', '--format=%(trailers:only,unfold)', 'rollgate/status'], env),
      [
        'Rollgate-Target: staging/tidb/TidbCluster/tidb',
        `Rollgate-Source: ${source}`,
        'Rollgate-Plan: plan-1',
        'Rollgate-Phase: Progressing',
        'Rollgate-Stage: tikv',
        'Rollgate-Step: 2/3',
        '',
      ].join('\n'),
    );
    assert.equal(git(remote, ['log', '-1', '--format=%an <%ae>|%aI|%cn|%cI', 'rollgate/status'], env), 'rollgate <rollgate@example.com>|2024-05-02T09:03:00+00:00|rollgate|2024-05-02T09:10:00+00:00');
    assert.equal(git(remote, ['rev-parse', 'refs/heads/main'], env), mainBefore);
  });

  test('the status file holds phase, source, plan, stages, times and the rollout so far', () => {
    assert.deepEqual(git(remote, ['ls-tree', '-r', '--name-only', 'rollgate/status'], env).split('\n'), ['staging/tidb/TidbCluster/tidb.yaml']);
    const text = git(remote, ['show', 'rollgate/status:staging/tidb/TidbCluster/tidb.yaml'], env);
    assert.match(text, /^# Status of staging\/tidb\/TidbCluster\/tidb, written by rollgate/);
    const doc = parse(text) as Record<string, unknown>;
    assert.deepEqual(doc, {
      apiVersion: 'rollgate.dev/v1alpha1',
      kind: 'RolloutStatus',
      target: { id: 'staging/tidb/TidbCluster/tidb', cluster: 'staging', namespace: 'tidb', kind: 'TidbCluster', name: 'tidb' },
      source,
      planHash: 'plan-1',
      phase: 'Progressing',
      stage: 'tikv',
      step: 1,
      startedAt: '2024-05-02T09:00:00Z',
      updatedAt: '2024-05-02T09:03:00Z',
      message: 'Restarting tikv-1.',
      stages: tidbStages({ pd: 'done', tikv: 'running' }, { pd: 3, tikv: 1 }),
      transitions: [
        { at: '2024-05-02T09:00:00Z', phase: 'Pending', message: 'Planned: pd, tikv, tidb to v7.5.2.' },
        { at: '2024-05-02T09:01:00Z', phase: 'Progressing', stage: 'pd', step: 0, message: 'Restarting pd-2.' },
        { at: '2024-05-02T09:03:00Z', phase: 'Progressing', stage: 'tikv', step: 1, message: 'Restarting tikv-1.' },
      ],
    });
  });

  test('the same transition reported twice, and again by a fresh reporter (a restart), is committed once', async () => {
    const before = log('rollgate/status', '%H').length;
    const halted = tidbTransition(source, {
      phase: 'Halted',
      at: '2024-05-02T09:20:00Z',
      finishedAt: '2024-05-02T09:20:00Z',
      message: 'tikv-1 did not become Ready within 10m; fix it and run rollgate approve.',
      error: { code: 'progress-deadline', message: 'tikv-1 not Ready after 10m' },
    });
    const first = reporter('agent-1');
    await first.report(halted);
    await first.report(halted);
    await first.flush();
    await first.close();
    assert.equal(log('rollgate/status', '%H').length, before + 1);

    // A restarted agent: another work directory, nothing in memory; it replays the rollout from its first transition.
    const logs = memoryLogger();
    const restarted = reporter('agent-restarted', logs);
    await restarted.report(tidbTransition(source, { phase: 'Pending', stage: undefined, step: undefined, stages: tidbStages({}), at: '2024-05-02T09:00:00Z', message: 'Planned: pd, tikv, tidb to v7.5.2.' }));
    await restarted.report(tidbTransition(source));
    await restarted.report(halted);
    await restarted.flush();
    await restarted.close();
    assert.equal(log('rollgate/status', '%H').length, before + 1);
    assert.equal(logs.lines().filter((e) => e.msg === 'status transition already written; skipped').length, 3);

    const doc = parse(git(remote, ['show', 'rollgate/status:staging/tidb/TidbCluster/tidb.yaml'], env)) as { phase: string; lastError: unknown; finishedAt: string };
    assert.equal(doc.phase, 'Halted');
    assert.equal(doc.finishedAt, '2024-05-02T09:20:00Z');
    assert.deepEqual(doc.lastError, { code: 'progress-deadline', message: 'tikv-1 not Ready after 10m', at: '2024-05-02T09:20:00Z' });
    assert.equal(git(remote, ['log', '-1', '--format=%b', 'rollgate/status'], env), 'tikv-1 did not become Ready within 10m; fix it and run rollgate approve.\n\nError progress-deadline: tikv-1 not Ready after 10m\n\nRollgate-Target: staging/tidb/TidbCluster/tidb\n' + `Rollgate-Source: ${source}\nRollgate-Plan: plan-1\nRollgate-Phase: Halted\nRollgate-Stage: tikv\nRollgate-Step: 2/3\n`);
  });

  test('a stale transition of an older rollout does not overwrite a newer one', async () => {
    const before = log('rollgate/status', '%H').length;
    const r = reporter('agent-1');
    await r.report(tidbTransition(source, { planHash: 'plan-0', phase: 'Superseded', at: '2024-05-02T08:00:00Z' }));
    await r.flush();
    await r.close();
    assert.equal(log('rollgate/status', '%H').length, before);
  });

  test('someone else pushing to the status branch first: the writer fetches, replays on the new tip, both commits kept, never forced', async () => {
    // Agent A writes once so its mirror knows the tip; then a person pushes to the status branch behind its back.
    const logs = memoryLogger();
    const a = reporter('agent-a', logs);
    await a.report(tidbTransition(source, { planHash: 'plan-2', phase: 'Pending', stage: undefined, step: undefined, at: '2024-05-03T10:00:00Z', startedAt: '2024-05-03T10:00:00Z' }));
    await a.flush();
    const aTip = git(remote, ['rev-parse', 'rollgate/status'], env);

    const other = join(root, 'other');
    git(root, ['clone', '--quiet', '--branch', 'rollgate/status', remote, other], env);
    await writeText(other, 'NOTES.md', 'Rollout of plan-2 paused for the weekend.\n');
    const theirs = commitAll(other, env, ann, '2024-05-03T10:01:00Z', 'A note from a person');
    git(other, ['push', '--quiet', 'origin', 'rollgate/status'], env);

    await a.report(tidbTransition(source, { planHash: 'plan-2', phase: 'Progressing', stage: 'pd', step: 0, at: '2024-05-03T10:02:00Z', startedAt: '2024-05-03T10:00:00Z' }));
    await a.flush();
    await a.close();

    const tip = git(remote, ['rev-parse', 'rollgate/status'], env);
    assert.deepEqual(git(remote, ['log', '--format=%H %s', `${aTip}..${tip}`], env).split('\n'), [
      `${tip} staging/tidb/TidbCluster/tidb: Progressing pd (step 1/3)`,
      `${theirs} A note from a person`,
    ]);
    assert.equal(git(remote, ['show', `${tip}:NOTES.md`], env), 'Rollout of plan-2 paused for the weekend.');
    assert.ok(logs.lines().some((e) => e.msg === 'status branch moved; replaying on its new tip'));
  });

  test('a transition written by another agent in the meantime is not written again', async () => {
    const t = tidbTransition(source, { planHash: 'plan-2', phase: 'Progressing', stage: 'tikv', step: 0, at: '2024-05-03T10:05:00Z', startedAt: '2024-05-03T10:00:00Z' });
    const logsB = memoryLogger();
    const a = reporter('agent-a');
    // Another clock, so B's commit differs from A's (identical inputs would give the identical commit, and its push would be a no-op).
    const b = reporter('agent-b', logsB, '2024-05-03T10:06:00Z');
    // B writes first (another target), so its mirror knows a tip that A's commit then leaves behind.
    await b.report({ ...tidbTransition(source, { phase: 'Pending', stage: undefined, step: undefined }), target: 'prod/tidb/TidbCluster/tidb', cluster: 'prod' });
    await b.flush();
    await a.report(t);
    await a.flush();
    await b.report(t);
    await b.flush();
    await Promise.all([a.close(), b.close()]);
    assert.equal(git(remote, ['log', '--format=%s', '--fixed-strings', '--grep=Progressing tikv (step 1/3)', 'rollgate/status'], env), 'staging/tidb/TidbCluster/tidb: Progressing tikv (step 1/3)');
    assert.ok(logsB.lines().some((e) => e.msg === 'status branch moved; replaying on its new tip'), logsB.text());
    assert.ok(logsB.lines().some((e) => e.msg === 'status transition already written; skipped'));
  });

  test('a transition that cannot be written is refused at report(), nothing queued', async () => {
    const r = reporter('agent-1');
    await assert.rejects(r.report(tidbTransition(source, { target: 'staging/../TidbCluster/tidb' })), { name: 'InvalidTransitionError', code: 'invalid-transition' });
    await assert.rejects(r.report(tidbTransition(source, { name: 'other' })), /does not match cluster staging, namespace tidb, kind TidbCluster, name other/);
    await assert.rejects(r.report(tidbTransition('not-a-sha')), /source "not-a-sha" is not a commit id/);
    assert.equal(r.pending(), 0);
    await r.close();
    await assert.rejects(r.report(tidbTransition(source)), { code: 'closed' });
  });
});
