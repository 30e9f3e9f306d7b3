/**
 * Snapshots built from the previous one (hard links plus the changed
 * files) must equal a fresh checkout of the commit, file for file, and must
 * leave the previous snapshot exactly as it was.
 */
import assert from 'node:assert/strict';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createGitSource } from '../../agent/source/index.ts';
import { run, testGitEnv } from '../helpers/git-server.ts';
import type { SourceFixture } from './fixture.ts';
import { expectPoll, manualClock, startSourceFixture } from './fixture.ts';

/** Every entry under `root`: its type, exec bit, and content or link target. */
async function describeTree(root: string, dir = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of (await readdir(join(root, dir), { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const rel = dir === '' ? entry.name : `${dir}/${entry.name}`;
    const full = join(root, rel);
    if (entry.isDirectory()) {
      out[`${rel}/`] = 'dir';
      Object.assign(out, await describeTree(root, rel));
    } else if (entry.isSymbolicLink()) {
      out[rel] = `link -> ${await readlink(full)}`;
    } else {
      const exec = ((await lstat(full)).mode & 0o100) !== 0 ? 'exec ' : '';
      out[rel] = `${exec}${await readFile(full, 'utf8')}`;
    }
  }
  return out;
}

/** A fresh checkout of `commit` from the test repository, by git archive and tar. */
async function freshCheckout(repoDir: string, commit: string, into: string): Promise<Record<string, string>> {
  await run('sh', ['-c', `mkdir -p "$2" && git -C "$1" archive "$3" | tar -x -C "$2"`, 'sh', repoDir, into, commit], { env: testGitEnv() });
  return describeTree(into);
}

describe('git source: incremental snapshots', () => {
  let fx: SourceFixture & { first: string };
  let scratch: string;
  before(async () => {
    fx = await startSourceFixture({ files: { 'a/one.yaml': '1\n', 'a/two.yaml': '2\n', 'b/only.yaml': 'only\n', 'c/file': 'becomes a dir\n', 'run.sh': '#!/bin/sh\n', 'keep.yaml': 'keep\n' } });
    await symlink('a/one.yaml', join(fx.repo.workDir, 'link.yaml'));
    await fx.repo.commit('with a symlink');
    await fx.repo.push();
    scratch = await mkdtemp(join(tmpdir(), 'rollgate-snapshot-'));
  });
  after(async () => {
    await fx.close();
    await rm(scratch, { recursive: true, force: true });
  });

  it('equals a fresh checkout after edits, additions, deletions, renames, a retargeted symlink, a mode change and a file that became a directory', async () => {
    const source = createGitSource({ url: fx.server.repoUrl(), branch: 'main', workDir: fx.workDir, env: fx.env, clock: manualClock(), keepSnapshots: 5 });
    const base = expectPoll(await source.poll(), 'changed').revision;
    const baseBefore = await describeTree(base.dir);

    await fx.repo.write({ 'a/one.yaml': '1 edited\n', 'new/deep/file.yaml': 'new\n' });
    await fx.repo.remove('b/only.yaml', 'c/file');
    await fx.repo.write({ 'c/file/inside.yaml': 'now a directory\n' });
    await fx.repo.rename('a/two.yaml', 'moved/two.yaml');
    await rm(join(fx.repo.workDir, 'link.yaml'));
    await symlink('keep.yaml', join(fx.repo.workDir, 'link.yaml'));
    await chmod(join(fx.repo.workDir, 'run.sh'), 0o755);
    const next = await fx.repo.commit('many kinds of change');
    await fx.repo.push();

    const result = expectPoll(await source.poll(), 'changed');
    assert.equal(result.revision.commit, next);
    const want = await freshCheckout(fx.repo.workDir, next, join(scratch, 'fresh'));
    assert.deepEqual(await describeTree(result.revision.dir), want);
    assert.equal(want['b/'], undefined, 'the emptied directory is gone in both');
    // Unchanged files are shared with the previous snapshot, not copied.
    assert.equal((await lstat(join(result.revision.dir, 'keep.yaml'))).ino, (await lstat(join(base.dir, 'keep.yaml'))).ino);
    assert.notEqual((await lstat(join(result.revision.dir, 'a/one.yaml'))).ino, (await lstat(join(base.dir, 'a/one.yaml'))).ino);
    // And the previous snapshot did not change.
    assert.deepEqual(await describeTree(base.dir), baseBefore);
  });

  it('falls back to a full checkout when the previous commit is gone from the mirror', async () => {
    const workDir = join(scratch, 'work2');
    const source = createGitSource({ url: fx.server.repoUrl(), branch: 'main', workDir, env: fx.env, clock: manualClock() });
    const base = expectPoll(await source.poll(), 'changed').revision;
    // A mirror cloned again lacks the objects of the previous commit once history is rewritten.
    await rm(join(workDir, 'mirror.git'), { recursive: true, force: true });
    await fx.repo.write({ 'a/one.yaml': 'rewritten\n' });
    await fx.repo.git(['commit', '-q', '--amend', '-a', '-m', 'rewritten']);
    const rewritten = (await fx.repo.git(['rev-parse', 'HEAD'])).trim();
    await fx.repo.push({ force: true });
    const changed = expectPoll(await source.poll(), 'changed');
    assert.equal(changed.revision.commit, rewritten);
    assert.equal(changed.changedFiles, 'all');
    assert.deepEqual(await describeTree(changed.revision.dir), await freshCheckout(fx.repo.workDir, rewritten, join(scratch, 'fresh2')));
    // Written afresh, not linked: an unchanged file has its own inode.
    assert.notEqual((await lstat(join(changed.revision.dir, 'keep.yaml'))).ino, (await lstat(join(base.dir, 'keep.yaml'))).ino);
  });

  it('links the tree itself where cp cannot, and clears what a failed cp left behind', async () => {
    const workDir = join(scratch, 'work3');
    const source = createGitSource({ url: fx.server.repoUrl(), branch: 'main', workDir, env: fx.env, clock: manualClock() });
    const base = expectPoll(await source.poll(), 'changed').revision;
    // A cp that leaves a stray file and fails, as BSD cp does for `-l` (it has no such option).
    const bin = join(scratch, 'no-gnu-cp');
    await mkdir(bin, { recursive: true });
    await writeFile(join(bin, 'cp'), `#!/bin/sh\ntouch "$4/stray-from-cp" "${bin}/called"\necho "cp: illegal option -- l" >&2\nexit 64\n`, { mode: 0o755 });
    const path = process.env['PATH'];
    process.env['PATH'] = `${bin}:${path ?? ''}`;
    try {
      await fx.repo.write({ 'a/one.yaml': 'edited without GNU cp\n' });
      const next = await fx.repo.commit('edit without GNU cp');
      await fx.repo.push();
      const result = expectPoll(await source.poll(), 'changed');
      assert.deepEqual(await describeTree(result.revision.dir), await freshCheckout(fx.repo.workDir, next, join(scratch, 'fresh3')));
      assert.equal((await lstat(join(result.revision.dir, 'keep.yaml'))).ino, (await lstat(join(base.dir, 'keep.yaml'))).ino, 'still linked, not copied');
      assert.ok((await lstat(join(bin, 'called'))).isFile(), 'the failing cp ran');
    } finally {
      process.env['PATH'] = path;
    }
  });
});
