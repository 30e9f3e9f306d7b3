/**
 * A keyed reconcile queue for the simulated operators: one reconcile per
 * key at a time, repeated requests collapsed, requeue after a simulated
 * delay. Operators react to store events and their own requeues; nothing
 * polls, so an idle simulation costs no CPU.
 */
import type { SimClock } from '../clock.ts';

export interface ReconcileQueue {
  /** Reconciles `key` soon (on the next turn of the event loop). */
  enqueue(key: string): void;
  /** Reconciles `key` after `delayMs` of simulated time, unless an earlier run is already due. */
  enqueueAfter(key: string, delayMs: number): void;
  stop(): void;
}

/** What a reconcile returns: a delay to run again after, or nothing. */
export type ReconcileResult = { requeueAfterMs: number } | void;

export function createReconcileQueue(clock: SimClock, reconcile: (key: string) => ReconcileResult, onError: (key: string, err: unknown) => void): ReconcileQueue {
  const due = new Map<string, { at: number; cancel: () => void }>();
  let stopped = false;

  const run = (key: string): void => {
    due.delete(key);
    if (stopped) return;
    let result: ReconcileResult;
    try {
      result = reconcile(key);
    } catch (err) {
      onError(key, err);
      result = { requeueAfterMs: 1000 };
    }
    if (result) schedule(key, result.requeueAfterMs);
  };

  const schedule = (key: string, delayMs: number): void => {
    if (stopped) return;
    const at = clock.now() + delayMs;
    const existing = due.get(key);
    if (existing && existing.at <= at) return;
    existing?.cancel();
    due.set(key, { at, cancel: clock.after(delayMs, () => run(key)) });
  };

  return {
    enqueue: (key) => schedule(key, 0),
    enqueueAfter: schedule,
    stop: () => {
      stopped = true;
      for (const { cancel } of due.values()) cancel();
      due.clear();
    },
  };
}
