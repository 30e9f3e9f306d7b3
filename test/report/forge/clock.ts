/** A test clock: time moves only when the test says, or, in `auto` mode, by exactly each timer's delay as soon as it is set. */
import type { ForgeClock } from '../../../agent/report/forge/index.ts';

/** A {@link ForgeClock} driven by the test, recording every delay asked for. */
export interface TestClock extends ForgeClock {
  /** Every `setTimeout` delay, in ms, in order. */
  readonly delays: number[];
  /** Timers not yet fired. */
  pending(): number;
  /** Moves time forward by `ms`, firing the timers that fall due. */
  advance(ms: number): void;
}

/** `auto`: each timer fires on the next turn of the event loop, with time moved to its due time (retries run at once). */
export function testClock(options: { readonly start?: number; readonly auto?: boolean } = {}): TestClock {
  let now = options.start ?? Date.parse('2026-11-20T10:00:00Z');
  let nextId = 1;
  const timers = new Map<number, { due: number; callback: () => void }>();
  const delays: number[] = [];
  const fire = (id: number): void => {
    const timer = timers.get(id);
    if (timer === undefined) return;
    timers.delete(id);
    now = Math.max(now, timer.due);
    timer.callback();
  };
  return {
    delays,
    now: () => now,
    setTimeout(callback, ms) {
      const id = nextId++;
      delays.push(ms);
      timers.set(id, { due: now + ms, callback });
      if (options.auto === true) setImmediate(() => fire(id));
      return id;
    },
    clearTimeout: (handle) => void timers.delete(handle as number),
    pending: () => timers.size,
    advance(ms) {
      const until = now + ms;
      for (const [id, timer] of [...timers].sort((a, b) => a[1].due - b[1].due)) if (timer.due <= until) fire(id);
      now = Math.max(now, until);
    },
  };
}
