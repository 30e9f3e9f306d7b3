/**
 * Typed views of the loosely stored objects the controllers read, and the
 * small predicates upstream controllers share (pod readiness and
 * availability, controller references, label selectors, int-or-percent).
 * Stored objects were validated and defaulted by the API layer, so these
 * views only guard against what a client may legally leave out.
 */
import type { KubeObject, OwnerReference } from '../api/object.ts';
import { isPlainObject } from '../api/object.ts';
import type { ResourceType } from '../api/resources.ts';
import type { ClusterStore, StoreEvent } from '../api/store.ts';

/** The resource types controllers work with, looked up once per cluster. */
export interface CoreTypes {
  pod: ResourceType;
  node: ResourceType;
  pvc: ResourceType;
  namespace: ResourceType;
  statefulSet: ResourceType;
  deployment: ResourceType;
  replicaSet: ResourceType;
  controllerRevision: ResourceType;
}

function mustLookup(store: ClusterStore, group: string, version: string, plural: string): ResourceType {
  const t = store.registry.lookup(group, version, plural);
  if (!t) throw new Error(`kube-sim has no resource ${group}/${version}/${plural}`);
  return t;
}

/** Looks up the built-in types the controllers need. */
export function coreTypes(store: ClusterStore): CoreTypes {
  return {
    pod: mustLookup(store, '', 'v1', 'pods'),
    node: mustLookup(store, '', 'v1', 'nodes'),
    pvc: mustLookup(store, '', 'v1', 'persistentvolumeclaims'),
    namespace: mustLookup(store, '', 'v1', 'namespaces'),
    statefulSet: mustLookup(store, 'apps', 'v1', 'statefulsets'),
    deployment: mustLookup(store, 'apps', 'v1', 'deployments'),
    replicaSet: mustLookup(store, 'apps', 'v1', 'replicasets'),
    controllerRevision: mustLookup(store, 'apps', 'v1', 'controllerrevisions'),
  };
}

export type Obj = Record<string, unknown>;

/** `value` when it is a plain object, else an empty one (never stored). */
export function rec(value: unknown): Obj {
  return isPlainObject(value) ? value : {};
}

export function arr(value: unknown): unknown[] {
  return Array.isArray(value) ? (value as unknown[]) : [];
}

export function num(value: unknown, fallback = 0): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

export function str(value: unknown, fallback = ''): string {
  return typeof value === 'string' ? value : fallback;
}

/** `namespace/name`, the key of namespaced objects in every work queue. */
export function objectKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

/** Splits a `namespace/name` key. */
export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/** The controlling owner reference (`controller: true`), if any. */
export function controllerRef(obj: KubeObject): OwnerReference | undefined {
  return (obj.metadata.ownerReferences ?? []).find((r) => r.controller === true);
}

/** `metav1.NewControllerRef`: controller and blockOwnerDeletion both true. */
export function newControllerRef(owner: KubeObject): OwnerReference {
  return { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.metadata.name ?? '', uid: owner.metadata.uid ?? '', controller: true, blockOwnerDeletion: true };
}

// --- label selectors (metav1.LabelSelector) --------------------------------

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

