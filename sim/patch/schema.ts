// Patch metadata for the built-in kinds kube-sim serves: the Go struct tags that drive strategic
// merge patch (patchStrategy / patchMergeKey, read by apimachinery strategicpatch through
// forkedjson.LookupPatchMetadata) and the markers that drive server-side apply (+listType,
// +listMapKey, +structType / +mapType, read by structured-merge-diff from the OpenAPI schema).
// Sources: kubernetes/api core/v1/types.go, apps/v1/types.go, coordination/v1/types.go and
// apimachinery pkg/apis/meta/v1/types.go.
//
// Only what changes behaviour is listed. A field that is not listed behaves like most Kubernetes
// fields do: an object merges member by member (a struct, for SSA), an array is replaced
// wholesale (no patchStrategy; an atomic list for SSA), a scalar is replaced.

import { getOwn, isObject } from './json.ts';
import type { Json, JsonObject } from './json.ts';

/** Patch metadata of one field (or of the object itself, at the root). */
export interface SchemaNode {
  /**
   * `struct`: named fields (Go struct); `map`: free-form string keys (Go map, e.g. labels);
   * `list`: an array. Unset: inferred from the value (objects as structs, arrays as atomic).
   */
  readonly type?: 'struct' | 'map' | 'list';
  /** Fields of a struct. */
  readonly fields?: Readonly<Record<string, SchemaNode>>;
  /** Value schema of a map, item schema of a list. */
  readonly elem?: SchemaNode;
  /**
   * Strategic merge patch strategy (Go tag patchStrategy): `merge` merges a list by
   * {@link patchMergeKey} (or as a set of primitives without one); `replace` replaces a map
   * wholesale. Unset: maps merge, lists are replaced.
   */
  readonly patchStrategy?: 'merge' | 'replace';
  /** Strategic merge patch merge key (Go tag patchMergeKey). */
  readonly patchMergeKey?: string;
  /** Server-side apply list type (+listType). Unset on an array: atomic. */
  readonly listType?: 'atomic' | 'set' | 'map';
  /** Server-side apply keys of a `map` list (+listMapKey), in declaration order. */
  readonly listMapKeys?: readonly string[];
  /**
   * Defaults of key fields, used when an item omits them (structured-merge-diff fills absent
   * keys from the OpenAPI default, so `ports: [{containerPort: 80}]` is keyed with protocol TCP).
   */
  readonly keyDefaults?: Readonly<Record<string, Json>>;
  /** Server-side apply treats the struct or map as one value (+structType=atomic, +mapType=atomic). */
  readonly atomic?: boolean;
  /**
   * The field exists in the Go zero value of its parent (a non-pointer struct such as spec or
   * template, or a slice without omitempty such as containers), so server-side apply never sees
   * it "added" as a whole: managedFields show no "." entry for it.
   */
  readonly zero?: boolean;
}

/** Path of a field from the object root, e.g. ['metadata', 'labels']. */
export type FieldPath = readonly string[];

/** Patch metadata of a kind. */
export interface KindSchema {
  /** API group; '' for core. */
  readonly group: string;
  readonly kind: string;
  /** Schema of the whole object. */
  readonly root: SchemaNode;
  /**
   * False for kinds without a /status subresource (ConfigMap, Secret, Event, Lease,
   * ControllerRevision): their status, if any, is written through the main resource.
   */
  readonly statusSubresource: boolean;
  /**
   * Fields the main resource's strategy resets on every write (GetResetFields); server-side
   * apply neither merges nor records ownership of them.
   */
  readonly mainResetFields: readonly FieldPath[];
  /** Fields the /status strategy resets (GetResetFields of the status strategy). */
  readonly statusResetFields: readonly FieldPath[];
  /** Whether strategic merge patch is accepted (true for every built-in, false for CRs). */
  readonly strategicMergePatch: boolean;
}

// ---- small builders, so the tables below read like the Go tags they copy ----

function struct(fields: Record<string, SchemaNode>, extra: Partial<SchemaNode> = {}): SchemaNode {
  return { type: 'struct', fields, ...extra };
}

/** +structType=atomic: SSA owns it as one value; SMP still merges it member by member. */
function atomicStruct(fields: Record<string, SchemaNode> = {}): SchemaNode {
  return struct(fields, { atomic: true });
}

function map(extra: Partial<SchemaNode> = {}): SchemaNode {
  return { type: 'map', ...extra };
}

