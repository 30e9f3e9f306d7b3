/**
 * Which pull request brought a commit: the rollout reporter needs it to
 * find the thread to write in, the comment approvals to tie an approval to
 * the rollout of one merge commit. The answer for a merge commit never
 * changes, so it is cached for good (up to `maxEntries`); "no pull request"
 * is cached briefly, because GitHub links a merge commit to its pull
 * request a few seconds after the merge.
 */
import { systemClock, type ForgeClock } from './clock.ts';
import type { ForgeProvider, PullRequestRef } from './provider.ts';
import type { PullRequestEvent } from '../../webhook/events.ts';

/** Where a pull request was merged. */
export interface MergeInfo {
  /** The commit the merge put on the base branch. */
  readonly mergeSha: string;
  /** RFC 3339, when the forge said. */
  readonly mergedAt?: string;
}

/** The commit ↔ pull request map, shared by the reporter and the approvals. */
export interface PullRequestIndex {
  /**
   * Calls `listener` each time the index learns which pull request a commit
   * was merged by (from a webhook, a lookup or {@link mergeOf}), once per
   * commit and pull request; returns the unsubscribe function. The
   * reporter uses it to write a comment it could not write when the forge
   * did not know the pull request yet.
   */
  onMerge(listener: (pr: number, merge: MergeInfo) => void): () => void;
  /** The merged pull request whose merge commit is `sha`, or undefined. Throws a `ForgeError` when the forge cannot be asked. */
  forCommit(sha: string): Promise<number | undefined>;
  /** Where pull request `pr` was merged, or undefined while it is not. Throws a `ForgeError` when the forge cannot be asked. */
  mergeOf(pr: number): Promise<MergeInfo | undefined>;
  /** Records a merge seen elsewhere (a webhook), saving the forge a request. */
  remember(pr: number, merge: MergeInfo): void;
  /** Feeds a pull-request webhook event: a `merged` one with its merge commit is remembered. */
  handleEvent(event: PullRequestEvent): void;
}

/** Options of {@link createPullRequestIndex}. */
export interface PullRequestIndexOptions {
  readonly provider: ForgeProvider;
  /** Default: the wall clock. */
  readonly clock?: ForgeClock;
  /** How long "no merged pull request for this commit" is believed, in ms. Default 60,000. */
  readonly negativeTtlMs?: number;
  /** Most commits and pull requests remembered; the oldest are forgotten first. Default 1,000. */
  readonly maxEntries?: number;
}

/** Whether `ref` is the merged pull request whose merge commit is `sha`. */
export function mergedAs(ref: PullRequestRef, sha: string): boolean {
  return ref.state === 'merged' && ref.mergeSha === sha;
}

/** Creates the index. Makes no request until asked. */
export function createPullRequestIndex(options: PullRequestIndexOptions): PullRequestIndex {
  const clock = options.clock ?? systemClock;
  const negativeTtl = options.negativeTtlMs ?? 60_000;
  const maxEntries = options.maxEntries ?? 1_000;
  const byCommit = new Map<string, { pr: number | undefined; at: number }>();
  const merges = new Map<number, MergeInfo>();
  const inFlight = new Map<string, Promise<number | undefined>>();
  const listeners = new Set<(pr: number, merge: MergeInfo) => void>();

  const bound = <K, V>(map: Map<K, V>): void => {
    // Maps iterate in insertion order: the first key is the oldest.
    while (map.size > maxEntries) map.delete(map.keys().next().value as K);
  };

  function remember(pr: number, merge: MergeInfo): void {
    const known = byCommit.get(merge.mergeSha)?.pr === pr;
    merges.set(pr, merge);
    byCommit.set(merge.mergeSha, { pr, at: clock.now() });
    bound(merges);
    bound(byCommit);
    if (known) return;
    // A listener's failure is its own; the index and the other listeners go on.
    for (const listener of [...listeners]) {
      try {
        listener(pr, merge);
      } catch {
        // ignored: listeners log their own errors
      }
    }
  }

  async function lookup(sha: string): Promise<number | undefined> {
    const refs = await options.provider.pullRequestsForCommit(sha);
    const merged = refs.find((r) => mergedAs(r, sha));
    if (merged !== undefined) {
      remember(merged.number, { mergeSha: sha, ...(merged.mergedAt !== undefined ? { mergedAt: merged.mergedAt } : {}) });
      return merged.number;
    }
    // A webhook may have named the merge while the forge was asked: that beats the forge's "none yet".
    const meanwhile = byCommit.get(sha)?.pr;
    if (meanwhile !== undefined) return meanwhile;
    byCommit.set(sha, { pr: undefined, at: clock.now() });
    bound(byCommit);
    return undefined;
  }

  return {
    onMerge(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    async forCommit(sha) {
      const known = byCommit.get(sha);
      if (known !== undefined && (known.pr !== undefined || clock.now() - known.at < negativeTtl)) return known.pr;
      let pending = inFlight.get(sha);
      if (pending === undefined) {
        pending = lookup(sha).finally(() => inFlight.delete(sha));
        inFlight.set(sha, pending);
      }
      return pending;
    },
    async mergeOf(pr) {
      const known = merges.get(pr);
      if (known !== undefined) return known;
      const ref = await options.provider.getPullRequest(pr);
      if (ref.state !== 'merged' || ref.mergeSha === undefined) return undefined;
      const merge = { mergeSha: ref.mergeSha, ...(ref.mergedAt !== undefined ? { mergedAt: ref.mergedAt } : {}) };
      remember(pr, merge);
      return merge;
    },
    remember,
    handleEvent(event) {
      if (event.action === 'merged' && event.mergeSha !== undefined) remember(event.number, { mergeSha: event.mergeSha });
    },
  };
}
