/**
 * `rollgate audit` of a repository that keeps its status in-tree: status
 * commits on the tracked branch are never loaded as desired state and give
 * the rollouts, and a change merged from a feature branch is reported once,
 * at the commit that made it, not again at the merge.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runAudit, type AuditReport } from '../../agent/report/audit/index.ts';
import { createGitStatusReporter } from '../../agent/report/git/index.ts';
import { memoryLogger, commitAll, examplesRemote, git, gitEnv, tempDir, testClock, tidbTransition, writeText } from './helpers.ts';

const ann = { name: 'Ann Admin', email: 'ann@example.com' };
const bob = { name: 'Bob Dev', email: 'bob@example.com' };

describe('rollgate audit with in-tree status and a merge', () => {
  let root: string;
  let remove: () => Promise<void>;
  let env: NodeJS.ProcessEnv;
  let remote: string;
  let bump = '';
  let etcd = '';
  let merge = '';
  let result: { report: AuditReport; stats: { commits: number; loads: number; statusCommits: number } };

  before(async () => {
    ({ dir: root, remove } = await tempDir('audit-in-tree'));
    env = gitEnv(root);
    const repo = await examplesRemote(root, env, ann, '2024-05-01T10:00:00Z');
    remote = repo.remote;
    const work = repo.work;
    const config = await readFile(join(work, 'rollgate.yaml'), 'utf8');
    await writeText(work, 'rollgate.yaml', config.replace('status:\n  mode: branch\n  branch: rollgate/status', 'status:\n  mode: inTree\n  path: .rollgate/status'));
    commitAll(work, env, ann, '2024-05-01T11:00:00Z', 'Keep status in the tree');
    const manifest = 'staging/tidb/tidb-cluster.yaml';
    await writeText(work, manifest, (await readFile(join(work, manifest), 'utf8')).replace('version: v7.5.1', 'version: v7.5.2'));
    bump = commitAll(work, env, ann, '2024-05-02T09:00:00Z', 'Upgrade staging TiDB to v7.5.2');
    git(work, ['push', '--quiet', 'origin', 'main'], env);

    // Bob works on a branch while the agent writes status to main.
    git(work, ['checkout', '--quiet', '-b', 'etcd'], env);
    const etcdFile = 'prod/etcd/etcd.yaml';
    await writeText(work, etcdFile, (await readFile(join(work, etcdFile), 'utf8')).replace('etcd:v3.5.13', 'etcd:v3.5.14'));
    etcd = commitAll(work, env, bob, '2024-05-02T10:00:00Z', 'Upgrade prod etcd to v3.5.14');

    const reporter = createGitStatusReporter({
      repoUrl: remote,
      workDir: join(root, 'agent'),
      mode: { mode: 'inTree', path: '.rollgate/status', branch: 'main' },
      author: { name: 'rollgate', email: 'rollgate@example.com' },
      env,
      clock: testClock('2024-05-02T09:30:00Z'),
      logger: memoryLogger().logger,
    });
    await reporter.report(tidbTransition(bump, { phase: 'Pending', stage: undefined, step: undefined, startedAt: '2024-05-02T09:01:00Z', at: '2024-05-02T09:01:00Z' }));
    await reporter.report(tidbTransition(bump, { phase: 'Succeeded', stage: undefined, step: undefined, startedAt: '2024-05-02T09:01:00Z', at: '2024-05-02T09:21:00Z', finishedAt: '2024-05-02T09:21:00Z' }));
    await reporter.flush();
    await reporter.close();

    git(work, ['checkout', '--quiet', 'main'], env);
    git(work, ['pull', '--quiet', '--ff-only', 'origin', 'main'], env);
    git(work, ['merge', '--quiet', '--no-ff', '--no-edit', 'etcd'], { ...env, GIT_AUTHOR_NAME: ann.name, GIT_AUTHOR_EMAIL: ann.email, GIT_COMMITTER_NAME: ann.name, GIT_COMMITTER_EMAIL: ann.email, GIT_AUTHOR_DATE: '2024-05-02T11:00:00Z', GIT_COMMITTER_DATE: '2024-05-02T11:00:00Z' });
    merge = git(work, ['rev-parse', 'HEAD'], env);
    git(work, ['push', '--quiet', 'origin', 'main'], env);
    result = await runAudit({ repo: remote, cwd: root, env });
  });
  after(() => remove());

  test('status commits are not loaded; the rollout comes from them', () => {
    // initial, config, bump, etcd, two status commits, merge: the status commits are skipped (the merge is read: it brings etcd).
    assert.deepEqual(result.stats, { commits: 7, loads: 5, statusCommits: 2 });
    assert.deepEqual(result.report.status, { mode: 'inTree', path: '.rollgate/status', found: true });
    const tidb = result.report.targets.find((t) => t.id === 'staging/tidb/TidbCluster/tidb');
    assert.deepEqual(
      tidb?.changes.map((c) => [c.commit, c.versions.map((v) => `${v.component} ${v.from ?? '-'} ${v.to ?? '-'}`).join(', '), c.rollout?.outcome ?? null, c.rollout?.durationSeconds ?? null]),
      [
        [git(remote, ['rev-list', '--max-parents=0', 'main'], env), 'pd - v7.5.1, tikv - v7.5.1, tidb - v7.5.1', null, null],
        [bump, 'pd v7.5.1 v7.5.2, tikv v7.5.1 v7.5.2, tidb v7.5.1 v7.5.2', 'Succeeded', 1200],
      ],
    );
  });

  test('a change merged from a branch is reported at its own commit, not at the merge', () => {
    const prodEtcd = result.report.targets.find((t) => t.id === 'prod/etcd/StatefulSet/etcd');
    const rows = prodEtcd?.changes.map((c) => c.commit) ?? [];
    assert.equal(rows.length, 2);
    assert.equal(rows[1], etcd);
    assert.ok(!rows.includes(merge));
    assert.deepEqual(prodEtcd?.changes[1]?.versions, [{ component: 'etcd', from: 'v3.5.13', to: 'v3.5.14' }]);
    assert.deepEqual(prodEtcd?.changes[1]?.author, bob);
  });
});
