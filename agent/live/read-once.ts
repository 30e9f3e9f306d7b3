/**
 * A one-shot read of what the planner needs from each cluster: the target
 * kinds and the pods of every namespace the repository's targets live in.
 * `rollgate plan` uses it; the agent keeps the same objects current with its
 * watch cache instead.
 */
import { KubeConfig, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import type { KubeObject, Target } from '../manifests/index.ts';

/** The kinds the planner reads, with their API versions. */
const readKinds = [
  { apiVersion: 'pingcap.com/v1alpha1', kind: 'TidbCluster' },
  { apiVersion: 'app.redislabs.com/v1', kind: 'RedisEnterpriseCluster' },
  { apiVersion: 'apps/v1', kind: 'StatefulSet' },
  { apiVersion: 'apps/v1', kind: 'Deployment' },
  { apiVersion: 'v1', kind: 'Pod' },
] as const;

/** A cluster could not be read; the message names the cluster, its context and server, and what to check. */
export class ClusterReadError extends Error {
  override readonly name = 'ClusterReadError';
  readonly cluster: string;
  constructor(cluster: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.cluster = cluster;
  }
}

/** Options of {@link readClusters}. */
export interface ReadOptions {
  /** Per request, in ms. Default 30 s. */
  readonly timeoutMs?: number;
  /** Objects per list page. Default 500, as kubectl pages. */
  readonly pageSize?: number;
}

function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** The server URL of a kubeconfig context, without credentials, for messages. */
function serverOf(kc: KubeConfig, context: string): string {
  const ctx = kc.getContextObject(context);
  const cluster = ctx === null ? null : kc.getCluster(ctx.cluster);
  if (cluster === null) return 'an unknown server';
  try {
    const url = new URL(cluster.server);
    url.username = '';
    url.password = '';
    return url.toString().replace(/\/$/, '');
  } catch {
    return cluster.server;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Reads the objects of each cluster the targets name. `contexts` maps a
 * cluster to its kubeconfig context (default: the cluster's own name). A
 * custom resource whose definition is not installed reads as none of it.
 */
export async function readClusters(kubeConfig: KubeConfig, targets: readonly Target[], contexts: ReadonlyMap<string, string> = new Map(), options: ReadOptions = {}): Promise<Map<string, KubeObject[]>> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const pageSize = options.pageSize ?? 500;
  const namespaces = new Map<string, Set<string>>();
  for (const t of targets) namespaces.set(t.cluster, (namespaces.get(t.cluster) ?? new Set()).add(t.namespace));
  const out = new Map<string, KubeObject[]>();
  await Promise.all(
    [...namespaces.entries()].map(async ([cluster, inCluster]) => {
      const context = contexts.get(cluster) ?? cluster;
      if (kubeConfig.getContextObject(context) === null) {
        throw new ClusterReadError(cluster, `the kubeconfig has no context "${context}" for cluster "${cluster}" of rollgate.yaml: add it, or name the context with --context`);
      }
      const kc = new KubeConfig();
      kc.loadFromString(kubeConfig.exportConfig());
      kc.setCurrentContext(context);
      const api = KubernetesObjectApi.makeApiClient(kc);
      const objects: KubeObject[] = [];
      for (const namespace of [...inCluster].sort()) {
        for (const { apiVersion, kind } of readKinds) {
          let continueToken: string | undefined;
          do {
            const what = `listing ${kind} in namespace ${namespace} of cluster "${cluster}" (context ${context}, ${serverOf(kc, context)})`;
            let page;
            try {
              page = await withTimeout(api.list<KubernetesObject>(apiVersion, kind, namespace, undefined, undefined, undefined, undefined, undefined, pageSize, continueToken), timeoutMs, what);
            } catch (err) {
              const status = statusOf(err);
              // A definition that is not installed: its targets will be created, which the plan says.
              if (status === 404 || (err instanceof Error && /Unrecognized API version and kind|resource .* not found/i.test(err.message))) break;
              const hint = status === 401 ? ': the credentials were refused, check the kubeconfig' : status === 403 ? ': forbidden, rollgate needs list on this resource' : '';
              const reason = err instanceof Error ? err.message.split('\n', 1)[0] : String(err);
              throw new ClusterReadError(cluster, `${what} failed${status !== undefined ? ` (HTTP ${status})` : ''}${hint}: ${reason}`, { cause: err });
            }
            for (const item of page.items) objects.push({ ...(item as unknown as KubeObject), apiVersion, kind });
            continueToken = page.metadata?._continue || undefined;
          } while (continueToken !== undefined);
        }
      }
      out.set(cluster, objects);
    }),
  );
  return out;
}
