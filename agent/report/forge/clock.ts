/**
 * Time as the forge adapters see it: injected so that tests run retries,
 * rate-limit waits and permission caches without waiting (STYLE.md §8). The
 * same shape as the source's `Clock` and the status writer's
 * `ReporterClock`, so one clock can drive the whole agent.
 */

/** The clock of the forge adapters, reviewer, reporter and approvals. */
export interface ForgeClock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Calls `callback` after `ms` milliseconds; returns a handle for `clearTimeout`. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels a timer made by this clock's `setTimeout`; unknown handles are ignored. */
  clearTimeout(handle: unknown): void;
}

/** The process's own clock and timers. */
export const systemClock: ForgeClock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Resolves after `ms` milliseconds on `clock`, or at once when `signal` aborts; never rejects. */
export function sleep(clock: ForgeClock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const onAbort = (): void => {
      clock.clearTimeout(handle);
      resolve();
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Settles as `promise` does, or resolves with `fallback` once `ms` have
 * passed on `clock`, whichever comes first. The promise keeps running; a
 * rejection after the fallback is swallowed, so it never surfaces as
 * unhandled.
 */
export function within<T, F>(clock: ForgeClock, promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  return new Promise((resolve, reject) => {
    const handle = clock.setTimeout(() => resolve(fallback), Math.max(0, ms));
    promise.then(
      (value) => {
        clock.clearTimeout(handle);
        resolve(value);
      },
      (err: unknown) => {
        clock.clearTimeout(handle);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
