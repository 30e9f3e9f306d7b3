/**
 * Delays between retries of list and watch requests: exponential growth,
 * capped, with jitter so that many agents cut off by one API server restart
 * do not come back in step (the thundering herd client-go's reflector
 * avoids the same way). A pure function: the random source is a parameter.
 */

/** How retry delays grow. All durations are in milliseconds. */
export interface BackoffOptions {
  /** Delay before the first retry (attempt 0), before jitter. Milliseconds, above 0. */
  readonly initialMs: number;
  /** No delay exceeds this, before or after jitter. Milliseconds, at least `initialMs`. */
  readonly maxMs: number;
  /** Growth per attempt; 1 keeps the delay constant. At least 1. */
  readonly factor: number;
  /**
   * Share of the delay that is random, 0 to 1: the delay is drawn uniformly
   * from `[base × (1 − jitter), base]`. 0 is no jitter, 1 is "full jitter"
   * (anything from 0 to base), 0.5 keeps at least half of the base delay.
   */
  readonly jitter: number;
}

/**
 * Defaults for API list and watch retries: 200 ms, doubling, capped at
 * 30 s, half of each delay random. A watch cut by an API server restart is
 * back within a quarter of a second; a server down for minutes sees one
 * request per stream every 15–30 s.
 */
export const defaultBackoff: BackoffOptions = Object.freeze({ initialMs: 200, maxMs: 30_000, factor: 2, jitter: 0.5 });

/** A backoff configuration that cannot compute delays; `problems` names each bad field. */
export class BackoffOptionsError extends Error {
  readonly code = 'invalid-backoff';
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`invalid backoff options: ${problems.join('; ')}`);
    this.name = 'BackoffOptionsError';
    this.problems = problems;
  }
}

/** Checks backoff options; throws BackoffOptionsError listing every problem. */
export function validateBackoff(options: BackoffOptions): BackoffOptions {
  const problems: string[] = [];
  const finite = (v: number) => typeof v === 'number' && Number.isFinite(v);
  if (!finite(options.initialMs) || options.initialMs <= 0) problems.push(`initialMs: must be a number above 0, got ${String(options.initialMs)}`);
  if (!finite(options.maxMs) || options.maxMs <= 0) problems.push(`maxMs: must be a number above 0, got ${String(options.maxMs)}`);
  else if (finite(options.initialMs) && options.maxMs < options.initialMs) problems.push(`maxMs: must be at least initialMs (${options.initialMs}), got ${options.maxMs}`);
  if (!finite(options.factor) || options.factor < 1) problems.push(`factor: must be a number of 1 or more, got ${String(options.factor)}`);
  if (!finite(options.jitter) || options.jitter < 0 || options.jitter > 1) problems.push(`jitter: must be a number from 0 to 1, got ${String(options.jitter)}`);
  if (problems.length > 0) throw new BackoffOptionsError(problems);
  return options;
}

/**
 * The delay before retry number `attempt` (0 for the first retry):
 * `min(maxMs, initialMs × factor^attempt)`, less a random share of
 * `jitter` of it. Growth uses `**` (power): Renovate once wrote `^` (XOR)
 * here and its delays went 0, 2, 1, 4, 11, 14 s.
 *
 * @param attempt whole number, 0 or more; huge values simply give `maxMs`.
 * @param random uniform in [0, 1), e.g. `Math.random`; values outside are clamped, NaN counts as 0.
 * @returns milliseconds, in `[base × (1 − jitter), base]`, never above `maxMs`.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number): number {
  if (!Number.isInteger(attempt) || attempt < 0) throw new RangeError(`backoff attempt must be a whole number, 0 or more, got ${attempt}`);
  validateBackoff(options);
  // factor ** attempt reaches Infinity for large attempts; min() then gives the cap.
  const base = Math.min(options.maxMs, options.initialMs * options.factor ** attempt);
  const drawn = random();
  const r = Number.isFinite(drawn) ? Math.min(1, Math.max(0, drawn)) : 0;
  return base * (1 - options.jitter * r);
}
