/**
 * The local side of the source: a bare mirror kept between runs
 * (`<workDir>/mirror.git`), immutable snapshots of commits
 * (`<workDir>/snapshots/<sha>`), and the files changed between two commits.
 * Thin adapters over git; the parsing is in pure functions below them.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { link, mkdir, readdir, readlink, rename, rm, rmdir, stat, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { GitRunOptions } from './git.ts';
import { GitCommandError, runGit } from './git.ts';

/** A full object name: SHA-1 (40 hex digits) or SHA-256 (64). */
export const commitPattern = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/**
 * The commit of `ref` in `git ls-remote` output, or undefined when the
 * remote does not have it. Only an exact match counts: ls-remote matches
 * patterns against the tail of ref names, so `refs/heads/main` would also
 * list `refs/heads/x/refs/heads/main`.
 */
export function parseLsRemote(output: string, ref: string): string | undefined {
  for (const line of output.split('\n')) {
    const tab = line.indexOf('\t');
    if (tab < 0) continue;
    const sha = line.slice(0, tab).trim();
    if (line.slice(tab + 1).trim() === ref && commitPattern.test(sha)) return sha;
  }
  return undefined;
}

/** Paths from `git diff --name-only -z`, sorted and unique. */
export function parseNameList(output: string): string[] {
  return [...new Set(output.split('\0').filter((p) => p !== ''))].sort();
}

/** The paths of a source's work directory. */
export interface WorkPaths {
  readonly workDir: string;
  readonly mirror: string;
  readonly snapshots: string;
  readonly verify: string;
}

/** The layout of a work directory. */
export function workPaths(workDir: string): WorkPaths {
  return { workDir, mirror: join(workDir, 'mirror.git'), snapshots: join(workDir, 'snapshots'), verify: join(workDir, 'verify') };
}

/** Runs git against the mirror (`--git-dir`), so nothing is discovered from the working directory. */
function inMirror(paths: WorkPaths, args: readonly string[], options: GitRunOptions): Promise<string> {
  return runGit([`--git-dir=${paths.mirror}`, ...args], options);
}

