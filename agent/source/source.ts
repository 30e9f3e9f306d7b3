/**
 * The Git source: notices a new revision cheaply, fetches it, checks out an
 * immutable snapshot, optionally verifies its signature, and says which
 * files changed since the last applied revision.
 *
 * Each poll makes exactly one `git ls-remote` of the branch; a fetch
 * happens only when the head moved (Flux does the same; Argo CD's per-app
 * fetches made thousands of requests an hour, argo-cd #4925). Failures back
 * off from 1 s to 5 min and the last good revision stays in force, so an
 * outage freezes the cluster at it rather than emptying it.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import { pino } from 'pino';
import type { BackoffOptions } from './backoff.ts';
import { backoffDelay, defaultBackoff } from './backoff.ts';
import type { Clock } from './clock.ts';
import { systemClock } from './clock.ts';
import { SourceError, classifyGitFailure, gitMessage, redact, remedy, summary } from './errors.ts';
import type { GitRunOptions } from './git.ts';
import { GitCommandError } from './git.ts';
import type { CommitAuthor } from './mirror.ts';
import {
  changedFiles,
  commitAuthor,
  commitPattern,
  ensureMirror,
  fetchBranch,
  lsRemote,
  materialize,
  mirrorHead,
  pruneSnapshots,
  removeMirror,
  signatureOutput,
  workPaths,
} from './mirror.ts';
import type { Remote, SourceAuth } from './remote.ts';
import { gitEnvironment, loadCredentials, parseRemoteUrl, validateAuth, validateBranch } from './remote.ts';
import type { PreparedPolicy, RejectionReason, SignatureInfo, SignaturePolicy } from './signature.ts';
import { judgeSignature, parseSignatureFields, preparePolicy, signatureFormat } from './signature.ts';

/** Options of `createGitSource`. */
export interface GitSourceOptions {
  /** The remote: `https://…`, `ssh://…`, `user@host:path`, `file://…` or a path. Credentials in it are allowed but never logged. */
  url: string;
  /** The branch to follow (short name; `refs/heads/` is stripped). */
  branch: string;
  /** Directory of the mirror and snapshots, kept between runs (created when missing). One source per work directory. */
  workDir: string;
  /** Credentials; none for a public or local repository. */
  auth?: SourceAuth;
  /** Signature policy; none (the default) accepts unsigned commits. */
  verify?: SignaturePolicy;
  /** How many snapshots to keep besides the last good and last applied ones. Default 3, at least 1. */
  keepSnapshots?: number;
  /** Default `systemClock`. */
  clock?: Clock;
  /** Returns a number in [0, 1); the jitter of the backoff. Default `Math.random`. */
  random?: () => number;
  /** Default: a silent pino logger. */
  logger?: Logger;
  /** The environment the token variable is read from and git inherits (minus every GIT_* variable). Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Deadline of each git process other than a fetch, in ms. Default 60 000. */
  timeoutMs?: number;
  /** Deadline of a fetch, in ms. Default 600 000 (a first clone of a large repository). */
  fetchTimeoutMs?: number;
  /** Failure backoff. Default 1 s doubling to 5 min, 20 % jitter. */
  backoff?: Partial<BackoffOptions>;
}

/** A checked-out commit. */
export interface Revision {
  /** The full commit id. */
  readonly commit: string;
  /** Absolute path of its snapshot directory; never modified once made. */
  readonly dir: string;
  /** When it was fetched and checked out, in ms since the epoch (by the source's clock). */
  readonly fetchedAt: number;
  readonly author?: CommitAuthor;
  /** The verified signature, when a signature policy is set. */
  readonly signature?: SignatureInfo;
}

/** The outcome of one poll. */
export type PollResult =
  /** The branch still points at the last good revision; nothing was fetched. */
  | { type: 'unchanged'; commit: string }
  /**
   * A new revision was fetched and checked out. `changedFiles` lists the
   * paths (relative to the snapshot) that differ from `base`, the last
   * applied commit; `'all'` when there is none or it is not an ancestor.
   */
  | { type: 'changed'; revision: Revision; changedFiles: readonly string[] | 'all'; base?: string }
  /** The head commit failed the signature policy; nothing of it is used and the last good revision stays. */
  | { type: 'rejected'; commit: string; reason: RejectionReason; message: string }
  /** The poll failed; retry in `retryInMs` (polls before then return this failure without contacting the remote). */
  | { type: 'failed'; error: SourceError; retryInMs: number };

