/**
 * The Git side of the audit: a private bare clone of the repository, the
 * history of its tracked branch with the files each commit changed, the
 * signatures of the commits that matter, and a work tree moved from commit
 * to commit by rewriting only the files that differ.
 */
import { mkdir, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { displayRemote, GitError, gitOk, runGit, type GitRunOptions } from '../git/exec.ts';

/** Stable codes of {@link AuditError}. */
export type AuditErrorCode = 'not-a-repository' | 'clone-failed' | 'no-such-branch' | 'empty-branch';

/** The audit cannot run; the message says why and names the repository or branch. */
export class AuditError extends Error {
  override readonly name = 'AuditError';
  readonly code: AuditErrorCode;
  constructor(code: AuditErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** One commit of the tracked branch, as `git log` lists it. */
export interface HistoryCommit {
  readonly sha: string;
  readonly parents: readonly string[];
  readonly tree: string;
  readonly authorName: string;
  readonly authorEmail: string;
  /** Strict ISO 8601, in the author's offset. */
  readonly date: string;
  /** Files changed against the first parent (every file for a root commit); renames as a deletion and an addition. */
  readonly files: readonly string[];
}

/** A signature check, from `%G?` and `%GS`. */
export interface SignatureCheck {
  /** `%G?`: G good, U good with unknown validity, X/Y expired signature/key, R revoked key, B bad, E cannot be checked, N none. */
  readonly code: string;
  /** `%GS`: the signer, when git could tell. */
  readonly signer: string | undefined;
}

/** URLs and scp-like `host:path` are cloned as they are; anything else is a local directory. */
export function isRemoteUrl(repo: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(repo) || /^[^/\\:]+@[^/\\:]+:/.test(repo);
}

/** A bare clone of the repository under audit. */
export interface AuditClone {
  readonly gitDir: string;
  /** How git runs in the clone (its directory and environment). */
  readonly options: GitRunOptions;
  /** Runs git in the clone. */
  readonly git: (args: readonly string[], extra?: Partial<GitRunOptions>) => Promise<string>;
  readonly run: (args: readonly string[], extra?: Partial<GitRunOptions>) => ReturnType<typeof runGit>;
}

/** Clones `repo` (a local directory or a URL) bare into `dir`. Throws {@link AuditError} when it is not a repository or cannot be cloned. */
export async function cloneForAudit(repo: string, cwd: string, dir: string, env: NodeJS.ProcessEnv): Promise<AuditClone> {
  const shown = displayRemote(repo);
  let source = repo;
  if (!isRemoteUrl(repo)) {
    source = isAbsolute(repo) ? repo : resolve(cwd, repo);
    try {
      await stat(source);
    } catch {
      throw new AuditError('not-a-repository', `${shown}: no such directory`);
    }
    const probe = await runGit(['rev-parse', '--git-dir'], { cwd: source, env: { ...env, GIT_CEILING_DIRECTORIES: resolve(source, '..') } });
    if (probe.code !== 0) throw new AuditError('not-a-repository', `${shown} is not a Git repository`);
  }
  await mkdir(dir, { recursive: true });
  const gitDir = join(dir, 'repo.git');
  // A local repository is cloned with every ref, so a work tree's remote-tracking status branch (origin/rollgate/status) is found too;
  // a URL only with its branches, as a forge's pull-request refs would multiply the download.
  const cloned = await runGit(['clone', isRemoteUrl(repo) ? '--bare' : '--mirror', '--quiet', source, gitDir], { cwd: dir, env });
  if (cloned.code !== 0) {
    const last = cloned.stderr.trim().split('\n').pop() ?? '';
    throw new AuditError('clone-failed', `cannot clone ${shown}: ${last.replace(/^fatal: /, '')}`);
  }
  const base: GitRunOptions = { cwd: gitDir, env };
  return {
    gitDir,
    options: base,
    git: (args, extra = {}) => gitOk(args, { ...base, ...extra }),
    run: (args, extra = {}) => runGit(args, { ...base, ...extra }),
  };
}

/** The branch to audit: `wanted`, or the one the remote's HEAD names, or `main`. Throws {@link AuditError} when it does not exist. */
export async function resolveBranch(clone: AuditClone, repo: string, wanted: string | undefined): Promise<{ branch: string; head: string }> {
  let branch = wanted;
  if (branch === undefined) {
    const head = await clone.run(['symbolic-ref', '--quiet', '--short', 'HEAD']);
    branch = head.code === 0 ? head.stdout.toString('utf8').trim() : 'main';
  }
  const sha = await clone.run(['rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`]);
  if (sha.code === 0) return { branch, head: sha.stdout.toString('utf8').trim() };
  const list = (await clone.git(['for-each-ref', '--format=%(refname:short)', 'refs/heads/'])).split('\n').filter((b) => b !== '');
  if (list.length === 0) throw new AuditError('empty-branch', `${displayRemote(repo)} has no commits`);
  throw new AuditError('no-such-branch', `no branch "${branch}" in ${displayRemote(repo)}; it has ${list.map((b) => `"${b}"`).join(', ')}`);
}

/** The first of `refs/heads/<branch>` and `refs/remotes/origin/<branch>` that exists in the clone. */
export async function findBranchRef(clone: AuditClone, branch: string): Promise<string | undefined> {
  for (const ref of [`refs/heads/${branch}`, `refs/remotes/origin/${branch}`]) {
    if ((await clone.run(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`])).code === 0) return ref;
  }
  return undefined;
}

/** The branch's commits, parents before children, each with the files it changed against its first parent. */
export async function readHistory(clone: AuditClone, ref: string): Promise<HistoryCommit[]> {
  const out = await clone.run(['log', '--topo-order', '--reverse', '--no-renames', '--diff-merges=first-parent', '--name-only', '-z', '--format=%x1e%H%x1f%P%x1f%T%x1f%an%x1f%ae%x1f%aI', ref, '--']);
  if (out.code !== 0) throw new GitError('git-failed', 'git log', out.code, out.stderr);
  const commits: HistoryCommit[] = [];
  for (const record of out.stdout.toString('utf8').split('\x1e')) {
    if (record === '') continue;
    const headerEnd = record.indexOf('\0');
    const header = headerEnd < 0 ? record : record.slice(0, headerEnd);
    const [sha = '', parents = '', tree = '', authorName = '', authorEmail = '', date = ''] = header.split('\x1f');
    const files = headerEnd < 0 ? [] : record.slice(headerEnd + 1).replace(/^\n/, '').split('\0').filter((f) => f !== '');
    commits.push({ sha, parents: parents === '' ? [] : parents.split(' '), tree, authorName, authorEmail, date: date.trim(), files });
  }
  return commits;
}

/** Signature checks of some commits, in one `git log --no-walk`. gpg (or ssh-keygen) runs only for commits that carry a signature. */
export async function readSignatures(clone: AuditClone, shas: readonly string[]): Promise<Map<string, SignatureCheck>> {
  const out = new Map<string, SignatureCheck>();
  if (shas.length === 0) return out;
  const text = await clone.git(['log', '--no-walk=unsorted', '--stdin', '--format=%H%x1f%G?%x1f%GS%x1e'], { input: shas.join('\n') + '\n' });
  for (const record of text.split('\x1e')) {
    const [sha, code, signer] = record.trim().split('\x1f');
    if (sha === undefined || sha === '' || code === undefined) continue;
    out.set(sha, { code, signer: signer === undefined || signer === '' ? undefined : signer });
  }
  return out;
}

/** Files that differ between two commits, both names of a rename. */
export async function changedBetween(clone: AuditClone, from: string, to: string): Promise<string[]> {
  const text = await clone.git(['diff', '--name-only', '--no-renames', '-z', from, to, '--']);
  return text.split('\0').filter((f) => f !== '');
}

/** A directory that holds one commit's files at a time; moving it rewrites only what differs. */
export interface CommitTree {
  readonly dir: string;
  /** The commit the directory holds, if any. */
  readonly commit: () => string | undefined;
  /** Makes the directory hold `commit`'s files. */
  readonly moveTo: (commit: string) => Promise<void>;
}

/** A {@link CommitTree} in `dir`, with its own index next to it. */
export async function commitTree(clone: AuditClone, dir: string): Promise<CommitTree> {
  await mkdir(dir, { recursive: true });
  const index = `${dir}.index`;
  let current: string | undefined;
  return {
    dir,
    commit: () => current,
    moveTo: async (commit) => {
      // read-tree --reset -u: the index is ours, so git rewrites exactly the entries whose blobs differ and removes the ones that left.
      await clone.git(['--work-tree', dir, 'read-tree', '--reset', '-u', commit], { extraEnv: { GIT_INDEX_FILE: index } });
      current = commit;
    },
  };
}
