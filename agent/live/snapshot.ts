/**
 * The pure part of a relist: what changed between the objects the cache
 * held and a fresh list. Listeners then see a relist as the watch events
 * they missed, never as a silent swap of the store.
 */
import type { LiveObject } from './resources.ts';

/** One difference, as the watch event that would have carried it. */
export interface SnapshotChange {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: LiveObject;
  /** For MODIFIED: the object the cache held before. */
  readonly previous?: LiveObject;
}

/** `namespace/name` (`/name` when cluster-scoped): the key of an object within one resource. */
export function keyOf(object: LiveObject): string {
  return `${object.metadata.namespace ?? ''}/${object.metadata.name}`;
}

/**
 * The changes that turn `before` into `after` (both keyed by {@link keyOf}):
 * DELETED for objects gone, then, in the order of `after`, ADDED for new
 * ones and MODIFIED for ones whose resourceVersion changed. An object
 * deleted and created again under the same name (a new uid) is DELETED then
 * ADDED, as a watch would have shown it. Unchanged objects give nothing.
 */
export function diffSnapshot(before: ReadonlyMap<string, LiveObject>, after: ReadonlyMap<string, LiveObject>): SnapshotChange[] {
  const deleted: SnapshotChange[] = [];
  const changed: SnapshotChange[] = [];
  for (const [key, old] of before) if (!after.has(key)) deleted.push({ type: 'DELETED', object: old });
  for (const [key, next] of after) {
    const old = before.get(key);
    if (!old) changed.push({ type: 'ADDED', object: next });
    else if (old.metadata.uid !== undefined && next.metadata.uid !== undefined && old.metadata.uid !== next.metadata.uid) {
      deleted.push({ type: 'DELETED', object: old });
      changed.push({ type: 'ADDED', object: next });
    } else if (old.metadata.resourceVersion !== next.metadata.resourceVersion) changed.push({ type: 'MODIFIED', object: next, previous: old });
  }
  return [...deleted, ...changed];
}

/** Freezes an object and everything in it, once, as it enters the cache. */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  for (const child of Object.values(value)) deepFreeze(child);
  return Object.freeze(value);
}
