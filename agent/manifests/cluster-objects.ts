/**
 * The objects to create in each cluster of a repository, for `rollgate sim
 * --load DIR` and rehearsals: what `kubectl apply` of every manifest would
 * create, with Helm releases rendered to the TidbCluster their chart would
 * create.
 */
import { formatProblemLine } from './format.ts';
import { loadRepository, type LoadOptions, type LoadResult } from './load.ts';
import type { Problem } from './types.ts';

/** A plain, mutable JSON Kubernetes object. */
export type PlainObject = { [key: string]: unknown; apiVersion: string; kind: string; metadata: { [key: string]: unknown; name: string; namespace?: string } };

/** The clusters of a repository, in `rollgate.yaml` order, each with the objects to create in it. */
export interface ClusterObjects {
  readonly clusters: readonly { readonly name: string; readonly objects: readonly PlainObject[] }[];
}

/** The repository has problems, so its objects cannot be trusted; `problems` lists them. */
export class InvalidRepositoryError extends Error {
  override readonly name = 'InvalidRepositoryError';
  readonly problems: readonly Problem[];
  constructor(dir: string, problems: readonly Problem[]) {
    const shown = problems.slice(0, 20).map((p) => formatProblemLine(p));
    const more = problems.length > shown.length ? [`… and ${problems.length - shown.length} more`] : [];
    super([`${dir} is not a valid rollgate repository (${problems.length} problem${problems.length === 1 ? '' : 's'}):`, ...shown, ...more].join('\n'));
    this.problems = problems;
  }
}

// Namespaces that exist in every cluster; creating them would fail with AlreadyExists.
const builtinNamespaces = new Set(['default', 'kube-system', 'kube-public', 'kube-node-lease']);

/**
 * Creation order, as `helm install` orders kinds: namespaces and definitions
 * first, then what workloads refer to, then the workloads, then the custom
 * resources whose operators those workloads run.
 */
const kindOrder = [
  'Namespace',
  'CustomResourceDefinition',
  'PriorityClass',
  'StorageClass',
  'ClusterRole',
  'ClusterRoleBinding',
  'ServiceAccount',
  'Secret',
  'ConfigMap',
  'Role',
  'RoleBinding',
  'PersistentVolume',
  'PersistentVolumeClaim',
  'Service',
  'Deployment',
  'StatefulSet',
];

function rank(kind: string): number {
  const i = kindOrder.indexOf(kind);
  return i < 0 ? kindOrder.length : i;
}

/** The per-cluster objects of a load that has no problems. */
export function objectsOf(result: LoadResult): ClusterObjects {
  return {
    clusters: result.clusters.map((name) => {
      const objects: PlainObject[] = [];
      for (const r of result.resources) if (r.cluster === name) objects.push(structuredClone(r.object));
      for (const t of result.targets) if (t.cluster === name) objects.push(structuredClone(t.object));
      const declared = new Set(objects.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name));
      const needed = new Set<string>();
      for (const o of objects) {
        const ns = o.metadata.namespace;
        if (ns !== undefined && !declared.has(ns) && !builtinNamespaces.has(ns)) needed.add(ns);
      }
      for (const ns of [...needed].sort()) objects.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
      // Stable: by kind rank, then namespace and name, so the same repository always loads the same way.
      objects.sort((a, b) => rank(a.kind) - rank(b.kind) || a.kind.localeCompare(b.kind) || (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') || a.metadata.name.localeCompare(b.metadata.name));
      return { name, objects };
    }),
  };
}

/**
 * Loads the repository in `dir` and returns, for each cluster `rollgate.yaml`
 * names, the plain JSON objects to create in it: every manifest in the
 * cluster's paths (namespace defaulted as rollgate defaults it), the
 * TidbCluster each Helm release renders, and a Namespace for every namespace
 * used but not declared (except the built-in ones). Throws
 * {@link InvalidRepositoryError} if the repository has problems, and
 * `RepositoryRootError` if `dir` is not a directory.
 */
export async function clusterObjects(dir: string, options: LoadOptions = {}): Promise<ClusterObjects> {
  const result = await loadRepository(dir, options);
  if (!result.valid) throw new InvalidRepositoryError(dir, result.problems);
  return objectsOf(result);
}
