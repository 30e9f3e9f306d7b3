/**
 * Retry arithmetic and time for the status writer, kept apart so it can be
 * tested as plain functions, and so tests can drive time.
 */
/**
 * Time as the reporter sees it. The same shape as the source stage's
 * `Clock`, so one clock can drive the whole agent.
 */
export interface ReporterClock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Calls `callback` after `ms` milliseconds; returns a handle for `clearTimeout`. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels a timer made by this clock's `setTimeout`. */
  clearTimeout(handle: unknown): void;
}

/** The process's own clock and timers. */
export const systemClock: ReporterClock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Resolves after `ms` on `clock`, or as soon as `signal` aborts; never rejects. */
export function sleep(clock: ReporterClock, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const onAbort = (): void => {
      clock.clearTimeout(handle);
      resolve();
    };
    const handle = clock.setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Bounds of {@link retryDelay}. */
export interface BackoffPolicy {
  /** Delay before the first retry, in milliseconds. Default 1,000. */
  readonly baseMs: number;
  /** Largest delay, in milliseconds. Default 60,000. */
  readonly maxMs: number;
}

/** Default {@link BackoffPolicy}: 1 s doubling up to 60 s. */
export const defaultBackoff: BackoffPolicy = { baseMs: 1_000, maxMs: 60_000 };

/**
 * The delay before retry number `attempt` (0 for the first retry), in
 * milliseconds: `baseMs · 2^attempt` capped at `maxMs`, of which the upper
 * half is jittered by `random()` (in [0, 1)) so that agents sharing a remote
 * do not retry in step.
 */
export function retryDelay(attempt: number, policy: BackoffPolicy = defaultBackoff, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(0, Math.floor(attempt)), 30);
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** exponent);
  return Math.round(ceiling / 2 + (ceiling / 2) * Math.min(Math.max(random(), 0), 1));
}
