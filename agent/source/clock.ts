/**
 * Time as the source stage sees it: injected, so that tests freeze or
 * advance it and nothing reads the wall clock behind their back (STYLE.md §8).
 */

/** The clock the source and its schedule use; `systemClock` unless one is injected. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Calls `callback` after `ms` milliseconds; returns a handle for `clearTimeout`. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels a timer made by this clock's `setTimeout`; unknown handles are ignored. */
  clearTimeout(handle: unknown): void;
}

/** The process's own clock and timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
