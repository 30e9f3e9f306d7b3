/**
 * A work queue keyed by object: watch events say "this object changed",
 * and the queue makes sure one object is handled by one task at a time,
 * however many events arrive (STYLE.md §9; Pepr's keyed queue, client-go's
 * workqueue "dirty" and "processing" sets).
 *
 * - A key waiting in the queue is not added twice: ten events before the
 *   handler runs give one run.
 * - A key whose handler is running is never started again alongside it; an
 *   enqueue during the run schedules exactly one more run after it ends, so
 *   the change that arrived mid-run is not lost.
 * - At most `concurrency` handlers run at once, across all keys, in the
 *   order their keys were (first) enqueued.
 */

/** Options of {@link createKeyedQueue}. */
export interface KeyedQueueOptions {
  /** Most handlers running at once, across keys. Whole number, 1 or more. Default 1. */
  readonly concurrency?: number;
  /**
   * Handles one key. `signal` aborts when the queue stops; a long handler
   * should pass it to its requests and waits. Resolve when done; a
   * rejection goes to `onError` and the key is not retried by the queue
   * (enqueue it again, after a backoff, if it should be).
   */
  readonly handler: (key: string, signal: AbortSignal) => Promise<void>;
  /** Told of every handler failure. Must not throw; if it does, the error is dropped. */
  readonly onError: (key: string, error: unknown) => void;
}

/** Counts of a queue's keys, for health output. */
export interface KeyedQueueStats {
  /** Keys waiting for a handler. */
  readonly queued: number;
  /** Keys whose handler is running. */
  readonly running: number;
  /** Running keys that will run once more when their handler ends. */
  readonly rerun: number;
}

/** A queue made by {@link createKeyedQueue}. */
export interface KeyedQueue {
  /**
   * Asks for `key` to be handled. Returns false (and does nothing) once the
   * queue has stopped; true otherwise, including when the request merged
   * with one already waiting.
   */
  enqueue(key: string): boolean;
  /** Resolves when no key is queued or running (at once if idle). Never rejects. */
  drain(): Promise<void>;
  /**
   * Stops: forgets queued keys, aborts the signal of running handlers and
   * resolves when they have all settled. Later enqueues are refused.
   */
  stop(): Promise<void>;
  /** Current counts. */
  stats(): KeyedQueueStats;
}

/** Creates a keyed queue; nothing runs until the first enqueue. */
export function createKeyedQueue(options: KeyedQueueOptions): KeyedQueue {
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`keyed queue concurrency must be a whole number, 1 or more, got ${concurrency}`);
  // A Set keeps insertion order, so it is both the FIFO and the "already queued" check.
  const queued = new Set<string>();
  const running = new Map<string, Promise<void>>();
  const rerun = new Set<string>();
  const controller = new AbortController();
  let idleWaiters: (() => void)[] = [];

  const settleIdle = (): void => {
    if (queued.size > 0 || running.size > 0) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const resolve of waiters) resolve();
  };

  const start = (key: string): void => {
    // The handler starts in a microtask: an enqueue from inside a listener
    // never runs user code re-entrantly.
    const run = Promise.resolve()
      .then(() => options.handler(key, controller.signal))
      .catch((err: unknown) => {
        try {
          options.onError(key, err);
        } catch {
          // onError must not throw; a throwing one must not stall the queue.
        }
      })
      .finally(() => {
        running.delete(key);
        if (rerun.delete(key) && !controller.signal.aborted) queued.add(key);
        pump();
      });
    running.set(key, run);
  };

  const pump = (): void => {
    // A running key is never in `queued` (enqueue puts it in `rerun`), so the head can always start.
    while (!controller.signal.aborted && running.size < concurrency) {
      const next = queued.values().next();
      if (next.done) break;
      queued.delete(next.value);
      start(next.value);
    }
    settleIdle();
  };

  return {
    enqueue(key) {
      if (controller.signal.aborted) return false;
      if (running.has(key)) rerun.add(key);
      else queued.add(key);
      pump();
      return true;
    },
    drain() {
      return new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        settleIdle();
      });
    },
    async stop() {
      queued.clear();
      rerun.clear();
      controller.abort(new Error('keyed queue stopped'));
      await Promise.all(running.values());
      settleIdle();
    },
    stats: () => ({ queued: queued.size, running: running.size, rerun: rerun.size }),
  };
}
