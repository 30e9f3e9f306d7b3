/**
 * The simulation's one clock. Every delay in kube-sim (pod start times,
 * grace periods, controller requeues) is measured in simulated time and
 * scheduled through here, so `--time-scale 100` makes a 30 s grace period
 * take 0.3 s of wall time while timestamps shown by the API stay coherent.
 */

/** A clock whose simulated time runs `scale` times faster than wall time. */
export interface SimClock {
  /** Simulated now, in milliseconds since the epoch. */
  now(): number;
  /** Simulated now as an RFC 3339 timestamp with second precision, as the API shows it. */
  rfc3339(): string;
  /** Simulated now as a MicroTime (`2006-01-02T15:04:05.000000Z`), as Events and Leases use. */
  microTime(): string;
  /** Runs `fn` after `delayMs` of simulated time; returns a cancel function. */
  after(delayMs: number, fn: () => void): () => void;
  /** How many simulated milliseconds pass per wall-clock millisecond. */
  readonly scale: number;
  /** Cancels every pending timer (used when a simulation shuts down). */
  stop(): void;
}

/**
 * Creates a clock starting at `startAt` (default the current wall time).
 * @param scale simulated ms per wall ms; 1 is real time, 100 is a hundred times faster.
 * @param startAt simulated start, ms since the epoch: a rehearsal or the demo can start just before a maintenance window.
 */
export function createClock(scale = 1, startAt?: number): SimClock {
  if (!(scale > 0) || !Number.isFinite(scale)) throw new RangeError(`time scale must be a positive number, got ${scale}`);
  if (startAt !== undefined && !Number.isFinite(startAt)) throw new RangeError(`start time must be a finite number of ms, got ${startAt}`);
  const wallStart = Date.now();
  const simStart = startAt ?? wallStart;
  const timers = new Set<NodeJS.Timeout>();
  const now = (): number => simStart + (Date.now() - wallStart) * scale;
  return {
    scale,
    now,
    rfc3339: () => new Date(Math.floor(now() / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
    microTime: () => new Date(now()).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z'),
    after(delayMs, fn) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        fn();
      }, Math.max(0, delayMs / scale));
      // Timers never keep the process alive: a simulation ends when its server closes.
      timer.unref();
      timers.add(timer);
      return () => {
        clearTimeout(timer);
        timers.delete(timer);
      };
    },
    stop() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}
