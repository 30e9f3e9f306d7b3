/**
 * The resource types the live cache watches, named as the API server
 * serves them (group, version, plural), and the shape of cached objects.
 */

/** One API resource to list and watch. */
export interface WatchedResource {
  /** API group; `''` for the core group (pods). */
  readonly group: string;
  /** API version within the group, e.g. `v1`, `v1alpha1`. */
  readonly version: string;
  /** Lower-case plural as in the URL, e.g. `statefulsets`. */
  readonly plural: string;
  /** Kind of its objects, e.g. `StatefulSet`; filled into list items, which the API server sends without it. */
  readonly kind: string;
  /** Whether its objects live in namespaces. */
  readonly namespaced: boolean;
}

/**
 * Metadata of a cached object as the API server sends it. Timestamps are
 * RFC 3339 strings, as on the wire, not `Date`s.
 */
export interface LiveObjectMeta {
  readonly name: string;
  readonly namespace?: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly generation?: number;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly deletionTimestamp?: string;
  readonly [field: string]: unknown;
}

/**
 * A cached object: the JSON the API server sent, with `apiVersion` and
 * `kind` always present. Frozen (deeply) when it enters the cache: read it,
 * never change it; `structuredClone` it to build a write.
 */
export interface LiveObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: LiveObjectMeta;
  readonly [field: string]: unknown;
}

/** The resources rollgate watches. */
export const resources = {
  /** core/v1 Pods: readiness gates and restart order. */
  pods: { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true },
  /** apps/v1 StatefulSets: partitions, rollout status. */
  statefulSets: { group: 'apps', version: 'v1', plural: 'statefulsets', kind: 'StatefulSet', namespaced: true },
  /** apps/v1 Deployments: the Redis Enterprise operator's Deployment. */
  deployments: { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment', namespaced: true },
  /** apps/v1 ControllerRevisions: which template revision a pod runs. */
  controllerRevisions: { group: 'apps', version: 'v1', plural: 'controllerrevisions', kind: 'ControllerRevision', namespaced: true },
  /** TiDB Operator's TidbCluster (pingcap.com/v1alpha1). */
  tidbClusters: { group: 'pingcap.com', version: 'v1alpha1', plural: 'tidbclusters', kind: 'TidbCluster', namespaced: true },
  /** Redis Enterprise's RedisEnterpriseCluster (app.redislabs.com/v1). */
  redisEnterpriseClusters: { group: 'app.redislabs.com', version: 'v1', plural: 'redisenterpriseclusters', kind: 'RedisEnterpriseCluster', namespaced: true },
  /** coordination.k8s.io/v1 Leases: the agent's leader election. */
  leases: { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true },
} as const satisfies Record<string, WatchedResource>;

/** Every resource in {@link resources}, for a cache that watches all of them. */
export const rollgateResources: readonly WatchedResource[] = Object.freeze(Object.values(resources));

/** `apps/v1/statefulsets`, `v1/pods`: how messages and keys name a resource. */
export function resourceKey(resource: WatchedResource): string {
  return resource.group === '' ? `${resource.version}/${resource.plural}` : `${resource.group}/${resource.version}/${resource.plural}`;
}

/** `apiVersion` of a resource's objects: `v1`, `apps/v1`. */
export function apiVersionOf(resource: WatchedResource): string {
  return resource.group === '' ? resource.version : `${resource.group}/${resource.version}`;
}

/**
 * A stable key for one object, for a keyed queue:
 * `apps/v1/statefulsets/prod/tikv` (`v1/nodes/node-1` when cluster-scoped).
 */
export function objectKey(resource: WatchedResource, namespace: string | undefined, name: string): string {
  return resource.namespaced ? `${resourceKey(resource)}/${namespace ?? ''}/${name}` : `${resourceKey(resource)}/${name}`;
}

/** The collection path of a resource, in one namespace or across all. */
export function collectionPath(resource: WatchedResource, namespace: string | undefined): string {
  const base = resource.group === '' ? `/api/${resource.version}` : `/apis/${resource.group}/${resource.version}`;
  return resource.namespaced && namespace !== undefined ? `${base}/namespaces/${encodeURIComponent(namespace)}/${resource.plural}` : `${base}/${resource.plural}`;
}

/** Problems of a resource list, one message each (empty when valid). */
export function resourceProblems(list: readonly WatchedResource[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  const dnsLabel = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
  list.forEach((r, i) => {
    const at = `resources[${i}]`;
    if (typeof r.group !== 'string' || (r.group !== '' && !dnsLabel.test(r.group))) problems.push(`${at}.group: must be '' or a DNS name, got ${JSON.stringify(r.group)}`);
    if (typeof r.version !== 'string' || !/^v[0-9]+[a-z0-9]*$/.test(r.version)) problems.push(`${at}.version: must look like v1 or v1alpha1, got ${JSON.stringify(r.version)}`);
    if (typeof r.plural !== 'string' || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(r.plural)) problems.push(`${at}.plural: must be a lower-case resource name, got ${JSON.stringify(r.plural)}`);
    if (typeof r.kind !== 'string' || !/^[A-Z][A-Za-z0-9]*$/.test(r.kind)) problems.push(`${at}.kind: must be a kind such as StatefulSet, got ${JSON.stringify(r.kind)}`);
    if (typeof r.namespaced !== 'boolean') problems.push(`${at}.namespaced: must be true or false`);
    const key = `${r.group}/${r.plural}`;
    if (seen.has(key)) problems.push(`${at}: ${resourceKey(r)} is listed twice`);
    seen.add(key);
  });
  return problems;
}
