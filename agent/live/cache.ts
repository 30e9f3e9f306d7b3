/**
 * The shared list+watch cache of one cluster (STYLE.md §9 "Own the watch").
 *
 * For every watched resource (and namespace, when the cache is limited to
 * some), a loop lists the collection, then watches from the list's
 * resourceVersion with bookmarks, and keeps going:
 *
 * - a watch that closes or fails is opened again from the last
 *   resourceVersion seen (bookmarks included) after a backoff with jitter,
 *   so a dropped connection costs no relist;
 * - 410 Gone, as an HTTP status or as an in-stream ERROR event, means that
 *   resourceVersion was compacted away: the loop lists again and turns the
 *   difference into DELETED/ADDED/MODIFIED events, so listeners see what
 *   they missed;
 * - 404 on the list (a CRD not installed) empties that resource, shows in
 *   `health()`, and is retried with backoff without touching the others;
 * - 401/403 on the first list fails `start()` with the server URL and the
 *   resource named; later they are retried like any other error.
 *
 * Nothing polls: after the first list, requests happen only when a watch
 * ends. Time and randomness are injected; `stop()` leaves no timer, socket
 * or promise behind.
 *
 * `waitFor` checks re-run only on events that touch what they read: while a
 * check runs, the cache notes each object (`get`, `receivedAt`) and each
 * collection (`list`) it reads, and an event wakes the waits that read its
 * object or a collection holding it. An agent with a hundred rollouts waiting
 * then runs one check per event, not a hundred (the fleet benchmark,
 * bench/fleet.ts, found every event running every rollout's check).
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { pino } from 'pino';
import type { BackoffOptions } from './backoff.ts';
import { backoffDelay, defaultBackoff, validateBackoff } from './backoff.ts';
import { LiveCacheError, LiveRequestError, nextStep, WaitError } from './errors.ts';
import type { ApiClient } from './http.ts';
import { createApiClient } from './http.ts';
import type { LiveObject, WatchedResource } from './resources.ts';
import { apiVersionOf, collectionPath, resourceKey, resourceProblems } from './resources.ts';
import { deepFreeze, diffSnapshot, keyOf } from './snapshot.ts';

/** Time as the cache sees it; tests inject their own. */
export interface LiveClock {
  /** Milliseconds since the epoch (fractions allowed). */
  now(): number;
  /** Calls `callback` once after `delayMs` milliseconds; returns a function that cancels it. */
  setTimeout(callback: () => void, delayMs: number): () => void;
}

/** The process's clock: `performance` time (sub-millisecond) as epoch milliseconds, and real timers. */
export const systemClock: LiveClock = {
  now: () => performance.timeOrigin + performance.now(),
  setTimeout: (callback, delayMs) => {
    const timer = setTimeout(callback, delayMs);
    return () => clearTimeout(timer);
  },
};

/** Options of {@link createLiveCache}. */
export interface LiveCacheOptions {
  /** Credentials and server of the cluster: its current context is used. */
  readonly kubeConfig: KubeConfig;
  /** What to list and watch; see `resources` and `rollgateResources`. At least one. */
  readonly resources: readonly WatchedResource[];
  /**
   * Watch namespaced resources in these namespaces only (one list+watch
   * each). Default (undefined): cluster-wide. Cluster-scoped resources are
   * always watched cluster-wide.
   */
  readonly namespaces?: readonly string[];
  /** Default {@link systemClock}. */
  readonly clock?: LiveClock;
  /** Uniform in [0, 1); default `Math.random`. Used for backoff jitter and watch timeouts. */
  readonly random?: () => number;
  /** Default: a silent logger. Messages are fixed; metadata carries resource, namespace and error. */
  readonly logger?: Logger;
  /** Retry delays of lists and watches; default {@link defaultBackoff} (200 ms doubling to 30 s, half jitter). */
  readonly backoff?: BackoffOptions;
  /**
   * Server-side watch timeout, seconds: each watch asks for a random
   * `timeoutSeconds` in [t, 2t) so the API server closes it cleanly and
   * watches of many agents do not expire together (client-go's reflector
   * does the same with 5 minutes). A watch still open 30 s past its timeout
   * is cut by the cache. Default 300.
   */
  readonly watchTimeoutSeconds?: number;
  /** Objects per list page (`limit`); 0 lists in one response. Default 500, as client-go. */
  readonly listPageSize?: number;
}

/** A change the cache applied, as listeners receive it. BOOKMARKs are never passed on. */
export interface LiveEvent {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly resource: WatchedResource;
  /** The object after the change; for DELETED, its last state. Frozen. */
  readonly object: LiveObject;
  /** For MODIFIED: the object the cache held before, to tell transitions (Ready false → true). */
  readonly previous?: LiveObject;
  /** `clock.now()` when the change reached the cache (the watch line was read, or the relist answered). */
  readonly receivedAt: number;
  /** True when a relist produced it, rather than a watch event. */
  readonly synthetic: boolean;
}

