/**
 * The Deployment controller (kubernetes `pkg/controller/deployment`: sync.go,
 * rolling.go, recreate.go, progress.go, util/deployment_util.go): one
 * ReplicaSet per pod template named `<deployment>-<pod-template-hash>`, the
 * `deployment.kubernetes.io/revision` annotations, RollingUpdate with
 * maxSurge/maxUnavailable, Recreate, proportional scaling, history cleanup,
 * and the Available and Progressing conditions with ProgressDeadlineExceeded.
 *
 * Deviation: upstream writes the revision annotation of the Deployment in the
 * same /status update as its conditions (the Deployment status strategy keeps
 * metadata changes). kube-sim's status writes change only `.status`, so the
 * annotation goes in a metadata-only main update first (generation unchanged).
 */
import { ApiError } from '../api/errors.ts';
import type { KubeObject, OwnerReference } from '../api/object.ts';
import { jsonEqual } from '../api/object.ts';
import { typeKey } from '../api/resources.ts';
import type { StoreEvent } from '../api/store.ts';
import { podTemplateHash } from './hash.ts';
import type { Controller, ControllerManager, ReconcileResult } from './manager.ts';
import type { CoreTypes, Obj } from './objects.ts';
import { arr, controllerRef, isTerminating, newControllerRef, num, objectKey, podPhase, rec, scaledValue, selectorMatches, splitKey, templateOf } from './objects.ts';

export const revisionAnnotation = 'deployment.kubernetes.io/revision';
export const revisionHistoryAnnotation = 'deployment.kubernetes.io/revision-history';
export const desiredReplicasAnnotation = 'deployment.kubernetes.io/desired-replicas';
export const maxReplicasAnnotation = 'deployment.kubernetes.io/max-replicas';
export const podTemplateHashLabel = 'pod-template-hash';

const skipCopyAnnotations = new Set(['kubectl.kubernetes.io/last-applied-configuration', revisionAnnotation, revisionHistoryAnnotation, desiredReplicasAnnotation, maxReplicasAnnotation, 'deprecated.deployment.rollback.to']);

/** Condition reasons of deployment_util.go. */
export const reasons = {
  newReplicaSet: 'NewReplicaSetCreated',
  foundNewRS: 'FoundNewReplicaSet',
  newRSAvailable: 'NewReplicaSetAvailable',
  timedOut: 'ProgressDeadlineExceeded',
  paused: 'DeploymentPaused',
  resumed: 'DeploymentResumed',
  replicaSetUpdated: 'ReplicaSetUpdated',
  failedRSCreate: 'ReplicaSetCreateError',
  minimumReplicasAvailable: 'MinimumReplicasAvailable',
  minimumReplicasUnavailable: 'MinimumReplicasUnavailable',
} as const;

