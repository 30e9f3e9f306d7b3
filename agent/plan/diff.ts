/**
 * Desired against live: what differs, with what the server owns or fills in
 * taken out first, so that defaulting never looks like a change.
 *
 * The live object is projected onto the shape of the desired one (and of the
 * last configuration rollgate or `kubectl apply` wrote, so that a field Git
 * removed still shows): a field the server defaulted, an annotation a
 * controller added or a status are simply not compared. This is what
 * `kubectl diff` achieves with a server-side dry run, done without a write.
 */
import fastJsonPatch from 'fast-json-patch';
import type { KubeObject } from '../manifests/index.ts';
import type { PatchOperation } from './types.ts';

/** The annotation in which rollgate records the desired object it last applied (JSON, normalised). */
export const lastAppliedAnnotation = 'rollgate.dev/last-applied';
/** kubectl's record of the last `kubectl apply`; read when rollgate's own is absent. */
export const kubectlLastAppliedAnnotation = 'kubectl.kubernetes.io/last-applied-configuration';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

// Metadata the API server writes; a desired object may carry some (copied from `kubectl get -o yaml`).
const serverMetadata = new Set(['managedFields', 'resourceVersion', 'uid', 'creationTimestamp', 'generation', 'selfLink', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'ownerReferences', 'finalizers', 'generateName']);

/**
 * An object without what the server owns: status, server metadata, and the
 * last-applied annotations (records of a write, not part of the state). A new
 * plain JSON value; the input is not changed.
 */
export function normalize(object: KubeObject): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(object)) {
    if (key === 'status' || value === undefined) continue;
    out[key] = value as Json;
  }
  const metadata: JsonObject = {};
  for (const [key, value] of Object.entries(object.metadata)) {
    if (serverMetadata.has(key) || value === undefined) continue;
    metadata[key] = value as Json;
  }
  const annotations = object.metadata.annotations;
  if (annotations !== undefined) {
    const kept: JsonObject = {};
    for (const [key, value] of Object.entries(annotations)) if (key !== lastAppliedAnnotation && key !== kubectlLastAppliedAnnotation) kept[key] = value;
    if (Object.keys(kept).length > 0) metadata['annotations'] = kept;
    else delete metadata['annotations'];
  }
  out['metadata'] = metadata;
  return out;
}

/**
 * The configuration last applied to a live object, normalised: rollgate's
 * annotation, else kubectl's, else undefined (then removals and drift cannot
 * be told apart from defaults, and every difference counts as Git's).
 */
export function lastApplied(live: KubeObject): JsonObject | undefined {
  const annotations = live.metadata.annotations;
  const text = annotations?.[lastAppliedAnnotation] ?? annotations?.[kubectlLastAppliedAnnotation];
  if (text === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (!isObject(parsed) || !isObject(parsed['metadata'])) return undefined;
    return normalize(parsed as unknown as KubeObject);
  } catch {
    // A hand-edited, broken annotation is no record at all.
    return undefined;
  }
}

// Keys that identify the elements of a list in the Kubernetes API (strategic merge keys), in the order tried.
const elementKeys = ['name', 'mountPath', 'devicePath', 'containerPort', 'ip', 'topologyKey'] as const;

function elementKey(items: readonly Json[]): string | undefined {
  if (items.length === 0) return undefined;
  return elementKeys.find((key) => items.every((item) => isObject(item) && (typeof item[key] === 'string' || typeof item[key] === 'number')));
}

const quantityPattern = /^([+-]?(?:\d+\.?\d*|\.\d+))(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
const quantityScale: Readonly<Record<string, number>> = { m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };

/** A resource quantity's value (`500m` → 0.5, `1Gi` → 1073741824), or undefined. */
export function quantityValue(value: Json): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return undefined;
  const m = quantityPattern.exec(value);
  if (m === null) return undefined;
  return Number(m[1]) * (m[2] === undefined ? 1 : (quantityScale[m[2]] ?? 1));
}

/**
 * `live` seen through the shape of `desired` (and `applied`, the last applied
 * configuration): only keys and list elements either of them has. Values equal
 * in meaning are shown as desired writes them: the API server canonicalises
 * quantities (`2000m` → `2`) and may store an int-or-string as the other.
 */