/** A listener's view of one list+watch loop. */
export interface ResourceHealth {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  /** The namespace of this loop; undefined when it is cluster-wide. */
  readonly namespace?: string;
  /** Listed at least once and not waiting for a relist after 410. */
  readonly synced: boolean;
  /** False while the last list answered 404 (a CRD not installed); the cache holds none of its objects then. */
  readonly installed: boolean;
  /** A watch stream is open (its request answered 200 and has not ended). */
  readonly watching: boolean;
  /** The last resourceVersion seen (list, event or bookmark). */
  readonly resourceVersion?: string;
  /** The latest failure, kept after recovery; `at` is `clock.now()`. No credentials in it. */
  readonly lastError?: { readonly message: string; readonly status?: number; readonly at: number };
  /** Lists after the first successful one (410 Gone, or a CRD installed again). */
  readonly relists: number;
  /** Watches opened again from a kept resourceVersion, without a list. */
  readonly restarts: number;
}

/** What `health()` returns. */
export interface LiveHealth {
  /** The API server URL (sanitised). */
  readonly server: string;
  /** Every loop is synced or reports its resource not installed. */
  readonly synced: boolean;
  readonly resources: readonly ResourceHealth[];
}

/** Options of `waitFor`. */
export interface WaitOptions {
  /** Aborting rejects the wait with code `aborted`. */
  readonly signal?: AbortSignal;
  /** Milliseconds until it rejects with code `timeout`. Default: no timeout. */
  readonly timeoutMs?: number;
  /** What is awaited, for the error message: "pod prod/tikv-2 Ready". */
  readonly description: string;
}

/** The cache of one cluster. */
export interface LiveCache {
  /** The API server URL of the kubeconfig's current context, without credentials. */
  readonly server: string;
  /**
   * Starts every list+watch loop and resolves once each resource has
   * listed (or answered 404: not installed). Rejects with LiveCacheError
   * `unauthorized` or `forbidden` when a first list is refused, naming the
   * server and the resource; `aborted` when `signal` aborts first; `stopped`
   * when `stop()` comes first. A rejected start leaves the cache stopped.
   * Calling it again returns the same promise.
   */
  start(options?: { signal?: AbortSignal }): Promise<void>;
  /** Ends every watch and pending wait (`stopped`); resolves when no timer or request is left. Idempotent. */
  stop(): Promise<void>;
  /**
   * The cached object, or undefined. Frozen and shared: do not change it.
   * `namespace` is ignored for cluster-scoped resources.
   * @throws LiveCacheError `not-watched` for a resource or namespace the cache does not watch.
   */
  get<T extends LiveObject = LiveObject>(resource: WatchedResource, namespace: string | undefined, name: string): T | undefined;
  /**
   * The cached objects of a resource, in one namespace or all, in no
   * particular order. A new array of the shared frozen objects.
   * @throws LiveCacheError `not-watched` as `get`.
   */
  list<T extends LiveObject = LiveObject>(resource: WatchedResource, namespace?: string): T[];
  /** `clock.now()` when the cached version of an object arrived; undefined when not cached. */
  receivedAt(resource: WatchedResource, namespace: string | undefined, name: string): number | undefined;
  /**
   * Calls `listener` after every change is applied (the store already
   * shows it), synchronously, in order. A throwing listener is logged and
   * does not stop the others. Returns the unsubscribe function.
   */
  subscribe(listener: (event: LiveEvent) => void): () => void;
  /**
   * Resolves with the first defined value of `check`, which runs now and
   * again after each event that changes what its previous run read through
   * this cache: an object it named in `get` or `receivedAt` (present or
   * not), or any object of a collection it read with `list` (one namespace,
   * or all). A check that read nothing from this cache runs after every
   * event. So a check must read the cache state it depends on through this
   * cache, not through a copy. Never on a timer (no polling). Rejects with
   * WaitError `timeout`, `aborted` or `stopped`, whose message names
   * `description`; with the error itself when `check` throws.
   */
  waitFor<T>(check: () => T | undefined, options: WaitOptions): Promise<T>;
  /** The state of every list+watch loop. */
  health(): LiveHealth;
}

interface Entry {
  readonly object: LiveObject;
  readonly receivedAt: number;
}

/** A pending `waitFor`. */
interface Waiter {
  /** Creation order: the waits one event wakes run in the order they began. */
  readonly seq: number;
  onEvent(): void;
  onStop(): void;
  /** What its check read the last time it ran (see `readKey`); empty: nothing, so every event wakes it. */
  reads: ReadonlySet<string>;
}

