/**
 * Retry and polling arithmetic: small pure functions, tested in tables
 * (STYLE.md §17: Renovate once computed its git retry delay with `^`, so its
 * waits went 0, 2, 1, 4, 11, 14 s).
 */

/** Parameters of the failure backoff. */
export interface BackoffOptions {
  /** Delay after the first failure, in ms. Default 1 000 (1 s). */
  baseMs: number;
  /** Largest delay, in ms. Default 300 000 (5 min); Flux caps at 15 min, we prefer to notice a recovered server sooner. */
  maxMs: number;
  /** Fraction of a delay taken off at random, 0–1. Default 0.2, so agents that failed together do not retry together. */
  jitter: number;
}

/** 1 s, doubling, capped at 5 min, up to 20 % shorter at random. */
export const defaultBackoff: BackoffOptions = { baseMs: 1_000, maxMs: 300_000, jitter: 0.2 };

/**
 * The delay before the next attempt after `failures` consecutive failures
 * (1 for the first), in ms: `min(maxMs, baseMs · 2^(failures−1))`, minus up
 * to `jitter` of it at random, never below `baseMs` nor above `maxMs`.
 * Below the cap, with jitter < 0.5, every possible delay after failure n+1
 * is longer than every possible delay after failure n.
 * `random` returns a number in [0, 1).
 */
export function backoffDelay(failures: number, random: () => number, options: BackoffOptions = defaultBackoff): number {
  const attempt = Math.max(1, Math.floor(failures));
  // 2^(attempt-1) overflows to Infinity for huge counts; Math.min then caps it.
  const capped = Math.min(options.maxMs, options.baseMs * 2 ** (attempt - 1));
  const jittered = capped * (1 - clamp01(options.jitter) * clamp01(random()));
  return Math.round(Math.min(options.maxMs, Math.max(options.baseMs, jittered)));
}

/**
 * The delay until the next scheduled poll, in ms: `intervalMs` plus up to
 * `jitter · intervalMs` at random (Argo CD polls every 120 s + up to 60 s of
 * jitter, i.e. jitter 0.5), so that agents started together spread their
 * requests over time.
 */
export function intervalDelay(intervalMs: number, jitter: number, random: () => number): number {
  return Math.round(intervalMs * (1 + clamp01(jitter) * clamp01(random())));
}

function clamp01(value: number): number {
  if (!Number.isFinite(value)) return 0;
  return Math.min(1, Math.max(0, value));
}