/** A DeploymentCondition as apps/v1 serialises it. */
export interface DeploymentCondition {
  type: 'Available' | 'Progressing' | 'ReplicaFailure';
  status: 'True' | 'False' | 'Unknown';
  lastUpdateTime: string;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

interface DeploymentStatus {
  observedGeneration: number;
  replicas: number;
  updatedReplicas: number;
  readyReplicas: number;
  availableReplicas: number;
  unavailableReplicas: number;
  conditions: DeploymentCondition[];
  collisionCount: number | undefined;
}

function readStatus(d: KubeObject): DeploymentStatus {
  const s = rec(d.status);
  return {
    observedGeneration: num(s['observedGeneration']),
    replicas: num(s['replicas']),
    updatedReplicas: num(s['updatedReplicas']),
    readyReplicas: num(s['readyReplicas']),
    availableReplicas: num(s['availableReplicas']),
    unavailableReplicas: num(s['unavailableReplicas']),
    conditions: arr(s['conditions']).map((c) => ({ ...(rec(c) as unknown as DeploymentCondition) })),
    collisionCount: typeof s['collisionCount'] === 'number' ? s['collisionCount'] : undefined,
  };
}

/** `DeploymentStatus` with apps/v1's omitempty. */
function statusJson(s: DeploymentStatus): Obj {
  return {
    ...(s.observedGeneration ? { observedGeneration: s.observedGeneration } : {}),
    ...(s.replicas ? { replicas: s.replicas } : {}),
    ...(s.updatedReplicas ? { updatedReplicas: s.updatedReplicas } : {}),
    ...(s.readyReplicas ? { readyReplicas: s.readyReplicas } : {}),
    ...(s.availableReplicas ? { availableReplicas: s.availableReplicas } : {}),
    ...(s.unavailableReplicas ? { unavailableReplicas: s.unavailableReplicas } : {}),
    ...(s.conditions.length > 0 ? { conditions: s.conditions } : {}),
    ...(s.collisionCount !== undefined ? { collisionCount: s.collisionCount } : {}),
  };
}

function getCondition(s: DeploymentStatus, type: DeploymentCondition['type']): DeploymentCondition | undefined {
  return s.conditions.find((c) => c.type === type);
}

/** `SetDeploymentCondition`: no-op when status and reason are unchanged; keeps lastTransitionTime when only the reason changes. */
function setCondition(s: DeploymentStatus, condition: DeploymentCondition): void {
  const current = getCondition(s, condition.type);
  if (current && current.status === condition.status && current.reason === condition.reason) return;
  if (current && current.status === condition.status) condition.lastTransitionTime = current.lastTransitionTime;
  s.conditions = [...s.conditions.filter((c) => c.type !== condition.type), condition];
}

function removeCondition(s: DeploymentStatus, type: DeploymentCondition['type']): void {
  s.conditions = s.conditions.filter((c) => c.type !== type);
}

interface DeploymentView {
  obj: KubeObject;
  namespace: string;
  name: string;
  uid: string;
  replicas: number;
  paused: boolean;
  recreate: boolean;
  maxSurgeRaw: unknown;
  maxUnavailableRaw: unknown;
  minReadySeconds: number;
  revisionHistoryLimit: number | undefined;
  progressDeadlineSeconds: number | undefined;
  selector: unknown;
  template: Obj;
  generation: number;
}

function view(d: KubeObject): DeploymentView {
  const spec = rec(d.spec);
  const strategy = rec(spec['strategy']);
  const rolling = rec(strategy['rollingUpdate']);
  const pds = spec['progressDeadlineSeconds'];
  return {
    obj: d,
    namespace: d.metadata.namespace ?? '',
    name: d.metadata.name ?? '',
    uid: d.metadata.uid ?? '',
    replicas: num(spec['replicas'], 1),
    paused: spec['paused'] === true,
    recreate: strategy['type'] === 'Recreate',
    maxSurgeRaw: rolling['maxSurge'],
    maxUnavailableRaw: rolling['maxUnavailable'],
    minReadySeconds: num(spec['minReadySeconds']),
    revisionHistoryLimit: typeof spec['revisionHistoryLimit'] === 'number' ? spec['revisionHistoryLimit'] : undefined,
    // math.MaxInt32 means "no deadline" (HasProgressDeadline).
    progressDeadlineSeconds: typeof pds === 'number' && pds !== 2147483647 ? pds : undefined,
    selector: spec['selector'],
    template: rec(spec['template']),
    generation: d.metadata.generation ?? 0,
  };
}

/** `ResolveFenceposts`: surge rounds up, unavailable down; both zero means unavailable 1. */
export function resolveFenceposts(maxSurge: unknown, maxUnavailable: unknown, desired: number): { surge: number; unavailable: number } {
  const surge = scaledValue(maxSurge ?? 0, desired, true);
  let unavailable = scaledValue(maxUnavailable ?? 0, desired, false);
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return { surge, unavailable };
}

function maxUnavailable(d: DeploymentView): number {
  if (d.recreate || d.replicas === 0) return 0;
  const { unavailable } = resolveFenceposts(d.maxSurgeRaw, d.maxUnavailableRaw, d.replicas);
  return Math.min(unavailable, d.replicas);
}

function maxSurge(d: DeploymentView): number {
  if (d.recreate) return 0;
  return resolveFenceposts(d.maxSurgeRaw, d.maxUnavailableRaw, d.replicas).surge;
}

function specReplicas(rs: KubeObject): number {
  return num(rec(rs.spec)['replicas'], 1);
}

function rsStatus(rs: KubeObject, field: string): number {
  return num(rec(rs.status)[field]);
}

function sumSpec(list: readonly (KubeObject | undefined)[]): number {
  return list.reduce((n, rs) => n + (rs ? specReplicas(rs) : 0), 0);
}

function sumStatus(list: readonly (KubeObject | undefined)[], field: string): number {
  return list.reduce((n, rs) => n + (rs ? rsStatus(rs, field) : 0), 0);
}

function byCreation(a: KubeObject, b: KubeObject): number {
  const ta = Date.parse(a.metadata.creationTimestamp ?? '') || 0;
  const tb = Date.parse(b.metadata.creationTimestamp ?? '') || 0;
  return ta !== tb ? ta - tb : (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '');
}

function revisionOf(rs: KubeObject): number {
  const v = Number(rs.metadata.annotations?.[revisionAnnotation] ?? '');
  return Number.isFinite(v) ? v : 0;
}

function withoutHash(template: Obj): Obj {
  const meta = { ...rec(template['metadata']) };
  const labels = { ...rec(meta['labels']) };
  delete labels[podTemplateHashLabel];
  meta['labels'] = labels;
  return { ...template, metadata: meta };
}

/** `EqualIgnoreHash`: templates equal apart from the pod-template-hash label. */
export function equalIgnoreHash(a: Obj, b: Obj): boolean {
  return jsonEqual(withoutHash(a), withoutHash(b));
}

/** The Deployment controller of one cluster. */
export class DeploymentController implements Controller {
  readonly name = 'deployment-controller';
  private readonly manager: ControllerManager;
  private readonly types: CoreTypes;
  private requeue: number | undefined;

  constructor(manager: ControllerManager, types: CoreTypes) {
    this.manager = manager;
    this.types = types;
  }

  private get store() {
    return this.manager.store;
  }

  private now(): string {
    return this.manager.clock.rfc3339();
  }

  private condition(type: DeploymentCondition['type'], status: DeploymentCondition['status'], reason: string, message: string): DeploymentCondition {
    const now = this.now();
    return { type, status, lastUpdateTime: now, lastTransitionTime: now, reason, message };
  }