function project(live: Json, desired: Json | undefined, applied: Json | undefined, inQuantities: boolean): Json {
  if (desired !== undefined && !isObject(desired) && !Array.isArray(desired)) {
    if (live === desired) return live;
    if (typeof live === 'string' && typeof desired === 'number' && live === String(desired)) return desired;
    if (typeof live === 'number' && typeof desired === 'string' && desired === String(live)) return desired;
    if (inQuantities) {
      const a = quantityValue(live);
      const b = quantityValue(desired);
      if (a !== undefined && b !== undefined && Math.abs(a - b) <= Math.abs(b) * 1e-12) return desired;
    }
    return live;
  }
  if (isObject(live)) {
    const d = isObject(desired) ? desired : undefined;
    const a = isObject(applied) ? applied : undefined;
    if (d === undefined && a === undefined) return live;
    const out: JsonObject = {};
    for (const [key, value] of Object.entries(live)) {
      if ((d !== undefined && key in d) || (a !== undefined && key in a)) {
        out[key] = project(value, d?.[key], a?.[key], inQuantities || key === 'requests' || key === 'limits' || key === 'capacity');
      }
    }
    return out;
  }
  if (Array.isArray(live)) {
    const d = Array.isArray(desired) ? desired : undefined;
    const a = Array.isArray(applied) ? applied : undefined;
    if (d === undefined && a === undefined) return live;
    const key = elementKey([...live, ...(d ?? []), ...(a ?? [])]);
    if (key === undefined) {
      // No identity: compare element by element, as far as Git or the last apply reaches.
      const reach = Math.max(d?.length ?? 0, a?.length ?? 0);
      return live.slice(0, reach).map((item, i) => project(item, d?.[i], a?.[i], inQuantities));
    }
    const id = (item: Json): unknown => (isObject(item) ? item[key] : undefined);
    const liveById = new Map(live.map((item) => [id(item), item]));
    const order: unknown[] = [];
    for (const item of [...(d ?? []), ...(a ?? [])]) if (!order.includes(id(item))) order.push(id(item));
    const out: Json[] = [];
    for (const elementId of order) {
      const item = liveById.get(elementId);
      if (item === undefined) continue;
      out.push(project(item, d?.find((x) => id(x) === elementId), a?.find((x) => id(x) === elementId), inQuantities));
    }
    return out;
  }
  return live;
}

/** The JSON value at a pointer, or undefined. */
export function valueAt(value: Json | undefined, pointer: string): Json | undefined {
  if (pointer === '') return value;
  let current: Json | undefined = value;
  for (const raw of pointer.slice(1).split('/')) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(current)) current = current[Number(segment)];
    else if (isObject(current)) current = Object.prototype.hasOwnProperty.call(current, segment) ? current[segment] : undefined;
    else return undefined;
  }
  return current;
}

/** The result of comparing one target's desired object with its live one. */
export interface ObjectDiff {
  /** Operations that turn the (projected) live object into the desired one. */
  readonly patch: readonly PatchOperation[];
  /** Of those, the paths where Git did not change anything since the last apply: someone changed the cluster. */
  readonly drifted: ReadonlySet<string>;
}

/**
 * Diffs a desired object against the live one, after normalising both. With
 * a last-applied record, an operation whose path Git left as it was at the
 * last apply is drift: the cluster moved, not Git.
 */
export function diffObjects(desired: KubeObject, live: KubeObject): ObjectDiff {
  const wanted = normalize(desired);
  const applied = lastApplied(live);
  const seen = project(normalize(live), wanted, applied, false);
  const operations = fastJsonPatch.compare(seen as object, wanted) as PatchOperation[];
  const patch: PatchOperation[] = operations.map((op) => (op.op === 'remove' ? { op: 'remove', path: op.path } : { op: op.op, path: op.path, value: op.value }));
  const drifted = new Set<string>();
  if (applied !== undefined) {
    for (const op of patch) {
      if (JSON.stringify(valueAt(applied, op.path)) === JSON.stringify(valueAt(wanted, op.path))) drifted.add(op.path);
    }
  }
  return { patch, drifted };
}

/** Splits a JSON pointer into its unescaped segments. */
export function pointerSegments(pointer: string): string[] {
  return pointer === '' ? [] : pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}
