/**
 * The mirror across agent restarts: reused (no fetch when it already holds
 * the head), re-cloned when deleted or corrupt.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createGitSource } from '../../agent/source/index.ts';
import type { SourceFixture } from './fixture.ts';
import { expectPoll, memoryLogger, startSourceFixture } from './fixture.ts';


describe('git source: the mirror across restarts', () => {
  let fx: SourceFixture & { first: string };
  const make = (logger = memoryLogger().logger) => createGitSource({ url: fx.server.repoUrl(), branch: 'main', workDir: fx.workDir, env: fx.env, logger });

  before(async () => {
    fx = await startSourceFixture();
  });
  after(async () => fx.close());

  it('a restarted agent reuses the mirror and its snapshot: one ls-remote, no fetch', async () => {
    const firstRun = make();
    expectPoll(await firstRun.poll(), 'changed');
    fx.server.resetCounts();

    const restarted = make();
    const result = expectPoll(await restarted.poll(), 'changed');
    assert.equal(result.revision.commit, fx.first);
    assert.equal(result.changedFiles, 'all', 'a new process has loaded nothing yet');
    assert.deepEqual(fx.server.counts(), { infoRefs: 1, lsRefs: 1, fetch: 0, unauthorized: 0, other: 0 });
  });

  it('a restarted agent told the applied commit computes the change set against it, fetching only the new objects', async () => {
    await fx.repo.write({ 'prod/app.yaml': 'kind: StatefulSet\nspec: {replicas: 5}\n' });
    const second = await fx.repo.commit('scale');
    await fx.repo.push();
    const restarted = make();
    restarted.markApplied(fx.first);
    fx.server.resetCounts();
    const result = expectPoll(await restarted.poll(), 'changed');
    assert.equal(result.revision.commit, second);
    assert.deepEqual(result.changedFiles, ['prod/app.yaml']);
    assert.equal(fx.server.counts().fetch, 1);
  });

  it('a deleted mirror is cloned again', async () => {
    await rm(join(fx.workDir, 'mirror.git'), { recursive: true, force: true });
    await rm(join(fx.workDir, 'snapshots'), { recursive: true, force: true });
    await fx.repo.write({ 'prod/app.yaml': 'kind: StatefulSet\nspec: {replicas: 6}\n' });
    const third = await fx.repo.commit('scale again');
    await fx.repo.push();
    const source = make();
    const result = expectPoll(await source.poll(), 'changed');
    assert.equal(result.revision.commit, third);
    assert.equal(await readFile(join(result.revision.dir, 'prod/app.yaml'), 'utf8'), 'kind: StatefulSet\nspec: {replicas: 6}\n');
  });

  it('a mirror that is not a repository any more is replaced, and says so in the log', async () => {
    await writeFile(join(fx.workDir, 'mirror.git', 'HEAD'), 'garbage\n');
    await fx.repo.write({ 'prod/app.yaml': 'kind: StatefulSet\nspec: {replicas: 7}\n' });
    const fourth = await fx.repo.commit('scale once more');
    await fx.repo.push();
    const log = memoryLogger();
    const result = expectPoll(await make(log.logger).poll(), 'changed');
    assert.equal(result.revision.commit, fourth);
    assert.ok(log.lines().some((l) => l['msg'] === 'source mirror was unusable and is cloned again'), log.text());
  });

  it('a mirror whose objects are corrupt is re-cloned once and the poll succeeds', async () => {
    const source = make();
    expectPoll(await source.poll(), 'changed');
    // Truncate every pack and loose object: the refs still resolve, the objects do not.
    const objects = join(fx.workDir, 'mirror.git', 'objects');
    for (const dir of await readdir(objects)) {
      if (dir === 'info') continue;
      for (const file of await readdir(join(objects, dir))) if (!file.endsWith('.idx')) await writeFile(join(objects, dir, file), '');
    }
    await rm(join(fx.workDir, 'snapshots'), { recursive: true, force: true });
    const log = memoryLogger();
    const restarted = make(log.logger);
    const result = expectPoll(await restarted.poll(), 'changed');
    assert.equal(await readFile(join(result.revision.dir, 'prod/app.yaml'), 'utf8'), 'kind: StatefulSet\nspec: {replicas: 7}\n');
    assert.ok(log.lines().some((l) => l['msg'] === 'source mirror failed; cloning it again'), log.text());
    assert.equal(restarted.state().degraded, false);
  });
});