  keysFor(event: StoreEvent): readonly string[] {
    const key = typeKey(event.resource);
    const obj = event.object;
    if (key === typeKey(this.types.deployment)) return [objectKey(obj.metadata.namespace, obj.metadata.name ?? '')];
    if (key === typeKey(this.types.replicaSet)) {
      const keys = new Set<string>();
      for (const o of [obj, event.previous]) {
        const ref = o && controllerRef(o);
        if (ref && ref.kind === 'Deployment') keys.add(objectKey(o.metadata.namespace, ref.name));
      }
      if (event.type !== 'DELETED' && !controllerRef(obj)) {
        for (const d of this.store.list(this.types.deployment, { namespace: obj.metadata.namespace }).items) {
          if (selectorMatches(rec(d.spec)['selector'], obj.metadata.labels)) keys.add(objectKey(d.metadata.namespace, d.metadata.name ?? ''));
        }
      }
      return [...keys];
    }
    // deletePod: a Recreate rollout waits for the old pods to be gone.
    if (key === typeKey(this.types.pod) && event.type === 'DELETED') {
      const rsRef = controllerRef(obj);
      if (!rsRef || rsRef.kind !== 'ReplicaSet') return [];
      const rs = this.store.find(this.types.replicaSet, obj.metadata.namespace, rsRef.name);
      const dRef = rs && controllerRef(rs);
      return dRef && dRef.kind === 'Deployment' ? [objectKey(obj.metadata.namespace, dRef.name)] : [];
    }
    return [];
  }

  initialKeys(): readonly string[] {
    return this.store.list(this.types.deployment, {}).items.map((d) => objectKey(d.metadata.namespace, d.metadata.name ?? ''));
  }

  reconcile(key: string): ReconcileResult {
    const { namespace, name } = splitKey(key);
    const stored = this.store.find(this.types.deployment, namespace, name);
    if (!stored) return;
    this.requeue = undefined;
    let d = view(stored);
    const rsList = this.getReplicaSetsForDeployment(d);
    if (isTerminating(d.obj)) {
      this.syncStatusOnly(d, rsList);
      return this.result();
    }
    d = this.checkPausedConditions(d);
    if (d.paused) {
      this.sync(d, rsList);
      return this.result();
    }
    if (this.isScalingEvent(d, rsList)) {
      this.sync(d, rsList);
      return this.result();
    }
    if (d.recreate) this.rolloutRecreate(d, rsList);
    else this.rolloutRolling(d, rsList);
    return this.result();
  }

  private result(): ReconcileResult {
    return this.requeue === undefined ? undefined : { requeueAfterMs: this.requeue };
  }

  // --- ownership -------------------------------------------------------------

  private getReplicaSetsForDeployment(d: DeploymentView): KubeObject[] {
    const t = this.types.replicaSet;
    const claimed: KubeObject[] = [];
    for (const rs of this.manager.index.children(t, d.uid)) {
      if (selectorMatches(d.selector, rs.metadata.labels)) claimed.push(rs);
      else if (!isTerminating(d.obj)) this.setOwners(rs, (rs.metadata.ownerReferences ?? []).filter((r) => r.uid !== d.uid));
    }
    if (!isTerminating(d.obj)) {
      for (const rs of this.manager.index.orphans(t, d.namespace)) {
        if (isTerminating(rs) || !selectorMatches(d.selector, rs.metadata.labels)) continue;
        const adopted = this.setOwners(rs, [...(rs.metadata.ownerReferences ?? []), newControllerRef(d.obj)]);
        if (adopted) claimed.push(adopted);
      }
    }
    return claimed;
  }

  private setOwners(rs: KubeObject, refs: OwnerReference[]): KubeObject | undefined {
    const metadata = { ...rs.metadata, ownerReferences: refs };
    if (refs.length === 0) delete (metadata as { ownerReferences?: unknown }).ownerReferences;
    try {
      return this.store.update(this.types.replicaSet, { ...rs, metadata }, rs.metadata.namespace, rs.metadata.name ?? '');
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return undefined;
      throw err;
    }
  }

  // --- writes ----------------------------------------------------------------

  /** Writes the Deployment's status through /status; returns the refreshed view. */
  private writeStatus(d: DeploymentView, status: DeploymentStatus): DeploymentView {
    const latest = this.store.get(this.types.deployment, d.namespace, d.name);
    return view(this.store.update(this.types.deployment, { ...latest, status: statusJson(status) }, d.namespace, d.name, { subresource: 'status' }));
  }

  private writeRevision(d: DeploymentView, revision: string): DeploymentView {
    if (d.obj.metadata.annotations?.[revisionAnnotation] === revision) return d;
    const latest = this.store.get(this.types.deployment, d.namespace, d.name);
    const annotations = { ...(latest.metadata.annotations ?? {}), [revisionAnnotation]: revision };
    return view(this.store.update(this.types.deployment, { ...latest, metadata: { ...latest.metadata, annotations } }, d.namespace, d.name));
  }