/** patchStrategy=merge, patchMergeKey=key, +listType=map, +listMapKey=key (or `keys`). */
function keyedList(key: string, item: SchemaNode, keys: readonly string[] = [key], keyDefaults?: Record<string, Json>): SchemaNode {
  return {
    type: 'list',
    patchStrategy: 'merge',
    patchMergeKey: key,
    listType: 'map',
    listMapKeys: keys,
    elem: item,
    ...(keyDefaults ? { keyDefaults } : {}),
  };
}

/** +listType=map without a patchStrategy: SSA merges by key, SMP replaces the list. */
function ssaOnlyKeyedList(keys: readonly string[], item: SchemaNode): SchemaNode {
  return { type: 'list', listType: 'map', listMapKeys: keys, elem: item };
}

/** patchStrategy=merge on a list of strings, +listType=set (metadata.finalizers). */
function mergedSet(): SchemaNode {
  return { type: 'list', patchStrategy: 'merge', listType: 'set' };
}

// ---- shared types ----

// metav1.OwnerReference and core/v1 ObjectReference/LocalObjectReference are +structType=atomic.
const objectReference = atomicStruct();

const objectMeta = struct(
  {
  labels: map(),
  annotations: map(),
  // +patchStrategy=merge +listType=set
  finalizers: mergedSet(),
  // +patchMergeKey=uid +patchStrategy=merge +listType=map +listMapKey=uid
  ownerReferences: keyedList('uid', objectReference),
    managedFields: { type: 'list', listType: 'atomic' },
  },
  { zero: true },
);

// metav1.LabelSelector is +structType=atomic; matchExpressions is +listType=atomic.
const labelSelector = atomicStruct({ matchLabels: map() });

const envVar = struct({
  valueFrom: struct({
    fieldRef: atomicStruct(),
    resourceFieldRef: atomicStruct(),
    configMapKeyRef: atomicStruct(),
    secretKeyRef: atomicStruct(),
  }),
});

const resourceRequirements = struct({
  limits: map(),
  requests: map(),
  // +listType=map +listMapKey=name, no patchStrategy.
  claims: ssaOnlyKeyedList(['name'], struct({})),
});

const container = struct({
  // +patchMergeKey=containerPort +patchStrategy=merge +listType=map
  // +listMapKey=containerPort +listMapKey=protocol; protocol defaults to TCP.
  ports: keyedList('containerPort', struct({}), ['containerPort', 'protocol'], { protocol: 'TCP' }),
  // +patchMergeKey=name +patchStrategy=merge +listType=map +listMapKey=name
  env: keyedList('name', envVar),
  // A non-pointer struct in Container.
  resources: { ...resourceRequirements, zero: true },
  // +patchMergeKey=mountPath +patchStrategy=merge +listType=map +listMapKey=mountPath
  volumeMounts: keyedList('mountPath', struct({})),
  // +patchMergeKey=devicePath +patchStrategy=merge +listType=map +listMapKey=devicePath
  volumeDevices: keyedList('devicePath', struct({})),
  // command, args, envFrom, resizePolicy: +listType=atomic (the default here).
});

const podSpec = struct({
  // +patchMergeKey=name +patchStrategy=merge,retainKeys +listType=map +listMapKey=name
  volumes: keyedList('name', struct({})),
  initContainers: keyedList('name', container),
  // `json:"containers"` has no omitempty.
  containers: { ...keyedList('name', container), zero: true },
  ephemeralContainers: keyedList('name', container),
  // +patchMergeKey=name +patchStrategy=merge +listType=map +listMapKey=name
  imagePullSecrets: keyedList('name', objectReference),
  // +patchMergeKey=ip +patchStrategy=merge +listType=map +listMapKey=ip
  hostAliases: keyedList('ip', struct({})),
  // +patchMergeKey=topologyKey +patchStrategy=merge +listType=map
  // +listMapKey=topologyKey +listMapKey=whenUnsatisfiable
  topologySpreadConstraints: keyedList('topologyKey', struct({ labelSelector }), ['topologyKey', 'whenUnsatisfiable']),
  // +patchMergeKey=name +patchStrategy=merge +listType=map +listMapKey=name
  schedulingGates: keyedList('name', struct({})),
  // +patchMergeKey=name +patchStrategy=merge,retainKeys +listType=map +listMapKey=name
  resourceClaims: keyedList('name', struct({})),
  // +mapType=atomic
  nodeSelector: map({ atomic: true }),
  overhead: map(),
  // tolerations, readinessGates: no patchStrategy, +listType=atomic.
});

