/**
 * The forge adapters' typed error and the one mapping from whatever a
 * client library threw (octokit's `RequestError`, our GitLab requester's
 * `ForgeHttpError`, a network failure) to it. Messages name the request
 * (`GET /repos/o/r/pulls`) and the status, never a header, a token or a
 * body we sent (STYLE.md §5; Argo CD leaked credentials through error
 * messages, CVE-2021-23135).
 */
import { redact } from '../../source/errors.ts';

/**
 * Stable codes of a {@link ForgeError}; callers branch on these, never on messages.
 * - `unavailable`: network errors or 5xx answers, still failing after the retries (transient).
 * - `rate-limited`: the forge's rate limit, primary or secondary, outlasted the retries or the longest wait allowed (transient; see `retryAfterMs`).
 * - `timeout`: a request took longer than its timeout, every attempt (transient).
 * - `auth`: 401, the credentials are wrong or expired; or the GitHub App token exchange failed.
 * - `forbidden`: 403 that is not a rate limit: the token may not do this.
 * - `not-found`: 404, the repository, pull request, commit or user does not exist (or the token cannot see it).
 * - `invalid`: 400 or 422, the forge refused the request as written (an unknown commit, a body too long).
 * - `protocol`: the forge answered something this adapter cannot read.
 * - `config`: the adapter's own options are wrong (no repository, a private key that does not parse).
 */
export type ForgeErrorCode = 'unavailable' | 'rate-limited' | 'timeout' | 'auth' | 'forbidden' | 'not-found' | 'invalid' | 'protocol' | 'config';

/** An error from a forge: a stable `code`, the request it concerns, and a message free of credentials. */
export class ForgeError extends Error {
  override readonly name = 'ForgeError';
  readonly code: ForgeErrorCode;
  /** The HTTP status of the last answer, if there was one. */
  readonly status: number | undefined;
  /** `METHOD /path` of the request, without query or credentials. */
  readonly request: string | undefined;
  /** For `rate-limited` and `unavailable`: how long the forge asked us to wait, in ms, if it said. */
  readonly retryAfterMs: number | undefined;

  constructor(code: ForgeErrorCode, message: string, options: { status?: number; request?: string; retryAfterMs?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status;
    this.request = options.request;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** Whether trying the same request later may succeed without a person acting. */
export function isTransient(code: ForgeErrorCode): boolean {
  return code === 'unavailable' || code === 'rate-limited' || code === 'timeout';
}

/** The code for a final HTTP status that was not retried (or no longer). */
export function codeForStatus(status: number): ForgeErrorCode {
  if (status === 401) return 'auth';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not-found';
  if (status === 429) return 'rate-limited';
  if (status === 408) return 'timeout';
  if (status >= 500) return 'unavailable';
  if (status >= 400) return 'invalid';
  return 'protocol';
}

/** `METHOD /path` of a URL, for messages and logs: no query string (GitLab accepts tokens there), no userinfo. */
export function requestLabel(method: string, url: string): string {
  try {
    return `${method.toUpperCase()} ${new URL(url).pathname}`;
  } catch {
    return `${method.toUpperCase()} ${redact(url.split('?')[0] ?? '')}`;
  }
}

interface StatusLike {
  readonly status?: unknown;
  readonly message?: unknown;
  readonly request?: { readonly method?: unknown; readonly url?: unknown };
  readonly cause?: unknown;
}

/**
 * Any error thrown while talking to a forge, as a {@link ForgeError}: one
 * found in the `cause` chain is returned as it is (our retrying fetch throws
 * them, octokit wraps them); an octokit `RequestError` or anything else
 * with a numeric `status` maps by {@link codeForStatus}; the rest is
 * `unavailable`. `secrets` are removed from the message.
 */
export function toForgeError(err: unknown, forge: string, secrets: readonly string[] = []): ForgeError {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 8; e = (e as StatusLike).cause, depth++) {
    if (e instanceof ForgeError) return e;
  }
  const like = (typeof err === 'object' && err !== null ? err : {}) as StatusLike;
  const status = typeof like.status === 'number' ? like.status : undefined;
  const request = typeof like.request?.method === 'string' && typeof like.request.url === 'string' ? requestLabel(like.request.method, like.request.url) : undefined;
  const detail = redact(typeof like.message === 'string' ? like.message : String(err), secrets).slice(0, 300);
  if (status !== undefined && status >= 400) {
    return new ForgeError(codeForStatus(status), `${forge} answered ${status}${request !== undefined ? ` to ${request}` : ''}: ${detail}`, { status, ...(request !== undefined ? { request } : {}) });
  }
  return new ForgeError('unavailable', `${forge} could not be reached${request !== undefined ? ` (${request})` : ''}: ${detail}`, request !== undefined ? { request } : {});
}