  /** `SetReplicasAnnotations`: desired and max replicas on a ReplicaSet; true when they changed. */
  private replicasAnnotations(d: DeploymentView, annotations: Record<string, string>): boolean {
    const desired = String(d.replicas);
    const max = String(d.replicas + maxSurge(d));
    const changed = annotations[desiredReplicasAnnotation] !== desired || annotations[maxReplicasAnnotation] !== max;
    annotations[desiredReplicasAnnotation] = desired;
    annotations[maxReplicasAnnotation] = max;
    return changed;
  }

  /** `scaleReplicaSet`: the new size and the replicas annotations; true when the size changed. */
  private scaleReplicaSet(rs: KubeObject, newScale: number, d: DeploymentView): { scaled: boolean; rs: KubeObject } {
    const annotations = { ...(rs.metadata.annotations ?? {}) };
    const annotationsChanged = this.replicasAnnotations(d, annotations);
    const sizeChanged = specReplicas(rs) !== newScale;
    if (!sizeChanged && !annotationsChanged) return { scaled: false, rs };
    const updated = this.store.update(this.types.replicaSet, { ...rs, metadata: { ...rs.metadata, annotations }, spec: { ...rec(rs.spec), replicas: newScale } }, rs.metadata.namespace, rs.metadata.name ?? '');
    return { scaled: sizeChanged, rs: updated };
  }

  private scaleAndRecord(rs: KubeObject, newScale: number, d: DeploymentView): { scaled: boolean; rs: KubeObject } {
    if (specReplicas(rs) === newScale) return { scaled: false, rs };
    return this.scaleReplicaSet(rs, newScale, d);
  }

  // --- new and old ReplicaSets ----------------------------------------------

  private findNewReplicaSet(d: DeploymentView, rsList: KubeObject[]): KubeObject | undefined {
    // The oldest matching one, deterministically (kubernetes#40415).
    return [...rsList].sort(byCreation).find((rs) => equalIgnoreHash(templateOf(rs), d.template));
  }

  /** `getAllReplicaSetsAndSyncRevision`: the new ReplicaSet (created when asked) and all old ones. */
  private getAll(d: DeploymentView, rsList: KubeObject[], create: boolean): { d: DeploymentView; newRS: KubeObject | undefined; oldRSs: KubeObject[] } {
    const existing = this.findNewReplicaSet(d, rsList);
    const oldRSs = rsList.filter((rs) => rs !== existing);
    const result = this.getNewReplicaSet(d, rsList, oldRSs, create);
    return { d: result.d, newRS: result.newRS, oldRSs };
  }

