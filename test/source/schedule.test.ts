/**
 * Poll schedules on a manual clock: intervals with jitter, cron
 * expressions in a time zone, no overlapping runs, and nothing left behind
 * by stop().
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPollSchedule, systemClock } from '../../agent/source/index.ts';
import { manualClock } from './fixture.ts';

/** Lets the promise callbacks of finished runs happen. */
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Advances the clock in steps of `stepMs`, letting runs finish between steps. */
async function advance(clock: ReturnType<typeof manualClock>, totalMs: number, stepMs = 1_000): Promise<void> {
  for (let t = 0; t < totalMs; t += stepMs) {
    clock.advance(Math.min(stepMs, totalMs - t));
    await flush();
  }
}

describe('createPollSchedule: interval', () => {
  it('runs every interval plus jitter, measured from the end of the previous run', async () => {
    const start = Date.UTC(2026, 0, 1);
    const clock = manualClock(start);
    const draws = [0, 0.5, 1 - 1e-9];
    let i = 0;
    const schedule = createPollSchedule({ intervalMs: 60_000, jitter: 0.5 }, clock, () => draws[i++ % draws.length] ?? 0);
    const runs: number[] = [];
    schedule.start(() => {
      runs.push(clock.now() - start);
    });
    assert.equal(schedule.nextRunAt(), start + 60_000);
    await advance(clock, 300_000);
    // Delays drawn: 60 s (no jitter), 75 s (half of the 50 %), 90 s (all of it), then 60 s again.
    assert.deepEqual(runs, [60_000, 135_000, 225_000, 285_000]);
    schedule.stop();
    assert.equal(clock.pending(), 0);
    assert.equal(schedule.nextRunAt(), undefined);
    await advance(clock, 600_000);
    assert.equal(runs.length, 4, 'nothing runs after stop()');
  });

  it('never overlaps a slow run, and a run in progress at stop() is not followed by another', async () => {
    const clock = manualClock();
    const schedule = createPollSchedule({ intervalMs: 10_000, jitter: 0 }, clock, () => 0);
    let release: () => void = () => undefined;
    let started = 0;
    schedule.start(() => {
      started++;
      return new Promise<void>((resolve) => (release = resolve));
    });
    await advance(clock, 10_000);
    assert.equal(started, 1);
    await advance(clock, 60_000);
    assert.equal(started, 1, 'a slow run holds the next one back');
    assert.equal(clock.pending(), 0);
    schedule.stop();
    release();
    await flush();
    await advance(clock, 60_000);
    assert.equal(started, 1);
    assert.equal(clock.pending(), 0);
  });

  it('a failing run does not stop the schedule', async () => {
    const clock = manualClock();
    const schedule = createPollSchedule({ intervalMs: 1_000, jitter: 0 }, clock, () => 0);
    let runs = 0;
    schedule.start(() => {
      runs++;
      throw new Error('boom');
    });
    await advance(clock, 3_000);
    assert.equal(runs, 3);
    schedule.stop();
  });

  it('refuses an interval under 1 s and a jitter outside 0–1', () => {
    assert.throws(() => createPollSchedule({ intervalMs: 10 }), { code: 'config', message: /at least 1000 ms/ });
    assert.throws(() => createPollSchedule({ intervalMs: 60_000, jitter: 2 }), { code: 'config', message: /between 0 and 1/ });
  });
});

describe('createPollSchedule: cron', () => {
  it('runs at the minutes the expression names', async () => {
    const start = Date.UTC(2026, 0, 1, 10, 0, 30);
    const clock = manualClock(start);
    const schedule = createPollSchedule({ cron: '*/5 * * * *' }, clock);
    const runs: string[] = [];
    schedule.start(() => {
      runs.push(new Date(clock.now()).toISOString());
    });
    await advance(clock, 16 * 60_000);
    schedule.stop();
    assert.equal(clock.pending(), 0);
    assert.deepEqual(runs, ['2026-01-01T10:05:00.000Z', '2026-01-01T10:10:00.000Z', '2026-01-01T10:15:00.000Z']);
  });

  it('reads the expression in the given time zone', async () => {
    const clock = manualClock(Date.UTC(2026, 0, 1, 16, 59, 0));
    const schedule = createPollSchedule({ cron: '0 2 * * *', timeZone: 'Asia/Tokyo' }, clock);
    const runs: string[] = [];
    schedule.start(() => {
      runs.push(new Date(clock.now()).toISOString());
    });
    await advance(clock, 2 * 60_000);
    schedule.stop();
    // 02:00 in Tokyo (UTC+9) is 17:00 UTC.
    assert.deepEqual(runs, ['2026-01-01T17:00:00.000Z']);
  });

  it('a tick that comes late still runs a due time it skipped, once', async () => {
    const clock = manualClock(Date.UTC(2026, 0, 1, 10, 4, 50));
    const schedule = createPollSchedule({ cron: '*/5 * * * *' }, clock);
    let runs = 0;
    schedule.start(() => {
      runs++;
    });
    // One jump over 10:05:00, as when the event loop was blocked.
    clock.advance(30_000);
    await flush();
    schedule.stop();
    assert.equal(runs, 1);
  });

  it('refuses an invalid expression and an unknown time zone', () => {
    assert.throws(() => createPollSchedule({ cron: '61 * * * *' }), { code: 'config', message: /"61 \* \* \* \*" is not a valid cron expression/ });
    assert.throws(() => createPollSchedule({ cron: '0 2 * * *', timeZone: 'Mars/Olympus' }), { code: 'config', message: /time zone "Mars\/Olympus"/ });
  });

  it('on the system clock, stop() leaves no timer in the process', async () => {
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const cron = createPollSchedule({ cron: '* * * * *' }, systemClock);
    const interval = createPollSchedule({ intervalMs: 60_000 }, systemClock);
    cron.start(() => undefined);
    interval.start(() => undefined);
    assert.equal(timers(), before + 2);
    cron.stop();
    interval.stop();
    await flush();
    assert.equal(timers(), before);
  });
});