/** The commit the remote's branch points at, or undefined when the branch does not exist. */
export async function lsRemote(url: string, branch: string, options: GitRunOptions): Promise<string | undefined> {
  const ref = `refs/heads/${branch}`;
  return parseLsRemote(await runGit(['ls-remote', '--end-of-options', url, ref], options), ref);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes sure the mirror is a usable bare repository: `created` when there
 * was none (first run, or deleted), `recreated` when it was unusable,
 * `reused` otherwise (an agent restart keeps its objects, so it fetches
 * only what is new).
 */
export async function ensureMirror(paths: WorkPaths, options: GitRunOptions): Promise<'created' | 'recreated' | 'reused'> {
  let outcome: 'created' | 'recreated' = 'created';
  if (await exists(paths.mirror)) {
    try {
      if ((await inMirror(paths, ['rev-parse', '--is-bare-repository'], options)).trim() === 'true') return 'reused';
    } catch (err) {
      if (!(err instanceof GitCommandError) || err.timedOut) throw err;
    }
    await removeMirror(paths);
    outcome = 'recreated';
  }
  await runGit(['init', '--quiet', '--bare', paths.mirror], options);
  return outcome;
}

/** Deletes the mirror, so that the next `ensureMirror` clones afresh. */
export async function removeMirror(paths: WorkPaths): Promise<void> {
  await rm(paths.mirror, { recursive: true, force: true });
}

/** The commit the mirror's copy of `branch` points at, or undefined when it has none. */
export async function mirrorHead(paths: WorkPaths, branch: string, options: GitRunOptions): Promise<string | undefined> {
  try {
    const sha = (await inMirror(paths, ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`], options)).trim();
    return commitPattern.test(sha) ? sha : undefined;
  } catch (err) {
    // `--verify --quiet` exits 1 without a word when the ref is missing: that is "not fetched yet", not a failure.
    if (err instanceof GitCommandError && !err.timedOut && /^exit code 1$/.test(err.output)) return undefined;
    throw err;
  }
}

/** Fetches `branch` from `url` into the mirror's `refs/heads/<branch>` (forced: the remote may have been force-pushed); returns the fetched commit. */
export async function fetchBranch(paths: WorkPaths, url: string, branch: string, options: GitRunOptions): Promise<string> {
  await inMirror(paths, ['fetch', '--quiet', '--no-tags', '--no-write-fetch-head', '--end-of-options', url, `+refs/heads/${branch}:refs/heads/${branch}`], options);
  const sha = await mirrorHead(paths, branch, options);
  if (sha === undefined) throw new GitCommandError('fetch', `the fetch of refs/heads/${branch} left no such ref in the mirror`, false);
  return sha;
}

/** Author of a commit. */
export interface CommitAuthor {
  readonly name: string;
  readonly email: string;
  /** ISO 8601 date of authorship. */
  readonly date: string;
}

/** The author of `commit`. */
export async function commitAuthor(paths: WorkPaths, commit: string, options: GitRunOptions): Promise<CommitAuthor> {
  const [name = '', email = '', date = ''] = (await inMirror(paths, ['log', '-1', '--no-show-signature', '--format=%an%x00%ae%x00%aI', commit, '--'], options)).replace(/\n$/, '').split('\0');
  return { name, email, date };
}

/** What git reports about the signature of `commit` (see `signatureFormat`). */
export async function signatureOutput(paths: WorkPaths, commit: string, format: string, options: GitRunOptions): Promise<string> {
  return inMirror(paths, ['log', '-1', `--format=${format}`, commit, '--'], options);
}

/** A status of `git diff --name-status --no-renames` and its path. */
export interface TreeChange {
  readonly status: string;
  readonly path: string;
}

/** Parses `git diff --name-status -z --no-renames` output (`M\0path\0A\0path\0…`). */
export function parseNameStatus(output: string): TreeChange[] {
  const fields = output.split('\0');
  const changes: TreeChange[] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const status = fields[i] ?? '';
    const path = fields[i + 1] ?? '';
    if (status !== '' && path !== '') changes.push({ status: status.charAt(0), path });
  }
  return changes;
}

/** Deadline of the `cp` that links a snapshot, in ms: far above the ~0.1 s 10,000 files take. */
const linkTimeoutMs = 60_000;

/**
 * Copies the snapshot `from` into the empty directory `to` as hard links
 * (symlinks are re-created, not followed): a fraction of the cost of writing
 * every file again. GNU `cp -al` does it in one process, about five times
 * faster than one `link` call per file from Node; where there is no GNU cp
 * (BSD cp has no `-l`), the tree is walked here instead.
 */
async function linkTree(from: string, to: string): Promise<void> {
  const copied = await new Promise<boolean>((resolve) => {
    execFile('cp', ['-al', '--', `${from}/.`, to], { timeout: linkTimeoutMs, env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', LC_ALL: 'C' } }, (err) => resolve(err === null));
  });
  if (copied) return;
  // Whatever a failed cp left behind goes, so the walk starts from an empty directory.
  await rm(to, { recursive: true, force: true });
  await mkdir(to);
  await linkTreeByWalking(from, to);
}

/** `linkTree` without cp: one `link` per file, the entries of each directory in parallel. */
async function linkTreeByWalking(from: string, to: string): Promise<void> {
  // The entries of a directory in parallel: the thread pool overlaps the metadata writes (about twice as fast as one by one).
  const entries = await readdir(from, { withFileTypes: true });
  await Promise.all(
    entries.map(async (entry) => {
      const source = join(from, entry.name);
      const target = join(to, entry.name);
      if (entry.isDirectory()) {
        await mkdir(target);
        await linkTreeByWalking(source, target);
      } else if (entry.isSymbolicLink()) {
        await symlink(await readlink(source), target);
      } else {
        await link(source, target);
      }
    }),
  );
}

/** Removes the now-empty directories above `path`, up to (not including) `root`: a fresh checkout would not have them. */
async function removeEmptyParents(root: string, path: string): Promise<void> {
  for (let dir = dirname(join(root, path)); dir.length > root.length && dir.startsWith(`${root}/`); dir = dirname(dir)) {
    try {
      await rmdir(dir);
    } catch {
      return;
    }
  }
}

/** Paths per checkout-index call: keeps each command line far below ARG_MAX. */
const checkoutBatch = 500;

/**
 * Builds the snapshot of `commit` in `tmp` from the snapshot of `base`:
 * hard links to its files, then every path the diff names unlinked (never
 * written through: the links are shared with `base`) and the added or
 * modified ones written from the commit by `git checkout-index`.
 */
async function incremental(paths: WorkPaths, base: { commit: string; dir: string }, commit: string, tmp: string, index: string, options: GitRunOptions): Promise<void> {
  const changes = parseNameStatus(await inMirror(paths, ['diff', '--name-status', '-z', '--no-renames', '--no-ext-diff', base.commit, commit, '--'], options));
  await linkTree(base.dir, tmp);
  for (const change of changes) await rm(join(tmp, change.path), { recursive: true, force: true });
  for (const change of changes) if (change.status === 'D') await removeEmptyParents(tmp, change.path);
  const written = changes.filter((c) => c.status !== 'D').map((c) => c.path);
  if (written.length === 0) return;
  const env = { ...options.env, GIT_INDEX_FILE: index };
  await inMirror(paths, ['read-tree', commit], { ...options, env });
  for (let i = 0; i < written.length; i += checkoutBatch) {
    await inMirror(paths, [`--work-tree=${tmp}`, 'checkout-index', '--force', '--', ...written.slice(i, i + checkoutBatch)], { ...options, cwd: tmp, env });
  }
}

/**
 * Checks `commit` out into `<snapshots>/<commit>` and returns that path.
 * With a `base` snapshot, only the files that differ are written and the
 * rest are hard links to it (writing 10,000 files costs seconds on some
 * disks, linking them a tenth of a second); without one, or if that fails,
 * every file is written. Either way the files go into a temporary
 * directory beside the target, with a temporary index so the mirror is
 * never touched, and are renamed into place: a snapshot directory is
 * complete or absent, and an existing one is reused as it is. Snapshots
 * must never be written to, since they share their files.
 */
export async function materialize(paths: WorkPaths, commit: string, options: GitRunOptions, base?: { commit: string; dir: string }): Promise<string> {
  const target = join(paths.snapshots, commit);
  if (await exists(target)) return target;
  await mkdir(paths.snapshots, { recursive: true });
  const tmp = join(paths.snapshots, `.tmp-${commit}-${randomUUID()}`);
  const index = `${tmp}.index`;
  await mkdir(tmp);
  try {
    let built = false;
    if (base !== undefined && (await exists(base.dir))) {
      try {
        await incremental(paths, base, commit, tmp, index, options);
        built = true;
      } catch (err) {
        if (err instanceof GitCommandError && err.timedOut) throw err;
        // The base commit may be gone from a re-cloned mirror: write everything instead.
        await rm(tmp, { recursive: true, force: true });
        await rm(index, { force: true });
        await mkdir(tmp);
      }
    }
    if (!built) await inMirror(paths, [`--work-tree=${tmp}`, 'read-tree', '--reset', '-u', commit], { ...options, env: { ...options.env, GIT_INDEX_FILE: index } });
    try {
      await rename(tmp, target);
    } catch (err) {
      // Another run made the same snapshot first: it is identical, keep it.
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw err;
    }
    return target;
  } finally {
    await rm(tmp, { recursive: true, force: true });
    await rm(index, { force: true });
  }
}

/**
 * The files that differ between `from` and `to`, or `'all'` when `from` is
 * not an ancestor of `to` (a force-push or a revert of history) or is no
 * longer in the mirror. Renames count as a deletion and an addition, so
 * both paths are listed.
 */
export async function changedFiles(paths: WorkPaths, from: string, to: string, options: GitRunOptions): Promise<readonly string[] | 'all'> {
  try {
    // The commits of `from` that `to` lacks: none exactly when `from` is an ancestor of `to`.
    const missing = (await inMirror(paths, ['rev-list', '--count', from, `^${to}`, '--'], options)).trim();
    if (missing !== '0') return 'all';
  } catch (err) {
    if (err instanceof GitCommandError && !err.timedOut) return 'all';
    throw err;
  }
  const out = await inMirror(paths, ['diff', '--name-only', '-z', '--no-renames', '--no-ext-diff', '--no-textconv', from, to, '--'], options);
  return parseNameList(out);
}

/**
 * Removes snapshots not in `keep`, and temporary directories a crashed run
 * left behind. Entries whose names are not commits are left alone.
 */
export async function pruneSnapshots(paths: WorkPaths, keep: ReadonlySet<string>): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(paths.snapshots);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const entry of entries) {
    if (entry.startsWith('.tmp-') || (commitPattern.test(entry) && !keep.has(entry))) {
      await rm(join(paths.snapshots, entry), { recursive: true, force: true });
      if (!entry.startsWith('.tmp-')) removed.push(entry);
    }
  }
  return removed;
}
