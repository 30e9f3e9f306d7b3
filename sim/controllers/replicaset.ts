/**
 * The ReplicaSet controller (kubernetes `pkg/controller/replicaset`): keeps
 * `spec.replicas` active pods, named `<rs>-<5 random characters>` as
 * `generateName` would make them, deletes surplus pods in the order of
 * `controller.ActivePodsWithRanks`, and writes status through /status only
 * when a count or the observed generation changed.
 */
import { ApiError } from '../api/errors.ts';
import type { KubeObject, OwnerReference } from '../api/object.ts';
import { jsonEqual } from '../api/object.ts';
import { typeKey } from '../api/resources.ts';
import type { StoreEvent } from '../api/store.ts';
import type { Random } from '../random.ts';
import { safeAlphanums } from './hash.ts';
import type { Controller, ControllerManager, ReconcileResult } from './manager.ts';
import type { CoreTypes, Obj } from './objects.ts';
import {
  arr,
  controllerRef,
  isPodActive,
  isPodAvailable,
  isPodReady,
  isTerminating,
  newControllerRef,
  num,
  objectKey,
  podCondition,
  podFromTemplate,
  podPhase,
  rec,
  selectorMatches,
  splitKey,
  str,
  templateOf,
  ownerKeysOfChild,
} from './objects.ts';

/** `controller.BurstReplicas`: most pods created or deleted in one sync. */
const burstReplicas = 500;

/** apiserver `names.SimpleNameGenerator`: base cut to 58 characters, then 5 random ones. */
export function generatedName(base: string, random: Random): string {
  const maxBase = 63 - 5;
  return `${base.length > maxBase ? base.slice(0, maxBase) : base}${random.string(5, safeAlphanums)}`;
}

/** The ReplicaSet status as apps/v1 serialises it. */
export interface ReplicaSetStatus {
  replicas: number;
  fullyLabeledReplicas: number;
  readyReplicas: number;
  availableReplicas: number;
  observedGeneration: number;
}

function statusJson(s: ReplicaSetStatus, conditions: unknown): Obj {
  return {
    replicas: s.replicas,
    ...(s.fullyLabeledReplicas ? { fullyLabeledReplicas: s.fullyLabeledReplicas } : {}),
    ...(s.readyReplicas ? { readyReplicas: s.readyReplicas } : {}),
    ...(s.availableReplicas ? { availableReplicas: s.availableReplicas } : {}),
    ...(s.observedGeneration ? { observedGeneration: s.observedGeneration } : {}),
    ...(Array.isArray(conditions) && conditions.length > 0 ? { conditions } : {}),
  };
}

const phaseRank: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

/**
 * Orders pods so the ones to delete first come first
 * (`controller.ActivePodsWithRanks.Less`): unscheduled before scheduled,
 * Pending before Unknown before Running, not ready before ready, more pods
 * of the same owner on the node first, ready for less time first, more
 * restarts first, newer first.
 */
export function deletionOrder(pods: readonly KubeObject[], ranks: ReadonlyMap<KubeObject, number>): KubeObject[] {
  const readyTime = (p: KubeObject) => Date.parse(podCondition(p, 'Ready')?.lastTransitionTime ?? '') || 0;
  const restarts = (p: KubeObject) => arr(rec(p.status)['containerStatuses']).reduce<number>((n, c) => Math.max(n, num(rec(c)['restartCount'])), 0);
  const created = (p: KubeObject) => Date.parse(p.metadata.creationTimestamp ?? '') || 0;
  return [...pods].sort((a, b) => {
    const na = str(rec(a.spec)['nodeName']);
    const nb = str(rec(b.spec)['nodeName']);
    if ((na === '') !== (nb === '')) return na === '' ? -1 : 1;
    const pa = phaseRank[podPhase(a)] ?? 1;
    const pb = phaseRank[podPhase(b)] ?? 1;
    if (pa !== pb) return pa - pb;
    const ra = isPodReady(a);
    const rb = isPodReady(b);
    if (ra !== rb) return ra ? 1 : -1;
    const rankA = ranks.get(a) ?? 0;
    const rankB = ranks.get(b) ?? 0;
    if (rankA !== rankB) return rankB - rankA;
    if (ra && rb && readyTime(a) !== readyTime(b)) return readyTime(b) - readyTime(a);
    if (restarts(a) !== restarts(b)) return restarts(b) - restarts(a);
    if (created(a) !== created(b)) return created(b) - created(a);
    return (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '');
  });
}

