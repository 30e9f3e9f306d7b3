/**
 * The StatefulSet controller, following kubernetes
 * `pkg/controller/statefulset` (stateful_set.go, stateful_set_control.go,
 * stateful_set_utils.go, stateful_pod_control.go) as summarised in the
 * project reference §1. Function names mirror upstream so the two can be
 * read side by side; comments mark where behaviour surprises.
 *
 * One deliberate choice: `spec.updateStrategy.rollingUpdate.maxUnavailable`
 * is honoured when it is set (upstream's `MaxUnavailableStatefulSet` gate
 * on, the 1.35.0 and 1.37 behaviour), and the gate-off algorithm runs when
 * it is not set (1.34, 1.35.4+, 1.36). The two agree for one pod at a time
 * in the common case; a user who sets the field asks for the gated
 * behaviour, and a simulator that silently ignored it would hide what 1.37
 * clusters will do. maxUnavailable is not defaulted (the API layer leaves
 * it unset), so sets that do not ask never see the gated algorithm.
 */
import { ApiError } from '../api/errors.ts';
import type { KubeObject, OwnerReference } from '../api/object.ts';
import { typeKey } from '../api/resources.ts';
import type { StoreEvent } from '../api/store.ts';
import { canonicalJson, controllerRevisionHash } from './hash.ts';
import type { Controller, ControllerManager, ReconcileResult } from './manager.ts';
import type { CoreTypes, Obj } from './objects.ts';
import {
  arr,
  isPodAvailable,
  isPodReady,
  isTerminating,
  newControllerRef,
  num,
  objectKey,
  podFromTemplate,
  podPhase,
  rec,
  scaledValue,
  selectorMatches,
  splitKey,
  str,
  ownerKeysOfChild,
} from './objects.ts';
import { createBoundClaim } from './volumes.ts';

/** `apps.StatefulSetRevisionLabel`. */
export const revisionLabel = 'controller-revision-hash';
/** `apps.StatefulSetPodNameLabel`. */
export const podNameLabel = 'statefulset.kubernetes.io/pod-name';
/** `apps.PodIndexLabel` (PodIndexLabel gate, on since 1.28). */
export const podIndexLabel = 'apps.kubernetes.io/pod-index';
/** `history.ControllerRevisionHashLabel`. */
export const revisionHashLabel = 'controller.kubernetes.io/hash';

/** The status the controller computes, before it is written. */
export interface StatefulSetStatus {
  observedGeneration: number;
  replicas: number;
  readyReplicas: number;
  currentReplicas: number;
  updatedReplicas: number;
  currentRevision: string;
  updateRevision: string;
  collisionCount: number;
  availableReplicas: number;
}

/** The spec fields the controller reads, with defaults applied. */
interface SetView {
  obj: KubeObject;
  namespace: string;
  name: string;
  uid: string;
  generation: number;
  replicas: number;
  start: number;
  serviceName: string;
  parallel: boolean;
  strategyType: string;
  rollingUpdate: Obj | undefined;
  minReadySeconds: number;
  revisionHistoryLimit: number;
  claimTemplates: Obj[];
  whenScaled: string;
  whenDeleted: string;
  selector: unknown;
  template: Obj;
  status: Obj;
}

function view(set: KubeObject, template?: Obj): SetView {
  const spec = rec(set.spec);
  const strategy = rec(spec['updateStrategy']);
  const retention = rec(spec['persistentVolumeClaimRetentionPolicy']);
  return {
    obj: set,
    namespace: set.metadata.namespace ?? '',
    name: set.metadata.name ?? '',
    uid: set.metadata.uid ?? '',
    generation: set.metadata.generation ?? 0,
    replicas: num(spec['replicas'], 1),
    start: num(rec(spec['ordinals'])['start'], 0),
    serviceName: str(spec['serviceName']),
    parallel: spec['podManagementPolicy'] === 'Parallel',
    strategyType: str(strategy['type'], 'RollingUpdate'),
    rollingUpdate: strategy['rollingUpdate'] === undefined || strategy['rollingUpdate'] === null ? undefined : rec(strategy['rollingUpdate']),
    minReadySeconds: num(spec['minReadySeconds'], 0),
    revisionHistoryLimit: num(spec['revisionHistoryLimit'], 10),
    claimTemplates: arr(spec['volumeClaimTemplates']).map(rec),
    whenScaled: str(retention['whenScaled'], 'Retain'),
    whenDeleted: str(retention['whenDeleted'], 'Retain'),
    selector: spec['selector'],
    template: template ?? rec(spec['template']),
    status: rec(set.status),
  };
}

const statefulPodRegex = /^(.*)-([0-9]+)$/;