const podTemplateSpec = struct({ metadata: objectMeta, spec: { ...podSpec, zero: true } }, { zero: true });

// Conditions of every status below: +patchMergeKey=type +patchStrategy=merge +listType=map.
const conditions = keyedList('type', struct({}));

const podStatus = struct({
  conditions,
  // +patchMergeKey=ip +patchStrategy=merge +listType=map +listMapKey=ip
  podIPs: keyedList('ip', struct({})),
  hostIPs: keyedList('ip', struct({})),
  // +patchMergeKey=name +patchStrategy=merge,retainKeys +listType=map +listMapKey=name
  resourceClaimStatuses: keyedList('name', struct({})),
  // containerStatuses, initContainerStatuses, ephemeralContainerStatuses: +listType=atomic.
});

function kindRoot(spec?: SchemaNode, status?: SchemaNode, extra: Record<string, SchemaNode> = {}): SchemaNode {
  const fields: Record<string, SchemaNode> = { metadata: objectMeta, ...extra };
  // spec and status are non-pointer structs: present in the Go zero value.
  if (spec) fields['spec'] = { ...spec, zero: true };
  if (status) fields['status'] = { ...status, zero: true };
  return struct(fields);
}

const workloadStatus = struct({ conditions });

interface KindEntry {
  group: string;
  kind: string;
  root: SchemaNode;
  statusSubresource: boolean;
  statusResetFields?: FieldPath[];
}

const KINDS: readonly KindEntry[] = [
  {
    group: '',
    kind: 'Pod',
    root: kindRoot(podSpec, podStatus),
    statusSubresource: true,
    // pkg/registry/core/pod podStatusStrategy.GetResetFields.
    statusResetFields: [['spec'], ['metadata', 'deletionTimestamp'], ['metadata', 'ownerReferences']],
  },
  {
    group: '',
    kind: 'Service',
    root: kindRoot(
      struct({
        // +patchMergeKey=port +patchStrategy=merge +listType=map +listMapKey=port
        // +listMapKey=protocol; protocol defaults to TCP.
        ports: keyedList('port', struct({}), ['port', 'protocol'], { protocol: 'TCP' }),
        // +mapType=atomic
        selector: map({ atomic: true }),
      }),
      struct({ conditions, loadBalancer: struct({}, { zero: true }) }),
    ),
    statusSubresource: true,
  },
  { group: '', kind: 'ConfigMap', root: kindRoot(undefined, undefined, { data: map(), binaryData: map() }), statusSubresource: false },
  { group: '', kind: 'Secret', root: kindRoot(undefined, undefined, { data: map(), stringData: map() }), statusSubresource: false },
  // NamespaceSpec.finalizers is +listType=atomic with no patchStrategy.
  { group: '', kind: 'Namespace', root: kindRoot(struct({}), struct({ conditions })), statusSubresource: true },
  {
    group: '',
    kind: 'Event',
    root: kindRoot(undefined, undefined, { involvedObject: { ...objectReference, zero: true }, related: objectReference, source: struct({}, { zero: true }) }),
    statusSubresource: false,
  },
  {
    group: 'apps',
    kind: 'StatefulSet',
    // volumeClaimTemplates is +listType=atomic.
    root: kindRoot(struct({ selector: labelSelector, template: podTemplateSpec, updateStrategy: struct({}, { zero: true }) }), workloadStatus),
    statusSubresource: true,
  },
  {
    group: 'apps',
    kind: 'Deployment',
    // spec.strategy has patchStrategy=retainKeys, which only changes how clients compute
    // patches; $retainKeys is honoured anywhere on the server side.
    root: kindRoot(struct({ selector: labelSelector, template: podTemplateSpec, strategy: struct({}, { zero: true }) }), workloadStatus),
    statusSubresource: true,
    // pkg/registry/apps/deployment deploymentStatusStrategy.GetResetFields.
    statusResetFields: [['spec'], ['metadata', 'labels']],
  },
  {
    group: 'apps',
    kind: 'ReplicaSet',
    root: kindRoot(struct({ selector: labelSelector, template: podTemplateSpec }), workloadStatus),
    statusSubresource: true,
    // Assumed to mirror Deployment's status strategy (not checked against upstream).
    statusResetFields: [['spec'], ['metadata', 'labels']],
  },
  { group: 'apps', kind: 'ControllerRevision', root: kindRoot(), statusSubresource: false },
  { group: 'coordination.k8s.io', kind: 'Lease', root: kindRoot(struct({})), statusSubresource: false },
];