/** The ReplicaSet controller of one cluster. */
export class ReplicaSetController implements Controller {
  readonly name = 'replicaset-controller';
  private readonly manager: ControllerManager;
  private readonly types: CoreTypes;
  private readonly random: Random;

  constructor(manager: ControllerManager, types: CoreTypes, random: Random) {
    this.manager = manager;
    this.types = types;
    this.random = random;
  }

  private get store() {
    return this.manager.store;
  }

  keysFor(event: StoreEvent): readonly string[] {
    const key = typeKey(event.resource);
    const obj = event.object;
    if (key === typeKey(this.types.replicaSet)) return [objectKey(obj.metadata.namespace, obj.metadata.name ?? '')];
    if (key !== typeKey(this.types.pod)) return [];
    return ownerKeysOfChild(this.store, event, this.types.replicaSet);
  }

  initialKeys(): readonly string[] {
    return this.store.list(this.types.replicaSet, {}).items.map((s) => objectKey(s.metadata.namespace, s.metadata.name ?? ''));
  }

  reconcile(key: string): ReconcileResult {
    const { namespace, name } = splitKey(key);
    const rs = this.store.find(this.types.replicaSet, namespace, name);
    if (!rs) return;
    const spec = rec(rs.spec);
    const replicas = num(spec['replicas'], 1);
    const minReadySeconds = num(spec['minReadySeconds']);
    const active = this.claimPods(rs).filter(isPodActive);
    let failure: unknown;
    if (!isTerminating(rs)) {
      try {
        this.manageReplicas(rs, active, replicas);
      } catch (err) {
        failure = err;
      }
    }
    const status = this.calculateStatus(rs, active);
    this.updateStatus(rs, status);
    if (failure !== undefined) throw failure instanceof Error ? failure : new Error('sync failed', { cause: failure });
    if (minReadySeconds > 0 && status.readyReplicas === replicas && status.availableReplicas !== replicas) return { requeueAfterMs: minReadySeconds * 1000 };
    return undefined;
  }

  /** `ClaimPods`: owned pods that still match, plus orphans that match (adopted); releases the rest. */
  private claimPods(rs: KubeObject): KubeObject[] {
    const { pod: podType } = this.types;
    const selector = rec(rs.spec)['selector'];
    const claimed: KubeObject[] = [];
    for (const p of this.manager.index.children(podType, rs.metadata.uid)) {
      if (selectorMatches(selector, p.metadata.labels)) claimed.push(p);
      else if (!isTerminating(rs)) this.setOwners(p, (p.metadata.ownerReferences ?? []).filter((r) => r.uid !== rs.metadata.uid));
    }
    if (!isTerminating(rs)) {
      for (const p of this.manager.index.orphans(podType, rs.metadata.namespace ?? '')) {
        if (isTerminating(p) || !selectorMatches(selector, p.metadata.labels)) continue;
        const adopted = this.setOwners(p, [...(p.metadata.ownerReferences ?? []), newControllerRef(rs)]);
        if (adopted) claimed.push(adopted);
      }
    }
    return claimed;
  }

  private setOwners(pod: KubeObject, refs: OwnerReference[]): KubeObject | undefined {
    const metadata = { ...pod.metadata, ownerReferences: refs };
    if (refs.length === 0) delete (metadata as { ownerReferences?: unknown }).ownerReferences;
    try {
      return this.store.update(this.types.pod, { ...pod, metadata }, pod.metadata.namespace, pod.metadata.name ?? '');
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return undefined;
      throw err;
    }
  }

