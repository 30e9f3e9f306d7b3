/**
 * A read-only copy of a repository at a revision, for one-shot commands
 * (`rollgate plan --repo DIR|URL --ref REF`): a directory as it is, a
 * directory's commit through `git archive`, or a remote through a shallow
 * fetch. Nothing is written to the user's repository.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';

/** A checked-out revision; `cleanup()` removes what was made for it. */
export interface Checkout {
  readonly dir: string;
  /** The commit, when the repository is a Git repository. */
  readonly commit: string | undefined;
  cleanup(): Promise<void>;
}

/** The repository or revision cannot be read; the message says which and why. */
export class CheckoutError extends Error {
  override readonly name = 'CheckoutError';
}

// Only transports that fetch; `ext::` runs commands.
const gitEnv = (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({ ...env, GIT_ALLOW_PROTOCOL: 'file:git:http:https:ssh', GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1' });

/** Removes credentials from a URL for messages (`https://user:token@host` → `https://host`). */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/i, '$1');
}

function git(args: readonly string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('git', [...args], { env: gitEnv(env), cwd, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new CheckoutError(redactUrl(stderr.trim().split('\n').pop() ?? err.message)));
      else resolve(stdout.trim());
    });
  });
}

/** `git archive REF | tar -x`: the tree of a commit, without touching the repository's worktree or refs. */
function extract(repo: string, ref: string, into: string, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const archive = spawn('git', ['-C', repo, 'archive', '--format=tar', ref], { env: gitEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    const untar = spawn('tar', ['-x', '-C', into], { stdio: ['pipe', 'ignore', 'pipe'] });
    let errors = '';
    archive.stderr.on('data', (d: Buffer) => (errors += d.toString()));
    untar.stderr.on('data', (d: Buffer) => (errors += d.toString()));
    archive.stdout.pipe(untar.stdin);
    let pending = 2;
    let failed = false;
    const done = (code: number | null): void => {
      if (code !== 0) failed = true;
      if (--pending === 0) {
        if (failed) reject(new CheckoutError(errors.trim().split('\n')[0] ?? `cannot extract ${ref}`));
        else resolve();
      }
    };
    archive.once('close', done);
    untar.once('close', done);
  });
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Makes `repo` (a directory or a Git URL) readable at `ref` (default: the
 * directory as it is, or the remote's HEAD).
 */
export async function checkout(repo: string, ref: string | undefined, cwd: string, env: NodeJS.ProcessEnv): Promise<Checkout> {
  if (repo.startsWith('-')) throw new CheckoutError(`"${repo}" is not a repository path or URL`);
  if (ref !== undefined && (ref === '' || ref.startsWith('-') || [...ref].some((ch) => ch <= ' '))) throw new CheckoutError(`"${ref}" is not a valid Git revision`);
  const local = isAbsolute(repo) ? repo : join(cwd, repo);
  if (await isDirectory(local)) {
    const commit = await git(['-C', local, 'rev-parse', '--verify', '--quiet', `${ref ?? 'HEAD'}^{commit}`], env).catch(() => undefined);
    if (ref === undefined) return { dir: local, commit, cleanup: async () => {} };
    if (commit === undefined) throw new CheckoutError(`${repo} has no revision "${ref}"`);
    const dir = await mkdtemp(join(tmpdir(), 'rollgate-checkout-'));
    try {
      await extract(local, commit, dir, env);
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
    return { dir, commit, cleanup: () => rm(dir, { recursive: true, force: true }) };
  }
  if (!/^(https?|ssh|git|file):\/\/|^[^/\s]+@[^:\s]+:/.test(repo)) throw new CheckoutError(`${repo} is neither a directory nor a Git URL (https://, ssh://, git://, file:// or user@host:path)`);
  const dir = await mkdtemp(join(tmpdir(), 'rollgate-checkout-'));
  try {
    await git(['init', '--quiet', dir], env);
    try {
      await git(['-C', dir, 'fetch', '--quiet', '--depth', '1', '--', repo, ref ?? 'HEAD'], env);
    } catch (err) {
      // A commit id that the server does not let a shallow fetch ask for: fetch everything, then pick it.
      if (ref === undefined || !/^[0-9a-f]{7,64}$/i.test(ref)) throw err;
      // Pull-request heads live outside refs/heads on GitHub and GitLab.
      await git(['-C', dir, 'fetch', '--quiet', '--', repo, '+refs/heads/*:refs/remotes/origin/*', '+refs/pull/*/head:refs/remotes/pull/*', '+refs/merge-requests/*/head:refs/remotes/merge-requests/*'], env);
    }
    const commit = await git(['-C', dir, 'rev-parse', '--verify', `${ref !== undefined && /^[0-9a-f]{7,64}$/i.test(ref) ? ref : 'FETCH_HEAD'}^{commit}`], env);
    await git(['-C', dir, 'checkout', '--quiet', '--detach', commit], env);
    await rm(join(dir, '.git'), { recursive: true, force: true });
    return { dir, commit, cleanup: () => rm(dir, { recursive: true, force: true }) };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err instanceof CheckoutError ? new CheckoutError(`cannot fetch ${redactUrl(repo)}${ref !== undefined ? ` at ${ref}` : ''}: ${err.message}`) : err;
  }
}
