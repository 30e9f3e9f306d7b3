/**
 * Change detection over a real git http-backend: one ref advertisement per
 * poll, a fetch only when the head moved, snapshots with the new files, and
 * exact change sets (renames, deletions, force-pushes).
 */
import assert from 'node:assert/strict';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { GitSource } from '../../agent/source/index.ts';
import { createGitSource } from '../../agent/source/index.ts';
import type { SourceFixture } from './fixture.ts';
import { expectPoll, manualClock, startSourceFixture } from './fixture.ts';


describe('git source: change detection', () => {
  let fx: SourceFixture & { first: string };
  let source: GitSource;
  const clock = manualClock();

  before(async () => {
    fx = await startSourceFixture({
      files: {
        'rollgate.yaml': 'kind: Config\n',
        'prod/tidb.yaml': 'version: v7.5.1\n',
        'prod/redis.yaml': 'versionTag: 7.4.6-22\n',
        'staging/old-name.yaml': 'kind: StatefulSet\n',
        'docs/README.md': 'notes\n',
      },
    });
    source = createGitSource({ url: fx.server.repoUrl(), branch: 'main', workDir: fx.workDir, env: fx.env, clock, keepSnapshots: 2 });
  });
  after(async () => fx.close());

  it('first poll fetches, checks out a snapshot, and reports every file', async () => {
    fx.server.resetCounts();
    const result = expectPoll(await source.poll(), 'changed');
    assert.equal(result.revision.commit, fx.first);
    assert.equal(result.changedFiles, 'all');
    assert.equal(result.revision.dir, join(fx.workDir, 'snapshots', fx.first));
    assert.equal(await readFile(join(result.revision.dir, 'prod/tidb.yaml'), 'utf8'), 'version: v7.5.1\n');
    assert.equal(result.revision.author?.email, 'author@example.com');
    assert.equal(result.revision.fetchedAt, clock.now());
    assert.equal(fx.server.counts().fetch, 1);
    assert.deepEqual(source.lastGood(), result.revision);
    // The mirror is bare, in the work directory, and no credentials or remote were written to its config.
    assert.ok((await stat(join(fx.workDir, 'mirror.git', 'objects'))).isDirectory());
    assert.doesNotMatch(await readFile(join(fx.workDir, 'mirror.git', 'config'), 'utf8'), /remote|url/);
    source.markApplied(fx.first);
  });

  it('an unchanged head costs exactly one ref advertisement and no fetch', async () => {
    fx.server.resetCounts();
    const result = await source.poll();
    assert.deepEqual(result, { type: 'unchanged', commit: fx.first });
    const counts = fx.server.counts();
    assert.equal(counts.infoRefs, 1, JSON.stringify(fx.server.requests()));
    assert.equal(counts.fetch, 0);
    // Protocol v2 lists refs in one ls-refs command; nothing else is asked for.
    assert.equal(counts.lsRefs, 1);
    assert.equal(counts.other, 0);
    assert.equal(clock.pending(), 0, 'no git deadline timer is left behind');
  });

  it('a push is fetched once, and the change set lists edits, additions, deletions and both sides of a rename', async () => {
    await fx.repo.write({ 'prod/tidb.yaml': 'version: v8.1.0\n', 'prod/new.yaml': 'kind: Deployment\n' });
    await fx.repo.remove('docs/README.md');
    await fx.repo.rename('staging/old-name.yaml', 'staging/new-name.yaml');
    const second = await fx.repo.commit('upgrade tidb');
    await fx.repo.push();
    fx.server.resetCounts();

    const result = expectPoll(await source.poll(), 'changed');
    assert.equal(result.revision.commit, second);
    assert.equal(result.base, fx.first);
    assert.deepEqual(result.changedFiles, ['docs/README.md', 'prod/new.yaml', 'prod/tidb.yaml', 'staging/new-name.yaml', 'staging/old-name.yaml']);
    assert.deepEqual(fx.server.counts(), { infoRefs: 2, lsRefs: 2, fetch: 1, unauthorized: 0, other: 0 }, 'one ls-remote, then one fetch (its own advertisement and ref listing)');

    const dir = result.revision.dir;
    assert.equal(await readFile(join(dir, 'prod/tidb.yaml'), 'utf8'), 'version: v8.1.0\n');
    assert.equal(await readFile(join(dir, 'staging/new-name.yaml'), 'utf8'), 'kind: StatefulSet\n');
    await assert.rejects(stat(join(dir, 'docs/README.md')), { code: 'ENOENT' });
    await assert.rejects(stat(join(dir, 'staging/old-name.yaml')), { code: 'ENOENT' });
    // The previous snapshot is untouched: snapshots are immutable.
    assert.equal(await readFile(join(fx.workDir, 'snapshots', fx.first, 'prod/tidb.yaml'), 'utf8'), 'version: v7.5.1\n');
  });

  it('change sets are computed against the last applied commit, not the last fetched one', async () => {
    // `second` was fetched but not applied: the next change set still starts at `first`.
    await fx.repo.write({ 'prod/redis.yaml': 'versionTag: 7.8.2-6\n' });
    const third = await fx.repo.commit('upgrade redis');
    await fx.repo.push();
    const result = expectPoll(await source.poll(), 'changed');
    assert.equal(result.revision.commit, third);
    assert.equal(result.base, fx.first);
    assert.deepEqual(result.changedFiles, ['docs/README.md', 'prod/new.yaml', 'prod/redis.yaml', 'prod/tidb.yaml', 'staging/new-name.yaml', 'staging/old-name.yaml']);
    source.markApplied(third);
  });

  it('a force-push that drops the applied commit reports every file', async () => {
    await fx.repo.resetHard(fx.first);
    await fx.repo.write({ 'prod/tidb.yaml': 'version: v7.5.2\n' });
    const rewritten = await fx.repo.commit('hotfix on the old line');
    await fx.repo.push({ force: true });
    const result = expectPoll(await source.poll(), 'changed');
    assert.equal(result.revision.commit, rewritten);
    assert.equal(result.changedFiles, 'all');
    assert.equal(await readFile(join(result.revision.dir, 'prod/tidb.yaml'), 'utf8'), 'version: v7.5.2\n');
    source.markApplied(rewritten);
  });

  it('keeps the last N snapshots plus the applied one, and cleans temporary directories', async () => {
    await writeFile(join(fx.workDir, 'snapshots', '.tmp-leftover-from-a-crash'), '');
    const shas: string[] = [];
    for (let i = 0; i < 3; i++) {
      await fx.repo.write({ 'prod/counter.yaml': `n: ${i}\n` });
      shas.push(await fx.repo.commit(`counter ${i}`));
      await fx.repo.push();
      expectPoll(await source.poll(), 'changed');
    }
    const applied = source.state().lastApplied ?? '';
    await source.pruned();
    const entries = (await readdir(join(fx.workDir, 'snapshots'))).sort();
    assert.deepEqual(entries, [applied, shas[1], shas[2]].sort());
  });
});
