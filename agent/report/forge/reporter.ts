/**
 * The rollout, followed in its pull request: a {@link Reporter} that keeps
 * one sticky comment (marker `rollout`) per merged pull request with a
 * stage table per target, and the `rollgate/rollout` status of the merge
 * commit (see `rollout-comment.ts` for the mapping of phases to states).
 *
 * A forge outage must never block or fail a rollout: `report()` only
 * records the transition and returns; a single background worker writes
 * the latest state of each merge commit. A write that fails with a
 * transient error (`unavailable`, `rate-limited`, `timeout`) stays marked
 * and is retried with backoff on the injected clock, or at once by
 * `flush()`; only the latest state is written then, so the comment catches
 * up in one edit. A permanent error (the commit is unknown to the forge,
 * the token may not comment) is logged and not retried until the next
 * transition of that commit.
 *
 * The forge may not know a merge commit's pull request yet when the first
 * transition is written (the push webhook came before the pull request's,
 * or GitHub has not linked the commit yet): then only the status is
 * written, and the comment follows as soon as the pull-request index learns
 * the merge (a webhook, another lookup), or, for a rollout still under way,
 * at the next `flush()` once the index asks the forge again. Without this a
 * rollout waiting for an approval would never show its "comment
 * `/rollgate approve`" hint in the pull request, as no new transition comes.
 */
import type { Logger } from 'pino';
import type { Reporter, RolloutTransition } from '../../rollout/reporter.ts';
import { systemClock, type ForgeClock } from './clock.ts';
import { isTransient, toForgeError } from './errors.ts';
import { contentHash } from './marker.ts';
import type { ForgeProvider } from './provider.ts';
import { createPullRequestIndex, type PullRequestIndex } from './pull-requests.ts';
import { backoffMs } from './retry.ts';
import { rolloutMarkdown, rolloutStatus } from './rollout-comment.ts';

/** The status context of rollouts. */
export const rolloutContext = 'rollgate/rollout';
/** The marker key of the rollout comment. */
export const rolloutMarker = 'rollout';

/** Options of {@link createForgeReporter}. */
export interface ForgeReporterOptions {
  readonly provider: ForgeProvider;
  readonly logger: Logger;
  /** Shared with the comment approvals, so each merge commit is looked up once. Default: a new index over `provider`. */
  readonly pullRequests?: PullRequestIndex;
  /** A link for the status, per merge commit. Default: none. */
  readonly targetUrl?: (source: string) => string | undefined;
  /** Default: the wall clock; retry timers run on it. */
  readonly clock?: ForgeClock;
  /** In [0, 1), for retry jitter. Default `Math.random`. */
  readonly random?: () => number;
  /** Delay before retrying failed writes, in ms: `baseMs` doubling to `maxMs`, jittered. Default 5,000 to 300,000. */
  readonly retry?: { readonly baseMs: number; readonly maxMs: number };
  /** Merge commits whose state is kept; the oldest finished ones are forgotten first. Default 100. */
  readonly maxTracked?: number;
}

/** Summary of one {@link ForgeReporter.flush}. */
export interface FlushResult {
  /** Merge commits written since `flush()` was called (including by a write that was under way, and rollouts under way re-checked for their pull request). */
  readonly written: number;
  /** Merge commits still waiting for the forge (transient failures, retried later). */
  readonly failed: number;
}

/** The forge reporter, with the controls a shutdown and tests need. */
export interface ForgeReporter extends Reporter {
  /** Records `transition` and schedules the write; returns at once, never throws, never waits for the forge. */
  report(transition: RolloutTransition): Promise<void>;
  /** Writes everything not yet written now (waiting for a write in progress first), asks the forge again for the pull request of rollouts under way that had none, and resolves with what is still failing. Never throws. */
  flush(): Promise<FlushResult>;
  /** Merge commits whose latest state is not yet on the forge. */
  pending(): number;
  /** Stops the retry timer; later reports are dropped. Idempotent. */
  close(): void;
}

interface Tracked {
  readonly targets: Map<string, RolloutTransition>;
  dirty: boolean;
  /** A write of this entry is under way. */
  writing: boolean;
  failures: number;
  commentHash?: string;
  status?: string;
  /** The last write found no pull request for the commit: the comment is still to be written if one turns up. */
  withoutPullRequest: boolean;
}

const finished = new Set(['Succeeded', 'Halted', 'Refused', 'Superseded']);
const isFinished = (t: Tracked): boolean => [...t.targets.values()].every((x) => finished.has(x.phase));

