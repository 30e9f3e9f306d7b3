/**
 * What kube-sim serves: one ResourceType per resource, built-in or defined
 * by a CustomResourceDefinition. Discovery, OpenAPI, routing, the store's
 * semantics (generation, status subresource, patch types) and Tables are all
 * derived from these descriptions.
 */
import type { KubeObject } from './object.ts';
import { getPath, isPlainObject } from './object.ts';

/** A printer column, as in a CRD's `additionalPrinterColumns`. */
export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
  format?: string;
}

/** How `metadata.generation` moves on main-resource writes. */
export type GenerationRule =
  /** Built-ins: +1 when `spec` changes (registry strategies' semantic DeepEqual). */
  | 'spec'
  /** Custom resources: +1 on any change outside `metadata` (and `status` when it is a subresource). */
  | 'nonMetadata'
  /** Kinds without a generation (ConfigMap, Service, Lease, …). */
  | 'none';

export interface ScaleSubresource {
  specReplicasPath: string;
  statusReplicasPath: string;
  labelSelectorPath?: string;
}

export interface ResourceType {
  group: string;
  version: string;
  kind: string;
  listKind: string;
  /** Plural resource name used in URLs, e.g. `statefulsets`. */
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames: readonly string[];
  categories: readonly string[];
  /** Whether `/status` is a subresource (then main writes ignore `.status`). */
  statusSubresource: boolean;
  scale: ScaleSubresource | undefined;
  generation: GenerationRule;
  /** Built-ins accept strategic merge patches and unconditional updates; CRs do not. */
  builtin: boolean;
  /** Field selector keys beyond `metadata.name` and `metadata.namespace`. */
  extraFieldSelectors: readonly string[];
  /** Table columns after NAME (and before AGE for built-ins that print it). */
  printerColumns: readonly PrinterColumn[];
}

/** `apps/v1`, or `v1` for the core group. */
export function groupVersion(t: Pick<ResourceType, 'group' | 'version'>): string {
  return t.group === '' ? t.version : `${t.group}/${t.version}`;
}

/** Stable key of a resource type within a cluster, e.g. `apps/statefulsets`. */
export function typeKey(t: Pick<ResourceType, 'group' | 'plural'>): string {
  return `${t.group}/${t.plural}`;
}

/** A built-in resource type: the given fields over the defaults every built-in shares. */
export function builtinResourceType(partial: Partial<ResourceType> & Pick<ResourceType, 'group' | 'version' | 'kind' | 'plural' | 'namespaced'>): ResourceType {
  return {
    listKind: `${partial.kind}List`,
    singular: partial.kind.toLowerCase(),
    shortNames: [],
    categories: [],
    statusSubresource: false,
    scale: undefined,
    generation: 'none',
    builtin: true,
    extraFieldSelectors: [],
    printerColumns: [],
    ...partial,
  };
}

