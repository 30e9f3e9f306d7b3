/**
 * Pull-request review: the plan of a pull request's head commit against
 * the live cluster, as one sticky comment and a `rollgate/plan` commit
 * status. The planning itself is injected (`planFor`), so this module only
 * decides what to write and when:
 *
 * - `rollgate/plan` goes `pending` when a head is seen for the first time,
 *   then `success` or `failure` (invalid manifests, refused changes) as
 *   `planFor` says, or `error` when planning itself threw.
 * - The comment exists only for pull requests that touch a managed target;
 *   one that stops touching them gets a short note in the same comment.
 * - Writes happen only when something changed: the provider compares the
 *   content hash in the comment's marker, and the reviewer remembers what it
 *   last wrote per pull request so that a poll that finds nothing new makes
 *   no request beyond listing pull requests (re-checked after `recheckMs`,
 *   so a comment someone deleted comes back).
 * - Reviews of one pull request run one at a time; a review of a head that
 *   is no longer the newest one seen writes its status but not the comment.
 */
import type { Logger } from 'pino';
import type { PullRequestEvent } from '../../webhook/events.ts';
import { systemClock, type ForgeClock } from './clock.ts';
import { toForgeError } from './errors.ts';
import { contentHash } from './marker.ts';
import type { CommitState, EnsureAction, ForgeProvider, PullRequest } from './provider.ts';

/** The status context of plans. */
export const planContext = 'rollgate/plan';
/** The marker key of the plan comment. */
export const planMarker = 'plan';

/** What `planFor` answers for one head commit. */
export interface PlanForResult {
  /** Whether the changed files touch a target rollgate manages (else no comment is written). */
  readonly touchesTargets: boolean;
  /** The comment's content: the plan as markdown (warnings first), or the validation errors with file:line. */
  readonly markdown: string;
  /** `failure` for invalid manifests and refused changes. */
  readonly outcome: 'success' | 'failure';
  /** The status description, one line (cut to 140 characters). */
  readonly description: string;
}

/** Plans head commit `headSha` of a pull request that changes `changedFiles`. Injected by the agent (the planner against the live cluster). */
export type PlanFor = (headSha: string, changedFiles: readonly string[]) => Promise<PlanForResult>;

/** Options of {@link createPullRequestReviewer}. */
export interface PullRequestReviewerOptions {
  readonly provider: ForgeProvider;
  readonly planFor: PlanFor;
  readonly logger: Logger;
  /** The branch rollgate deploys from: only pull requests into it are reviewed. */
  readonly baseBranch: string;
  /** A link for the status (a dashboard), per pull request. Default: none. */
  readonly targetUrl?: (pr: PullRequest) => string | undefined;
  /** Default: the wall clock. */
  readonly clock?: ForgeClock;
  /** How long the reviewer trusts its memory of what it wrote before asking the forge again, in ms. Default 3,600,000 (1 h). */
  readonly recheckMs?: number;
  /** Pull requests reviewed at once by {@link PullRequestReviewer.refreshAll}. Default 4. */
  readonly concurrency?: number;
}

/** What one review did. */
export interface ReviewResult {
  readonly pr: number;
  readonly headSha: string;
  /** The status written: `error` when `planFor` threw. */
  readonly state: CommitState;
  /** What happened to the comment: `none` when the PR touches no target and never had a comment; `stale` when a newer head arrived meanwhile. */
  readonly comment: EnsureAction | 'none' | 'stale';
}

/** Summary of {@link PullRequestReviewer.refreshAll}. */
export interface RefreshSummary {
  readonly reviewed: number;
  /** Pull requests whose review failed (logged); they are tried again on the next refresh. */
  readonly failed: number;
}

/** The pull-request reviewer. */
export interface PullRequestReviewer {
  /** Plans and reports pull request `pr` (with its changed files). Throws a `ForgeError` when the forge fails; `planFor` failing is reported as an `error` status instead. */
  reviewPullRequest(pr: PullRequest): Promise<ReviewResult>;
  /** Reviews every open pull request into the base branch: on each poll, and when the live state changed. Never throws for one pull request's failure. */
  refreshAll(): Promise<RefreshSummary>;
  /** Reviews the pull request of a webhook event (opened, synchronize, reopened…), forgets a closed or merged one; ignores other base branches. */
  handleEvent(event: PullRequestEvent): Promise<ReviewResult | undefined>;
}

interface Written {
  readonly headSha: string;
  /** Hash of the comment content last ensured, undefined when there is none. */
  readonly commentHash: string | undefined;
  readonly state: CommitState;
  readonly description: string;
  readonly at: number;
}

/** The note that replaces the plan when a pull request stops touching managed targets. */
export const noTargetsMarkdown = '### rollgate plan\n\nThis pull request no longer changes any target rollgate manages.\n';