/** `getParentNameAndOrdinal`: `web-2` → (`web`, 2); −1 when the name has no ordinal. */
export function parentAndOrdinal(podName: string): { parent: string; ordinal: number } {
  const m = statefulPodRegex.exec(podName);
  if (!m) return { parent: '', ordinal: -1 };
  const ordinal = Number(m[2]);
  return { parent: m[1] ?? '', ordinal: Number.isSafeInteger(ordinal) && ordinal <= 2147483647 ? ordinal : -1 };
}

function ordinalOf(pod: KubeObject): number {
  return parentAndOrdinal(pod.metadata.name ?? '').ordinal;
}

function podRevision(pod: KubeObject): string {
  return pod.metadata.labels?.[revisionLabel] ?? '';
}

/** `isCreated`: the API server has the pod (in-memory placeholders have no phase). */
function isCreated(pod: KubeObject): boolean {
  return podPhase(pod) !== '';
}

function isRunningAndReady(pod: KubeObject): boolean {
  return podPhase(pod) === 'Running' && isPodReady(pod);
}

/**
 * `isUnavailable` (PR #123915): not Running-and-Available, or terminating.
 * Releases up to 1.34 waited on `isHealthy` instead, so minReadySeconds did
 * not gate rolling-update progress there (reference §1, issues #112307, #119234).
 */
function isUnavailable(pod: KubeObject, minReadySeconds: number, now: number): boolean {
  return !(podPhase(pod) === 'Running' && isPodAvailable(pod, minReadySeconds, now)) || isTerminating(pod);
}

/** `getStatefulSetMaxUnavailable`: int or percent of replicas rounded down, at least 1. */
export function statefulSetMaxUnavailable(maxUnavailable: unknown, replicas: number): number {
  const value = scaledValue(maxUnavailable ?? 1, replicas, false);
  return Math.max(1, value);
}

/** The raw revision data: a strategic merge patch of `spec.template` with `$patch: replace` (`getPatch`). */
export function revisionRawData(template: Obj): string {
  return canonicalJson({ spec: { template: { ...template, $patch: 'replace' } } });
}

/** `controllerRevisionName`: the prefix is cut to 223 characters so the name fits 253. */
export function controllerRevisionName(prefix: string, hash: string): string {
  return `${prefix.length > 223 ? prefix.slice(0, 223) : prefix}-${hash}`;
}

function completeRollingUpdate(set: SetView, status: StatefulSetStatus): void {
  // Upstream checks neither availableReplicas (issue #136831) nor OnDelete
  // (never promoted before PR #136833): model the released behaviour.
  if (set.strategyType === 'RollingUpdate' && status.updatedReplicas === set.replicas && status.readyReplicas === set.replicas && status.replicas === set.replicas) {
    status.currentReplicas = status.updatedReplicas;
    status.currentRevision = status.updateRevision;
  }
}

function inconsistentStatus(set: SetView, status: StatefulSetStatus): boolean {
  const s = set.status;
  return (
    status.observedGeneration > num(s['observedGeneration']) ||
    status.replicas !== num(s['replicas']) ||
    status.currentReplicas !== num(s['currentReplicas']) ||
    status.readyReplicas !== num(s['readyReplicas']) ||
    status.updatedReplicas !== num(s['updatedReplicas']) ||
    status.currentRevision !== str(s['currentRevision']) ||
    status.availableReplicas !== num(s['availableReplicas']) ||
    status.updateRevision !== str(s['updateRevision'])
  );
}

/** The status as the API serialises `StatefulSetStatus` (field order and omitempty of apps/v1). */
export function statusJson(status: StatefulSetStatus): Obj {
  return {
    observedGeneration: status.observedGeneration,
    replicas: status.replicas,
    ...(status.readyReplicas ? { readyReplicas: status.readyReplicas } : {}),
    ...(status.currentReplicas ? { currentReplicas: status.currentReplicas } : {}),
    ...(status.updatedReplicas ? { updatedReplicas: status.updatedReplicas } : {}),
    ...(status.currentRevision ? { currentRevision: status.currentRevision } : {}),
    ...(status.updateRevision ? { updateRevision: status.updateRevision } : {}),
    collisionCount: status.collisionCount,
    availableReplicas: status.availableReplicas,
  };
}

/** The StatefulSet controller of one cluster. */
export class StatefulSetController implements Controller {
  readonly name = 'statefulset-controller';
  private readonly manager: ControllerManager;
  private readonly types: CoreTypes;
  /** Raw data per stored revision or template object (stored objects are frozen, so identity is a safe cache key). */
  private readonly rawCache = new WeakMap<object, string>();

  constructor(manager: ControllerManager, types: CoreTypes) {
    this.manager = manager;
    this.types = types;
  }

  private get store() {
    return this.manager.store;
  }

  private now(): number {
    return this.manager.clock.now();
  }

  // --- event handlers (stateful_set.go addPod/updatePod/deletePod, …) ------

