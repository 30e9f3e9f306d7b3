/**
 * The controller framework of kube-sim: a kube-controller-manager in
 * miniature. Controllers react to the store's change stream through a keyed
 * work queue (one key is never reconciled twice at once, bursts coalesce),
 * ask to be requeued after a delay measured on the simulation clock, and are
 * retried with exponential backoff when a reconcile throws.
 *
 * Everything runs in-process against the ClusterStore, synchronously within
 * one reconcile, so a controller always sees its own writes: there is no
 * informer lag and no need for upstream's "expectations". Writes are made
 * while the manager knows which component is acting, which is how the event
 * record tells controller writes from client writes.
 *
 * Nothing here polls: with no store changes and no requeue timers due, the
 * manager does no work at all.
 */
import { ApiError } from '../api/errors.ts';
import type { KubeObject } from '../api/object.ts';
import type { ResourceType } from '../api/resources.ts';
import { typeKey } from '../api/resources.ts';
import type { ClusterStore, StoreEvent } from '../api/store.ts';
import type { SimClock } from '../clock.ts';
import type { EventRecord } from './event-record.ts';
import { controllerRef, objectKey } from './objects.ts';

/** What a reconcile asks for when it returns normally. */
export type ReconcileResult = void | { requeueAfterMs?: number | undefined };

/**
 * A simulated controller. TiDB and Redis Enterprise operator models plug in
 * by implementing this and calling `ControllerManager.register`.
 */
export interface Controller {
  /** The component name: the actor in the event record, e.g. `statefulset-controller`. */
  readonly name: string;
  /**
   * Keys to reconcile after a stored change. Called synchronously from the
   * store's listener: it must only read, never write.
   */
  keysFor(event: StoreEvent): readonly string[];
  /** Keys to reconcile when the controller is registered (objects that already exist). */
  initialKeys(): readonly string[];
  /**
   * Moves one object toward its desired state. Return `{ requeueAfterMs }`
   * (simulated ms) to be called again later; throw to be retried with backoff.
   */
  reconcile(key: string): ReconcileResult;
}

/**
 * Delay before retry number `failures` (1-based) of a failing key: client-go's
 * `ItemExponentialFailureRateLimiter` (base × 2^(failures−1), capped), in
 * simulated ms.
 */
export function retryDelayMs(failures: number, baseMs = 5, maxMs = 60_000): number {
  if (failures <= 0) return 0;
  return Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 30));
}

/**
 * Children of controllers, indexed by the uid of their controlling owner,
 * plus objects without a controller per namespace (candidates for adoption).
 * Kept current from the store's change stream; holds the store's frozen
 * objects, never copies.
 */
export class OwnerIndex {
  private readonly byOwner = new Map<string, Map<string, KubeObject>>();
  private readonly orphansByNs = new Map<string, Map<string, KubeObject>>();
  private readonly types: Set<string>;

  constructor(store: ClusterStore, types: readonly ResourceType[]) {
    this.types = new Set(types.map(typeKey));
    for (const t of types) for (const obj of store.list(t, {}).items) this.add(t, obj);
  }

  private bucketKey(t: ResourceType, id: string): string {
    return `${typeKey(t)}|${id}`;
  }

  private add(t: ResourceType, obj: KubeObject): void {
    const ref = controllerRef(obj);
    const key = objectKey(obj.metadata.namespace, obj.metadata.name ?? '');
    const map = ref ? this.byOwner : this.orphansByNs;
    const bucket = this.bucketKey(t, ref ? ref.uid : (obj.metadata.namespace ?? ''));
    let m = map.get(bucket);
    if (!m) map.set(bucket, (m = new Map<string, KubeObject>()));
    m.set(key, obj);
  }

  private remove(t: ResourceType, obj: KubeObject): void {
    const ref = controllerRef(obj);
    const map = ref ? this.byOwner : this.orphansByNs;
    const bucket = this.bucketKey(t, ref ? ref.uid : (obj.metadata.namespace ?? ''));
    const m = map.get(bucket);
    if (!m) return;
    m.delete(objectKey(obj.metadata.namespace, obj.metadata.name ?? ''));
    if (m.size === 0) map.delete(bucket);
  }

  /** Applies one stored change. */
  observe(event: StoreEvent): void {
    if (!this.types.has(typeKey(event.resource))) return;
    if (event.previous) this.remove(event.resource, event.previous);
    if (event.type !== 'DELETED') this.add(event.resource, event.object);
  }

  /** Objects of type `t` whose controller has `ownerUid`. */
  children(t: ResourceType, ownerUid: string | undefined): KubeObject[] {
    if (!ownerUid) return [];
    return [...(this.byOwner.get(this.bucketKey(t, ownerUid))?.values() ?? [])];
  }

  /** Objects of type `t` in `namespace` that have no controller. */
  orphans(t: ResourceType, namespace: string): KubeObject[] {
    return [...(this.orphansByNs.get(this.bucketKey(t, namespace))?.values() ?? [])];
  }
}

/** Options of a ControllerManager. */
export interface ManagerOptions {
  /** Receives every stored change with the acting component (`client` when none). */
  record?: EventRecord;
  /** Types whose children are indexed by controlling owner (see OwnerIndex). */
  indexed?: readonly ResourceType[];
  /** Most reconciles per turn of the event loop, so HTTP requests are served in between; default 500. */
  batchLimit?: number;
  /** Called for a reconcile that threw something other than an ApiError (a bug); default prints to stderr. */
  onError?: (controller: string, key: string, err: unknown) => void;
}

