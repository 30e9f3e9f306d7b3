/**
 * The delivery ids the receiver remembers, so that a forge's redelivery
 * (GitHub's "Redeliver", GitLab's "Resend request") or a retry after a
 * timed-out answer does not start the same work twice. Bounded: the least
 * recently seen id is forgotten first, so memory stays flat however long
 * the agent runs.
 */

/** A bounded set of delivery ids made by {@link createDeliveryLru}. */
export interface DeliveryLru {
  /** Whether `id` is remembered; a hit counts as a use, so a replayed id stays remembered longer. */
  has(id: string): boolean;
  /** Remembers `id` as the most recent, forgetting the least recent when full. */
  add(id: string): void;
  /** How many ids are remembered now. */
  readonly size: number;
}

/**
 * Creates a {@link DeliveryLru}.
 *
 * @param capacity - Most ids remembered; a whole number, 1 or more. About 100 bytes each.
 */
export function createDeliveryLru(capacity: number): DeliveryLru {
  if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`dedupe capacity must be a whole number of 1 or more, got ${capacity}`);
  // A Map iterates in insertion order: deleting and re-inserting moves an id to the end, so the first key is the least recent.
  const ids = new Map<string, true>();
  const touch = (id: string): void => {
    ids.delete(id);
    ids.set(id, true);
  };
  return {
    has(id) {
      if (!ids.has(id)) return false;
      touch(id);
      return true;
    },
    add(id) {
      touch(id);
      if (ids.size > capacity) {
        const oldest = ids.keys().next();
        if (!oldest.done) ids.delete(oldest.value);
      }
    },
    get size() {
      return ids.size;
    },
  };
}
