/**
 * What to do after one attempt of a forge request: pure functions of the
 * answer's status and headers, the attempt number and the time, tested in
 * tables (STYLE.md §17).
 *
 * GitHub documents three ways it says "slow down": `Retry-After` (secondary
 * limits, 403 or 429), `x-ratelimit-remaining: 0` with `x-ratelimit-reset`
 * in epoch seconds (the primary limit, 403 or 429), and a 403 whose message
 * mentions a secondary rate limit with neither header, after which it asks
 * for at least a minute's wait. GitLab answers 429 with `Retry-After` and
 * `RateLimit-Reset` (epoch seconds).
 */

/** Bounds of the retries of one forge request. */
export interface RetryPolicy {
  /** Attempts in all, the first included. Default 4. */
  readonly maxAttempts: number;
  /** Backoff before the first retry of a 5xx or network error, in ms. Default 500. */
  readonly baseMs: number;
  /** Longest backoff, in ms. Default 30,000. */
  readonly maxMs: number;
  /** Longest wait a rate limit or `Retry-After` may impose inside one call, in ms; a longer one fails the call at once with `retryAfterMs`, so callers can schedule it. Default 60,000. */
  readonly maxWaitMs: number;
}

/** 4 attempts, 0.5 s doubling to 30 s, rate-limit waits up to 60 s. */
export const defaultRetryPolicy: RetryPolicy = { maxAttempts: 4, baseMs: 500, maxMs: 30_000, maxWaitMs: 60_000 };

/** GitHub's advice for a secondary rate limit that names no wait: "wait for at least one minute". */
export const secondaryLimitWaitMs = 60_000;

/** The outcome of one attempt, as {@link decideRetry} reads it. */
export type AttemptOutcome =
  | { readonly kind: 'network' }
  | { readonly kind: 'response'; readonly status: number; readonly header: (name: string) => string | null; readonly body?: string };

/** What happens next. */
export type RetryDecision =
  | { readonly action: 'return' }
  | { readonly action: 'retry'; readonly delayMs: number; readonly reason: 'network' | 'server-error' | 'rate-limited' }
  | { readonly action: 'fail'; readonly code: 'unavailable' | 'rate-limited'; readonly retryAfterMs?: number };

/**
 * The delay before retry number `attempt` (1 for the first retry), in ms:
 * `min(maxMs, baseMs · 2^(attempt−1))`, of which the upper half is
 * jittered by `random()` in [0, 1), so agents that failed together do not
 * retry together.
 */
export function backoffMs(attempt: number, policy: Pick<RetryPolicy, 'baseMs' | 'maxMs'>, random: () => number): number {
  const exponent = Math.min(Math.max(0, Math.floor(attempt) - 1), 30);
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** exponent);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.round(ceiling / 2 + (ceiling / 2) * r);
}

/**
 * A `Retry-After` value in ms from `nowMs`: delta seconds (`"30"`) or an
 * HTTP date; undefined when absent or unreadable. Never negative.
 */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

/**
 * When an exhausted quota resets, in ms from `nowMs`, or undefined when the
 * quota is not exhausted. Reads `x-ratelimit-*` (GitHub) or `ratelimit-*`
 * (GitLab). A reset above 10^9 is epoch seconds, a smaller one delta
 * seconds (the IETF draft's form). One extra second covers clock skew.
 */
export function quotaResetMs(header: (name: string) => string | null, nowMs: number): number | undefined {
  const remaining = header('x-ratelimit-remaining') ?? header('ratelimit-remaining');
  if (remaining === null || remaining.trim() !== '0') return undefined;
  const reset = Number(header('x-ratelimit-reset') ?? header('ratelimit-reset'));
  if (!Number.isFinite(reset) || reset <= 0) return undefined;
  const at = reset > 1e9 ? reset * 1000 : nowMs + reset * 1000;
  return Math.max(0, at - nowMs) + 1000;
}

/**
 * Decides, after attempt number `attempt` (1-based), whether to return the
 * answer, wait and retry, or fail with a transient code.
 * - 429, or 403 with an exhausted quota, a `Retry-After`, or a message about a secondary
 *   rate limit: wait as told (`Retry-After`, else the quota's reset, else a minute for a
 *   secondary limit, else backoff); fail `rate-limited` when that exceeds `maxWaitMs` or
 *   the attempts are used up.
 * - 5xx: retry after `Retry-After` or backoff; fail `unavailable` when the attempts are used up.
 * - Network error: the same with backoff.
 * - Anything else (2xx, 3xx, other 4xx): return it.
 */
export function decideRetry(outcome: AttemptOutcome, attempt: number, nowMs: number, random: () => number, policy: RetryPolicy = defaultRetryPolicy): RetryDecision {
  const last = attempt >= policy.maxAttempts;
  if (outcome.kind === 'network') {
    return last ? { action: 'fail', code: 'unavailable' } : { action: 'retry', delayMs: backoffMs(attempt, policy, random), reason: 'network' };
  }
  const { status, header } = outcome;
  const retryAfter = parseRetryAfter(header('retry-after'), nowMs);
  const reset = quotaResetMs(header, nowMs);
  const secondary = status === 403 && /secondary rate limit|abuse detection/i.test(outcome.body ?? '');
  if (status === 429 || (status === 403 && (reset !== undefined || retryAfter !== undefined || secondary))) {
    const wait = retryAfter ?? reset ?? (secondary ? secondaryLimitWaitMs : backoffMs(attempt, policy, random));
    if (last || wait > policy.maxWaitMs) return { action: 'fail', code: 'rate-limited', retryAfterMs: wait };
    return { action: 'retry', delayMs: wait, reason: 'rate-limited' };
  }
  if (status >= 500) {
    const wait = retryAfter ?? backoffMs(attempt, policy, random);
    if (last || wait > policy.maxWaitMs) return { action: 'fail', code: 'unavailable', ...(retryAfter !== undefined ? { retryAfterMs: retryAfter } : {}) };
    return { action: 'retry', delayMs: wait, reason: 'server-error' };
  }
  return { action: 'return' };
}