interface Item {
  controller: Controller;
  key: string;
}

/** Runs the controllers of one cluster. */
export class ControllerManager {
  readonly store: ClusterStore;
  readonly clock: SimClock;
  readonly index: OwnerIndex;
  private readonly controllers = new Map<string, Controller>();
  private readonly queue = new Map<string, Item>();
  private readonly timers = new Map<string, { due: number; cancel: () => void }>();
  private readonly failures = new Map<string, number>();
  private readonly record: EventRecord | undefined;
  private readonly batchLimit: number;
  private readonly onError: (controller: string, key: string, err: unknown) => void;
  private actor: string | undefined;
  private drainScheduled: (() => void) | undefined;
  private readonly unsubscribe: () => void;
  private stopped = false;
  private reconciles = 0;

  constructor(store: ClusterStore, options: ManagerOptions = {}) {
    this.store = store;
    this.clock = store.clock;
    this.record = options.record;
    this.batchLimit = options.batchLimit ?? 500;
    this.onError =
      options.onError ??
      ((controller, key, err) => {
        process.stderr.write(`kube-sim: ${controller} ${key}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      });
    this.index = new OwnerIndex(store, options.indexed ?? []);
    this.unsubscribe = store.subscribe((event) => this.onStoreEvent(event));
  }

  /** How many reconciles have run (for benchmarks). */
  get reconcileCount(): number {
    return this.reconciles;
  }

  /** Keys waiting to be reconciled now, plus keys waiting on a requeue timer. */
  get pending(): { queued: number; delayed: number } {
    return { queued: this.queue.size, delayed: this.timers.size };
  }

  /** Adds a controller and enqueues its initial keys. */
  register(controller: Controller): void {
    if (this.controllers.has(controller.name)) throw new Error(`controller ${controller.name} is already registered`);
    this.controllers.set(controller.name, controller);
    for (const key of controller.initialKeys()) this.enqueue(controller.name, key);
  }

  /** The component currently acting (inside `withActor`), if any. */
  get currentActor(): string | undefined {
    return this.actor;
  }

  /**
   * Runs `fn` as component `actor`: stored changes it causes are attributed
   * to it. A nested call acts as its own actor and restores the outer one when it returns.
   */
  withActor<T>(actor: string, fn: () => T): T {
    const outer = this.actor;
    this.actor = actor;
    try {
      return fn();
    } finally {
      this.actor = outer;
    }
  }

  private onStoreEvent(event: StoreEvent): void {
    this.record?.observe(event, this.actor ?? 'client');
    this.index.observe(event);
    if (this.stopped) return;
    for (const c of this.controllers.values()) {
      for (const key of c.keysFor(event)) this.enqueueItem(c, key);
    }
  }

  /** Enqueues `key` for the controller named `controller`. */
  enqueue(controller: string, key: string): void {
    const c = this.controllers.get(controller);
    if (c) this.enqueueItem(c, key);
  }

  /** Enqueues `key` after `delayMs` of simulated time; an earlier pending requeue wins. */
  enqueueAfter(controller: string, key: string, delayMs: number): void {
    const c = this.controllers.get(controller);
    if (!c || this.stopped) return;
    if (delayMs <= 0) return this.enqueueItem(c, key);
    const id = `${controller}\u0000${key}`;
    const due = this.clock.now() + delayMs;
    const existing = this.timers.get(id);
    if (existing && existing.due <= due) return;
    existing?.cancel();
    const cancel = this.clock.after(delayMs, () => {
      this.timers.delete(id);
      this.enqueueItem(c, key);
    });
    this.timers.set(id, { due, cancel });
  }

  private enqueueItem(controller: Controller, key: string): void {
    if (this.stopped) return;
    const id = `${controller.name}\u0000${key}`;
    if (!this.queue.has(id)) this.queue.set(id, { controller, key });
    this.scheduleDrain();
  }

  private scheduleDrain(): void {
    if (this.drainScheduled || this.stopped) return;
    this.drainScheduled = this.clock.after(0, () => {
      this.drainScheduled = undefined;
      this.drain();
    });
  }

  private drain(): void {
    let budget = this.batchLimit;
    while (budget-- > 0 && !this.stopped) {
      const next = this.queue.entries().next();
      if (next.done) break;
      const [id, item] = next.value;
      this.queue.delete(id);
      this.runOne(id, item);
    }
    if (this.queue.size > 0) this.scheduleDrain();
  }

  private runOne(id: string, { controller, key }: Item): void {
    this.reconciles++;
    let result: ReconcileResult;
    try {
      result = this.withActor(controller.name, () => controller.reconcile(key));
    } catch (err) {
      const failures = (this.failures.get(id) ?? 0) + 1;
      this.failures.set(id, failures);
      if (!(err instanceof ApiError)) this.onError(controller.name, key, err);
      this.enqueueAfter(controller.name, key, retryDelayMs(failures));
      return;
    }
    this.failures.delete(id);
    if (result && result.requeueAfterMs !== undefined) this.enqueueAfter(controller.name, key, result.requeueAfterMs);
  }

  /** Stops reacting and cancels every pending requeue. */
  stop(): void {
    this.stopped = true;
    this.unsubscribe();
    this.drainScheduled?.();
    this.drainScheduled = undefined;
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
    this.queue.clear();
  }
}
