/**
 * The live cache's errors, each with a stable `code`, and the one function
 * that decides what a failed list or watch leads to (STYLE.md §5).
 */

/** Why a request to the API server failed. */
export type RequestFailure = 'status' | 'network' | 'bad-response' | 'deadline';

/**
 * A list or watch request that failed: an HTTP error status (with the
 * Status object's reason and message), a network error, a response that is
 * not what the API promises, or a watch that outlived its deadline. The
 * URL is sanitised; headers (and so credentials) are never part of it.
 */
export class LiveRequestError extends Error {
  readonly code: RequestFailure;
  /** HTTP status, or the `code` of an in-stream ERROR event's Status. */
  readonly status: number | undefined;
  /** Status `reason`, e.g. `Expired`, `Forbidden`. */
  readonly reason: string | undefined;
  /** Retry-After of a 429 or 503, in milliseconds. */
  readonly retryAfterMs: number | undefined;
  /** The request, without credentials: `GET https://host/api/v1/pods?watch=1…`. */
  readonly request: string;

  constructor(code: RequestFailure, request: string, message: string, details: { status?: number; reason?: string; retryAfterMs?: number; cause?: unknown } = {}) {
    super(`${request}: ${message}`, details.cause !== undefined ? { cause: details.cause } : undefined);
    this.name = 'LiveRequestError';
    this.code = code;
    this.status = details.status;
    this.reason = details.reason;
    this.retryAfterMs = details.retryAfterMs;
    this.request = request;
  }
}

/** Codes of {@link LiveCacheError}. */
export type LiveCacheErrorCode =
  /** The API server rejected the credentials (401) on the first list. */
  | 'unauthorized'
  /** The credentials may not list a resource (403) on the first list. */
  | 'forbidden'
  /** `start()` was aborted by its signal before every resource listed. */
  | 'aborted'
  /** The cache was stopped before `start()` finished. */
  | 'stopped'
  /** `get`/`list` asked about a resource or namespace the cache does not watch. */
  | 'not-watched'
  /** `createLiveCache` options are invalid. */
  | 'invalid-options';

/** An error of the live cache itself; `code` says which, `cause` carries the request error if any. */
export class LiveCacheError extends Error {
  readonly code: LiveCacheErrorCode;

  constructor(code: LiveCacheErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LiveCacheError';
    this.code = code;
  }
}

/** Codes of {@link WaitError}. */
export type WaitErrorCode = 'timeout' | 'aborted' | 'stopped';

/** A `waitFor` that ended without its condition: timed out, aborted by its signal, or the cache stopped. */
export class WaitError extends Error {
  readonly code: WaitErrorCode;
  /** The wait's `description`. */
  readonly description: string;

  constructor(code: WaitErrorCode, description: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WaitError';
    this.code = code;
    this.description = description;
  }
}

/**
 * What a failed list or watch leads to:
 * - `relist`: 410 Gone (the resourceVersion was compacted away): list again;
 * - `not-installed`: 404 on the collection (a CRD not installed): empty the
 *   store, report it, retry the list with backoff;
 * - `denied`: 401 or 403: fatal on the first list, retried with backoff after;
 * - `retry`: anything else (5xx, 429, network, a cut stream): back off and
 *   watch again from the last resourceVersion.
 */
export function nextStep(error: unknown): 'relist' | 'not-installed' | 'denied' | 'retry' {
  if (!(error instanceof LiveRequestError) || error.code !== 'status') return 'retry';
  if (error.status === 410) return 'relist';
  if (error.status === 404) return 'not-installed';
  if (error.status === 401 || error.status === 403) return 'denied';
  return 'retry';
}

/** A URL with any user name and password removed, for messages and logs. */
export function sanitizeUrl(url: URL | string): string {
  try {
    const u = new URL(String(url));
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}