  private manageReplicas(rs: KubeObject, active: KubeObject[], replicas: number): void {
    const diff = active.length - replicas;
    const ns = rs.metadata.namespace ?? '';
    if (diff < 0) {
      const count = Math.min(-diff, burstReplicas);
      const template = templateOf(rs);
      for (let i = 0; i < count; i++) this.createPod(rs, template, ns);
      return;
    }
    if (diff > 0) {
      const count = Math.min(diff, burstReplicas);
      const victims = count < active.length ? deletionOrder(active, this.relatedRanks(rs, active)).slice(0, count) : active;
      for (const pod of victims) {
        try {
          this.store.delete(this.types.pod, ns, pod.metadata.name ?? '', { preconditions: { uid: pod.metadata.uid ?? '' } });
        } catch (err) {
          if (!(err instanceof ApiError && err.code === 404)) throw err;
        }
      }
    }
  }

  /**
   * `getPodsRankedByRelatedPodsOnSameNode`: how many active pods of the same
   * owner (the Deployment's other ReplicaSets included) share each pod's node.
   */
  private relatedRanks(rs: KubeObject, active: KubeObject[]): Map<KubeObject, number> {
    const owner = controllerRef(rs);
    const siblings = owner ? this.manager.index.children(this.types.replicaSet, owner.uid) : [rs];
    const related = siblings.flatMap((s) => this.manager.index.children(this.types.pod, s.metadata.uid)).filter(isPodActive);
    const perNode = new Map<string, number>();
    for (const p of related) {
      const node = str(rec(p.spec)['nodeName']);
      if (node) perNode.set(node, (perNode.get(node) ?? 0) + 1);
    }
    return new Map(active.map((p) => [p, perNode.get(str(rec(p.spec)['nodeName'])) ?? 0]));
  }

  private createPod(rs: KubeObject, template: Obj, namespace: string): void {
    const base = `${rs.metadata.name ?? ''}-`;
    for (let attempt = 0; ; attempt++) {
      const pod = podFromTemplate(template, rs, base);
      pod.metadata.name = generatedName(base, this.random);
      try {
        this.store.create(this.types.pod, pod, namespace);
        return;
      } catch (err) {
        // A generated name that is taken is retried, as the API server's generateName is by clients.
        if (!(err instanceof ApiError && err.reason === 'AlreadyExists') || attempt >= 8) throw err;
      }
    }
  }

  /** `calculateStatus` over the active pods seen at the start of the sync. */
  private calculateStatus(rs: KubeObject, active: KubeObject[]): ReplicaSetStatus {
    const templateLabels = rec(rec(templateOf(rs)['metadata'])['labels']);
    const minReadySeconds = num(rec(rs.spec)['minReadySeconds']);
    const now = this.manager.clock.now();
    let fullyLabeled = 0;
    let ready = 0;
    let available = 0;
    for (const pod of active) {
      const labels = pod.metadata.labels ?? {};
      if (Object.entries(templateLabels).every(([k, v]) => labels[k] === v)) fullyLabeled++;
      if (isPodReady(pod)) {
        ready++;
        if (isPodAvailable(pod, minReadySeconds, now)) available++;
      }
    }
    return { replicas: active.length, fullyLabeledReplicas: fullyLabeled, readyReplicas: ready, availableReplicas: available, observedGeneration: rs.metadata.generation ?? 0 };
  }

  /** `updateReplicaSetStatus`: skipped when the counts and the observed generation are unchanged. */
  private updateStatus(rs: KubeObject, status: ReplicaSetStatus): KubeObject {
    const old = rec(rs.status);
    if (
      num(old['replicas']) === status.replicas &&
      num(old['fullyLabeledReplicas']) === status.fullyLabeledReplicas &&
      num(old['readyReplicas']) === status.readyReplicas &&
      num(old['availableReplicas']) === status.availableReplicas &&
      num(old['observedGeneration']) === status.observedGeneration
    )
      return rs;
    const next = statusJson(status, old['conditions']);
    if (jsonEqual(next, old)) return rs;
    return this.store.update(this.types.replicaSet, { ...rs, status: next }, rs.metadata.namespace, rs.metadata.name ?? '', { subresource: 'status' });
  }
}