/** Creates the reviewer. Makes no request until called. */
export function createPullRequestReviewer(options: PullRequestReviewerOptions): PullRequestReviewer {
  const { provider, planFor, logger: log } = options;
  const clock = options.clock ?? systemClock;
  const recheckMs = options.recheckMs ?? 3_600_000;
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const written = new Map<number, Written>();
  const newestHead = new Map<number, string>();
  const queues = new Map<number, Promise<unknown>>();

  /** Runs `work` after the previous work of the same pull request. */
  function serial<T>(pr: number, work: () => Promise<T>): Promise<T> {
    const previous = queues.get(pr) ?? Promise.resolve();
    const next = previous.then(work, work);
    const tail = next.catch(() => undefined);
    queues.set(pr, tail);
    void tail.then(() => {
      if (queues.get(pr) === tail) queues.delete(pr);
    });
    return next;
  }

  async function review(pr: PullRequest): Promise<ReviewResult> {
    const last = written.get(pr.number);
    const fresh = last !== undefined && clock.now() - last.at < recheckMs;
    const targetUrl = options.targetUrl?.(pr);
    if (last?.headSha !== pr.headSha) await provider.setCommitStatus(pr.headSha, planContext, 'pending', 'Planning against the live cluster…', targetUrl);

    let result: PlanForResult;
    try {
      result = await planFor(pr.headSha, pr.changedFiles);
    } catch (err) {
      log.error({ pr: pr.number, headSha: pr.headSha, err: err instanceof Error ? { name: err.name, message: err.message } : String(err) }, 'planning a pull request failed');
      const description = 'rollgate could not compute the plan; see the agent log';
      await provider.setCommitStatus(pr.headSha, planContext, 'error', description, targetUrl);
      written.set(pr.number, { headSha: pr.headSha, commentHash: last?.commentHash, state: 'error', description, at: clock.now() });
      return { pr: pr.number, headSha: pr.headSha, state: 'error', comment: 'none' };
    }

    const content = result.touchesTargets ? result.markdown : last?.commentHash !== undefined ? noTargetsMarkdown : undefined;
    const hash = content !== undefined ? contentHash(content) : undefined;
    let comment: ReviewResult['comment'] = 'none';
    if (newestHead.get(pr.number) !== undefined && newestHead.get(pr.number) !== pr.headSha) {
      comment = 'stale';
    } else if (content !== undefined) {
      comment = fresh && last.commentHash === hash ? 'unchanged' : (await provider.ensureComment(pr.number, planMarker, content)).action;
    }
    const sameStatus = fresh && last.headSha === pr.headSha && last.state === result.outcome && last.description === result.description;
    if (!sameStatus) await provider.setCommitStatus(pr.headSha, planContext, result.outcome, result.description, targetUrl);
    const keepsOld = comment === 'stale' || comment === 'none';
    written.set(pr.number, { headSha: pr.headSha, commentHash: keepsOld ? last?.commentHash : hash, state: result.outcome, description: result.description, at: sameStatus && comment === 'unchanged' ? last.at : clock.now() });
    if (comment !== 'unchanged' && comment !== 'none') log.info({ pr: pr.number, headSha: pr.headSha, comment, state: result.outcome }, 'plan comment ensured');
    return { pr: pr.number, headSha: pr.headSha, state: result.outcome, comment };
  }

  function reviewPullRequest(pr: PullRequest): Promise<ReviewResult> {
    newestHead.set(pr.number, pr.headSha);
    return serial(pr.number, () => review(pr));
  }

  return {
    reviewPullRequest,

    async refreshAll() {
      const open = await provider.listOpenPullRequests(options.baseBranch);
      const openNumbers = new Set(open.map((p) => p.number));
      for (const pr of written.keys()) if (!openNumbers.has(pr)) written.delete(pr);
      let failed = 0;
      let next = 0;
      const worker = async (): Promise<void> => {
        for (let i = next++; i < open.length; i = next++) {
          const pr = open[i];
          if (pr === undefined) continue;
          try {
            await reviewPullRequest(pr);
          } catch (err) {
            failed++;
            const e = toForgeError(err, provider.kind);
            log.warn({ pr: pr.number, code: e.code, err: e.message }, 'pull request review failed');
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, open.length) }, worker));
      return { reviewed: open.length - failed, failed };
    },

    async handleEvent(event) {
      if (event.baseRef !== options.baseBranch) return undefined;
      if (event.action === 'closed' || event.action === 'merged') {
        written.delete(event.number);
        newestHead.delete(event.number);
        return undefined;
      }
      newestHead.set(event.number, event.headSha);
      const changedFiles = await provider.listChangedFiles(event.number);
      return reviewPullRequest({ number: event.number, headSha: event.headSha, baseRef: event.baseRef, state: 'open', changedFiles });
    },
  };
}
