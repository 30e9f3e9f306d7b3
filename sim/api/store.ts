/**
 * One simulated cluster's object store: the etcd and registry layer of an
 * API server. It keeps one global resourceVersion, a bounded history of
 * watch events (etcd compaction), and applies the registry semantics every
 * client relies on (reference §3): optimistic concurrency, generation rules,
 * status subresources, graceful deletion, finalizers and garbage collection
 * of dependents.
 *
 * Stored objects are frozen and shared; every write builds a new object.
 * Readers inside the process (controllers) may keep references without
 * copying, and nothing can mutate stored state behind the store's back.
 */
import { randomUUID } from 'node:crypto';
import type { SimClock } from '../clock.ts';
import { applyDefaults, nameErrors, validate } from './defaults.ts';
import { ApiError, alreadyExists, badRequest, conflict, expired, forbidden, invalid, notFound } from './errors.ts';
import type { FieldError } from './errors.ts';
import type { KubeObject } from './object.ts';
import { clone, isPlainObject, jsonEqual } from './object.ts';
import type { ResourceType } from './resources.ts';
import { ResourceRegistry, builtinResourceTypes, fieldValue, groupVersion, resourceTypeFromCrd, typeKey } from './resources.ts';
import type { FieldSelector, LabelSelector } from './selectors.ts';
import { matchesFields, matchesLabels } from './selectors.ts';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** A change to one object, as recorded in the history and sent to watchers. */
export interface StoreEvent {
  readonly type: WatchEventType;
  readonly resourceVersion: number;
  readonly resource: ResourceType;
  readonly object: KubeObject;
  /** The object before this change (MODIFIED and DELETED). */
  readonly previous: KubeObject | undefined;
  /** The object as JSON, computed once and shared by every watcher. */
  json(): string;
}

/** Which objects a list or watch covers. */
export interface Scope {
  namespace?: string | undefined;
  labelSelector?: LabelSelector | undefined;
  fieldSelector?: FieldSelector | undefined;
}

/** Options every write takes. */
export interface WriteOptions {
  /** Validate and compute the result, but store nothing (`dryRun=All`). */
  dryRun?: boolean;
  /** The field manager recorded for this write (kubectl sends its own). */
  fieldManager?: string;
}

export interface DeleteOptions extends WriteOptions {
  gracePeriodSeconds?: number | undefined;
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground' | undefined;
  preconditions?: { uid?: string; resourceVersion?: string } | undefined;
}

/**
 * Called when a pod is deleted gracefully, instead of removing it after the
 * grace period. The kubelet model registers one to stop containers first;
 * without one, the store removes the pod when the grace period ends.
 */
export type GracefulDeleteHook = (pod: KubeObject, graceSeconds: number) => void;

/**
 * Records `metadata.managedFields` for a write by `manager` (the patch
 * engine's recordUpdate). Called after defaulting, so the writer owns the
 * defaults, as upstream.
 */
export type FieldTracker = (t: ResourceType, live: KubeObject | undefined, updated: KubeObject, manager: string, subresource: 'status' | undefined) => KubeObject;

export interface StoreOptions {
  clock: SimClock;
  /** How many events the watch history keeps before "compacting" (410 for older watches). */
  historyLimit?: number;
}

export interface ListResult {
  items: KubeObject[];
  resourceVersion: string;
  continue?: string;
  remainingItemCount?: number;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function objectKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

/** Identifies the resource in error messages. */
function resName(t: ResourceType): { group: string; resource: string } {
  return { group: t.group, resource: t.plural };
}

interface Entry {
  object: KubeObject;
  json: string | undefined;
}

class Bucket {
  readonly entries = new Map<string, Entry>();
  private sorted: string[] | undefined;

  keys(): string[] {
    this.sorted ??= [...this.entries.keys()].sort();
    return this.sorted;
  }

  set(key: string, entry: Entry): void {
    if (!this.entries.has(key)) this.sorted = undefined;
    this.entries.set(key, entry);
  }

