/**
 * When to poll: every interval plus jitter, or on a cron schedule. Time is
 * the injected clock's, so tests drive it; cron expressions are parsed and
 * matched by node-cron (with its time-zone handling), but node-cron's own
 * timers are not used, since they read the wall clock.
 */
import type { ScheduledTask } from 'node-cron';
import { createTask, validate } from 'node-cron';
import { intervalDelay } from './backoff.ts';
import type { Clock } from './clock.ts';
import { systemClock } from './clock.ts';
import { SourceError } from './errors.ts';

/** A poll schedule. */
export type PollScheduleSpec =
  | {
      /** Time between the end of one run and the start of the next, in ms (at least 1 000). */
      intervalMs: number;
      /** Extra delay, as a fraction of `intervalMs` (0–1), drawn at random for each run. Default 0.1. */
      jitter?: number;
    }
  | {
      /** A cron expression (5 fields, or 6 with seconds first), e.g. `*\/5 * * * *`. */
      cron: string;
      /** IANA time zone the expression is read in, e.g. `Europe/Berlin`. Default: the process's. */
      timeZone?: string;
    };

/** A running or stoppable schedule. */
export interface PollSchedule {
  /** Starts calling `task` on the schedule; a run never overlaps the previous one (a run that is due while one is in progress is skipped). A second start is ignored. */
  start(task: () => unknown): void;
  /** Stops the schedule and leaves no timer behind; a run in progress finishes, and nothing follows it. */
  stop(): void;
  /** When the next interval run is due, in ms since the epoch; undefined for cron schedules and when stopped. */
  nextRunAt(): number | undefined;
}

/** How far back a late cron tick looks for a due second it missed, in seconds. */
const cronCatchUpSeconds = 60;

/**
 * Creates a schedule (not started). Throws a `SourceError` with code
 * `config` for an interval under 1 s, a jitter outside 0–1, an invalid cron
 * expression or an unknown time zone.
 */
export function createPollSchedule(spec: PollScheduleSpec, clock: Clock = systemClock, random: () => number = Math.random): PollSchedule {
  if ('intervalMs' in spec) {
    if (!Number.isFinite(spec.intervalMs) || spec.intervalMs < 1_000) throw new SourceError('config', `the poll interval must be at least 1000 ms, got ${spec.intervalMs}`);
    const jitter = spec.jitter ?? 0.1;
    if (!(jitter >= 0 && jitter <= 1)) throw new SourceError('config', `the poll jitter must be between 0 and 1 (a fraction of the interval), got ${jitter}`);
    return intervalSchedule(spec.intervalMs, jitter, clock, random);
  }
  if (!validate(spec.cron)) throw new SourceError('config', `the poll schedule ${JSON.stringify(spec.cron)} is not a valid cron expression (minute hour day-of-month month day-of-week)`);
  if (spec.timeZone !== undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: spec.timeZone });
    } catch {
      throw new SourceError('config', `the poll schedule's time zone ${JSON.stringify(spec.timeZone)} is not a known IANA time zone (e.g. Europe/Berlin)`);
    }
  }
  return cronSchedule(spec.cron, spec.timeZone, clock);
}

/** Runs `task`, never letting its failure escape (the task reports its own errors). */
async function runSafely(task: () => unknown): Promise<void> {
  try {
    await task();
  } catch {
    // The source's poll never throws; any other task owns its error reporting.
  }
}

function intervalSchedule(intervalMs: number, jitter: number, clock: Clock, random: () => number): PollSchedule {
  let timer: unknown;
  let dueAt: number | undefined;
  let active = false;
  let task: (() => unknown) | undefined;
  // Bumped by stop(): a run that was in progress then must not re-arm a later start's schedule.
  let generation = 0;
  const arm = (): void => {
    const armedIn = generation;
    const delay = intervalDelay(intervalMs, jitter, random);
    dueAt = clock.now() + delay;
    timer = clock.setTimeout(() => {
      timer = undefined;
      dueAt = undefined;
      void runSafely(task ?? (() => undefined)).then(() => {
        if (active && generation === armedIn) arm();
      });
    }, delay);
  };
  return {
    start: (run) => {
      if (active) return;
      active = true;
      task = run;
      arm();
    },
    stop: () => {
      active = false;
      generation++;
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
      dueAt = undefined;
    },
    nextRunAt: () => dueAt,
  };
}

function cronSchedule(expression: string, timeZone: string | undefined, clock: Clock): PollSchedule {
  let timer: unknown;
  let matcher: ScheduledTask | undefined;
  let busy = false;
  let lastChecked = 0;
  let task: (() => unknown) | undefined;
  const tick = (): void => {
    const now = clock.now();
    const second = Math.floor(now / 1000) * 1000;
    let due = false;
    for (let t = Math.max(lastChecked + 1000, second - cronCatchUpSeconds * 1000); t <= second; t += 1000) {
      if (matcher?.match(new Date(t))) due = true;
    }
    lastChecked = second;
    if (due && !busy && task !== undefined) {
      busy = true;
      void runSafely(task).finally(() => {
        busy = false;
      });
    }
    arm();
  };
  const arm = (): void => {
    timer = clock.setTimeout(tick, 1000 - (clock.now() % 1000));
  };
  return {
    start: (run) => {
      if (matcher !== undefined) return;
      task = run;
      // A node-cron task used only as a matcher: it is never started, so it sets no timer.
      matcher = createTask(expression, () => undefined, timeZone !== undefined ? { timezone: timeZone } : {});
      lastChecked = Math.floor(clock.now() / 1000) * 1000;
      arm();
    },
    stop: () => {
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
      // destroy() removes it from node-cron's registry of tasks.
      void matcher?.destroy();
      matcher = undefined;
      task = undefined;
    },
    nextRunAt: () => undefined,
  };
}