const replicasScale: ScaleSubresource = { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' };

/** The built-in resources kube-sim serves (core/v1, apps/v1, coordination.k8s.io/v1, apiextensions.k8s.io/v1). */
export function builtinResourceTypes(): ResourceType[] {
  return [
    builtinResourceType({ group: '', version: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false, shortNames: ['ns'], statusSubresource: true, extraFieldSelectors: ['status.phase'] }),
    builtinResourceType({ group: '', version: 'v1', kind: 'Node', plural: 'nodes', namespaced: false, shortNames: ['no'], statusSubresource: true, extraFieldSelectors: ['spec.unschedulable'] }),
    builtinResourceType({
      group: '',
      version: 'v1',
      kind: 'Pod',
      plural: 'pods',
      namespaced: true,
      shortNames: ['po'],
      categories: ['all'],
      statusSubresource: true,
      generation: 'spec',
      extraFieldSelectors: ['spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'status.phase', 'status.podIP', 'status.nominatedNodeName'],
    }),
    builtinResourceType({ group: '', version: 'v1', kind: 'Service', plural: 'services', namespaced: true, shortNames: ['svc'], categories: ['all'], statusSubresource: true }),
    builtinResourceType({ group: '', version: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true, shortNames: ['cm'] }),
    builtinResourceType({ group: '', version: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true, extraFieldSelectors: ['type'] }),
    builtinResourceType({ group: '', version: 'v1', kind: 'ServiceAccount', plural: 'serviceaccounts', namespaced: true, shortNames: ['sa'] }),
    builtinResourceType({ group: '', version: 'v1', kind: 'PersistentVolumeClaim', plural: 'persistentvolumeclaims', namespaced: true, shortNames: ['pvc'], statusSubresource: true }),
    builtinResourceType({
      group: '',
      version: 'v1',
      kind: 'Event',
      plural: 'events',
      namespaced: true,
      shortNames: ['ev'],
      extraFieldSelectors: ['involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid', 'involvedObject.apiVersion', 'involvedObject.resourceVersion', 'involvedObject.fieldPath', 'reason', 'reportingComponent', 'source', 'type'],
    }),
    builtinResourceType({ group: 'apps', version: 'v1', kind: 'StatefulSet', plural: 'statefulsets', namespaced: true, shortNames: ['sts'], categories: ['all'], statusSubresource: true, scale: replicasScale, generation: 'spec' }),
    builtinResourceType({ group: 'apps', version: 'v1', kind: 'Deployment', plural: 'deployments', namespaced: true, shortNames: ['deploy'], categories: ['all'], statusSubresource: true, scale: replicasScale, generation: 'spec' }),
    builtinResourceType({ group: 'apps', version: 'v1', kind: 'ReplicaSet', plural: 'replicasets', namespaced: true, shortNames: ['rs'], categories: ['all'], statusSubresource: true, scale: replicasScale, generation: 'spec', extraFieldSelectors: ['status.replicas'] }),
    builtinResourceType({ group: 'apps', version: 'v1', kind: 'ControllerRevision', plural: 'controllerrevisions', namespaced: true }),
    builtinResourceType({ group: 'coordination.k8s.io', version: 'v1', kind: 'Lease', plural: 'leases', namespaced: true }),
    builtinResourceType({ group: 'apiextensions.k8s.io', version: 'v1', kind: 'CustomResourceDefinition', plural: 'customresourcedefinitions', namespaced: false, shortNames: ['crd', 'crds'], categories: ['api-extensions'], statusSubresource: true, generation: 'spec' }),
  ];
}

/**
 * The resource type a stored CRD defines (its storage version), or
 * undefined when the CRD is malformed.
 */
export function resourceTypeFromCrd(crd: KubeObject): ResourceType | undefined {
  const spec = crd.spec;
  if (!isPlainObject(spec)) return undefined;
  const names = spec['names'];
  const group = spec['group'];
  const versions = spec['versions'];
  if (!isPlainObject(names) || typeof group !== 'string' || !Array.isArray(versions)) return undefined;
  const served = versions.filter((v): v is Record<string, unknown> => isPlainObject(v) && v['served'] !== false);
  const version = served.find((v) => v['storage'] === true) ?? served[0];
  if (!version || typeof version['name'] !== 'string') return undefined;
  const kind = names['kind'];
  const plural = names['plural'];
  if (typeof kind !== 'string' || typeof plural !== 'string') return undefined;
  const subresources = version['subresources'];
  const scaleSpec = isPlainObject(subresources) ? subresources['scale'] : undefined;
  const columns = Array.isArray(version['additionalPrinterColumns']) ? version['additionalPrinterColumns'] : [];
  return {
    group,
    version: version['name'],
    kind,
    listKind: typeof names['listKind'] === 'string' ? names['listKind'] : `${kind}List`,
    plural,
    singular: typeof names['singular'] === 'string' ? names['singular'] : kind.toLowerCase(),
    namespaced: spec['scope'] !== 'Cluster',
    shortNames: Array.isArray(names['shortNames']) ? names['shortNames'].filter((s): s is string => typeof s === 'string') : [],
    categories: Array.isArray(names['categories']) ? names['categories'].filter((s): s is string => typeof s === 'string') : [],
    statusSubresource: isPlainObject(subresources) && isPlainObject(subresources['status']),
    scale: isPlainObject(scaleSpec)
      ? {
          specReplicasPath: typeof scaleSpec['specReplicasPath'] === 'string' ? scaleSpec['specReplicasPath'] : '.spec.replicas',
          statusReplicasPath: typeof scaleSpec['statusReplicasPath'] === 'string' ? scaleSpec['statusReplicasPath'] : '.status.replicas',
          ...(typeof scaleSpec['labelSelectorPath'] === 'string' ? { labelSelectorPath: scaleSpec['labelSelectorPath'] } : {}),
        }
      : undefined,
    generation: 'nonMetadata',
    builtin: false,
    extraFieldSelectors: [],
    printerColumns: columns.filter(isPlainObject).map((c) => ({
      name: String(c['name']),
      type: (['string', 'integer', 'number', 'boolean', 'date'].includes(String(c['type'])) ? c['type'] : 'string') as PrinterColumn['type'],
      jsonPath: String(c['jsonPath']),
      ...(typeof c['description'] === 'string' ? { description: c['description'] } : {}),
      ...(typeof c['priority'] === 'number' ? { priority: c['priority'] } : {}),
      ...(typeof c['format'] === 'string' ? { format: c['format'] } : {}),
    })),
  };
}

/** Value of a field selector key on an object (`status.phase` → "Running"). */
export function fieldValue(obj: KubeObject, field: string): string {
  const value = getPath(obj, field.split('.'));
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * The resource types of one cluster: built-ins plus those its CRDs define.
 * Lookups accept the plural, singular, short names and kind, as kubectl's
 * RESTMapper does after discovery.
 */
export class ResourceRegistry {
  private readonly byKey = new Map<string, ResourceType>();

  constructor(types: readonly ResourceType[]) {
    for (const t of types) this.add(t);
  }

  add(t: ResourceType): void {
    this.byKey.set(`${t.group}/${t.version}/${t.plural}`, t);
  }

  remove(group: string, plural: string): void {
    for (const [key, t] of this.byKey) if (t.group === group && t.plural === plural && !t.builtin) this.byKey.delete(key);
  }

  /** The type served at `/apis/<group>/<version>/<plural>`. */
  lookup(group: string, version: string, plural: string): ResourceType | undefined {
    return this.byKey.get(`${group}/${version}/${plural}`);
  }

  byGroupKind(group: string, kind: string): ResourceType | undefined {
    for (const t of this.byKey.values()) if (t.group === group && t.kind === kind) return t;
    return undefined;
  }

  all(): ResourceType[] {
    return [...this.byKey.values()];
  }

  /** Group versions served, in discovery order (core first, then groups by name). */
  groups(): { group: string; versions: string[] }[] {
    const groups = new Map<string, Set<string>>();
    for (const t of this.byKey.values()) {
      const versions = groups.get(t.group) ?? new Set<string>();
      versions.add(t.version);
      groups.set(t.group, versions);
    }
    return [...groups.entries()].sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))).map(([group, versions]) => ({ group, versions: [...versions].sort() }));
  }
}
