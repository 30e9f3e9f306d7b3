/**
 * In-tree status: files under `.rollgate/status/` on the tracked branch,
 * commits recognisable by `isStatusCommit` and `changedOnlyStatus` so the
 * poller never reconciles on them, a person's concurrent push kept, and a
 * missing tracked branch reported (and retried) rather than created.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { changedOnlyStatus, createGitStatusReporter, isStatusCommit, type GitStatusReporter } from '../../agent/report/git/index.ts';
import { memoryLogger, commitAll, eventually, examplesRemote, git, gitEnv, tempDir, testClock, tidbTransition, writeText } from './helpers.ts';

const bot = { name: 'rollgate', email: 'rollgate@example.com' };
const ann = { name: 'Ann Admin', email: 'ann@example.com' };
const inTree = { mode: 'inTree', path: '.rollgate/status' } as const;

describe('in-tree status', () => {
  let root: string;
  let remove: () => Promise<void>;
  let env: NodeJS.ProcessEnv;
  let remote: string;
  let work: string;
  let source: string;

  before(async () => {
    ({ dir: root, remove } = await tempDir('status-in-tree'));
    env = gitEnv(root);
    ({ remote, work, initial: source } = await examplesRemote(root, env, ann, '2024-05-01T10:00:00Z'));
    git(remote, ['config', 'receive.denyNonFastForwards', 'true'], env);
  });
  after(() => remove());

  const reporter = (workDir: string, branch = 'main', log = memoryLogger()): GitStatusReporter =>
    createGitStatusReporter({
      repoUrl: remote,
      workDir: join(root, workDir),
      mode: { mode: 'inTree', path: '.rollgate/status', branch },
      author: bot,
      env,
      clock: testClock('2024-05-02T09:10:00Z'),
      logger: log.logger,
      backoff: { baseMs: 5, maxMs: 20 },
    });

  test('status commits go on top of the tracked branch, under .rollgate/status/, and are recognised as status', async () => {
    const r = reporter('agent');
    await r.report(tidbTransition(source, { phase: 'Pending', stage: undefined, step: undefined, at: '2024-05-02T09:00:00Z' }));
    await r.report(tidbTransition(source));
    await r.flush();
    await r.close();

    assert.deepEqual(git(remote, ['log', '--format=%s', 'main'], env).split('\n'), [
      'staging/tidb/TidbCluster/tidb: Progressing tikv (step 2/3)',
      'staging/tidb/TidbCluster/tidb: Pending',
      'Initial desired state',
    ]);
    const changed = git(remote, ['diff', '--name-only', source, 'main'], env).split('\n');
    assert.deepEqual(changed, ['.rollgate/status/staging/tidb/TidbCluster/tidb.yaml']);
    assert.equal(changedOnlyStatus(changed, inTree), true);
    // The manifests are untouched: the same tree but for the status folder.
    assert.equal(git(remote, ['rev-parse', `${source}:staging`], env), git(remote, ['rev-parse', 'main:staging'], env));
    const messages = git(remote, ['log', '--format=%B%x00', `${source}..main`], env).split('\0').filter((m) => m.trim() !== '');
    assert.equal(messages.length, 2);
    for (const message of messages) assert.equal(isStatusCommit(message), true, message);
    assert.equal(isStatusCommit(git(remote, ['log', '-1', '--format=%B', source], env)), false);
  });

  test('a person pushing to the tracked branch meanwhile: the status commit is replayed on top, theirs kept, and only the status commit is status-only', async () => {
    const logs = memoryLogger();
    const r = reporter('agent', 'main', logs);
    await r.report(tidbTransition(source, { stage: 'tidb', step: 0, at: '2024-05-02T09:20:00Z' }));
    await r.flush();
    git(work, ['pull', '--quiet', '--ff-only', 'origin', 'main'], env);
    await writeText(work, 'staging/tidb/tidb-cluster.yaml', git(work, ['show', 'HEAD:staging/tidb/tidb-cluster.yaml'], env).replace('version: v7.5.1', 'version: v7.5.2') + '\n');
    const bump = commitAll(work, env, ann, '2024-05-02T09:30:00Z', 'Upgrade staging TiDB to v7.5.2');
    git(work, ['push', '--quiet', 'origin', 'main'], env);

    // The reporter builds on the tip it pushed, which the bump left behind.
    await r.report(tidbTransition(source, { phase: 'Succeeded', stage: undefined, step: undefined, at: '2024-05-02T09:40:00Z', finishedAt: '2024-05-02T09:40:00Z' }));
    await r.flush();
    await r.close();

    const tip = git(remote, ['rev-parse', 'main'], env);
    assert.equal(git(remote, ['rev-parse', `${tip}^`], env), bump);
    assert.ok(logs.lines().some((e) => e.msg === 'status branch moved; replaying on its new tip'));
    assert.match(git(remote, ['show', `${tip}:staging/tidb/tidb-cluster.yaml`], env), /version: v7\.5\.2/);
    assert.equal(changedOnlyStatus(git(remote, ['diff', '--name-only', `${tip}^`, tip], env).split('\n'), inTree), true);
    assert.equal(changedOnlyStatus(git(remote, ['diff', '--name-only', source, tip], env).split('\n'), inTree), false);
  });

  test('changedOnlyStatus: only in-tree status files count, never with a status branch', () => {
    const table: [readonly string[], Parameters<typeof changedOnlyStatus>[1], boolean][] = [
      [['.rollgate/status/a/b/C/d.yaml'], inTree, true],
      [['.rollgate/status/a/b/C/d.yaml', 'staging/tidb/tidb-cluster.yaml'], inTree, false],
      [['.rollgate/statusx/a.yaml'], inTree, false],
      [['.rollgate/status'], inTree, false],
      [[], inTree, false],
      [['status/x.yaml'], { mode: 'inTree', path: './status/' }, true],
      [['.rollgate/status/a/b/C/d.yaml'], { mode: 'branch', branch: 'rollgate/status' }, false],
    ];
    for (const [files, status, want] of table) assert.equal(changedOnlyStatus(files, status), want, `${JSON.stringify(files)} ${JSON.stringify(status)}`);
  });

  test('a tracked branch that does not exist is reported and retried, never created', async () => {
    const logs = memoryLogger();
    const r = reporter('agent-missing', 'release', logs);
    await r.report(tidbTransition(source));
    const failure = await eventually(() => {
      const entry = logs.lines().find((e) => e.msg === 'status write failed; will retry');
      assert.ok(entry);
      return entry;
    });
    assert.deepEqual(failure['err'] && { code: (failure['err'] as { code: string }).code, message: (failure['err'] as { message: string }).message }, {
      code: 'no-such-branch',
      message: `the tracked branch release does not exist on ${remote}; in-tree status needs it`,
    });
    await r.close();
    assert.throws(() => git(remote, ['rev-parse', '--verify', 'refs/heads/release'], env));
  });
});
