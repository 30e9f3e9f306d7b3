/**
 * The status writer: every rollout transition becomes one commit that
 * rewrites its target's status file, on the status branch (or in a folder
 * of the tracked branch), pushed without force.
 *
 * Commits are built with plumbing in a private bare repository (the
 * "mirror"): `hash-object`, a temporary index (`GIT_INDEX_FILE` with
 * `read-tree`, `update-index`, `write-tree`) and `commit-tree`, on top of
 * the remote's tip as last fetched. No work tree exists, so nothing the
 * user has can be overwritten, and the push is a plain fast-forward: when
 * someone else moved the branch first, the remote rejects it, the writer
 * fetches the new tip and builds its commits again on top of it (re-reading
 * each file there, so a transition someone else already wrote is dropped).
 *
 * Writes go through one queue, one batch at a time. `report()` returns once
 * the transition is queued: the rollout never waits for Git. A batch that
 * fails stays at the head of the queue and is retried with backoff until it
 * is written, so nothing is lost while the remote is down; `flush()` waits
 * for everything queued so far.
 */
import { randomBytes } from 'node:crypto';
import { access, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Reporter, RolloutTransition } from '../../rollout/reporter.ts';
import { defaultBackoff, retryDelay, sleep, systemClock, type BackoffPolicy, type ReporterClock } from './backoff.ts';
import { displayRemote, GitError, gitOk, readBlobs, runGit, secretsOf, type GitRunOptions } from './exec.ts';
import {
  checkTransition,
  commitMessage,
  defaultHistoryLimit,
  nextStatusDocument,
  parseStatusDocument,
  renderStatusDocument,
  statusFilePath,
  transitionKey,
  type StatusDocument,
  type StatusLocation,
} from './status-file.ts';

/** A person or bot as Git records them. */
export interface GitIdentity {
  readonly name: string;
  readonly email: string;
}

/** Where status goes: its own branch, or a folder of the branch rollgate tracks. */
export type StatusTarget = { readonly mode: 'branch'; readonly branch: string } | { readonly mode: 'inTree'; readonly path: string; readonly branch: string };

/** Options of {@link createGitStatusReporter}. */
export interface GitStatusReporterOptions {
  /** The remote: a URL (`https://…`, `ssh://…`, `git://…`, `file://…`) or a local path of a repository. Never logged with its credentials. */
  readonly repoUrl: string;
  /** A directory the writer owns: its private bare repository lives here. Created when missing; reused after a restart. */
  readonly workDir: string;
  /** Status branch (created as an orphan when it does not exist), or in-tree folder and the tracked branch it is committed to. */
  readonly mode: StatusTarget;
  /** Author of status commits. */
  readonly author: GitIdentity;
  /** Committer of status commits. Default: the author. */
  readonly committer?: GitIdentity;
  /** Sign every commit: `openpgp` with a key id or fingerprint (gpg, `GNUPGHOME` from `env`), `ssh` with the path of a private key. Default: unsigned. */
  readonly sign?: { readonly format: 'openpgp' | 'ssh'; readonly key: string };
  /**
   * The whole environment git runs with: credentials (`GIT_ASKPASS`, `GIT_CONFIG_COUNT`/`KEY_n`/`VALUE_n`
   * for `http.extraHeader`, `GIT_SSH_COMMAND`), `HOME`, `PATH`, `GNUPGHOME`.
   * Default: `process.env` when the reporter is created. Values never reach a log.
   */
  readonly env?: NodeJS.ProcessEnv;
  /** Default: the wall clock. Commit dates: author = the transition's `at`, committer = `clock.now()`. */
  readonly clock?: ReporterClock;
  readonly logger: Logger;
  /** Delays between failed attempts. Default {@link defaultBackoff} (1 s doubling to 60 s). */
  readonly backoff?: BackoffPolicy;
  /** Fetch-and-replay rounds after non-fast-forward rejections before the batch counts as failed (and backs off). Default 5. */
  readonly maxPushAttempts?: number;
  /** Most transitions committed in one push (one commit each). Default 20. */
  readonly maxBatch?: number;
  /** Transitions a status file keeps for its rollout. Default {@link defaultHistoryLimit}. */
  readonly historyLimit?: number;
  /** Timeout of one git command, in milliseconds. Default 120,000. */
  readonly gitTimeoutMs?: number;
  /** In [0, 1), for backoff jitter. Default `Math.random`. */
  readonly random?: () => number;
}

