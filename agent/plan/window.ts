/**
 * Maintenance windows: a 5-field cron expression (when a window opens) in a
 * time zone, and a duration (how long it stays open). Pure arithmetic on
 * instants, shared by the planner (which says when a held stage may start)
 * and the maintenance-window gate (which waits for it).
 */
import { parse } from 'node-cron';

/** Whether a window is open at an instant, and when it next opens or closes (ms since the epoch). */
export type WindowState = { readonly open: true; readonly closesAt: number } | { readonly open: false; readonly opensAt: number | undefined };

interface CronSets {
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly days: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  readonly weekdays: ReadonlySet<number>;
  /** Vixie cron: when both day fields are restricted, a day matches if either does. */
  readonly dayOr: boolean;
}

const cronCache = new Map<string, CronSets>();

function cronSets(expression: string): CronSets {
  const cached = cronCache.get(expression);
  if (cached !== undefined) return cached;
  const fields = parse(expression.trim());
  const numbers = (values: readonly (number | string)[]): Set<number> => new Set(values.map(Number).filter((n) => Number.isInteger(n)));
  // node-cron reads Sunday as 0 or 7; keep 0..6.
  const weekdays = new Set([...numbers(fields.dayOfWeek)].map((d) => d % 7));
  const fieldsOf = expression.trim().split(/\s+/);
  const [dayField, weekdayField] = fieldsOf.length === 6 ? [fieldsOf[3], fieldsOf[5]] : [fieldsOf[2], fieldsOf[4]];
  const sets: CronSets = {
    minutes: numbers(fields.minute),
    hours: numbers(fields.hour),
    days: numbers(fields.dayOfMonth),
    months: numbers(fields.month),
    weekdays,
    dayOr: dayField !== '*' && dayField !== '?' && weekdayField !== '*' && weekdayField !== '?',
  };
  if (cronCache.size > 1000) cronCache.clear();
  cronCache.set(expression, sets);
  return sets;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const weekdayNumbers: Readonly<Record<string, number>> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

interface LocalTime {
  readonly month: number;
  readonly day: number;
  readonly weekday: number;
  readonly hour: number;
  readonly minute: number;
}

/** Wall-clock fields of an instant in a time zone. */
function localTime(instant: number, timeZone: string): LocalTime {
  let format = formatters.get(timeZone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', month: 'numeric', day: 'numeric', weekday: 'short', hour: 'numeric', minute: 'numeric' });
    formatters.set(timeZone, format);
  }
  const parts: Record<string, string> = {};
  for (const part of format.formatToParts(instant)) parts[part.type] = part.value;
  return { month: Number(parts['month']), day: Number(parts['day']), weekday: weekdayNumbers[parts['weekday'] ?? ''] ?? 0, hour: Number(parts['hour']), minute: Number(parts['minute']) };
}

const minute = 60_000;
const hour = 60 * minute;

/**
 * The first instant at or after `from` (rounded up to a whole minute) whose
 * wall-clock time in `timeZone` matches the cron expression, looking at most
 * `horizonMs` ahead (default 400 days); undefined if none.
 *
 * Walks forward in jumps that cannot pass a match: to the next hour when the
 * day or hour is wrong, else to the next minute; every jump re-reads the wall
 * clock, so daylight-saving shifts are handled by the time-zone database.
 */
export function nextCronMatch(expression: string, from: number, timeZone: string, horizonMs = 400 * 24 * hour): number | undefined {
  const sets = cronSets(expression);
  let t = Math.ceil(from / minute) * minute;
  const end = from + horizonMs;
  while (t <= end) {
    const local = localTime(t, timeZone);
    const dayMatches = sets.dayOr ? sets.days.has(local.day) || sets.weekdays.has(local.weekday) : sets.days.has(local.day) && sets.weekdays.has(local.weekday);
    if (!sets.months.has(local.month) || !dayMatches || !sets.hours.has(local.hour)) {
      t += hour - local.minute * minute;
      continue;
    }
    if (sets.minutes.has(local.minute)) return t;
    t += minute;
  }
  return undefined;
}

/**
 * Whether the window (opening at each cron match, open for `durationMs`) is
 * open at `now`; if so until when, otherwise when it next opens.
 */
export function windowState(window: { readonly schedule: string; readonly duration: number; readonly timeZone: string }, now: number): WindowState {
  // A window that opened less than `duration` ago is open: look for a match since then.
  const recent = nextCronMatch(window.schedule, now - window.duration + 1, window.timeZone, window.duration);
  if (recent !== undefined && recent <= now) {
    // Later openings inside this one extend it (a window every hour for two hours never closes).
    let closesAt = recent + window.duration;
    for (let i = 0; i < 1000; i++) {
      const next = nextCronMatch(window.schedule, closesAt - window.duration + minute, window.timeZone, window.duration - minute);
      if (next === undefined || next >= closesAt) break;
      closesAt = next + window.duration;
    }
    return { open: true, closesAt };
  }
  return { open: false, opensAt: nextCronMatch(window.schedule, now + 1, window.timeZone) };
}