  private getNewReplicaSet(d0: DeploymentView, rsList: KubeObject[], oldRSs: KubeObject[], create: boolean): { d: DeploymentView; newRS: KubeObject | undefined } {
    let d = d0;
    const existing = this.findNewReplicaSet(d, rsList);
    const maxOldRevision = oldRSs.reduce((m, rs) => Math.max(m, revisionOf(rs)), 0);
    const newRevision = String(maxOldRevision + 1);
    if (existing) {
      const annotations = { ...(existing.metadata.annotations ?? {}) };
      const annotationsUpdated = this.setNewReplicaSetAnnotations(d, annotations, newRevision, true);
      const minReadyChanged = num(rec(existing.spec)['minReadySeconds']) !== d.minReadySeconds;
      if (annotationsUpdated || minReadyChanged) {
        const spec: Obj = { ...rec(existing.spec), minReadySeconds: d.minReadySeconds };
        // int32 with omitempty: zero is not serialised.
        if (d.minReadySeconds === 0) delete spec['minReadySeconds'];
        const updated = this.store.update(this.types.replicaSet, { ...existing, metadata: { ...existing.metadata, annotations }, spec }, d.namespace, existing.metadata.name ?? '');
        return { d, newRS: updated };
      }
      d = this.writeRevision(d, annotations[revisionAnnotation] ?? newRevision);
      const status = readStatus(d.obj);
      if (d.progressDeadlineSeconds !== undefined && !getCondition(status, 'Progressing')) {
        setCondition(status, this.condition('Progressing', 'True', reasons.foundNewRS, `Found new replica set "${existing.metadata.name ?? ''}"`));
        d = this.writeStatus(d, status);
      }
      return { d, newRS: existing };
    }
    if (!create) return { d, newRS: undefined };

    const status = readStatus(d.obj);
    const hash = podTemplateHash(d.template, status.collisionCount);
    const template = structuredClone(d.template);
    const tmeta = rec(template['metadata']);
    tmeta['labels'] = { ...rec(tmeta['labels']), [podTemplateHashLabel]: hash };
    template['metadata'] = tmeta;
    const sel = rec(structuredClone(d.selector));
    sel['matchLabels'] = { ...rec(sel['matchLabels']), [podTemplateHashLabel]: hash };
    const annotations: Record<string, string> = {};
    const newRS: KubeObject = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: `${d.name}-${hash}`, namespace: d.namespace, labels: rec(tmeta['labels']) as Record<string, string>, ownerReferences: [newControllerRef(d.obj)] },
      spec: { replicas: 0, ...(d.minReadySeconds ? { minReadySeconds: d.minReadySeconds } : {}), selector: sel, template },
    };
    const replicas = this.newRSNewReplicas(d, [...oldRSs, newRS], newRS);
    (newRS.spec as Obj)['replicas'] = replicas;
    this.setNewReplicaSetAnnotations(d, annotations, newRevision, false);
    newRS.metadata.annotations = annotations;
    let created: KubeObject;
    let alreadyExisted = false;
    try {
      created = this.store.create(this.types.replicaSet, newRS, d.namespace);
    } catch (err) {
      if (!(err instanceof ApiError && err.reason === 'AlreadyExists')) {
        if (d.progressDeadlineSeconds !== undefined && err instanceof ApiError) {
          setCondition(status, this.condition('Progressing', 'False', reasons.failedRSCreate, `Failed to create new replica set "${newRS.metadata.name ?? ''}": ${err.message}`));
          this.writeStatus(d, status);
        }
        throw err;
      }
      const rs = this.store.find(this.types.replicaSet, d.namespace, newRS.metadata.name ?? '');
      const ref = rs && controllerRef(rs);
      if (rs && ref && ref.uid === d.uid && equalIgnoreHash(templateOf(rs), d.template)) {
        created = rs;
        alreadyExisted = true;
      } else {
        // A hash collision: bump collisionCount and try again with a new name.
        status.collisionCount = (status.collisionCount ?? 0) + 1;
        this.writeStatus(d, status);
        throw err;
      }
    }
    d = this.writeRevision(d, newRevision);
    if (!alreadyExisted && d.progressDeadlineSeconds !== undefined) {
      const s = readStatus(d.obj);
      setCondition(s, this.condition('Progressing', 'True', reasons.newReplicaSet, `Created new replica set "${created.metadata.name ?? ''}"`));
      d = this.writeStatus(d, s);
    }
    return { d, newRS: created };
  }

  /** `SetNewReplicaSetAnnotations` on a copy of the annotations; true when they changed. */
  private setNewReplicaSetAnnotations(d: DeploymentView, annotations: Record<string, string>, newRevision: string, exists: boolean): boolean {
    let changed = false;
    for (const [k, v] of Object.entries(d.obj.metadata.annotations ?? {})) {
      if (skipCopyAnnotations.has(k) || annotations[k] === v) continue;
      annotations[k] = v;
      changed = true;
    }
    const oldRevision = annotations[revisionAnnotation];
    const oldInt = oldRevision === undefined || oldRevision === '' ? 0 : Number(oldRevision);
    if (!Number.isFinite(oldInt)) return false;
    const newInt = Number(newRevision);
    if (oldInt < newInt) {
      annotations[revisionAnnotation] = newRevision;
      changed = true;
      // Rolling back to this ReplicaSet: keep the numbers it had (revision-history).
      if (oldRevision !== undefined) {
        const history = annotations[revisionHistoryAnnotation];
        annotations[revisionHistoryAnnotation] = history ? `${history},${oldRevision}` : oldRevision;
      }
    }
    if (!exists && this.replicasAnnotations(d, annotations)) changed = true;
    return changed;
  }

  /** `NewRSNewReplicas`: RollingUpdate scales up to replicas + maxSurge in total; Recreate to replicas. */
  private newRSNewReplicas(d: DeploymentView, allRSs: KubeObject[], newRS: KubeObject): number {
    if (d.recreate) return d.replicas;
    const surge = scaledValue(d.maxSurgeRaw ?? 0, d.replicas, true);
    const current = sumSpec(allRSs);
    const maxTotal = d.replicas + surge;
    if (current >= maxTotal) return specReplicas(newRS);
    const scaleUp = Math.min(maxTotal - current, d.replicas - specReplicas(newRS));
    return specReplicas(newRS) + scaleUp;
  }

  // --- strategies ------------------------------------------------------------

  private rolloutRolling(d0: DeploymentView, rsList: KubeObject[]): void {
    const { d, newRS, oldRSs } = this.getAll(d0, rsList, true);
    const allRSs = newRS ? [...oldRSs, newRS] : oldRSs;
    if (newRS && this.reconcileNewReplicaSet(d, allRSs, newRS)) return this.syncRolloutStatus(d, allRSs, newRS);
    if (newRS && this.reconcileOldReplicaSets(d, allRSs, oldRSs.filter((rs) => specReplicas(rs) > 0), newRS)) return this.syncRolloutStatus(d, allRSs, newRS);
    if (this.deploymentComplete(d, readStatus(d.obj))) this.cleanupDeployment(d, oldRSs);
    this.syncRolloutStatus(d, allRSs, newRS);
  }

  private reconcileNewReplicaSet(d: DeploymentView, allRSs: KubeObject[], newRS: KubeObject): boolean {
    if (specReplicas(newRS) === d.replicas) return false;
    if (specReplicas(newRS) > d.replicas) return this.scaleAndRecord(newRS, d.replicas, d).scaled;
    return this.scaleAndRecord(newRS, this.newRSNewReplicas(d, allRSs, newRS), d).scaled;
  }

  private reconcileOldReplicaSets(d: DeploymentView, allRSs0: KubeObject[], oldRSs0: KubeObject[], newRS: KubeObject): boolean {
    const oldPods = sumSpec(oldRSs0);
    if (oldPods === 0) return false;
    const allPods = sumSpec(allRSs0);
    const minAvailable = d.replicas - maxUnavailable(d);
    const newRSUnavailable = specReplicas(newRS) - rsStatus(newRS, 'availableReplicas');
    const maxScaledDown = allPods - minAvailable - newRSUnavailable;
    if (maxScaledDown <= 0) return false;
    // Unhealthy old replicas go first, or they would block the rollout (kubernetes#16737).
    const { oldRSs, cleaned } = this.cleanupUnhealthyReplicas(d, oldRSs0, maxScaledDown);
    const scaledDown = this.scaleDownOldReplicaSetsForRollingUpdate(d, [...oldRSs, newRS], oldRSs);
    return cleaned + scaledDown > 0;
  }

  private cleanupUnhealthyReplicas(d: DeploymentView, oldRSs0: KubeObject[], maxCleanup: number): { oldRSs: KubeObject[]; cleaned: number } {
    const oldRSs = [...oldRSs0].sort(byCreation);
    let total = 0;
    for (let i = 0; i < oldRSs.length; i++) {
      const rs = oldRSs[i] as KubeObject;
      if (total >= maxCleanup) break;
      const replicas = specReplicas(rs);
      const available = rsStatus(rs, 'availableReplicas');
      if (replicas === 0 || replicas === available) continue;
      const count = Math.min(maxCleanup - total, replicas - available);
      oldRSs[i] = this.scaleAndRecord(rs, replicas - count, d).rs;
      total += count;
    }
    return { oldRSs, cleaned: total };
  }

  private scaleDownOldReplicaSetsForRollingUpdate(d: DeploymentView, allRSs: KubeObject[], oldRSs: KubeObject[]): number {
    const minAvailable = d.replicas - maxUnavailable(d);
    const available = sumStatus(allRSs, 'availableReplicas');
    if (available <= minAvailable) return 0;
    const target = available - minAvailable;
    let total = 0;
    for (const rs of [...oldRSs].sort(byCreation)) {
      if (total >= target) break;
      if (specReplicas(rs) === 0) continue;
      const count = Math.min(specReplicas(rs), target - total);
      this.scaleAndRecord(rs, specReplicas(rs) - count, d);
      total += count;
    }
    return total;
  }

  private rolloutRecreate(d0: DeploymentView, rsList: KubeObject[]): void {
    // The new ReplicaSet is not created before the old pods are gone, so nothing scales up first.
    let { d, newRS, oldRSs } = this.getAll(d0, rsList, false);
    let allRSs = newRS ? [...oldRSs, newRS] : oldRSs;
    let scaledDown = false;
    for (const rs of oldRSs.filter((r) => specReplicas(r) > 0)) if (this.scaleAndRecord(rs, 0, d).scaled) scaledDown = true;
    if (scaledDown) return this.syncRolloutStatus(d, allRSs, newRS);
    if (this.oldPodsRunning(newRS, oldRSs)) return this.syncRolloutStatus(d, allRSs, newRS);
    if (!newRS) {
      ({ d, newRS, oldRSs } = this.getAll(d, rsList, true));
      allRSs = newRS ? [...oldRSs, newRS] : oldRSs;
    }
    if (newRS) this.scaleAndRecord(newRS, d.replicas, d);
    if (this.deploymentComplete(d, readStatus(d.obj))) this.cleanupDeployment(d, oldRSs);
    this.syncRolloutStatus(d, allRSs, newRS);
  }

  /** `oldPodsRunning`: any pod of an old ReplicaSet that has not finished, terminating ones included. */
  private oldPodsRunning(newRS: KubeObject | undefined, oldRSs: KubeObject[]): boolean {
    if (oldRSs.some((rs) => rsStatus(rs, 'replicas') > 0)) return true;
    for (const rs of oldRSs) {
      if (rs === newRS) continue;
      for (const pod of this.manager.index.children(this.types.pod, rs.metadata.uid)) {
        const phase = podPhase(pod);
        if (phase !== 'Failed' && phase !== 'Succeeded') return true;
      }
    }
    return false;
  }

  // --- scaling (sync.go) ---------------------------------------------------

  private isScalingEvent(d: DeploymentView, rsList: KubeObject[]): boolean {
    const { newRS, oldRSs } = this.getAll(d, rsList, false);
    for (const rs of [...oldRSs, ...(newRS ? [newRS] : [])]) {
      if (specReplicas(rs) === 0) continue;
      const desired = rs.metadata.annotations?.[desiredReplicasAnnotation];
      if (desired === undefined) continue;
      if (Number(desired) !== d.replicas) return true;
    }
    return false;
  }

  private sync(d0: DeploymentView, rsList: KubeObject[]): void {
    const { d, newRS, oldRSs } = this.getAll(d0, rsList, false);
    this.scale(d, newRS, oldRSs);
    if (d.paused) this.cleanupDeployment(d, oldRSs);
    this.syncDeploymentStatus(d, newRS ? [...oldRSs, newRS] : oldRSs, newRS);
  }

  private scale(d: DeploymentView, newRS: KubeObject | undefined, oldRSs: KubeObject[]): void {
    const active = [...[...oldRSs].sort((a, b) => byCreation(b, a)), ...(newRS ? [newRS] : [])].filter((rs) => specReplicas(rs) > 0);
    const activeOrLatest = active.length === 1 ? active[0] : active.length === 0 ? (newRS ?? oldRSs[0]) : undefined;
    if (activeOrLatest) {
      if (specReplicas(activeOrLatest) !== d.replicas) this.scaleAndRecord(activeOrLatest, d.replicas, d);
      return;
    }
    // A saturated new ReplicaSet: old ones go to zero.
    if (newRS && specReplicas(newRS) === d.replicas && Number(newRS.metadata.annotations?.[desiredReplicasAnnotation]) === d.replicas && rsStatus(newRS, 'availableReplicas') === d.replicas) {
      for (const rs of oldRSs.filter((r) => specReplicas(r) > 0)) this.scaleAndRecord(rs, 0, d);
      return;
    }
    if (d.recreate) return;
    // Proportional scaling: spread the difference over active ReplicaSets by their share of the old maximum.
    const allowed = d.replicas > 0 ? d.replicas + maxSurge(d) : 0;
    const toAdd = allowed - sumSpec(active);
    const ordered = [...active].sort((a, b) => {
      const diff = specReplicas(b) - specReplicas(a);
      if (diff !== 0) return diff;
      return toAdd > 0 ? byCreation(b, a) : byCreation(a, b);
    });
    let added = 0;
    const sizes = new Map<KubeObject, number>();
    for (const rs of ordered) {
      if (toAdd === 0) {
        sizes.set(rs, specReplicas(rs));
        continue;
      }
      const proportion = this.proportion(rs, d, toAdd, added);
      sizes.set(rs, specReplicas(rs) + proportion);
      added += proportion;
    }
    ordered.forEach((rs, i) => {
      let size = sizes.get(rs) ?? specReplicas(rs);
      if (i === 0 && toAdd !== 0) size = Math.max(0, size + (toAdd - added));
      this.scaleReplicaSet(rs, size, d);
    });
  }

  /** `GetProportion` with `getReplicaSetFraction`. */
  private proportion(rs: KubeObject, d: DeploymentView, toAdd: number, added: number): number {
    if (specReplicas(rs) === 0 || toAdd === 0 || toAdd === added) return 0;
    let fraction: number;
    if (d.replicas === 0) fraction = -specReplicas(rs);
    else {
      let before = Number(rs.metadata.annotations?.[maxReplicasAnnotation] ?? '');
      if (!Number.isFinite(before) || before === 0) before = num(rec(d.obj.status)['replicas']);
      fraction = before === 0 ? 0 : Math.round((specReplicas(rs) * (d.replicas + maxSurge(d))) / before) - specReplicas(rs);
    }
    const allowed = toAdd - added;
    return toAdd > 0 ? Math.min(fraction, allowed) : Math.max(fraction, allowed);
  }

  private cleanupDeployment(d: DeploymentView, oldRSs: KubeObject[]): void {
    if (d.revisionHistoryLimit === undefined) return;
    const cleanable = oldRSs.filter((rs) => !isTerminating(rs));
    const diff = cleanable.length - d.revisionHistoryLimit;
    if (diff <= 0) return;
    const byRevision = [...cleanable].sort((a, b) => revisionOf(a) - revisionOf(b) || byCreation(a, b));
    for (const rs of byRevision.slice(0, diff)) {
      if (rsStatus(rs, 'replicas') !== 0 || specReplicas(rs) !== 0 || (rs.metadata.generation ?? 0) > rsStatus(rs, 'observedGeneration')) continue;
      try {
        this.store.delete(this.types.replicaSet, d.namespace, rs.metadata.name ?? '');
      } catch (err) {
        if (!(err instanceof ApiError && err.code === 404)) throw err;
      }
    }
  }

  // --- status (sync.go, progress.go) --------------------------------------

  private calculateStatus(d: DeploymentView, allRSs: KubeObject[], newRS: KubeObject | undefined): DeploymentStatus {
    const old = readStatus(d.obj);
    const available = sumStatus(allRSs, 'availableReplicas');
    const total = sumSpec(allRSs);
    const status: DeploymentStatus = {
      observedGeneration: d.generation,
      replicas: sumStatus(allRSs, 'replicas'),
      updatedReplicas: newRS ? rsStatus(newRS, 'replicas') : 0,
      readyReplicas: sumStatus(allRSs, 'readyReplicas'),
      availableReplicas: available,
      unavailableReplicas: Math.max(0, total - available),
      conditions: old.conditions.map((c) => ({ ...c })),
      collisionCount: old.collisionCount,
    };
    if (available >= d.replicas - maxUnavailable(d)) setCondition(status, this.condition('Available', 'True', reasons.minimumReplicasAvailable, 'Deployment has minimum availability.'));
    else setCondition(status, this.condition('Available', 'False', reasons.minimumReplicasUnavailable, 'Deployment does not have minimum availability.'));
    return status;
  }

  private deploymentComplete(d: DeploymentView, s: DeploymentStatus): boolean {
    return s.updatedReplicas === d.replicas && s.replicas === d.replicas && s.availableReplicas === d.replicas && s.observedGeneration >= d.generation;
  }

  private deploymentProgressing(d: DeploymentView, s: DeploymentStatus): boolean {
    const old = readStatus(d.obj);
    return s.updatedReplicas > old.updatedReplicas || s.replicas - s.updatedReplicas < old.replicas - old.updatedReplicas || s.readyReplicas > old.readyReplicas || s.availableReplicas > old.availableReplicas;
  }

  private deploymentTimedOut(d: DeploymentView, s: DeploymentStatus): boolean {
    if (d.progressDeadlineSeconds === undefined) return false;
    const c = getCondition(s, 'Progressing');
    if (!c || c.reason === reasons.newRSAvailable) return false;
    if (c.reason === reasons.timedOut) return true;
    return Date.parse(c.lastUpdateTime) + d.progressDeadlineSeconds * 1000 < this.manager.clock.now();
  }

  private syncRolloutStatus(d: DeploymentView, allRSs: KubeObject[], newRS: KubeObject | undefined): void {
    const status = this.calculateStatus(d, allRSs, newRS);
    if (d.progressDeadlineSeconds === undefined) removeCondition(status, 'Progressing');
    const current = getCondition(readStatus(d.obj), 'Progressing');
    const complete = status.replicas === status.updatedReplicas && current?.reason === reasons.newRSAvailable;
    if (d.progressDeadlineSeconds !== undefined && !complete) {
      const rsName = newRS?.metadata.name;
      if (this.deploymentComplete(d, status)) {
        setCondition(status, this.condition('Progressing', 'True', reasons.newRSAvailable, rsName ? `ReplicaSet "${rsName}" has successfully progressed.` : `Deployment "${d.name}" has successfully progressed.`));
      } else if (this.deploymentProgressing(d, status)) {
        const c = this.condition('Progressing', 'True', reasons.replicaSetUpdated, rsName ? `ReplicaSet "${rsName}" is progressing.` : `Deployment "${d.name}" is progressing.`);
        // Progress refreshes lastUpdateTime even with the same reason; lastTransitionTime stays while True.
        if (current) {
          if (current.status === 'True') c.lastTransitionTime = current.lastTransitionTime;
          removeCondition(status, 'Progressing');
        }
        setCondition(status, c);
      } else if (this.deploymentTimedOut(d, status)) {
        setCondition(status, this.condition('Progressing', 'False', reasons.timedOut, rsName ? `ReplicaSet "${rsName}" has timed out progressing.` : `Deployment "${d.name}" has timed out progressing.`));
      }
    }
    removeCondition(status, 'ReplicaFailure');
    if (jsonEqual(statusJson(status), statusJson(readStatus(d.obj)))) {
      this.requeueStuckDeployment(d, status);
      return;
    }
    this.writeStatus(d, status);
  }

  /** `requeueStuckDeployment`: without progress, look again when the deadline passes. */
  private requeueStuckDeployment(d: DeploymentView, status: DeploymentStatus): void {
    const current = getCondition(readStatus(d.obj), 'Progressing');
    if (d.progressDeadlineSeconds === undefined || !current) return;
    if (this.deploymentComplete(d, status) || current.reason === reasons.timedOut) return;
    const after = Date.parse(current.lastUpdateTime) + d.progressDeadlineSeconds * 1000 - this.manager.clock.now();
    // Plus a second against the second-precision timestamps, as upstream adds to AddAfter.
    this.requeue = after < 1000 ? 1000 : after + 1000;
  }

  private syncDeploymentStatus(d: DeploymentView, allRSs: KubeObject[], newRS: KubeObject | undefined): void {
    const status = this.calculateStatus(d, allRSs, newRS);
    if (jsonEqual(statusJson(status), statusJson(readStatus(d.obj)))) return;
    this.writeStatus(d, status);
  }

  private syncStatusOnly(d0: DeploymentView, rsList: KubeObject[]): void {
    const { d, newRS, oldRSs } = this.getAll(d0, rsList, false);
    this.syncDeploymentStatus(d, newRS ? [...oldRSs, newRS] : oldRSs, newRS);
  }

  private checkPausedConditions(d: DeploymentView): DeploymentView {
    if (d.progressDeadlineSeconds === undefined) return d;
    const status = readStatus(d.obj);
    const c = getCondition(status, 'Progressing');
    if (c?.reason === reasons.timedOut) return d;
    const pausedExists = c?.reason === reasons.paused;
    if (d.paused && !pausedExists) setCondition(status, this.condition('Progressing', 'Unknown', reasons.paused, 'Deployment is paused'));
    else if (!d.paused && pausedExists) setCondition(status, this.condition('Progressing', 'Unknown', reasons.resumed, 'Deployment is resumed'));
    else return d;
    return this.writeStatus(d, status);
  }
}

/** Pod template hash of a Deployment's current template (exported for tests). */
export function deploymentPodTemplateHash(d: KubeObject): string {
  const collision = rec(d.status)['collisionCount'];
  return podTemplateHash(rec(rec(d.spec)['template']), typeof collision === 'number' ? collision : undefined);
}

/** A condition reason the controller writes. */
export type DeploymentReason = (typeof reasons)[keyof typeof reasons];