  keysFor(event: StoreEvent): readonly string[] {
    const key = typeKey(event.resource);
    const obj = event.object;
    if (key === typeKey(this.types.statefulSet)) return [objectKey(obj.metadata.namespace, obj.metadata.name ?? '')];
    if (key !== typeKey(this.types.pod) && key !== typeKey(this.types.controllerRevision)) return [];
    // Its controller, or, for an orphan, any set whose selector matches it (it may be adopted).
    return ownerKeysOfChild(this.store, event, this.types.statefulSet);
  }

  initialKeys(): readonly string[] {
    return this.store.list(this.types.statefulSet, {}).items.map((s) => objectKey(s.metadata.namespace, s.metadata.name ?? ''));
  }

  // --- sync ----------------------------------------------------------------

  reconcile(key: string): ReconcileResult {
    const { namespace, name } = splitKey(key);
    const stored = this.store.find(this.types.statefulSet, namespace, name);
    if (!stored) return;
    const set = view(stored);
    this.adoptOrphanRevisions(set);
    const pods = this.getPodsForStatefulSet(set);
    const revisions = this.listRevisions(set).sort((a, b) => num(a['revision']) - num(b['revision']));
    const status = this.performUpdate(set, pods, revisions);
    // syncStatefulSet: requeue for minReadySeconds so availableReplicas catches up.
    if (set.minReadySeconds > 0 && status.availableReplicas !== set.replicas) return { requeueAfterMs: set.minReadySeconds * 1000 };
    return undefined;
  }

  private performUpdate(set: SetView, pods: KubeObject[], revisions: KubeObject[]): StatefulSetStatus {
    const { current, update, collisionCount } = this.getStatefulSetRevisions(set, revisions);
    let status: StatefulSetStatus | undefined;
    let failure: unknown;
    try {
      status = this.updateStatefulSet(set, current, update, collisionCount, pods);
    } catch (err) {
      if (!(err instanceof PartialSyncError)) throw err;
      status = err.status;
      failure = err.cause;
    }
    // Status is written even when the sync failed part-way (performUpdate).
    this.updateStatefulSetStatus(set, status);
    this.truncateHistory(set, pods, revisions, current, update);
    if (failure !== undefined) throw failure instanceof Error ? failure : new Error('sync failed', { cause: failure });
    return status;
  }

  // --- ownership -------------------------------------------------------------

  /** `getPodsForStatefulSet`: owned pods still matching, plus adopted orphans; releases the rest. */
  private getPodsForStatefulSet(set: SetView): KubeObject[] {
    const { pod: podType } = this.types;
    const matches = (p: KubeObject) => selectorMatches(set.selector, p.metadata.labels) && parentAndOrdinal(p.metadata.name ?? '').parent === set.name;
    const claimed: KubeObject[] = [];
    for (const p of this.manager.index.children(podType, set.uid)) {
      if (matches(p)) claimed.push(p);
      else if (!isTerminating(set.obj)) this.release(p, set.uid);
    }
    if (!isTerminating(set.obj)) {
      for (const p of this.manager.index.orphans(podType, set.namespace)) {
        if (isTerminating(p) || !matches(p)) continue;
        claimed.push(this.adopt(podType, p, set.obj));
      }
    }
    return claimed;
  }

  private adopt(t: CoreTypes['pod'], obj: KubeObject, owner: KubeObject): KubeObject {
    const refs: OwnerReference[] = [...(obj.metadata.ownerReferences ?? []), newControllerRef(owner)];
    return this.store.update(t, { ...obj, metadata: { ...obj.metadata, ownerReferences: refs } }, obj.metadata.namespace, obj.metadata.name ?? '');
  }

