/**
 * live: the shared list+watch cache of a cluster, and the keyed queue that
 * hands its events to one task per object. The agent reacts to watch
 * events through this; nothing in it polls the API on a timer.
 */
export type { BackoffOptions } from './backoff.ts';
export { BackoffOptionsError, backoffDelay, defaultBackoff, validateBackoff } from './backoff.ts';
export type { LiveCache, LiveCacheOptions, LiveClock, LiveEvent, LiveHealth, ResourceHealth, WaitOptions } from './cache.ts';
export { createLiveCache, systemClock } from './cache.ts';
export type { LiveCacheErrorCode, RequestFailure, WaitErrorCode } from './errors.ts';
export { LiveCacheError, LiveRequestError, WaitError } from './errors.ts';
export type { KeyedQueue, KeyedQueueOptions, KeyedQueueStats } from './keyed-queue.ts';
export { createKeyedQueue } from './keyed-queue.ts';
export type { LiveObject, LiveObjectMeta, WatchedResource } from './resources.ts';
export { apiVersionOf, objectKey, resourceKey, resources, rollgateResources } from './resources.ts';