/**
 * The key of a read, as waits are indexed by it: an object (`namespace` ''
 * for a cluster-scoped one), a collection in one namespace (`name`
 * undefined), or a whole collection (both undefined). Newlines never occur
 * in resource, namespace or object names, so keys cannot collide.
 */
function readKey(resource: string, namespace?: string, name?: string): string {
  return namespace === undefined ? `${resource}\n` : name === undefined ? `${resource}\n${namespace}\n` : `${resource}\n${namespace}\n${name}`;
}

/** Objects of one resource: namespace ('' when cluster-scoped) → name → entry. */
type ResourceStore = Map<string, Map<string, Entry>>;

/** One list+watch loop: a resource, in one namespace or across all. */
interface Loop {
  readonly resource: WatchedResource;
  readonly store: ResourceStore;
  readonly namespace: string | undefined;
  readonly path: string;
  /** For logs and messages: `apps/v1/statefulsets` or `v1/pods in namespace prod`. */
  readonly label: string;
  resourceVersion: string | undefined;
  listedOnce: boolean;
  synced: boolean;
  installed: boolean;
  settled: boolean;
  watching: boolean;
  relists: number;
  restarts: number;
  lastError: { message: string; status?: number; at: number } | undefined;
  /** The current watch delivered at least one line: the connection is healthy, reset the backoff. */
  progressed: boolean;
}

/** Extra time past `timeoutSeconds` before the cache cuts a watch the server did not close. */
const watchGraceMs = 30_000;

/** A thrown value as an Error (the value itself when it is one). */
function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Creates the cache of the cluster of `kubeConfig`'s current context. Does
 * no I/O until `start()`.
 * @throws LiveCacheError `invalid-options` naming each problem.
 */