/** The source's condition, for status and metrics. */
export interface SourceState {
  /** The remote, without credentials. */
  readonly url: string;
  readonly branch: string;
  /** True while polls fail or the head is rejected: the cluster is held at `lastGood`. */
  readonly degraded: boolean;
  readonly lastError?: SourceError;
  readonly consecutiveFailures: number;
  /** When the next attempt may contact the remote, in ms since the epoch; unset when not backing off. */
  readonly nextAttemptAt?: number;
  readonly lastGood?: Revision;
  /** The commit last passed to `markApplied`. */
  readonly lastApplied?: string;
  /** The head the last successful ls-remote reported. */
  readonly remoteHead?: string;
  /** When a poll last completed, in ms since the epoch. */
  readonly lastPollAt?: number;
  /** The head commit's rejection, while the branch points at it. */
  readonly rejected?: { commit: string; reason: RejectionReason; message: string };
}

/** A Git source. Polls are serialised: a poll while one runs returns that poll's result. */
export interface GitSource {
  /**
   * One ls-remote; a fetch, verification and snapshot when the head moved.
   * Never throws. While backing off it returns the last failure without
   * contacting the remote, unless `force` (e.g. after a push webhook).
   */
  poll(options?: { force?: boolean }): Promise<PollResult>;
  /** The last revision that passed every check, which stays in force through failures and rejections. */
  lastGood(): Revision | undefined;
  /** Records that `commit` is applied: change sets are computed against it from now on, and its snapshot is kept. */
  markApplied(commit: string): void;
  /**
   * Resolves once the old snapshots a poll let go of are removed. That
   * removal runs after the poll has answered, off the path from a push to
   * its rollout; the next poll waits for it before making a snapshot.
   */
  pruned(): Promise<void>;
  state(): SourceState;
}

type Attempt = { kind: 'unchanged'; commit: string } | { kind: 'rejected'; commit: string; reason: RejectionReason; message: string } | { kind: 'changed'; revision: Revision; changedFiles: readonly string[] | 'all' };

/**
 * Creates a Git source. Validates the URL, branch and auth shape at once
 * (throws a `SourceError` with code `config`); touches neither the network
 * nor the disk until the first poll.
 */
