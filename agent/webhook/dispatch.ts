/**
 * Hands accepted events to the consumer's callback off the request path:
 * the forge has its answer before the callback starts, a slow callback
 * holds one slot and not the others, and a throwing or rejecting callback
 * is logged and forgotten. Forges time out deliveries after about ten
 * seconds (GitHub) and mark the webhook failing, so nothing the callback
 * does may delay the answer.
 */
import type { Logger } from 'pino';
import type { ForgeEvent } from './events.ts';

/** Options of {@link createDispatcher}. */
export interface DispatcherOptions {
  /** The consumer. May return a promise; its rejection (or a synchronous throw) is logged, never rethrown. */
  readonly onEvent: (event: ForgeEvent) => void | Promise<void>;
  /** Most callbacks running at once. Whole number, 1 or more. */
  readonly concurrency: number;
  /** Most events waiting for a free slot; past it {@link Dispatcher.offer} refuses. Whole number, 0 or more. */
  readonly maxQueued: number;
  readonly logger: Logger;
}

/** Counts of a dispatcher's events, for health output. */
export interface DispatcherStats {
  /** Callbacks running now. */
  readonly running: number;
  /** Events waiting for a slot. */
  readonly queued: number;
}

/** Made by {@link createDispatcher}. */
export interface Dispatcher {
  /** Queues `event` for the callback, started in arrival order; false (and nothing queued) when the queue is full. */
  offer(event: ForgeEvent): boolean;
  /** Resolves when no callback is running or waiting. */
  idle(): Promise<void>;
  /** Callbacks running and waiting now. */
  stats(): DispatcherStats;
}

/** Creates a {@link Dispatcher}. */
export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const { onEvent, concurrency, maxQueued, logger } = options;
  const queue: ForgeEvent[] = [];
  let running = 0;
  let idleWaiters: (() => void)[] = [];

  const settleIdle = (): void => {
    if (running > 0 || queue.length > 0) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const resolve of waiters) resolve();
  };

  const run = (event: ForgeEvent): void => {
    running++;
    // Started from a microtask so a callback that throws synchronously becomes a rejection like any other,
    // and so the answer to the forge (written right after `offer`) goes first.
    Promise.resolve()
      .then(() => onEvent(event))
      .catch((err: unknown) => {
        logger.error({ forge: event.forge, deliveryId: event.deliveryId, type: event.type, repository: event.repository, err }, 'webhook event handler failed');
      })
      .finally(() => {
        running--;
        pump();
        settleIdle();
      })
      // Nothing above can reject any more (the first catch took the callback's error); this only closes the chain.
      .catch(() => undefined);
  };

  const pump = (): void => {
    while (running < concurrency) {
      const next = queue.shift();
      if (next === undefined) return;
      run(next);
    }
  };

  return {
    offer(event) {
      if (running < concurrency) {
        run(event);
        return true;
      }
      if (queue.length >= maxQueued) return false;
      queue.push(event);
      return true;
    },
    idle() {
      if (running === 0 && queue.length === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    stats: () => ({ running, queued: queue.length }),
  };
}