export function createLiveCache(options: LiveCacheOptions): LiveCache {
  const problems = resourceProblems(options.resources);
  if (options.resources.length === 0) problems.push('resources: list at least one resource');
  if (options.namespaces !== undefined) {
    if (options.namespaces.length === 0) problems.push('namespaces: list at least one namespace, or leave it out to watch all');
    for (const ns of options.namespaces) if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(ns)) problems.push(`namespaces: ${JSON.stringify(ns)} is not a namespace name`);
  }
  const watchTimeoutSeconds = options.watchTimeoutSeconds ?? 300;
  if (!(Number.isFinite(watchTimeoutSeconds) && watchTimeoutSeconds >= 1)) problems.push(`watchTimeoutSeconds: must be 1 or more, got ${watchTimeoutSeconds}`);
  const listPageSize = options.listPageSize ?? 500;
  if (!(Number.isInteger(listPageSize) && listPageSize >= 0)) problems.push(`listPageSize: must be a whole number, 0 or more, got ${listPageSize}`);
  const backoff = options.backoff ?? defaultBackoff;
  try {
    validateBackoff(backoff);
  } catch (err) {
    problems.push(err instanceof Error ? err.message : String(err));
  }
  let api: ApiClient | undefined;
  try {
    api = createApiClient(options.kubeConfig);
  } catch (err) {
    problems.push(`kubeConfig: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (problems.length > 0 || !api) throw new LiveCacheError('invalid-options', `invalid live cache options: ${problems.join('; ')}`);
  const client = api;
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const log = (options.logger ?? pino({ level: 'silent' })).child({ component: 'live-cache', server: client.server });
  const namespaces = options.namespaces ? [...new Set(options.namespaces)] : undefined;

  const stores = new Map<string, { resource: WatchedResource; store: ResourceStore }>();
  const loops: Loop[] = [];
  for (const resource of options.resources) {
    const store: ResourceStore = new Map();
    stores.set(resourceKey(resource), { resource, store });
    const scopes = resource.namespaced && namespaces ? namespaces : [undefined];
    for (const namespace of scopes)
      loops.push({
        resource,
        store,
        namespace,
        path: collectionPath(resource, namespace),
        label: namespace === undefined ? resourceKey(resource) : `${resourceKey(resource)} in namespace ${namespace}`,
        resourceVersion: undefined,
        listedOnce: false,
        synced: false,
        installed: true,
        settled: false,
        watching: false,
        relists: 0,
        restarts: 0,
        lastError: undefined,
        progressed: false,
      });
  }

  const listeners = new Set<(event: LiveEvent) => void>();
  const waiters = new Set<Waiter>();
  /** Read key → the waits whose last check read it. */
  const waitersByRead = new Map<string, Set<Waiter>>();
  /** Waits whose last check read nothing from the cache: every event wakes them. */
  const wakeAlways = new Set<Waiter>();
  let waiterSeq = 0;
  /** While a check runs: the keys it has read so far. */
  let reading: Set<string> | undefined;
  // resourceKey builds a string; the cache looks it up for every read, so once per resource object is enough.
  const resourceKeys = new WeakMap<WatchedResource, string>();
  const keyOfResource = (resource: WatchedResource): string => {
    let key = resourceKeys.get(resource);
    if (key === undefined) resourceKeys.set(resource, (key = resourceKey(resource)));
    return key;
  };
  const controller = new AbortController();
  let running: Promise<void>[] = [];
  let startPromise: Promise<void> | undefined;
  let settleStart: { resolve: () => void; reject: (err: unknown) => void } | undefined;
  let stopPromise: Promise<void> | undefined;

  // ---- the store ----------------------------------------------------------

  const storeOf = (resource: WatchedResource, namespace: string | undefined, what: string): { resource: WatchedResource; store: ResourceStore } => {
    const found = stores.get(keyOfResource(resource));
    if (!found) throw new LiveCacheError('not-watched', `${what}: the live cache of ${client.server} does not watch ${resourceKey(resource)} (it watches ${[...stores.keys()].join(', ')})`);
    if (found.resource.namespaced && namespaces && namespace !== undefined && !namespaces.includes(namespace))
      throw new LiveCacheError('not-watched', `${what}: the live cache of ${client.server} watches ${resourceKey(resource)} in namespaces ${namespaces.join(', ')} only, not ${namespace}`);
    return found;
  };

  const namespaceOf = (resource: WatchedResource, namespace: string | undefined): string => (resource.namespaced ? (namespace ?? '') : '');

  const emit = (event: LiveEvent): void => {
    for (const listener of [...listeners]) {
      try {
        listener(event);
      } catch (err) {
        log.error({ err, resource: resourceKey(event.resource) }, 'live cache listener threw');
      }
    }
    if (waiters.size === 0) return;
    const resource = keyOfResource(event.resource);
    const namespace = namespaceOf(event.resource, event.object.metadata.namespace);
    const woken = new Set<Waiter>(wakeAlways);
    for (const key of [readKey(resource, namespace, event.object.metadata.name), readKey(resource, namespace), readKey(resource)]) for (const waiter of waitersByRead.get(key) ?? []) woken.add(waiter);
    const ordered = woken.size > 1 ? [...woken].sort((a, b) => a.seq - b.seq) : [...woken];
    // A wait that an earlier one's settling ended (it shares an abort signal) is not run again.
    for (const waiter of ordered) if (waiters.has(waiter)) waiter.onEvent();
  };

  /** Indexes a wait under what its check read (nothing: under every event). */
  const indexWaiter = (waiter: Waiter): void => {
    if (waiter.reads.size === 0) wakeAlways.add(waiter);
    for (const key of waiter.reads) {
      let set = waitersByRead.get(key);
      if (set === undefined) waitersByRead.set(key, (set = new Set<Waiter>()));
      set.add(waiter);
    }
  };
  const unindexWaiter = (waiter: Waiter): void => {
    wakeAlways.delete(waiter);
    for (const key of waiter.reads) {
      const set = waitersByRead.get(key);
      set?.delete(waiter);
      if (set?.size === 0) waitersByRead.delete(key);
    }
  };

  /** Runs a wait's check, noting what it reads; re-indexes the wait when that changed. */
  const runCheck = <T>(waiter: Waiter, check: () => T | undefined): T | undefined => {
    const outer = reading;
    const reads = new Set<string>();
    reading = reads;
    try {
      return check();
    } finally {
      reading = outer;
      const same = reads.size === waiter.reads.size && [...reads].every((key) => waiter.reads.has(key));
      if (!same) {
        const indexed = waiters.has(waiter);
        if (indexed) unindexWaiter(waiter);
        waiter.reads = reads;
        if (indexed) indexWaiter(waiter);
      }
    }
  };

  /** Gives a list item or event object the shape of a cached object, or undefined when it has no name. */
  const normalize = (resource: WatchedResource, raw: unknown): LiveObject | undefined => {
    if (!isRecord(raw) || !isRecord(raw['metadata']) || typeof raw['metadata']['name'] !== 'string') return undefined;
    // List items come without apiVersion and kind (the API server sets them on the list only).
    const object = raw['apiVersion'] === undefined || raw['kind'] === undefined ? { ...raw, apiVersion: apiVersionOf(resource), kind: resource.kind } : raw;
    return deepFreeze(object as unknown as LiveObject);
  };

  const applyEvent = (loop: Loop, type: LiveEvent['type'], object: LiveObject, receivedAt: number): void => {
    const ns = namespaceOf(loop.resource, object.metadata.namespace);
    let names = loop.store.get(ns);
    const previous = names?.get(object.metadata.name)?.object;
    if (type === 'DELETED') {
      names?.delete(object.metadata.name);
      if (names?.size === 0) loop.store.delete(ns);
    } else {
      if (!names) loop.store.set(ns, (names = new Map<string, Entry>()));
      names.set(object.metadata.name, { object, receivedAt });
    }
    emit({ type, resource: loop.resource, object, ...(type === 'MODIFIED' && previous ? { previous } : {}), receivedAt, synthetic: false });
  };

  /** Replaces the loop's part of the store with a fresh list and emits the differences. */
  const replace = (loop: Loop, items: readonly LiveObject[], receivedAt: number): void => {
    const scopes = loop.namespace === undefined ? [...loop.store.keys()] : [namespaceOf(loop.resource, loop.namespace)];
    const before = new Map<string, LiveObject>();
    for (const ns of scopes) for (const entry of loop.store.get(ns)?.values() ?? []) before.set(keyOf(entry.object), entry.object);
    const after = new Map<string, LiveObject>();
    for (const object of items) after.set(keyOf(object), object);
    const changes = diffSnapshot(before, after);
    // Unchanged objects keep their identity and arrival time; changed ones take the list's.
    const kept = new Map<string, Entry>();
    for (const ns of scopes) for (const entry of loop.store.get(ns)?.values() ?? []) kept.set(keyOf(entry.object), entry);
    for (const ns of scopes) loop.store.delete(ns);
    for (const [key, object] of after) {
      const old = kept.get(key);
      const entry = old && old.object.metadata.resourceVersion === object.metadata.resourceVersion && old.object.metadata.uid === object.metadata.uid ? old : { object, receivedAt };
      const ns = namespaceOf(loop.resource, object.metadata.namespace);
      let names = loop.store.get(ns);
      if (!names) loop.store.set(ns, (names = new Map<string, Entry>()));
      names.set(object.metadata.name, entry);
    }
    for (const change of changes) emit({ ...change, resource: loop.resource, receivedAt, synthetic: true });
  };

  // ---- list and watch -----------------------------------------------------

  const list = async (loop: Loop, signal: AbortSignal): Promise<{ items: LiveObject[]; resourceVersion: string }> => {
    const items: LiveObject[] = [];
    let resourceVersion: string | undefined;
    let cont: string | undefined;
    let pageSize = listPageSize;
    for (;;) {
      let body: unknown;
      try {
        body = await client.getJson(loop.path, { ...(pageSize > 0 ? { limit: String(pageSize) } : {}), ...(cont !== undefined ? { continue: cont } : {}) }, signal);
      } catch (err) {
        if (cont !== undefined && err instanceof LiveRequestError && err.status === 410) {
          // The continue token expired mid-list: one unpaged list instead, as client-go's pager falls back.
          items.length = 0;
          cont = undefined;
          resourceVersion = undefined;
          pageSize = 0;
          continue;
        }
        throw err;
      }
      const metadata = isRecord(body) && isRecord(body['metadata']) ? body['metadata'] : undefined;
      const rawItems = isRecord(body) ? body['items'] : undefined;
      if (!metadata || typeof metadata['resourceVersion'] !== 'string' || !Array.isArray(rawItems))
        throw new LiveRequestError('bad-response', `GET ${client.server}${loop.path}`, 'the list response has no items or metadata.resourceVersion');
      resourceVersion ??= metadata['resourceVersion'];
      for (const raw of rawItems) {
        const object = normalize(loop.resource, raw);
        if (object) items.push(object);
        else log.warn({ resource: loop.label }, 'list item without metadata.name skipped');
      }
      cont = typeof metadata['continue'] === 'string' && metadata['continue'] !== '' ? metadata['continue'] : undefined;
      if (cont === undefined) return { items, resourceVersion };
    }
  };

  /** Watches until the stream ends: `closed` (ended or cut, resume), `gone` (410 in the stream, relist). Throws request errors. */
  const watch = async (loop: Loop, signal: AbortSignal): Promise<'closed' | 'gone'> => {
    const local = new AbortController();
    const forward = (): void => local.abort(signal.reason);
    signal.addEventListener('abort', forward, { once: true });
    // Uniform in [t, 2t): watches of many agents do not all expire in the same second.
    const timeoutSeconds = Math.floor(watchTimeoutSeconds * (1 + Math.min(0.999, Math.max(0, random()))));
    const request = `GET ${client.server}${loop.path}?watch=1`;
    const cancelDeadline = clock.setTimeout(() => local.abort(new LiveRequestError('deadline', request, `the watch was still open ${watchGraceMs / 1000} s after its timeoutSeconds=${timeoutSeconds}`)), timeoutSeconds * 1000 + watchGraceMs);
    loop.progressed = false;
    try {
      const { response, request: sent } = await client.openStream(
        loop.path,
        { watch: '1', resourceVersion: loop.resourceVersion ?? '', allowWatchBookmarks: 'true', timeoutSeconds: String(timeoutSeconds) },
        local.signal,
      );
      let buffered = '';
      loop.watching = true;
      try {
        for await (const chunk of response as AsyncIterable<string>) {
          const lines = (buffered + chunk).split('\n');
          buffered = lines.pop() ?? '';
          for (const line of lines) {
            if (line.trim() === '') continue;
            const outcome = handleLine(loop, line, sent, clock.now());
            if (outcome === 'gone') return 'gone';
          }
        }
      } catch (err) {
        if (local.signal.aborted) throw local.signal.reason;
        if (err instanceof LiveRequestError) throw err;
        throw new LiveRequestError('network', sent, `the watch stream failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      // An aborted request may end its response quietly rather than with an error.
      if (local.signal.aborted) throw local.signal.reason;
      // The API server ends every line with a newline; a last line without one is still an event.
      if (buffered.trim() !== '' && handleLine(loop, buffered, sent, clock.now()) === 'gone') return 'gone';
      return 'closed';
    } finally {
      loop.watching = false;
      cancelDeadline();
      signal.removeEventListener('abort', forward);
      // Ends the request if the loop left early (410 in the stream, a bad line).
      local.abort(new Error('watch finished'));
    }
  };

  /** Applies one watch line; returns `gone` on a 410 ERROR event; throws on other ERROR events and bad lines. */
  const handleLine = (loop: Loop, line: string, request: string, receivedAt: number): 'gone' | undefined => {
    let event: unknown;
    try {
      event = JSON.parse(line);
    } catch {
      throw new LiveRequestError('bad-response', request, `a watch line is not JSON (${line.length} characters)`);
    }
    const type = isRecord(event) ? event['type'] : undefined;
    const raw = isRecord(event) ? event['object'] : undefined;
    if (type === 'ERROR') {
      const status = isRecord(raw) ? raw : {};
      const code = typeof status['code'] === 'number' ? status['code'] : 0;
      if (code === 410) return 'gone';
      throw new LiveRequestError('status', request, `ERROR event in the watch: ${code} ${typeof status['reason'] === 'string' ? status['reason'] : ''}: ${typeof status['message'] === 'string' ? status['message'] : ''}`, {
        status: code,
        ...(typeof status['reason'] === 'string' ? { reason: status['reason'] } : {}),
      });
    }
    // Only a real event or bookmark proves the stream healthy: a server that answers every watch
    // with an ERROR event must meet a growing backoff.
    loop.progressed = true;
    if (type === 'BOOKMARK') {
      const rv = isRecord(raw) && isRecord(raw['metadata']) ? raw['metadata']['resourceVersion'] : undefined;
      if (typeof rv === 'string' && rv !== '') loop.resourceVersion = rv;
      return undefined;
    }
    if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED') throw new LiveRequestError('bad-response', request, `unknown watch event type ${JSON.stringify(type)}`);
    const object = normalize(loop.resource, raw);
    if (!object) throw new LiveRequestError('bad-response', request, `a ${type} event has no object with metadata.name`);
    if (object.metadata.resourceVersion) loop.resourceVersion = object.metadata.resourceVersion;
    applyEvent(loop, type, object, receivedAt);
    return undefined;
  };

  const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
    new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = (): void => {
        cancel();
        signal.removeEventListener('abort', done);
        resolve();
      };
      const cancel = clock.setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });

  const recordError = (loop: Loop, err: unknown): void => {
    const message = err instanceof Error ? err.message : String(err);
    const status = err instanceof LiveRequestError ? err.status : undefined;
    loop.lastError = { message, ...(status !== undefined ? { status } : {}), at: clock.now() };
  };

  const checkStarted = (): void => {
    if (!settleStart || !loops.every((l) => l.settled)) return;
    const { resolve } = settleStart;
    settleStart = undefined;
    resolve();
  };

  /** Ends every loop, then rejects `start()` with `error`. */
  const failStart = (error: LiveCacheError): void => {
    const pending = settleStart;
    settleStart = undefined;
    void shutdown().then(() => pending?.reject(error));
  };

  const runLoop = async (loop: Loop, signal: AbortSignal): Promise<void> => {
    let failures = 0;
    while (!signal.aborted) {
      let retryAfterMs = 0;
      try {
        if (loop.resourceVersion === undefined) {
          const { items, resourceVersion } = await list(loop, signal);
          if (loop.listedOnce) loop.relists++;
          if (!loop.installed) log.info({ resource: loop.label }, 'resource installed: listing it');
          replace(loop, items, clock.now());
          loop.resourceVersion = resourceVersion;
          loop.listedOnce = true;
          loop.synced = true;
          loop.installed = true;
          loop.settled = true;
          checkStarted();
        } else {
          loop.restarts++;
        }
        const outcome = await watch(loop, signal);
        if (loop.progressed) failures = 0;
        if (outcome === 'gone') {
          log.info({ resource: loop.label, resourceVersion: loop.resourceVersion }, 'watch history compacted (410): relisting');
          loop.lastError = { message: `the watch from resourceVersion ${loop.resourceVersion ?? ''} answered 410 Gone (history compacted)`, status: 410, at: clock.now() };
          loop.resourceVersion = undefined;
          loop.synced = false;
          // A relist that keeps meeting 410 backs off like any other failure.
          if (!loop.progressed) failures++;
        } else {
          log.debug({ resource: loop.label, resourceVersion: loop.resourceVersion }, 'watch closed: resuming');
          if (!loop.progressed) failures++;
        }
      } catch (err) {
        if (signal.aborted) return;
        if (loop.progressed) failures = 0;
        loop.progressed = false;
        recordError(loop, err);
        if (err instanceof LiveRequestError && err.retryAfterMs !== undefined) retryAfterMs = Math.min(err.retryAfterMs, backoff.maxMs);
        switch (nextStep(err)) {
          case 'relist':
            log.info({ resource: loop.label, resourceVersion: loop.resourceVersion }, 'resourceVersion too old (410): relisting');
            loop.resourceVersion = undefined;
            loop.synced = false;
            break;
          case 'not-installed':
            if (loop.installed) log.warn({ resource: loop.label, err }, 'resource not installed (404): retrying with backoff');
            loop.installed = false;
            loop.synced = false;
            loop.resourceVersion = undefined;
            // No resource type, no objects: what the cache held is gone.
            replace(loop, [], clock.now());
            loop.settled = true;
            checkStarted();
            break;
          case 'denied':
            if (!loop.settled && settleStart) {
              const status = err instanceof LiveRequestError ? err.status : undefined;
              const message =
                status === 401
                  ? `cluster ${client.server}: listing ${loop.label} failed with 401 Unauthorized: the API server rejected the kubeconfig's credentials`
                  : `cluster ${client.server}: listing ${loop.label} failed with 403 Forbidden: the kubeconfig's user may not list or watch it (${err instanceof Error ? err.message : String(err)})`;
              log.error({ resource: loop.label, status }, 'first list refused: credentials rejected or not allowed');
              failStart(new LiveCacheError(status === 401 ? 'unauthorized' : 'forbidden', message, { cause: err }));
              return;
            }
            log.error({ resource: loop.label, err }, 'list or watch refused: retrying with backoff');
            break;
          case 'retry':
            log.warn({ resource: loop.label, err }, 'list or watch failed: retrying with backoff');
            break;
        }
        failures++;
      }
      if (signal.aborted) return;
      const delay = Math.max(backoffDelay(Math.max(0, failures - 1), backoff, random), retryAfterMs);
      await sleep(delay, signal);
    }
  };

  const shutdown = (): Promise<void> => {
    stopPromise ??= (async () => {
      controller.abort(new LiveCacheError('stopped', `the live cache of ${client.server} was stopped`));
      await Promise.all(running);
      running = [];
      for (const waiter of [...waiters]) waiter.onStop();
      listeners.clear();
    })();
    return stopPromise;
  };

  return {
    server: client.server,

    start(startOptions = {}) {
      if (startPromise) return startPromise;
      if (controller.signal.aborted) return (startPromise = Promise.reject(new LiveCacheError('stopped', `the live cache of ${client.server} was stopped before it started`)));
      startPromise = new Promise<void>((resolve, reject) => {
        settleStart = { resolve, reject };
      });
      const { signal } = startOptions;
      if (signal) {
        const onAbort = (): void => {
          if (!settleStart) return;
          const waiting = loops.filter((l) => !l.settled);
          const last = waiting.find((l) => l.lastError)?.lastError;
          failStart(
            new LiveCacheError('aborted', `starting the live cache of ${client.server} was aborted before ${waiting.map((l) => l.label).join(', ')} listed${last ? ` (last error: ${last.message})` : ''}`, {
              cause: signal.reason,
            }),
          );
        };
        if (signal.aborted) onAbort();
        else {
          signal.addEventListener('abort', onAbort, { once: true });
          void startPromise.then(
            () => signal.removeEventListener('abort', onAbort),
            () => signal.removeEventListener('abort', onAbort),
          );
        }
      }
      if (!controller.signal.aborted) {
        log.info({ resources: loops.map((l) => l.label) }, 'live cache starting');
        running = loops.map((loop) =>
          runLoop(loop, controller.signal).catch((err: unknown) => {
            // runLoop handles its errors; anything here is a bug, and must not leave start() hanging.
            log.error({ err, resource: loop.label }, 'live cache loop crashed');
            failStart(new LiveCacheError('stopped', `the live cache of ${client.server} stopped: the loop of ${loop.label} crashed`, { cause: err }));
          }),
        );
      }
      return startPromise;
    },

    async stop() {
      const pending = settleStart;
      settleStart = undefined;
      await shutdown();
      pending?.reject(new LiveCacheError('stopped', `the live cache of ${client.server} was stopped before every resource listed`));
    },

    get<T extends LiveObject = LiveObject>(resource: WatchedResource, namespace: string | undefined, name: string): T | undefined {
      const { store } = storeOf(resource, namespace, 'get');
      reading?.add(readKey(keyOfResource(resource), namespaceOf(resource, namespace), name));
      // The caller names the shape it expects; the cache holds the API server's JSON as is.
      return store.get(namespaceOf(resource, namespace))?.get(name)?.object as T | undefined;
    },

    list<T extends LiveObject = LiveObject>(resource: WatchedResource, namespace?: string): T[] {
      const found = storeOf(resource, namespace, 'list');
      reading?.add(found.resource.namespaced && namespace !== undefined ? readKey(keyOfResource(resource), namespace) : readKey(keyOfResource(resource)));
      const out: T[] = [];
      const scopes = found.resource.namespaced && namespace !== undefined ? [found.store.get(namespace)] : [...found.store.values()];
      for (const names of scopes) for (const entry of names?.values() ?? []) out.push(entry.object as T);
      return out;
    },

    receivedAt(resource, namespace, name) {
      const { store } = storeOf(resource, namespace, 'receivedAt');
      reading?.add(readKey(keyOfResource(resource), namespaceOf(resource, namespace), name));
      return store.get(namespaceOf(resource, namespace))?.get(name)?.receivedAt;
    },

    subscribe(listener) {
      const wrapped = (event: LiveEvent): void => listener(event);
      listeners.add(wrapped);
      return () => {
        listeners.delete(wrapped);
      };
    },

    waitFor<T>(check: () => T | undefined, waitOptions: WaitOptions): Promise<T> {
      const { description, signal, timeoutMs } = waitOptions;
      return new Promise<T>((resolve, reject) => {
        if (controller.signal.aborted) return reject(new WaitError('stopped', description, `waiting for ${description}: the live cache of ${client.server} is stopped`));
        if (signal?.aborted) return reject(new WaitError('aborted', description, `waiting for ${description} was aborted`, { cause: signal.reason }));
        let cancelTimeout = (): void => {};
        const finish = (): void => {
          waiters.delete(waiter);
          unindexWaiter(waiter);
          cancelTimeout();
          signal?.removeEventListener('abort', onAbort);
        };
        const onAbort = (): void => {
          finish();
          reject(new WaitError('aborted', description, `waiting for ${description} was aborted`, { cause: signal?.reason }));
        };
        const waiter: Waiter = {
          seq: waiterSeq++,
          reads: new Set<string>(),
          onEvent: () => {
            let value: T | undefined;
            try {
              value = runCheck(waiter, check);
            } catch (err) {
              finish();
              reject(asError(err));
              return;
            }
            if (value === undefined) return;
            finish();
            resolve(value);
          },
          onStop: () => {
            finish();
            reject(new WaitError('stopped', description, `waiting for ${description}: the live cache of ${client.server} was stopped`));
          },
        };
        let first: T | undefined;
        try {
          first = runCheck(waiter, check);
        } catch (err) {
          return reject(asError(err));
        }
        if (first !== undefined) return resolve(first);
        waiters.add(waiter);
        indexWaiter(waiter);
        signal?.addEventListener('abort', onAbort, { once: true });
        if (timeoutMs !== undefined)
          cancelTimeout = clock.setTimeout(() => {
            finish();
            reject(new WaitError('timeout', description, `timed out after ${timeoutMs} ms waiting for ${description}`));
          }, timeoutMs);
      });
    },

    health() {
      const resources = loops.map(
        (l): ResourceHealth => ({
          group: l.resource.group,
          version: l.resource.version,
          plural: l.resource.plural,
          ...(l.namespace !== undefined ? { namespace: l.namespace } : {}),
          synced: l.synced,
          installed: l.installed,
          watching: l.watching,
          ...(l.resourceVersion !== undefined ? { resourceVersion: l.resourceVersion } : {}),
          ...(l.lastError ? { lastError: { ...l.lastError } } : {}),
          relists: l.relists,
          restarts: l.restarts,
        }),
      );
      return { server: client.server, synced: resources.every((r) => r.synced || !r.installed), resources };
    },
  };
}