/** Creates the forge reporter. Makes no request until the first transition. */
export function createForgeReporter(options: ForgeReporterOptions): ForgeReporter {
  const { provider, logger: log } = options;
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const retry = options.retry ?? { baseMs: 5_000, maxMs: 300_000 };
  const maxTracked = options.maxTracked ?? 100;
  const index = options.pullRequests ?? createPullRequestIndex({ provider, clock });
  const tracked = new Map<string, Tracked>();
  let chain: Promise<unknown> = Promise.resolve();
  let queued = false;
  let timer: unknown;
  let closed = false;
  let writtenTotal = 0;

  function forgetOld(): void {
    for (const [source, t] of tracked) {
      if (tracked.size <= maxTracked) return;
      if (!t.dirty && isFinished(t)) tracked.delete(source);
    }
  }

  async function write(source: string, entry: Tracked): Promise<void> {
    const transitions = [...entry.targets.values()];
    const pr = await index.forCommit(source);
    entry.withoutPullRequest = pr === undefined;
    if (pr !== undefined) {
      const body = rolloutMarkdown(source, transitions);
      const hash = contentHash(body);
      if (entry.commentHash !== hash) {
        const { action } = await provider.ensureComment(pr, rolloutMarker, body);
        entry.commentHash = hash;
        log.debug({ source, pr, action }, 'rollout comment ensured');
      }
    }
    const status = rolloutStatus(transitions);
    const key = `${status.state}\n${status.description}`;
    if (entry.status !== key) {
      await provider.setCommitStatus(source, rolloutContext, status.state, status.description, options.targetUrl?.(source));
      entry.status = key;
    }
  }

  /** One pass over every marked merge commit; returns how many still fail. */
  async function pass(): Promise<FlushResult> {
    let written = 0;
    let failed = 0;
    const done = new Set<string>();
    for (;;) {
      const next = [...tracked].find(([source, t]) => t.dirty && !done.has(source));
      if (next === undefined) break;
      const [source, entry] = next;
      done.add(source);
      entry.dirty = false;
      entry.writing = true;
      try {
        await write(source, entry);
        entry.failures = 0;
        written++;
        writtenTotal++;
      } catch (err) {
        const e = toForgeError(err, provider.kind);
        if (isTransient(e.code)) {
          entry.dirty = true;
          entry.failures++;
          failed++;
          log.warn({ source, code: e.code, err: e.message, failures: entry.failures }, 'rollout report to the forge failed; kept for retry');
        } else {
          log.error({ source, code: e.code, err: e.message }, 'rollout report to the forge refused; not retried');
        }
      } finally {
        entry.writing = false;
      }
    }
    return { written, failed };
  }

  /** `pass` catches the forge's errors; anything else is a bug, logged rather than left to crash the agent as an unhandled rejection. */
  function unexpected(err: unknown): void {
    log.error({ err: err instanceof Error ? err.message : String(err) }, 'forge reporter failed unexpectedly');
    scheduleRetry();
  }

  /** Runs `work` after every earlier write: one writer at a time, so a comment is never edited by two passes at once. */
  function exclusive<T>(work: () => Promise<T>): Promise<T> {
    const next = chain.then(work, work);
    chain = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }

  function scheduleRetry(): void {
    if (closed || timer !== undefined) return;
    const failures = Math.max(0, ...[...tracked.values()].filter((t) => t.dirty).map((t) => t.failures));
    if (failures === 0) return;
    timer = clock.setTimeout(() => {
      timer = undefined;
      exclusive(pass).then(scheduleRetry, unexpected);
    }, backoffMs(failures, retry, random));
  }

  /** Writes new transitions soon; entries that already failed wait for the retry timer or `flush()`. */
  function kick(): void {
    if (queued) return;
    queued = true;
    exclusive(async () => {
      queued = false;
      while (!closed && [...tracked.values()].some((t) => t.dirty && t.failures === 0)) await pass();
    }).then(scheduleRetry, unexpected);
  }

  // A merge learned after the commit's last write: write the comment now, without waiting for a transition.
  const offMerge = index.onMerge((pr, merge) => {
    const entry = tracked.get(merge.mergeSha);
    if (closed || entry === undefined || !entry.withoutPullRequest) return;
    log.debug({ source: merge.mergeSha, pr }, 'merge commit linked to its pull request; writing the rollout comment');
    entry.dirty = true;
    kick();
  });

  return {
    async report(transition) {
      try {
        if (closed || transition.source === undefined) return;
        const source = transition.source;
        let entry = tracked.get(source);
        if (entry === undefined) {
          entry = { targets: new Map(), dirty: false, writing: false, failures: 0, withoutPullRequest: false };
          tracked.set(source, entry);
          forgetOld();
        }
        const previous = entry.targets.get(transition.target);
        // Replays after a restart and late arrivals must not move the comment backwards.
        if (previous !== undefined && Date.parse(previous.at) > Date.parse(transition.at)) return;
        if (previous !== undefined && JSON.stringify(previous) === JSON.stringify(transition)) return;
        entry.targets.set(transition.target, transition);
        entry.dirty = true;
        kick();
      } catch (err) {
        log.error({ target: transition.target, err: err instanceof Error ? err.message : String(err) }, 'rollout transition could not be recorded for the forge');
      }
    },

    async flush() {
      if (timer !== undefined) {
        clock.clearTimeout(timer);
        timer = undefined;
      }
      const before = writtenTotal;
      // Rollouts under way whose pull request was not known: ask again (the index bounds how often the forge is asked).
      for (const t of tracked.values()) if (t.withoutPullRequest && !isFinished(t)) t.dirty = true;
      // Queued behind any write under way, so it also waits for that one.
      const { failed } = await exclusive(pass);
      scheduleRetry();
      return { written: writtenTotal - before, failed };
    },

    pending: () => [...tracked.values()].filter((t) => t.dirty || t.writing).length,

    close() {
      closed = true;
      offMerge();
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
    },
  };
}