  delete(key: string): void {
    if (this.entries.delete(key)) this.sorted = undefined;
  }
}

const randomSuffixAlphabet = 'bcdfghjklmnpqrstvwxz2456789';

/** The 5-character suffix `generateName` gets (apiserver `names.SimpleNameGenerator`). */
export function randomSuffix(length = 5): string {
  let out = '';
  for (let i = 0; i < length; i++) out += randomSuffixAlphabet[Math.floor(Math.random() * randomSuffixAlphabet.length)];
  return out;
}

/** One cluster's objects and their history. */
export class ClusterStore {
  readonly registry: ResourceRegistry;
  readonly clock: SimClock;
  private revision = 0;
  private readonly buckets = new Map<string, Bucket>();
  private readonly history: StoreEvent[] = [];
  private readonly historyLimit: number;
  /** Lowest resourceVersion a watch may still start from. */
  private compactedRevision = 0;
  private readonly listeners = new Set<(event: StoreEvent) => void>();
  private readonly ownerIndex = new Map<string, Set<string>>();
  /** Every stored object's uid, so garbage collection can tell a live owner in O(1). */
  private readonly uids = new Set<string>();
  private gracefulDeleteHook: GracefulDeleteHook | undefined;
  private fieldTracker: FieldTracker | undefined;

  constructor(options: StoreOptions) {
    this.clock = options.clock;
    this.historyLimit = options.historyLimit ?? 20_000;
    this.registry = new ResourceRegistry(builtinResourceTypes());
  }

  /** The current (latest) resourceVersion. */
  get resourceVersion(): number {
    return this.revision;
  }

  /** Registers the kubelet's graceful-termination handler for pods. */
  onGracefulDelete(hook: GracefulDeleteHook | undefined): void {
    this.gracefulDeleteHook = hook;
  }

  /** Sets how writes with a field manager record managedFields. */
  trackFields(tracker: FieldTracker | undefined): void {
    this.fieldTracker = tracker;
  }

