/**
 * The one HTTP path of both forge adapters: a `fetch` that retries
 * transient failures and waits out rate limits as {@link decideRetry} says,
 * on the injected clock, and turns an exhausted request into a
 * {@link ForgeError}. octokit takes it as `request.fetch`; the GitLab
 * requester calls it directly.
 *
 * It logs each retry with the request's method and path and the status,
 * never a header: tokens travel in headers only.
 */
import type { Logger } from 'pino';
import { sleep, type ForgeClock } from './clock.ts';
import { ForgeError, requestLabel } from './errors.ts';
import { decideRetry, defaultRetryPolicy, type AttemptOutcome, type RetryPolicy } from './retry.ts';

/** The subset of `fetch` the adapters use: a URL string and an init whose body, if any, is a string (so it can be sent again). */
export type ForgeFetch = (url: string, init?: RequestInit) => Promise<Response>;

/** Options of {@link createForgeFetch}. */
export interface ForgeFetchOptions {
  /** `github` or `gitlab`, for messages and logs. */
  readonly forge: string;
  readonly logger: Logger;
  /** Default: the wall clock. Retry waits sleep on it. */
  readonly clock: ForgeClock;
  /** In [0, 1), for backoff jitter. Default `Math.random`. */
  readonly random?: () => number;
  /** Default {@link defaultRetryPolicy}. */
  readonly retry?: Partial<RetryPolicy>;
  /** Timeout of one attempt, in ms (a timed-out attempt counts as a network error). Default 30,000. */
  readonly requestTimeoutMs?: number;
  /** The underlying fetch. Default `globalThis.fetch`. */
  readonly fetch?: (url: string, init?: RequestInit) => Promise<Response>;
}

/** Creates the retrying fetch. Holds no state between calls. */
export function createForgeFetch(options: ForgeFetchOptions): ForgeFetch {
  const policy: RetryPolicy = { ...defaultRetryPolicy, ...options.retry };
  const random = options.random ?? Math.random;
  const timeoutMs = options.requestTimeoutMs ?? 30_000;
  const log = options.logger;
  const { clock, forge } = options;

  return async (url, init = {}) => {
    const method = init.method ?? 'GET';
    const label = requestLabel(method, url);
    for (let attempt = 1; ; attempt++) {
      const signals = [AbortSignal.timeout(timeoutMs), ...(init.signal ? [init.signal] : [])];
      let response: Response | undefined;
      let outcome: AttemptOutcome;
      let failure: unknown;
      try {
        response = await (options.fetch ?? globalThis.fetch)(url, { ...init, signal: AbortSignal.any(signals) });
        // Only a 403 needs its message read (a secondary limit says so in words); clone so the caller can still read it.
        const body = response.status === 403 ? await response.clone().text().catch(() => '') : undefined;
        outcome = { kind: 'response', status: response.status, header: (name) => response?.headers.get(name) ?? null, ...(body !== undefined ? { body } : {}) };
      } catch (err) {
        // The caller's own abort is not the forge's fault: give up at once.
        if (init.signal?.aborted === true) throw err;
        failure = err;
        outcome = { kind: 'network' };
      }
      let decision = decideRetry(outcome, attempt, clock.now(), random, policy);
      // A POST that failed with a 5xx or on the network may still have been applied (a comment created, its
      // answer lost): sending it again could post the comment twice. It fails instead; the next pass lists the
      // comments and finds by its marker what this one made. A rate limit refuses before doing anything, so
      // it is still waited out.
      if (method === 'POST' && decision.action === 'retry' && decision.reason !== 'rate-limited') decision = { action: 'fail', code: 'unavailable' };
      if (decision.action === 'return' && response !== undefined) return response;
      const status = response?.status;
      const what = failure !== undefined ? networkText(failure) : `answered ${status}`;
      if (decision.action === 'fail') {
        await response?.body?.cancel().catch(() => undefined);
        const message =
          decision.code === 'rate-limited'
            ? `${forge} rate limit: ${label} ${what}${decision.retryAfterMs !== undefined ? `; try again in ${Math.ceil(decision.retryAfterMs / 1000)} s` : ''} (after ${attempt} attempt${attempt === 1 ? '' : 's'})`
            : `${forge} unavailable: ${label} ${what} (after ${attempt} attempt${attempt === 1 ? '' : 's'})`;
        const code = decision.code === 'unavailable' && failure instanceof Error && failure.name === 'TimeoutError' ? 'timeout' : decision.code;
        throw new ForgeError(code, message, {
          request: label,
          ...(status !== undefined ? { status } : {}),
          ...(decision.retryAfterMs !== undefined ? { retryAfterMs: decision.retryAfterMs } : {}),
        });
      }
      if (decision.action === 'retry') {
        await response?.body?.cancel().catch(() => undefined);
        log.warn({ forge, request: label, status, error: failure !== undefined ? networkText(failure) : undefined, attempt, delayMs: decision.delayMs, reason: decision.reason }, 'forge request retried');
        await sleep(clock, decision.delayMs, init.signal ?? undefined);
        if (init.signal?.aborted === true) throw new ForgeError('unavailable', `${forge}: ${label} aborted`, { request: label });
      }
    }
  };
}

/** A network failure in words, without anything from the request: undici puts the reason in `cause`. */
function networkText(err: unknown): string {
  if (err instanceof Error && err.name === 'TimeoutError') return 'timed out';
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  const code = typeof cause === 'object' && cause !== null && 'code' in cause && typeof cause.code === 'string' ? cause.code : undefined;
  return code ?? (cause instanceof Error ? cause.message.slice(0, 200) : 'failed');
}