export interface LabelSelectorSpec {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

/**
 * `metav1.LabelSelectorAsSelector(...).Matches(labels)`. A nil selector
 * matches nothing and an empty one everything, as in apimachinery.
 */
export function selectorMatches(selector: unknown, labels: Record<string, string> | undefined): boolean {
  if (!isPlainObject(selector)) return false;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(rec(selector['matchLabels']))) if (l[k] !== v) return false;
  for (const raw of arr(selector['matchExpressions'])) {
    const e = rec(raw);
    const key = str(e['key']);
    const values = arr(e['values']).map((v) => str(v));
    const has = Object.hasOwn(l, key);
    switch (e['operator']) {
      case 'In':
        if (!has || !values.includes(l[key] ?? '')) return false;
        break;
      case 'NotIn':
        if (has && values.includes(l[key] ?? '')) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

// --- int-or-percent (apimachinery intstr) -----------------------------------

/**
 * `intstr.GetScaledValueFromIntOrPercent`: an integer as is, or a percentage
 * of `total` rounded up or down. Throws on a malformed value, as upstream
 * returns an error.
 */
export function scaledValue(value: unknown, total: number, roundUp: boolean): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') {
    const m = /^(\d+)%$/.exec(value);
    if (!m) throw new Error(`invalid value for IntOrString: invalid type: string is not a percentage`);
    const pct = Number(m[1]);
    return roundUp ? Math.ceil((pct * total) / 100) : Math.floor((pct * total) / 100);
  }
  throw new Error('invalid value for IntOrString: invalid type: neither int nor percentage');
}

// --- pods -------------------------------------------------------------------

export interface PodCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  lastProbeTime?: string | null;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

export function podPhase(pod: KubeObject): string {
  return str(rec(pod.status)['phase']);
}

export function podConditions(pod: KubeObject): PodCondition[] {
  return arr(rec(pod.status)['conditions']).filter(isPlainObject) as unknown as PodCondition[];
}

export function podCondition(pod: KubeObject, type: string): PodCondition | undefined {
  return podConditions(pod).find((c) => c.type === type);
}

/** `podutil.IsPodReady`: the Ready condition is True. */
export function isPodReady(pod: KubeObject): boolean {
  return podCondition(pod, 'Ready')?.status === 'True';
}

/**
 * `podutil.IsPodAvailable`: Ready, and Ready for at least `minReadySeconds`
 * by the condition's (second-precision) lastTransitionTime.
 */
export function isPodAvailable(pod: KubeObject, minReadySeconds: number, nowMs: number): boolean {
  const ready = podCondition(pod, 'Ready');
  if (ready?.status !== 'True') return false;
  if (minReadySeconds <= 0) return true;
  const since = ready.lastTransitionTime ? Date.parse(ready.lastTransitionTime) : NaN;
  return Number.isFinite(since) && since + minReadySeconds * 1000 < nowMs;
}

export function isTerminating(obj: KubeObject): boolean {
  return obj.metadata.deletionTimestamp !== undefined;
}

/** `controller.IsPodActive`: not Succeeded or Failed and not being deleted. */
export function isPodActive(pod: KubeObject): boolean {
  const phase = podPhase(pod);
  return phase !== 'Succeeded' && phase !== 'Failed' && !isTerminating(pod);
}

/** The pod template of a workload (`spec.template`). */
export function templateOf(workload: KubeObject): Obj {
  return rec(rec(workload.spec)['template']);
}

/** The images of a pod spec's containers, in order. */
export function containerImages(podSpec: unknown): string[] {
  return arr(rec(podSpec)['containers']).map((c) => str(rec(c)['image']));
}

/**
 * `controller.GetPodFromTemplate`: labels, annotations and finalizers of the
 * template, `generateName` from the controller's name, the controller
 * reference, and a copy of the pod spec.
 */
export function podFromTemplate(template: Obj, owner: KubeObject, generateName: string): KubeObject {
  const meta = rec(template['metadata']);
  const labels = { ...(rec(meta['labels']) as Record<string, string>) };
  const annotations = rec(meta['annotations']) as Record<string, string>;
  const finalizers = arr(meta['finalizers']).map((f) => str(f));
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName,
      namespace: owner.metadata.namespace ?? '',
      labels,
      ...(Object.keys(annotations).length > 0 ? { annotations: { ...annotations } } : {}),
      ...(finalizers.length > 0 ? { finalizers } : {}),
      ownerReferences: [newControllerRef(owner)],
    },
    spec: structuredClone(rec(template['spec'])),
  };
}

/**
 * Keys of the owners a change to a child concerns: its controller before
 * and after the change, and, for an orphan, every owner of `ownerType`
 * whose selector matches it (it may be adopted), as the upstream
 * controllers' addPod/updatePod/deletePod handlers resolve them.
 */
export function ownerKeysOfChild(store: ClusterStore, event: StoreEvent, ownerType: ResourceType): string[] {
  const obj = event.object;
  const keys = new Set<string>();
  for (const o of [obj, event.previous]) {
    const ref = o && controllerRef(o);
    if (o && ref && ref.kind === ownerType.kind && ref.apiVersion.startsWith(`${ownerType.group}/`)) keys.add(objectKey(o.metadata.namespace, ref.name));
  }
  if (event.type !== 'DELETED' && !controllerRef(obj)) {
    for (const owner of store.list(ownerType, { namespace: obj.metadata.namespace }).items) {
      if (selectorMatches(rec(owner.spec)['selector'], obj.metadata.labels)) keys.add(objectKey(owner.metadata.namespace, owner.metadata.name ?? ''));
    }
  }
  return [...keys];
}