export function createGitSource(options: GitSourceOptions): GitSource {
  const remote: Remote = parseRemoteUrl(options.url);
  const branch = validateBranch(options.branch);
  validateAuth(options.auth, remote);
  if (options.workDir.trim() === '') throw new SourceError('config', 'the source work directory is empty: give a directory the agent may write');
  const paths = workPaths(resolve(options.workDir));
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const log = options.logger ?? pino({ level: 'silent' });
  const baseEnv = options.env ?? process.env;
  const keep = Math.max(1, Math.floor(options.keepSnapshots ?? 3));
  const timeoutMs = options.timeoutMs ?? 60_000;
  const fetchTimeoutMs = options.fetchTimeoutMs ?? 600_000;
  const backoff: BackoffOptions = { ...defaultBackoff, ...options.backoff };
  const tokenVariable = options.auth?.type === 'token' ? options.auth.env : undefined;
  const logContext = { url: remote.display, branch };
  const environment = (config: readonly (readonly [string, string])[], env: Readonly<Record<string, string>>): Record<string, string> =>
    gitEnvironment(baseEnv, { config, env, dropVariables: tokenVariable !== undefined ? [tokenVariable] : [], ceiling: dirname(paths.workDir) });

  let lastGood: Revision | undefined;
  let applied: string | undefined;
  let remoteHead: string | undefined;
  let rejected: { commit: string; reason: RejectionReason; message: string } | undefined;
  let failures = 0;
  let lastError: SourceError | undefined;
  let nextAttemptAt: number | undefined;
  let lastPollAt: number | undefined;
  let prepared: PreparedPolicy | undefined;
  let inflight: Promise<PollResult> | undefined;
  // The removal of old snapshots in progress; it never rejects.
  let pruning: Promise<void> = Promise.resolve();
  // Snapshots made or used by this process, oldest first: the last `keep` survive pruning.
  const recent: string[] = [];

  const toSourceError = (err: unknown, secrets: readonly string[], local: boolean): SourceError => {
    if (err instanceof SourceError) return err;
    if (err instanceof GitCommandError) {
      if (err.timedOut) {
        const limit = err.command === 'fetch' ? fetchTimeoutMs : timeoutMs;
        return new SourceError('timeout', `git ${err.command} of ${remote.display} did not finish within ${limit} ms and was stopped; ${remedy('timeout')}`, { url: remote.display, cause: err });
      }
      let code = classifyGitFailure(err.output);
      if (local && code === 'git') code = 'corrupt-mirror';
      const message = redact(`${summary(code)}: git ${err.command} of ${remote.display} (branch ${branch}) said: ${gitMessage(err.output)}; ${remedy(code)}`, secrets);
      return new SourceError(code, message, { url: remote.display, cause: err });
    }
    const errno = err as NodeJS.ErrnoException;
    if (typeof errno.code === 'string' && typeof errno.syscall === 'string') {
      return new SourceError('io', `the work directory ${paths.workDir} cannot be written (${errno.code} on ${errno.syscall}${errno.path !== undefined ? ` ${errno.path}` : ''}); ${remedy('io')}`, { url: remote.display });
    }
    return new SourceError('git', redact(`polling ${remote.display} failed: ${err instanceof Error ? err.message : String(err)}`, secrets), { url: remote.display });
  };

  const succeed = (): void => {
    failures = 0;
    lastError = undefined;
    nextAttemptAt = undefined;
    lastPollAt = clock.now();
  };

  const fail = (error: SourceError): PollResult => {
    failures++;
    lastError = error;
    const retryInMs = backoffDelay(failures, random, backoff);
    lastPollAt = clock.now();
    nextAttemptAt = lastPollAt + retryInMs;
    log.warn({ ...logContext, err: { code: error.code, message: error.message }, consecutiveFailures: failures, retryInMs }, 'source poll failed');
    return { type: 'failed', error, retryInMs };
  };

  /** Fetches (when the mirror lacks the head), verifies and checks out; every step reads the mirror, so all of it is redone after a re-clone. */
  const attempt = async (head: string, git: GitRunOptions, fetchGit: GitRunOptions): Promise<Attempt> => {
    const mirror = await ensureMirror(paths, git);
    if (mirror === 'recreated') log.warn(logContext, 'source mirror was unusable and is cloned again');
    let commit = await mirrorHead(paths, branch, git);
    if (commit !== head) commit = await fetchBranch(paths, remote.url, branch, fetchGit);
    // The branch may have moved between the ls-remote and the fetch; what was fetched is what counts.
    if (commit === lastGood?.commit) return { kind: 'unchanged', commit };
    let signature: SignatureInfo | undefined;
    if (options.verify !== undefined) {
      prepared ??= await preparePolicy(options.verify, paths.verify, timeoutMs);
      // No credentials: verification reads only the mirror.
      const verifyGit: GitRunOptions = { ...git, env: environment(prepared.config, prepared.env) };
      const verdict = judgeSignature(commit, parseSignatureFields(await signatureOutput(paths, commit, signatureFormat, verifyGit)), prepared.fingerprints);
      if (!verdict.ok) return { kind: 'rejected', commit, reason: verdict.reason, message: verdict.message };
      signature = verdict.signature;
    }
    // A removal still running would take this snapshot's temporary directory for a crashed run's.
    await pruning;
    // Independent reads of the mirror, side by side: each git process costs its start-up time.
    const base = applied;
    const [dir, author, changed] = await Promise.all([materialize(paths, commit, git, lastGood), commitAuthor(paths, commit, git), base === undefined ? ('all' as const) : changedFiles(paths, base, commit, git)]);
    return { kind: 'changed', revision: { commit, dir, fetchedAt: clock.now(), author, ...(signature !== undefined ? { signature } : {}) }, changedFiles: changed };
  };

  const pollOnce = async (force: boolean): Promise<PollResult> => {
    const now = clock.now();
    if (!force && lastError !== undefined && nextAttemptAt !== undefined && now < nextAttemptAt) {
      return { type: 'failed', error: lastError, retryInMs: nextAttemptAt - now };
    }
    let secrets: readonly string[] = [];
    let stage: 'remote' | 'local' = 'remote';
    try {
      await mkdir(paths.workDir, { recursive: true });
      const credentials = await loadCredentials(options.auth, remote, baseEnv);
      secrets = credentials.secrets;
      const git: GitRunOptions = { cwd: paths.workDir, env: environment(credentials.config, credentials.env), timeoutMs, clock, secrets };
      const fetchGit: GitRunOptions = { ...git, timeoutMs: fetchTimeoutMs };

      const head = await lsRemote(remote.url, branch, git);
      if (head === undefined) {
        throw new SourceError('not-found', `the branch ${branch} does not exist on ${remote.display}; ${remedy('not-found')}`, { url: remote.display });
      }
      remoteHead = head;
      if (head === lastGood?.commit) {
        succeed();
        log.debug({ ...logContext, commit: head }, 'source unchanged');
        return { type: 'unchanged', commit: head };
      }
      if (head === rejected?.commit) {
        succeed();
        return { type: 'rejected', ...rejected };
      }

      let outcome: Attempt;
      try {
        outcome = await attempt(head, git, fetchGit);
      } catch (err) {
        // A failure that is not the remote's (auth, network, timeout…) is the mirror's: clone it again, once.
        if (!(err instanceof GitCommandError) || err.timedOut || classifyGitFailure(err.output) !== 'git') throw err;
        log.warn({ ...logContext, err: { message: gitMessage(err.output) } }, 'source mirror failed; cloning it again');
        await removeMirror(paths);
        stage = 'local';
        outcome = await attempt(head, git, fetchGit);
      }

      succeed();
      if (outcome.kind === 'unchanged') return { type: 'unchanged', commit: outcome.commit };
      if (outcome.kind === 'rejected') {
        rejected = { commit: outcome.commit, reason: outcome.reason, message: outcome.message };
        log.warn({ ...logContext, commit: outcome.commit, reason: outcome.reason, message: outcome.message, lastGood: lastGood?.commit }, 'source commit rejected');
        return { type: 'rejected', ...rejected };
      }
      const revision = outcome.revision;
      const base = applied;
      const changed = outcome.changedFiles;
      lastGood = revision;
      rejected = undefined;
      const seen = recent.indexOf(revision.commit);
      if (seen >= 0) recent.splice(seen, 1);
      recent.push(revision.commit);
      const kept = new Set(recent.slice(-keep));
      kept.add(revision.commit);
      if (applied !== undefined) kept.add(applied);
      pruning = pruning.then(() =>
        pruneSnapshots(paths, kept).then(
          () => undefined,
          (err: unknown) => log.warn({ ...logContext, err: { message: err instanceof Error ? err.message : String(err) } }, 'old snapshots could not be removed; the next poll tries again'),
        ),
      );
      log.info({ ...logContext, commit: revision.commit, changedFiles: changed === 'all' ? 'all' : changed.length }, 'source fetched a new revision');
      return { type: 'changed', revision, changedFiles: changed, ...(base !== undefined ? { base } : {}) };
    } catch (err) {
      return fail(toSourceError(err, secrets, stage === 'local'));
    }
  };

  return {
    poll: (pollOptions = {}) => {
      inflight ??= pollOnce(pollOptions.force === true).finally(() => {
        inflight = undefined;
      });
      return inflight;
    },
    lastGood: () => lastGood,
    pruned: () => pruning,
    markApplied: (commit) => {
      if (!commitPattern.test(commit)) throw new SourceError('config', `markApplied: ${JSON.stringify(commit)} is not a full commit id`);
      applied = commit;
    },
    state: () => ({
      url: remote.display,
      branch,
      degraded: failures > 0 || rejected !== undefined,
      consecutiveFailures: failures,
      ...(lastError !== undefined ? { lastError } : {}),
      ...(nextAttemptAt !== undefined ? { nextAttemptAt } : {}),
      ...(lastGood !== undefined ? { lastGood } : {}),
      ...(applied !== undefined ? { lastApplied: applied } : {}),
      ...(remoteHead !== undefined ? { remoteHead } : {}),
      ...(lastPollAt !== undefined ? { lastPollAt } : {}),
      ...(rejected !== undefined ? { rejected } : {}),
    }),
  };
}