function toKindSchema(entry: KindEntry): KindSchema {
  return {
    group: entry.group,
    kind: entry.kind,
    root: entry.root,
    statusSubresource: entry.statusSubresource,
    // Every built-in strategy with a status subresource resets .status on main-resource writes.
    mainResetFields: entry.statusSubresource ? [['status']] : [],
    statusResetFields: entry.statusResetFields ?? [['spec']],
    strategicMergePatch: true,
  };
}

/**
 * Patch metadata of a built-in kind kube-sim serves, or undefined when the kind is not one of
 * them (custom resources included). Undefined means strategic merge patch is not supported: the
 * caller answers {@link unsupportedMediaTypeError}(CUSTOM_RESOURCE_PATCH_TYPES) with 415.
 *
 * Kinds: core/v1 Pod, Service, ConfigMap, Secret, Namespace, Event; apps/v1 StatefulSet,
 * Deployment, ReplicaSet, ControllerRevision; coordination.k8s.io/v1 Lease.
 *
 * @param group API group, '' for core (not 'core').
 * @param kind the Kind, e.g. 'StatefulSet'.
 */
export function patchMetaFor(group: string, kind: string): KindSchema | undefined {
  const entry = KINDS.find((k) => k.group === group && k.kind === kind);
  return entry ? toKindSchema(entry) : undefined;
}

/**
 * Schema for a kind without built-in metadata (custom resources): ObjectMeta is known, everything
 * else is inferred (objects merge as structs, arrays are atomic), which is what structured-merge-
 * diff does with a CRD schema that has no x-kubernetes-list-type markers.
 *
 * @param statusSubresource whether the CRD enables the status subresource (then main-resource
 *   writes reset .status, and /status writes reset everything but .status and metadata).
 */
export function customResourceSchema(group: string, kind: string, statusSubresource: boolean): KindSchema {
  return {
    group,
    kind,
    root: kindRoot(),
    statusSubresource,
    mainResetFields: statusSubresource ? [['status']] : [],
    // apiextensions statusStrategy.GetResetFields resets spec (and ResetObjectMetaForStatus the
    // metadata it copies back); only spec is modelled here.
    statusResetFields: [['spec']],
    strategicMergePatch: false,
  };
}

/** The group of an apiVersion: 'apps/v1' → 'apps', 'v1' → ''. */
export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/** Schema of member `key` of an object whose schema is `node`, or undefined when unknown. */
export function childSchema(node: SchemaNode | undefined, key: string): SchemaNode | undefined {
  if (!node) return undefined;
  if (node.type === 'map') return node.elem;
  if (node.type === 'struct' && node.fields && Object.hasOwn(node.fields, key)) return node.fields[key];
  return undefined;
}

/** True when `node` describes a free-form map (its keys are not named fields). */
export function isMapNode(node: SchemaNode | undefined): boolean {
  return node?.type === 'map';
}

/**
 * Makes an object look as the real server would store it after decoding into its Go type, which
 * every write goes through: members whose value is null are dropped (nil pointers, maps, slices
 * and omitempty scalars are omitted), and known map fields (labels, annotations, data, ...) that
 * end up empty are dropped (omitempty on a Go map omits an empty one). Call it on the result of
 * any patch and on PUT/POST bodies before storing; returns a new value.
 *
 * Approximation: a null value inside a string map (labels: {a: null}) is dropped here, where Go
 * would store an empty string.
 */
export function normalizeObject<T extends Json>(value: T, schema?: KindSchema | SchemaNode): T {
  const root = schema && 'root' in schema ? schema.root : schema;
  return normalizeValue(value, root) as T;
}

function normalizeValue(value: Json, node: SchemaNode | undefined): Json {
  if (Array.isArray(value)) return value.map((item) => normalizeValue(item, node?.type === 'list' ? node.elem : undefined));
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const key of Object.keys(value)) {
    const member = getOwn(value, key);
    if (member === undefined || member === null) continue;
    const child = childSchema(node, key);
    const normalized = normalizeValue(member, child);
    if (isMapNode(child) && isObject(normalized) && Object.keys(normalized).length === 0) continue;
    if (key === '__proto__') Object.defineProperty(out, key, { value: normalized, enumerable: true, writable: true, configurable: true });
    else out[key] = normalized;
  }
  return out;
}