  private release(obj: KubeObject, uid: string): void {
    const refs = (obj.metadata.ownerReferences ?? []).filter((r) => r.uid !== uid);
    const metadata = { ...obj.metadata, ownerReferences: refs };
    if (refs.length === 0) delete (metadata as { ownerReferences?: unknown }).ownerReferences;
    try {
      this.store.update(this.types.pod, { ...obj, metadata }, obj.metadata.namespace, obj.metadata.name ?? '');
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 404)) throw err;
    }
  }

  private listRevisions(set: SetView): KubeObject[] {
    const t = this.types.controllerRevision;
    return [...this.manager.index.children(t, set.uid), ...this.manager.index.orphans(t, set.namespace)].filter((r) => selectorMatches(set.selector, r.metadata.labels));
  }

  private adoptOrphanRevisions(set: SetView): void {
    if (isTerminating(set.obj)) return;
    const t = this.types.controllerRevision;
    for (const r of this.manager.index.orphans(t, set.namespace)) {
      if (selectorMatches(set.selector, r.metadata.labels)) this.adopt(t, r, set.obj);
    }
  }

  // --- revisions -------------------------------------------------------------

  private rawOf(revision: KubeObject): string {
    let raw = this.rawCache.get(revision);
    if (raw === undefined) {
      raw = canonicalJson(revision['data']);
      this.rawCache.set(revision, raw);
    }
    return raw;
  }

  private templateRaw(template: Obj): string {
    let raw = this.rawCache.get(template);
    if (raw === undefined) {
      raw = revisionRawData(template);
      this.rawCache.set(template, raw);
    }
    return raw;
  }

  /** `getStatefulSetRevisions`: finds or creates the update revision; rollback reuses an older one. */
  private getStatefulSetRevisions(set: SetView, revisions: KubeObject[]): { current: KubeObject; update: KubeObject; collisionCount: number } {
    let collisionCount = num(set.status['collisionCount']);
    const raw = this.templateRaw(set.template);
    const nextRevision = revisions.length === 0 ? 1 : num(revisions[revisions.length - 1]?.['revision']) + 1;
    const equal = revisions.filter((r) => this.rawOf(r) === raw);
    const last = revisions[revisions.length - 1];
    let update: KubeObject;
    const newestEqual = equal[equal.length - 1];
    if (newestEqual && last && this.rawOf(last) === this.rawOf(newestEqual)) {
      // The template did not change since the newest revision.
      update = last;
    } else if (newestEqual) {
      // A rollback: the older identical revision gets the next number and keeps its name,
      // so pods still labelled with its hash count as updated (history.UpdateControllerRevision).
      update = this.store.update(this.types.controllerRevision, { ...newestEqual, revision: nextRevision }, set.namespace, newestEqual.metadata.name ?? '');
    } else {
      const created = this.createControllerRevision(set, raw, nextRevision, collisionCount);
      update = created.revision;
      collisionCount = created.collisionCount;
    }
    const current = revisions.find((r) => r.metadata.name === str(set.status['currentRevision'])) ?? update;
    return { current, update, collisionCount };
  }

  /** `history.NewControllerRevision` + `CreateControllerRevision`, with the collision loop. */
  private createControllerRevision(set: SetView, raw: string, revision: number, collisionCount: number): { revision: KubeObject; collisionCount: number } {
    // The label keeps the hash of the first attempt, as upstream computes it before the loop.
    const labelHash = controllerRevisionHash(raw, collisionCount);
    const labels = { ...(rec(rec(set.template)['metadata'])['labels'] as Record<string, string> | undefined), [revisionHashLabel]: labelHash };
    const annotations = set.obj.metadata.annotations ?? {};
    const data = JSON.parse(raw) as Obj;
    let count = collisionCount;
    for (;;) {
      const name = controllerRevisionName(set.name, controllerRevisionHash(raw, count));
      const cr: KubeObject = {
        apiVersion: 'apps/v1',
        kind: 'ControllerRevision',
        metadata: { name, namespace: set.namespace, labels, ...(Object.keys(annotations).length > 0 ? { annotations: { ...annotations } } : {}), ownerReferences: [newControllerRef(set.obj)] },
        data,
        revision,
      };
      try {
        return { revision: this.store.create(this.types.controllerRevision, cr, set.namespace), collisionCount: count };
      } catch (err) {
        if (!(err instanceof ApiError && err.reason === 'AlreadyExists')) throw err;
        const exists = this.store.find(this.types.controllerRevision, set.namespace, name);
        if (exists && this.rawOf(exists) === raw) return { revision: exists, collisionCount: count };
        count++;
      }
    }
  }

  /** `ApplyRevision`: the set with the revision's template. */
  private applyRevision(set: SetView, revision: KubeObject): SetView {
    const template = { ...rec(rec(rec(revision['data'])['spec'])['template']) };
    delete template['$patch'];
    return view(set.obj, template);
  }

  private truncateHistory(set: SetView, pods: KubeObject[], revisions: KubeObject[], current: KubeObject, update: KubeObject): void {
    const live = new Set([current.metadata.name, update.metadata.name, ...pods.map(podRevision)]);
    const history = revisions.filter((r) => !live.has(r.metadata.name));
    const limit = set.revisionHistoryLimit;
    if (limit < 0 || history.length <= limit) return;
    for (const r of history.slice(0, history.length - limit)) {
      try {
        this.store.delete(this.types.controllerRevision, set.namespace, r.metadata.name ?? '');
      } catch (err) {
        if (!(err instanceof ApiError && err.code === 404)) throw err;
      }
    }
  }

  // --- pods ------------------------------------------------------------------

  /** `newStatefulSetPod`: identity (name, hostname, subdomain, labels) and storage. */
  private newStatefulSetPod(set: SetView, ordinal: number): KubeObject {
    const pod = podFromTemplate(set.template, set.obj, `${set.name}-`);
    pod.metadata.name = `${set.name}-${ordinal}`;
    this.updateIdentity(set, pod);
    const spec = rec(pod.spec);
    spec['hostname'] = pod.metadata.name;
    if (set.serviceName) spec['subdomain'] = set.serviceName;
    this.updateStorage(set, pod);
    return pod;
  }

  /**
   * `newVersionedStatefulSetPod`. Which revision a (re)created pod gets is the
   * Go expression `(RollingUpdate && rollingUpdate==nil && ord < start+status.currentReplicas)
   * || (rollingUpdate!=nil && ord < start+partition)`: a deleted pod below the
   * partition comes back at the *current* revision, and under OnDelete at the
   * *update* revision (reference §1).
   */
  private newVersionedStatefulSetPod(currentSet: SetView, updateSet: SetView, currentRevision: string, updateRevision: string, ordinal: number): KubeObject {
    const ru = currentSet.rollingUpdate;
    const useCurrent =
      (currentSet.strategyType === 'RollingUpdate' && ru === undefined && ordinal < currentSet.start + num(currentSet.status['currentReplicas'])) ||
      (ru !== undefined && ordinal < currentSet.start + num(ru['partition']));
    const pod = this.newStatefulSetPod(useCurrent ? currentSet : updateSet, ordinal);
    (pod.metadata.labels ??= {})[revisionLabel] = useCurrent ? currentRevision : updateRevision;
    return pod;
  }

  private updateIdentity(set: SetView, pod: KubeObject): void {
    const name = `${set.name}-${ordinalOf(pod)}`;
    pod.metadata.name = name;
    pod.metadata.namespace = set.namespace;
    const labels = (pod.metadata.labels ??= {});
    labels[podNameLabel] = name;
    labels[podIndexLabel] = String(ordinalOf(pod));
  }

  private identityMatches(set: SetView, pod: KubeObject): boolean {
    const { parent, ordinal } = parentAndOrdinal(pod.metadata.name ?? '');
    return ordinal >= 0 && parent === set.name && pod.metadata.namespace === set.namespace && pod.metadata.labels?.[podNameLabel] === pod.metadata.name;
  }

  private claimName(set: SetView, claim: Obj, ordinal: number): string {
    return `${str(rec(claim['metadata'])['name'])}-${set.name}-${ordinal}`;
  }

  private storageMatches(set: SetView, pod: KubeObject): boolean {
    const ordinal = ordinalOf(pod);
    if (ordinal < 0) return false;
    const volumes = new Map(arr(rec(pod.spec)['volumes']).map(rec).map((v) => [str(v['name']), v]));
    return set.claimTemplates.every((claim) => {
      const v = volumes.get(str(rec(claim['metadata'])['name']));
      return v !== undefined && str(rec(v['persistentVolumeClaim'])['claimName']) === this.claimName(set, claim, ordinal);
    });
  }

  /** `updateStorage`: one PVC volume per claim template, then the pod's other volumes. */
  private updateStorage(set: SetView, pod: KubeObject): void {
    if (set.claimTemplates.length === 0) return;
    const ordinal = ordinalOf(pod);
    const spec = rec(pod.spec);
    const names = new Set(set.claimTemplates.map((c) => str(rec(c['metadata'])['name'])));
    const claims = set.claimTemplates.map((c) => ({ name: str(rec(c['metadata'])['name']), persistentVolumeClaim: { claimName: this.claimName(set, c, ordinal) } }));
    spec['volumes'] = [...claims, ...arr(spec['volumes']).filter((v) => !names.has(str(rec(v)['name'])))];
    pod.spec = spec;
  }

  /** `getPersistentVolumeClaims`: the claims of one ordinal, labelled with the selector's matchLabels. */
  private claimsFor(set: SetView, ordinal: number): KubeObject[] {
    const matchLabels = rec(rec(set.selector)['matchLabels']) as Record<string, string>;
    return set.claimTemplates.map((c) => {
      const meta = rec(c['metadata']);
      const spec = { ...structuredClone(rec(c['spec'])) };
      spec['volumeMode'] ??= 'Filesystem';
      return {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: {
          name: this.claimName(set, c, ordinal),
          namespace: set.namespace,
          labels: { ...(rec(meta['labels']) as Record<string, string>), ...matchLabels },
          ...(Object.keys(rec(meta['annotations'])).length > 0 ? { annotations: { ...(rec(meta['annotations']) as Record<string, string>) } } : {}),
        },
        spec,
      };
    });
  }

  /** `createPersistentVolumeClaims`: creates missing claims; a claim being deleted is an error. */
  private createPersistentVolumeClaims(set: SetView, pod: KubeObject): void {
    const errors: string[] = [];
    for (const claim of this.claimsFor(set, ordinalOf(pod))) {
      const existing = this.store.find(this.types.pvc, set.namespace, claim.metadata.name ?? '');
      if (!existing) createBoundClaim(this.manager, this.types, claim);
      else if (isTerminating(existing)) errors.push(`pvc ${claim.metadata.name ?? ''} is being deleted`);
    }
    if (errors.length > 0) throw new Error(errors.join(', '));
  }

  /** `PodClaimIsStale`: with whenScaled=Delete, a claim still owned by an earlier pod blocks creation. */
  private podClaimIsStale(set: SetView, pod: KubeObject): boolean {
    if (set.whenScaled === 'Retain') return false;
    for (const claim of this.claimsFor(set, ordinalOf(pod))) {
      const pvc = this.store.find(this.types.pvc, set.namespace, claim.metadata.name ?? '');
      if (!pvc) continue;
      const ref = (pvc.metadata.ownerReferences ?? []).find((r) => r.kind === 'Pod' && r.apiVersion === 'v1' && r.name === pod.metadata.name);
      if (ref && ref.uid !== pod.metadata.uid) return true;
    }
    return false;
  }

  /**
   * The owner references a claim should carry under the retention policy
   * (`isClaimOwnerUpToDate` / `updateClaimOwnerRefForSetAndPod`):
   * Retain/Retain none; whenDeleted=Delete the set; whenScaled=Delete the
   * pod once it is out of range.
   */
  private wantedClaimOwners(set: SetView, pod: KubeObject): KubeObject[] {
    const ordinal = ordinalOf(pod);
    const scaledDown = !(ordinal >= set.start && ordinal < set.start + set.replicas);
    const owners: KubeObject[] = [];
    if (set.whenDeleted === 'Delete' && !(set.whenScaled === 'Delete' && scaledDown)) owners.push(set.obj);
    if (set.whenScaled === 'Delete' && scaledDown) owners.push(pod);
    return owners;
  }

  private claimRefsFor(set: SetView, pod: KubeObject, claim: KubeObject): OwnerReference[] | undefined {
    const ours = (r: OwnerReference) => (r.kind === 'StatefulSet' && r.name === set.name) || (r.kind === 'Pod' && r.name === pod.metadata.name);
    const current = claim.metadata.ownerReferences ?? [];
    // A stale reference (same name, other uid) means an earlier incarnation manages it: leave it alone.
    if (current.some((r) => ours(r) && r.uid !== (r.kind === 'Pod' ? pod.metadata.uid : set.uid))) return undefined;
    const wanted = this.wantedClaimOwners(set, pod).filter((o) => o.metadata.uid);
    const next = [...current.filter((r) => !ours(r)), ...wanted.map(newControllerRef)];
    const same = next.length === current.length && next.every((r) => current.some((c) => c.uid === r.uid && c.controller === r.controller));
    return same ? undefined : next;
  }

  /** `ClaimsMatchRetentionPolicy`; a missing claim counts as matching, as the caller treats its error. */
  private claimsMatchRetentionPolicy(set: SetView, pod: KubeObject): boolean {
    for (const claim of this.claimsFor(set, ordinalOf(pod))) {
      const pvc = this.store.find(this.types.pvc, set.namespace, claim.metadata.name ?? '');
      if (pvc && this.claimRefsFor(set, pod, pvc) !== undefined) return false;
    }
    return true;
  }

  /** `UpdatePodClaimForRetentionPolicy`. */
  private updatePodClaimForRetentionPolicy(set: SetView, pod: KubeObject): void {
    for (const claim of this.claimsFor(set, ordinalOf(pod))) {
      const pvc = this.store.find(this.types.pvc, set.namespace, claim.metadata.name ?? '');
      if (!pvc) continue;
      const refs = this.claimRefsFor(set, pod, pvc);
      if (refs === undefined) continue;
      const metadata = { ...pvc.metadata, ownerReferences: refs };
      if (refs.length === 0) delete (metadata as { ownerReferences?: unknown }).ownerReferences;
      this.store.update(this.types.pvc, { ...pvc, metadata }, set.namespace, pvc.metadata.name ?? '');
    }
  }

  /** `CreateStatefulPod`: claims first, then the pod, then the claims' retention references. */
  private createStatefulPod(set: SetView, pod: KubeObject): void {
    this.createPersistentVolumeClaims(set, pod);
    const created = this.store.create(this.types.pod, pod, set.namespace);
    this.updatePodClaimForRetentionPolicy(set, created);
  }

  /** `UpdateStatefulPod`: fixes identity labels and storage in place; the template is never applied to a live pod. */
  private updateStatefulPod(set: SetView, stored: KubeObject): void {
    const pod = structuredClone(stored);
    let consistent = true;
    if (!this.identityMatches(set, pod)) {
      this.updateIdentity(set, pod);
      consistent = false;
    }
    if (!this.storageMatches(set, pod)) {
      this.updateStorage(set, pod);
      this.createPersistentVolumeClaims(set, pod);
      consistent = false;
    }
    if (!this.claimsMatchRetentionPolicy(set, pod)) this.updatePodClaimForRetentionPolicy(set, pod);
    if (consistent) return;
    this.store.update(this.types.pod, pod, set.namespace, pod.metadata.name ?? '');
  }

  private deleteStatefulPod(set: SetView, pod: KubeObject): void {
    try {
      this.store.delete(this.types.pod, set.namespace, pod.metadata.name ?? '', { preconditions: { uid: pod.metadata.uid ?? '' } });
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 404)) throw err;
    }
  }

  // --- the update algorithm --------------------------------------------------

  private computeReplicaStatus(status: StatefulSetStatus, minReadySeconds: number, current: string, update: string, ...lists: KubeObject[][]): void {
    const now = this.now();
    status.replicas = status.readyReplicas = status.availableReplicas = status.currentReplicas = status.updatedReplicas = 0;
    for (const list of lists) {
      for (const pod of list) {
        if (isCreated(pod)) status.replicas++;
        if (isRunningAndReady(pod)) {
          status.readyReplicas++;
          if (isPodAvailable(pod, minReadySeconds, now)) status.availableReplicas++;
        }
        if (isCreated(pod) && !isTerminating(pod)) {
          const revision = podRevision(pod);
          if (revision === current) status.currentReplicas++;
          if (revision === update) status.updatedReplicas++;
        }
      }
    }
  }

  /**
   * `processReplica`. Returns true when this sync must stop here. In
   * monotonic (OrderedReady) mode a created pod that is not Running and
   * Ready stops the sync at its ordinal every time, before the rolling
   * update below could replace it: the stuck rollout of kubernetes#67250.
   */
  private processReplica(set: SetView, updateSet: SetView, monotonic: boolean, replicas: KubeObject[], i: number): boolean {
    const pod = replicas[i] as KubeObject;
    const phase = podPhase(pod);
    if (phase === 'Failed' || phase === 'Succeeded') {
      // Recreated on the next sync, once the old pod is gone.
      if (!isTerminating(pod)) this.deleteStatefulPod(set, pod);
      return true;
    }
    if (!isCreated(pod)) {
      if (this.podClaimIsStale(set, pod)) return true;
      this.createStatefulPod(set, pod);
      if (monotonic) return true;
    }
    if (phase === 'Pending') this.createPersistentVolumeClaims(set, pod);
    if (isTerminating(pod) && monotonic) return true;
    if (!isRunningAndReady(pod) && monotonic) return true;
    if (!isPodAvailable(pod, set.minReadySeconds, this.now()) && monotonic) return true;
    if (!isCreated(pod)) return false;
    if (this.identityMatches(set, pod) && this.storageMatches(set, pod) && this.claimsMatchRetentionPolicy(updateSet, pod)) return false;
    this.updateStatefulPod(updateSet, pod);
    return false;
  }

  /** `processCondemned`: scale-down, highest ordinal first, waiting on unhealthy pods when monotonic. */
  private processCondemned(set: SetView, firstUnhealthy: KubeObject | undefined, monotonic: boolean, condemned: KubeObject[], i: number): boolean {
    const pod = condemned[i] as KubeObject;
    if (isTerminating(pod)) return monotonic;
    if (!isRunningAndReady(pod) && monotonic && pod !== firstUnhealthy) return true;
    if (!isPodAvailable(pod, set.minReadySeconds, this.now()) && monotonic && pod !== firstUnhealthy) return true;
    this.deleteStatefulPod(set, pod);
    return true;
  }

  /** `runForAll`: in order and stopping when asked (monotonic), or all of them (Parallel). */
  private runForAll(count: number, fn: (i: number) => boolean, monotonic: boolean): boolean {
    for (let i = 0; i < count; i++) {
      const stop = fn(i);
      if (stop && monotonic) return true;
    }
    return false;
  }

  private updateStatefulSet(set: SetView, current: KubeObject, update: KubeObject, collisionCount: number, pods: KubeObject[]): StatefulSetStatus {
    const currentSet = this.applyRevision(set, current);
    const updateSet = this.applyRevision(set, update);
    const currentName = current.metadata.name ?? '';
    const updateName = update.metadata.name ?? '';
    const status: StatefulSetStatus = { observedGeneration: set.generation, replicas: 0, readyReplicas: 0, currentReplicas: 0, updatedReplicas: 0, currentRevision: currentName, updateRevision: updateName, collisionCount, availableReplicas: 0 };
    this.computeReplicaStatus(status, set.minReadySeconds, currentName, updateName, pods);

    const replicas: (KubeObject | undefined)[] = new Array<KubeObject | undefined>(set.replicas).fill(undefined);
    const condemned: KubeObject[] = [];
    for (const pod of pods) {
      const ord = ordinalOf(pod);
      if (ord >= set.start && ord < set.start + set.replicas) replicas[ord - set.start] = pod;
      else if (ord >= 0) condemned.push(pod);
    }
    for (let ord = set.start; ord < set.start + set.replicas; ord++) {
      if (!replicas[ord - set.start]) replicas[ord - set.start] = this.newVersionedStatefulSetPod(currentSet, updateSet, currentName, updateName, ord);
    }
    const live = replicas as KubeObject[];
    condemned.sort((a, b) => ordinalOf(b) - ordinalOf(a));

    const now = this.now();
    let firstUnavailable: KubeObject | undefined;
    for (const pod of live) if (isUnavailable(pod, set.minReadySeconds, now)) firstUnavailable ??= pod;
    for (let i = condemned.length - 1; i >= 0; i--) if (isUnavailable(condemned[i] as KubeObject, set.minReadySeconds, now)) firstUnavailable ??= condemned[i];

    if (isTerminating(set.obj)) return status;
    const monotonic = !set.parallel;
    const finish = (): StatefulSetStatus => {
      this.computeReplicaStatus(status, set.minReadySeconds, currentName, updateName, live, condemned);
      return status;
    };
    const guarded = (fn: () => boolean): boolean => {
      try {
        return fn();
      } catch (err) {
        throw new PartialSyncError(finish(), err);
      }
    };

    if (guarded(() => this.runForAll(live.length, (i) => this.processReplica(set, updateSet, monotonic, live, i), monotonic))) return finish();
    // Claims of condemned pods follow the retention policy before they go.
    guarded(() => this.runForAll(condemned.length, (i) => {
      const pod = condemned[i] as KubeObject;
      if (!this.claimsMatchRetentionPolicy(updateSet, pod)) this.updatePodClaimForRetentionPolicy(updateSet, pod);
      return false;
    }, monotonic));
    if (guarded(() => this.runForAll(condemned.length, (i) => this.processCondemned(set, firstUnavailable, monotonic, condemned, i), monotonic))) return finish();
    finish();

    // OnDelete: pods change only when someone deletes them.
    if (set.strategyType === 'OnDelete') return status;
    guarded(() => {
      if (set.rollingUpdate && set.rollingUpdate['maxUnavailable'] !== undefined) this.updateWithMaxUnavailable(set, live, updateName, status);
      else this.updateOneAtATime(set, live, updateName, status);
      return false;
    });
    return status;
  }

  /**
   * Rolling update without the MaxUnavailableStatefulSet gate: from the
   * highest ordinal down to the partition, delete the first pod not at the
   * update revision (one per sync), or wait at the first unavailable one.
   * This is why updates go in reverse ordinal order one at a time, even with
   * Parallel pod management.
   */
  private updateOneAtATime(set: SetView, replicas: KubeObject[], updateRevision: string, status: StatefulSetStatus): void {
    const updateMin = set.rollingUpdate ? num(set.rollingUpdate['partition']) : 0;
    const now = this.now();
    for (let target = replicas.length - 1; target >= updateMin; target--) {
      const pod = replicas[target] as KubeObject;
      if (podRevision(pod) !== updateRevision && !isTerminating(pod)) {
        this.deleteStatefulPod(set, pod);
        status.currentReplicas--;
        return;
      }
      if (isUnavailable(pod, set.minReadySeconds, now)) return;
    }
  }

  /**
   * `updateStatefulSetAfterInvariantEstablished` (gate on): unavailable pods
   * are counted over all replicas, ignoring the partition; if there are more
   * than maxUnavailable nothing happens, else up to the difference of
   * outdated pods are deleted, highest ordinal first, down to the partition.
   */
  private updateWithMaxUnavailable(set: SetView, replicas: KubeObject[], updateRevision: string, status: StatefulSetStatus): void {
    const updateMin = set.rollingUpdate ? num(set.rollingUpdate['partition']) : 0;
    const maxUnavailable = statefulSetMaxUnavailable(set.rollingUpdate?.['maxUnavailable'], set.replicas);
    const now = this.now();
    const unavailable = replicas.filter((p) => isUnavailable(p, set.minReadySeconds, now)).length;
    if (unavailable > maxUnavailable) return;
    const toDelete = maxUnavailable - unavailable;
    let deleted = 0;
    for (let target = replicas.length - 1; target >= updateMin && deleted < toDelete; target--) {
      const pod = replicas[target] as KubeObject;
      if (podRevision(pod) !== updateRevision && !isTerminating(pod)) {
        this.deleteStatefulPod(set, pod);
        deleted++;
        status.currentReplicas--;
      }
    }
  }

  /** `updateStatefulSetStatus`: completeRollingUpdate, then write through /status only if something changed. */
  private updateStatefulSetStatus(set: SetView, status: StatefulSetStatus): void {
    completeRollingUpdate(set, status);
    if (!inconsistentStatus(set, status)) return;
    const latest = this.store.find(this.types.statefulSet, set.namespace, set.name);
    if (!latest || latest.metadata.uid !== set.uid) return;
    this.store.update(this.types.statefulSet, { ...latest, status: statusJson(status) }, set.namespace, set.name, { subresource: 'status' });
  }
}

/** A sync that failed after computing a status worth writing. */
class PartialSyncError extends Error {
  readonly status: StatefulSetStatus;

  constructor(status: StatefulSetStatus, cause: unknown) {
    super('statefulset sync failed part-way', { cause });
    this.status = status;
  }
}