  /** Subscribes to every change in the cluster, synchronously after it is stored. */
  subscribe(listener: (event: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private bucket(t: ResourceType): Bucket {
    const key = typeKey(t);
    let b = this.buckets.get(key);
    if (!b) {
      b = new Bucket();
      this.buckets.set(key, b);
    }
    return b;
  }

  /** The stored object, frozen; undefined when absent. */
  find(t: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.bucket(t).entries.get(objectKey(t.namespaced ? namespace : undefined, name))?.object;
  }

  /** The stored object, frozen; throws NotFound. */
  get(t: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const found = this.find(t, namespace, name);
    if (!found) throw notFound(resName(t), name);
    return found;
  }

  /** The JSON of a stored object, cached so lists of thousands of objects serialise quickly. */
  jsonOf(t: ResourceType, obj: KubeObject): string {
    const entry = this.bucket(t).entries.get(objectKey(obj.metadata.namespace, obj.metadata.name ?? ''));
    if (!entry || entry.object !== obj) return JSON.stringify(obj);
    entry.json ??= JSON.stringify(obj);
    return entry.json;
  }

  /** True when an object is within a scope (namespace and selectors). */
  matches(t: ResourceType, obj: KubeObject, scope: Scope): boolean {
    if (scope.namespace !== undefined && t.namespaced && obj.metadata.namespace !== scope.namespace) return false;
    if (scope.labelSelector && scope.labelSelector.length > 0 && !matchesLabels(scope.labelSelector, obj.metadata.labels)) return false;
    if (scope.fieldSelector && scope.fieldSelector.length > 0 && !matchesFields(scope.fieldSelector, (f) => fieldValue(obj, f))) return false;
    return true;
  }

  /**
   * Lists objects in key order (etcd's), with `limit`/`continue` paging.
   * Pages after the first are served from current state after the token's key.
   */
  list(t: ResourceType, scope: Scope, paging: { limit?: number | undefined; continue?: string | undefined } = {}): ListResult {
    const bucket = this.bucket(t);
    let startAfter: string | undefined;
    let listRevision = this.revision;
    if (paging.continue) {
      const token = decodeContinue(paging.continue);
      if (token.rv < this.compactedRevision)
        throw expired('The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.');
      startAfter = token.start;
      listRevision = token.rv;
    }
    const keys = bucket.keys();
    const prefix = t.namespaced && scope.namespace !== undefined ? `${scope.namespace}/` : '';
    let i = startAfter === undefined ? lowerBound(keys, prefix) : upperBound(keys, startAfter);
    const items: KubeObject[] = [];
    const limit = paging.limit !== undefined && paging.limit > 0 ? paging.limit : Infinity;
    let lastKey: string | undefined;
    for (; i < keys.length; i++) {
      const key = keys[i] as string;
      if (prefix && !key.startsWith(prefix)) break;
      const entry = bucket.entries.get(key);
      if (!entry || !this.matches(t, entry.object, scope)) continue;
      if (items.length >= limit) {
        return { items, resourceVersion: String(listRevision), continue: encodeContinue({ rv: listRevision, start: lastKey ?? key }) };
      }
      items.push(entry.object);
      lastKey = key;
    }
    return { items, resourceVersion: String(listRevision) };
  }

  /**
   * Events after `fromRevision` for a resource, oldest first; throws 410
   * Expired when that revision has been compacted away.
   */
  eventsSince(t: ResourceType, fromRevision: number): StoreEvent[] {
    if (fromRevision < this.compactedRevision)
      throw expired(`too old resource version: ${fromRevision} (${this.compactedRevision})`);
    const key = typeKey(t);
    const start = upperBoundBy(this.history, fromRevision);
    return this.history.slice(start).filter((e) => typeKey(e.resource) === key);
  }

  /** Forgets history up to the current revision, as an etcd compaction does. */
  compact(): void {
    this.history.length = 0;
    this.compactedRevision = this.revision;
  }

  // --- writes -------------------------------------------------------------

  private checkNamespace(t: ResourceType, namespace: string | undefined, name: string, creating: boolean): void {
    if (!t.namespaced) return;
    if (!namespace) throw badRequest('the server could not find the requested resource');
    if (!creating) return;
    const nsType = this.registry.lookup('', 'v1', 'namespaces') as ResourceType;
    const ns = this.find(nsType, undefined, namespace);
    if (!ns) throw notFound({ group: '', resource: 'namespaces' }, namespace);
    if (ns.metadata.deletionTimestamp)
      throw forbidden(resName(t), name, `unable to create new content in namespace ${namespace} because it is being terminated`);
  }

  private commit(t: ResourceType, type: WatchEventType, input: KubeObject, previous: KubeObject | undefined): KubeObject {
    this.revision++;
    // The API server's field order (kind, apiVersion, metadata, spec, status), so the JSON reads as kubectl users expect.
    const { kind: _k, apiVersion: _a, metadata, ...rest } = input;
    const object: KubeObject = { kind: t.kind, apiVersion: groupVersion(t), metadata: { ...metadata, resourceVersion: String(this.revision) }, ...rest };
    const frozen = deepFreeze(object);
    const key = objectKey(frozen.metadata.namespace, frozen.metadata.name ?? '');
    const bucket = this.bucket(t);
    const uid = frozen.metadata.uid;
    if (type === 'DELETED') {
      bucket.delete(key);
      if (uid) this.uids.delete(uid);
    } else {
      bucket.set(key, { object: frozen, json: undefined });
      if (uid) this.uids.add(uid);
    }
    this.indexOwners(t, previous, type === 'DELETED' ? undefined : frozen);
    let json: string | undefined;
    const event: StoreEvent = {
      type,
      resourceVersion: this.revision,
      resource: t,
      object: frozen,
      previous,
      json: () => (json ??= JSON.stringify(frozen)),
    };
    this.history.push(event);
    if (this.history.length > this.historyLimit) {
      const dropped = this.history.splice(0, this.history.length - this.historyLimit);
      const last = dropped[dropped.length - 1];
      if (last) this.compactedRevision = last.resourceVersion;
    }
    if (t.group === 'apiextensions.k8s.io' && t.kind === 'CustomResourceDefinition') this.syncCrd(frozen, type === 'DELETED');
    for (const listener of [...this.listeners]) listener(event);
    return frozen;
  }

  private indexOwners(t: ResourceType, previous: KubeObject | undefined, current: KubeObject | undefined): void {
    const ref = `${typeKey(t)}|${(current ?? previous)?.metadata.namespace ?? ''}|${(current ?? previous)?.metadata.name ?? ''}`;
    for (const o of previous?.metadata.ownerReferences ?? []) this.ownerIndex.get(o.uid)?.delete(ref);
    for (const o of current?.metadata.ownerReferences ?? []) {
      let set = this.ownerIndex.get(o.uid);
      if (!set) {
        set = new Set();
        this.ownerIndex.set(o.uid, set);
      }
      set.add(ref);
    }
  }

  private syncCrd(crd: KubeObject, deleted: boolean): void {
    const t = resourceTypeFromCrd(crd);
    if (!t) return;
    this.registry.remove(t.group, t.plural);
    if (!deleted) this.registry.add(t);
    else {
      // The custom resources go with their definition.
      for (const e of this.buckets.get(typeKey(t))?.entries.values() ?? []) if (e.object.metadata.uid) this.uids.delete(e.object.metadata.uid);
      this.buckets.delete(typeKey(t));
    }
  }

  private bumpGeneration(t: ResourceType, next: KubeObject, old: KubeObject): void {
    if (t.generation === 'none') return;
    const prev = old.metadata.generation ?? 1;
    let changed: boolean;
    if (t.generation === 'spec') changed = !jsonEqual(next.spec, old.spec);
    else {
      const strip = (o: KubeObject) => {
        const { metadata: _m, status, ...rest } = o;
        return t.statusSubresource ? rest : { ...rest, status };
      };
      changed = !jsonEqual(strip(next), strip(old));
    }
    next.metadata.generation = changed ? prev + 1 : prev;
  }

  private validateOrThrow(t: ResourceType, obj: KubeObject, old: KubeObject | undefined): void {
    const errors: FieldError[] = [];
    const name = obj.metadata.name ?? '';
    if (!old) errors.push(...nameErrors(t, name));
    errors.push(...validate(t, obj, old));
    if (errors.length > 0) throw invalid(t.kind, t.group, name, errors);
  }

  /**
   * Creates an object (POST). Applies defaulting, validation, `generateName`,
   * and the create strategy: status cleared where it is a subresource,
   * generation 1, a new uid and creationTimestamp.
   */
  create(t: ResourceType, input: KubeObject, namespace: string | undefined, options: WriteOptions = {}): KubeObject {
    const obj = clone(input);
    if (!isPlainObject(obj.metadata)) obj.metadata = {};
    const meta = obj.metadata;
    if (t.namespaced) {
      if (meta.namespace && namespace && meta.namespace !== namespace)
        throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      meta.namespace = namespace ?? meta.namespace;
    } else delete meta.namespace;
    if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${randomSuffix()}`;
    if (!meta.name) throw invalid(t.kind, t.group, '', [{ type: 'FieldValueRequired', field: 'metadata.name', message: 'Required value: name or generateName is required' }]);
    obj.apiVersion = groupVersion(t);
    obj.kind = t.kind;
    this.checkNamespace(t, meta.namespace, meta.name, true);
    if (this.find(t, meta.namespace, meta.name)) throw alreadyExists(resName(t), meta.name);
    for (const k of ['uid', 'resourceVersion', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'selfLink'] as const) delete meta[k];
    meta.uid = randomUUID();
    meta.creationTimestamp = this.clock.rfc3339();
    if (t.generation !== 'none') meta.generation = 1;
    if (t.statusSubresource) {
      if (t.builtin && t.kind === 'Pod') obj.status = { phase: 'Pending', qosClass: 'BestEffort' };
      else if (t.builtin && t.kind === 'Namespace') obj.status = { phase: 'Active' };
      else if (t.builtin) obj.status = {};
      else delete obj.status;
    }
    applyDefaults(t, obj);
    this.validateOrThrow(t, obj, undefined);
    if (t.kind === 'CustomResourceDefinition' && t.builtin) markCrdEstablished(obj);
    const tracked = this.fieldTracker && options.fieldManager ? this.fieldTracker(t, undefined, obj, options.fieldManager, undefined) : obj;
    if (options.dryRun) return deepFreeze(tracked);
    return this.commit(t, 'ADDED', tracked, undefined);
  }

  /**
   * Replaces an object (PUT), or its status (`subresource: 'status'`).
   * Enforces the resourceVersion precondition: 409 Conflict on a stale one;
   * for custom resources an empty one is 422, because their strategy does
   * not allow unconditional updates (reference §3).
   */
  update(t: ResourceType, input: KubeObject, namespace: string | undefined, name: string, options: WriteOptions & { subresource?: 'status' } = {}): KubeObject {
    const old = this.get(t, namespace, name);
    const obj = clone(input);
    if (!isPlainObject(obj.metadata)) obj.metadata = {};
    if (obj.metadata.name !== undefined && obj.metadata.name !== name)
      throw badRequest(`the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`);
    if (t.namespaced && obj.metadata.namespace && obj.metadata.namespace !== namespace)
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    const rv = obj.metadata.resourceVersion;
    if (rv === undefined || rv === '' || rv === '0') {
      if (!t.builtin) throw invalid(t.kind, t.group, name, [{ type: 'FieldValueInvalid', field: 'metadata.resourceVersion', message: 'Invalid value: 0x0: must be specified for an update' }]);
    } else if (rv !== old.metadata.resourceVersion) throw conflict(resName(t), name);
    if (obj.metadata.uid !== undefined && obj.metadata.uid !== old.metadata.uid)
      throw conflict(resName(t), name, `Precondition failed: UID in precondition: ${obj.metadata.uid}, UID in object meta: ${old.metadata.uid}`);
    let next: KubeObject;
    if (options.subresource === 'status') {
      // Status writes change only .status; everything else comes from the stored object.
      next = { ...clone<KubeObject>(old), status: obj.status };
      if (obj.status === undefined) delete next.status;
    } else {
      next = obj;
      next.apiVersion = groupVersion(t);
      next.kind = t.kind;
      if (t.statusSubresource) {
        if (old.status === undefined) delete next.status;
        else next.status = clone(old.status);
      }
      applyDefaults(t, next);
      this.validateOrThrow(t, next, old);
    }
    // Server-owned metadata always comes from the stored object.
    const keep = ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation'] as const;
    for (const k of keep) {
      if (old.metadata[k] === undefined) delete next.metadata[k];
      else (next.metadata as Record<string, unknown>)[k] = old.metadata[k];
    }
    next.metadata.name = name;
    if (t.namespaced) next.metadata.namespace = namespace;
    if (options.subresource !== 'status') this.bumpGeneration(t, next, old);
    next.metadata.resourceVersion = old.metadata.resourceVersion;
    if (next.metadata.managedFields === undefined && old.metadata.managedFields !== undefined) next.metadata.managedFields = clone(old.metadata.managedFields);
    if (this.fieldTracker && options.fieldManager) next = this.fieldTracker(t, old, next, options.fieldManager, options.subresource);
    // A no-op write keeps the resourceVersion and emits no event (etcd3 store GuaranteedUpdate).
    if (jsonEqual(next, old)) return old;
    if (options.dryRun) return deepFreeze(next);
    if (next.metadata.deletionTimestamp && (next.metadata.finalizers ?? []).length === 0 && this.isFinalizing(t, next)) {
      return this.remove(t, next, old);
    }
    return this.commit(t, 'MODIFIED', next, old);
  }

  /** An object waiting only on its finalizers is removed once they are all gone. */
  private isFinalizing(t: ResourceType, obj: KubeObject): boolean {
    // Pods under graceful termination wait for the kubelet, not for finalizers.
    if (t.builtin && t.kind === 'Pod' && (obj.metadata.deletionGracePeriodSeconds ?? 0) > 0) return false;
    return true;
  }

  private remove(t: ResourceType, final: KubeObject, old: KubeObject): KubeObject {
    const removed = this.commit(t, 'DELETED', final, old);
    this.collectDependents(removed.metadata.uid);
    return removed;
  }

  /** Background garbage collection: dependents whose every owner is gone are deleted. */
  private collectDependents(uid: string | undefined): void {
    if (!uid) return;
    const refs = this.ownerIndex.get(uid);
    if (!refs) return;
    this.ownerIndex.delete(uid);
    for (const ref of [...refs]) {
      const [key = '', namespace = '', name = ''] = ref.split('|');
      const t = this.registry.all().find((r) => typeKey(r) === key);
      if (!t) continue;
      const dependent = this.find(t, namespace || undefined, name);
      if (!dependent) continue;
      const liveOwner = (dependent.metadata.ownerReferences ?? []).some((o) => o.uid !== uid && this.uids.has(o.uid));
      if (liveOwner) continue;
      try {
        this.delete(t, namespace || undefined, name, { propagationPolicy: 'Background' });
      } catch (err) {
        if (!(err instanceof ApiError && err.code === 404)) throw err;
      }
    }
  }


  /**
   * Deletes an object. Pods on a node terminate gracefully (deletionTimestamp
   * first, removal after the grace period); objects with finalizers wait for
   * them; namespaces terminate their contents first.
   */
  delete(t: ResourceType, namespace: string | undefined, name: string, options: DeleteOptions = {}): KubeObject {
    const old = this.get(t, namespace, name);
    const pre = options.preconditions;
    if (pre?.uid && pre.uid !== old.metadata.uid)
      throw conflict(resName(t), name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.metadata.uid}`);
    if (pre?.resourceVersion && pre.resourceVersion !== old.metadata.resourceVersion)
      throw conflict(resName(t), name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${old.metadata.resourceVersion}`);
    if (options.dryRun) return old;
    if (options.propagationPolicy === 'Orphan') this.orphanDependents(old.metadata.uid);

    if (t.builtin && t.kind === 'Namespace') return this.terminateNamespace(t, old);

    const grace = this.graceSeconds(t, old, options.gracePeriodSeconds);
    const finalizers = old.metadata.finalizers ?? [];
    if (grace > 0 || finalizers.length > 0) {
      const alreadyTerminating = old.metadata.deletionTimestamp !== undefined;
      // A second graceful delete may only shorten the grace period.
      if (alreadyTerminating && grace >= (old.metadata.deletionGracePeriodSeconds ?? 0) && finalizers.length === 0 && grace > 0) return old;
      if (alreadyTerminating && finalizers.length > 0 && grace === 0) return old;
      const next = clone<KubeObject>(old);
      next.metadata.deletionTimestamp = new Date(this.clock.now() + grace * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
      next.metadata.deletionGracePeriodSeconds = grace;
      // The first graceful delete bumps generation (registry/rest/delete.go).
      if (!alreadyTerminating && t.generation !== 'none') next.metadata.generation = (old.metadata.generation ?? 0) + 1;
      const marked = this.commit(t, 'MODIFIED', next, old);
      if (grace > 0 && t.builtin && t.kind === 'Pod') this.scheduleGracefulRemoval(t, marked, grace);
      return marked;
    }
    return this.remove(t, clone<KubeObject>(old), old);
  }

  private graceSeconds(t: ResourceType, obj: KubeObject, requested: number | undefined): number {
    if (!(t.builtin && t.kind === 'Pod')) return 0;
    const spec = isPlainObject(obj.spec) ? obj.spec : {};
    const status = isPlainObject(obj.status) ? obj.status : {};
    // pod strategy CheckGracefulDelete: unscheduled or finished pods go at once.
    if (!spec['nodeName'] || status['phase'] === 'Failed' || status['phase'] === 'Succeeded') return 0;
    if (requested !== undefined) return Math.max(0, requested);
    const fromSpec = spec['terminationGracePeriodSeconds'];
    return typeof fromSpec === 'number' ? fromSpec : 30;
  }

  private scheduleGracefulRemoval(t: ResourceType, pod: KubeObject, grace: number): void {
    if (this.gracefulDeleteHook) {
      this.gracefulDeleteHook(pod, grace);
      return;
    }
    const { namespace, name, uid } = pod.metadata;
    this.clock.after(grace * 1000, () => this.finishPodDeletion(t, namespace, name ?? '', uid));
  }

  /**
   * Removes a terminating pod for good, as the kubelet's final delete with
   * grace 0 does. A no-op when the pod is gone or was replaced.
   */
  finishPodDeletion(t: ResourceType, namespace: string | undefined, name: string, uid: string | undefined): void {
    const current = this.find(t, namespace, name);
    if (!current || current.metadata.uid !== uid || !current.metadata.deletionTimestamp) return;
    if ((current.metadata.finalizers ?? []).length > 0) return;
    this.remove(t, clone<KubeObject>(current), current);
  }

  private orphanDependents(uid: string | undefined): void {
    if (!uid) return;
    for (const ref of [...(this.ownerIndex.get(uid) ?? [])]) {
      const [key = '', namespace = '', name = ''] = ref.split('|');
      const t = this.registry.all().find((r) => typeKey(r) === key);
      const dependent = t && this.find(t, namespace || undefined, name);
      if (!t || !dependent) continue;
      const next = clone<KubeObject>(dependent);
      next.metadata.ownerReferences = (next.metadata.ownerReferences ?? []).filter((o) => o.uid !== uid);
      if (next.metadata.ownerReferences.length === 0) delete next.metadata.ownerReferences;
      this.commit(t, 'MODIFIED', next, dependent);
    }
    this.ownerIndex.delete(uid);
  }

  /** Namespace deletion: Terminating, then its contents, then the namespace itself. */
  private terminateNamespace(t: ResourceType, ns: KubeObject): KubeObject {
    if (ns.metadata.deletionTimestamp) return ns;
    const next = clone<KubeObject>(ns);
    next.metadata.deletionTimestamp = this.clock.rfc3339();
    next.metadata.deletionGracePeriodSeconds = 0;
    next.status = { ...(isPlainObject(ns.status) ? ns.status : {}), phase: 'Terminating' };
    const marked = this.commit(t, 'MODIFIED', next, ns);
    const name = ns.metadata.name ?? '';
    // The namespace controller runs asynchronously, as in a real cluster.
    this.clock.after(0, () => this.drainNamespace(t, name, ns.metadata.uid));
    return marked;
  }

  private drainNamespace(nsType: ResourceType, name: string, uid: string | undefined): void {
    const ns = this.find(nsType, undefined, name);
    if (!ns || ns.metadata.uid !== uid) return;
    for (const t of this.registry.all()) {
      if (!t.namespaced) continue;
      for (const obj of this.list(t, { namespace: name }).items) {
        if (obj.metadata.deletionTimestamp) continue;
        try {
          this.delete(t, name, obj.metadata.name ?? '', { propagationPolicy: 'Background' });
        } catch (err) {
          if (!(err instanceof ApiError && err.code === 404)) throw err;
        }
      }
    }
    // Pods still terminating keep the namespace until they are gone.
    const left = this.registry.all().some((t) => t.namespaced && this.list(t, { namespace: name }).items.length > 0);
    if (left) this.clock.after(1000, () => this.drainNamespace(nsType, name, uid));
    else this.remove(nsType, clone<KubeObject>(ns), ns);
  }
}

function markCrdEstablished(crd: KubeObject): void {
  const spec = isPlainObject(crd.spec) ? crd.spec : {};
  crd.status = {
    acceptedNames: clone(spec['names'] ?? {}),
    storedVersions: Array.isArray(spec['versions']) ? spec['versions'].filter(isPlainObject).filter((v) => v['storage'] === true).map((v) => v['name']) : [],
    conditions: [
      { type: 'NamesAccepted', status: 'True', reason: 'NoConflicts', message: 'no conflicts found', lastTransitionTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') },
      { type: 'Established', status: 'True', reason: 'InitialNamesAccepted', message: 'the initial names have been accepted', lastTransitionTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') },
    ],
  };
}

interface ContinueToken {
  rv: number;
  start: string;
}

function encodeContinue(token: ContinueToken): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: token.rv, start: token.start })).toString('base64url');
}

function decodeContinue(raw: string): ContinueToken {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    if (isPlainObject(parsed) && typeof parsed['rv'] === 'number' && typeof parsed['start'] === 'string') return { rv: parsed['rv'], start: parsed['start'] };
  } catch {
    // fall through to the error below
  }
  throw badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
}

function lowerBound(keys: readonly string[], value: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((keys[mid] as string) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function upperBound(keys: readonly string[], value: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((keys[mid] as string) <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function upperBoundBy(events: readonly StoreEvent[], revision: number): number {
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((events[mid] as StoreEvent).resourceVersion <= revision) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