/** A {@link Reporter} that writes status commits, with the controls a shutdown needs. */
export interface GitStatusReporter extends Reporter {
  /** Queues a transition and returns. Throws {@link InvalidTransitionError} (nothing queued) for one that cannot be written, and after {@link close}. */
  report(transition: RolloutTransition): Promise<void>;
  /** Resolves once every transition queued before the call is written (or found already written). Rejects when `signal` aborts or the reporter is closed first; the transitions stay queued. */
  flush(options?: { readonly signal?: AbortSignal }): Promise<void>;
  /** Transitions queued and not yet written. */
  pending(): number;
  /** Stops writing: the current git command finishes, retries stop, unwritten transitions are reported by the log and dropped. Idempotent. */
  close(): Promise<void>;
}

/** Stable codes of {@link StatusWriteError}. */
export type StatusWriteErrorCode = 'push-rejected' | 'no-such-branch' | 'closed';

/** Writing status failed for a reason of its own (git's failures are {@link GitError}). */
export class StatusWriteError extends Error {
  override readonly name = 'StatusWriteError';
  readonly code: StatusWriteErrorCode;
  constructor(code: StatusWriteErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

interface Queued {
  readonly seq: number;
  readonly transition: RolloutTransition;
}

interface Waiter {
  readonly seq: number;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

const tipRef = 'refs/rollgate/tip';

/** `<unix seconds> +0000`: git's own date format, which no locale or parser can misread. */
function gitDate(date: Date): string {
  return `${Math.floor(date.getTime() / 1000)} +0000`;
}

/** Creates a status writer. Nothing happens until the first {@link GitStatusReporter.report}. */
export function createGitStatusReporter(options: GitStatusReporterOptions): GitStatusReporter {
  const env = options.env ?? { ...process.env };
  const clock = options.clock ?? systemClock;
  const log = options.logger;
  const backoff = options.backoff ?? defaultBackoff;
  const maxPushAttempts = Math.max(1, options.maxPushAttempts ?? 5);
  const maxBatch = Math.max(1, options.maxBatch ?? 20);
  const historyLimit = options.historyLimit ?? defaultHistoryLimit;
  const random = options.random ?? Math.random;
  const mirror = join(options.workDir, 'status.git');
  const branchRef = `refs/heads/${options.mode.branch}`;
  const location: StatusLocation = options.mode.mode === 'branch' ? { mode: 'branch' } : { mode: 'inTree', path: options.mode.path };
  const remote = displayRemote(options.repoUrl);
  const committer = options.committer ?? options.author;
  const secrets = secretsOf(env);
  const base: GitRunOptions = { cwd: options.workDir, env, secrets, ...(options.gitTimeoutMs !== undefined ? { timeoutMs: options.gitTimeoutMs } : {}) };
  const inMirror = (extra: Partial<GitRunOptions> = {}): GitRunOptions => ({ ...base, cwd: mirror, ...extra });

  const queue: Queued[] = [];
  const waiters: Waiter[] = [];
  let nextSeq = 1;
  let writtenSeq = 0;
  let running: Promise<void> | undefined;
  let closed = false;
  const stop = new AbortController();
  let ready = false;
  /** The remote tip we build on: a sha, null when the branch does not exist, undefined when unknown (fetch first). */
  let tip: string | null | undefined;

  async function ensureMirror(): Promise<void> {
    if (ready) return;
    await mkdir(options.workDir, { recursive: true });
    try {
      await access(join(mirror, 'HEAD'));
    } catch {
      await gitOk(['init', '--bare', '--quiet', mirror], base);
      // A private repository: no reflogs to grow, no background gc racing the next command.
      await gitOk(['config', 'core.logAllRefUpdates', 'false'], inMirror());
      await gitOk(['config', 'gc.autoDetach', 'false'], inMirror());
    }
    ready = true;
  }

  async function fetchTip(): Promise<string | null> {
    const result = await runGit(['fetch', '--quiet', '--no-tags', '--no-write-fetch-head', '--depth=1', options.repoUrl, `+${branchRef}:${tipRef}`], inMirror());
    if (result.code !== 0) {
      if (/couldn't find remote ref/i.test(result.stderr)) {
        if (options.mode.mode === 'inTree') throw new StatusWriteError('no-such-branch', `the tracked branch ${options.mode.branch} does not exist on ${remote}; in-tree status needs it`);
        await runGit(['update-ref', '-d', tipRef], inMirror());
        return null;
      }
      throw new GitError('git-failed', 'git fetch', result.code, result.stderr);
    }
    return gitOk(['rev-parse', '--verify', `${tipRef}^{commit}`], inMirror());
  }

  /** The status files of `paths` at `commit`, parsed; one `cat-file --batch` for all of them. */
  async function readDocuments(commit: string | null, paths: readonly string[]): Promise<Map<string, StatusDocument | undefined>> {
    const out = new Map<string, StatusDocument | undefined>();
    if (commit === null || paths.length === 0) return out;
    const texts = await readBlobs(
      paths.map((p) => `${commit}:${p}`),
      inMirror(),
    );
    for (const path of paths) {
      const text = texts.get(`${commit}:${path}`);
      if (text === undefined) continue; // No file yet.
      const document = parseStatusDocument(text);
      if (document === undefined) log.warn({ remote, path }, 'status file unreadable; writing a fresh one');
      out.set(path, document);
    }
    return out;
  }

  /** Builds one commit per transition of the batch on `parent`; returns the new head (=== parent when all were written already). */
  async function buildChain(parent: string | null, batch: readonly Queued[]): Promise<{ head: string | null; written: number }> {
    const paths = [...new Set(batch.map((q) => statusFilePath(q.transition.target, location)))];
    const documents = await readDocuments(parent, paths);
    const index = join(options.workDir, `index-${randomBytes(6).toString('hex')}`);
    const withIndex = inMirror({ extraEnv: { GIT_INDEX_FILE: index } });
    let head = parent;
    let written = 0;
    let indexLoaded = false;
    try {
      for (const { transition: t } of batch) {
        const path = statusFilePath(t.target, location);
        const next = nextStatusDocument(documents.get(path), t, historyLimit);
        if (next.skip !== undefined) {
          log.debug({ remote, target: t.target, phase: t.phase, stage: t.stage, step: t.step, reason: next.skip }, 'status transition already written; skipped');
          continue;
        }
        if (!indexLoaded) {
          await gitOk(parent === null ? ['read-tree', '--empty'] : ['read-tree', parent], withIndex);
          indexLoaded = true;
        }
        const blob = await gitOk(['hash-object', '-w', '--stdin'], inMirror({ input: renderStatusDocument(next.document) }));
        await gitOk(['update-index', '--add', '--cacheinfo', `100644,${blob},${path}`], withIndex);
        const tree = await gitOk(['write-tree'], withIndex);
        const args: string[] = [];
        if (options.sign !== undefined) args.push('-c', `gpg.format=${options.sign.format}`);
        args.push('commit-tree', tree);
        if (head !== null) args.push('-p', head);
        if (options.sign !== undefined) args.push(`-S${options.sign.key}`);
        head = await gitOk(
          args,
          inMirror({
            input: commitMessage(t),
            extraEnv: {
              GIT_AUTHOR_NAME: options.author.name,
              GIT_AUTHOR_EMAIL: options.author.email,
              GIT_AUTHOR_DATE: gitDate(Number.isNaN(Date.parse(t.at)) ? new Date(clock.now()) : new Date(t.at)),
              GIT_COMMITTER_NAME: committer.name,
              GIT_COMMITTER_EMAIL: committer.email,
              GIT_COMMITTER_DATE: gitDate(new Date(clock.now())),
            },
          }),
        );
        documents.set(path, next.document);
        written++;
      }
    } finally {
      await rm(index, { force: true });
    }
    return { head, written };
  }

  /** Pushes `head` as a fast-forward. `rejected` when the branch moved (or appeared) since we fetched. */
  async function push(head: string): Promise<'ok' | 'rejected'> {
    const result = await runGit(['push', '--porcelain', options.repoUrl, `${head}:${branchRef}`], inMirror());
    if (result.code === 0) return 'ok';
    const out = result.stdout.toString('utf8');
    // "[rejected] (fetch first)" / "(non-fast-forward)" / "(stale info)": the tip moved; anything else (a hook's "[remote rejected]", the network) is a failure.
    if (/\t\[rejected\]/.test(out) || /non-fast-forward|fetch first/.test(result.stderr)) return 'rejected';
    throw new GitError('git-failed', 'git push', result.code, `${result.stderr}\n${out.split('\n').filter((l) => l.startsWith('!')).join('\n')}`);
  }

  async function writeBatch(batch: readonly Queued[]): Promise<void> {
    await ensureMirror();
    for (let attempt = 0; attempt < maxPushAttempts; attempt++) {
      if (tip === undefined) tip = await fetchTip();
      const { head, written } = await buildChain(tip, batch);
      if (head === null || head === tip) return;
      if ((await push(head)) === 'ok') {
        tip = head;
        // Keeps what we pushed reachable in the mirror, so its gc never drops the base of the next commit.
        await gitOk(['update-ref', tipRef, head], inMirror());
        log.debug({ remote, branch: options.mode.branch, commit: head, commits: written }, 'status commits pushed');
        return;
      }
      log.info({ remote, branch: options.mode.branch, attempt: attempt + 1 }, 'status branch moved; replaying on its new tip');
      tip = undefined;
    }
    throw new StatusWriteError('push-rejected', `push to ${options.mode.branch} on ${remote} rejected ${maxPushAttempts} times: the branch keeps moving`);
  }

  function settle(): void {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const waiter = waiters[i];
      if (waiter !== undefined && waiter.seq <= writtenSeq) {
        waiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }

  async function drain(): Promise<void> {
    let failures = 0;
    while (queue.length > 0 && !closed) {
      const batch = queue.slice(0, maxBatch);
      try {
        await writeBatch(batch);
        queue.splice(0, batch.length);
        writtenSeq = batch[batch.length - 1]?.seq ?? writtenSeq;
        failures = 0;
        settle();
      } catch (err) {
        // Whatever failed, the next attempt starts from a fresh fetch.
        tip = undefined;
        const wait = retryDelay(failures, backoff, random);
        failures++;
        log.warn({ remote, branch: options.mode.branch, pending: queue.length, attempt: failures, retryInMs: wait, err }, 'status write failed; will retry');
        await sleep(clock, wait, stop.signal);
      }
    }
  }

  function kick(): void {
    if (running !== undefined || closed) return;
    running = drain().finally(() => {
      running = undefined;
      // A transition queued while the loop was finishing.
      if (queue.length > 0 && !closed) kick();
    });
  }

  return {
    report: async (transition) => {
      if (closed) throw new StatusWriteError('closed', `status reporter for ${remote} is closed; ${transition.target} ${transition.phase} not written`);
      checkTransition(transition);
      queue.push({ seq: nextSeq++, transition });
      log.debug({ target: transition.target, phase: transition.phase, key: transitionKey(transition) }, 'status transition queued');
      kick();
    },
    flush: ({ signal } = {}) => {
      const seq = nextSeq - 1;
      if (seq <= writtenSeq) return Promise.resolve();
      if (closed) return Promise.reject(new StatusWriteError('closed', `status reporter for ${remote} is closed with ${queue.length} transitions unwritten`));
      return new Promise<void>((resolve, reject) => {
        const waiter: Waiter = { seq, resolve, reject };
        waiters.push(waiter);
        signal?.addEventListener(
          'abort',
          () => {
            const i = waiters.indexOf(waiter);
            if (i >= 0) waiters.splice(i, 1);
            reject(new StatusWriteError('closed', `flush aborted with ${queue.length} status transitions unwritten`, { cause: signal.reason }));
          },
          { once: true },
        );
        kick();
      });
    },
    pending: () => queue.length,
    close: async () => {
      if (closed) return;
      closed = true;
      stop.abort();
      await running;
      if (queue.length > 0) log.error({ remote, branch: options.mode.branch, pending: queue.length, targets: [...new Set(queue.map((q) => q.transition.target))] }, 'status reporter closed with transitions unwritten');
      for (const waiter of waiters.splice(0)) waiter.reject(new StatusWriteError('closed', `status reporter closed with ${queue.length} transitions unwritten`));
    },
  };
}
