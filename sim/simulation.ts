/**
 * A running kube-sim: the clock, one store per named cluster, and the HTTP
 * server in front of them. Tests start one in-process in milliseconds;
 * `rollgate sim` starts one for people and kubectl.
 */
import { randomBytes } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import { stringify as toYaml } from 'yaml';
import type { SimClock } from './clock.ts';
import { createClock } from './clock.ts';
import { createAdminHandler } from './admin.ts';
import { redisEnterpriseClusterCrd, tidbClusterCrd } from './api/crds.ts';
import { ApiError } from './api/errors.ts';
import type { KubeObject } from './api/object.ts';
import { isPlainObject } from './api/object.ts';
import type { ResourceType } from './api/resources.ts';
import { ClusterStore } from './api/store.ts';
import type { RuntimeOptions } from './controllers/runtime.ts';
import { ClusterRuntime } from './controllers/runtime.ts';
import type { ApiFaults } from './faults.ts';
import type { ImageCatalogue } from './images.ts';
import type { ApiServerOptions, RunningApiServer, ServedCluster } from './server/api-server.ts';
import { startApiServer } from './server/api-server.ts';
import { fieldTracker } from './server/patching.ts';

export interface SimulationOptions {
  /** Names of the clusters to serve; each becomes a kubeconfig context. Default `['sim']`. */
  clusters?: readonly string[];
  /** TCP port on 127.0.0.1; 0 (the default) picks a free one. */
  port?: number;
  /** Simulated ms per wall ms; default 1. */
  timeScale?: number;
  /** Simulated time at start, ms since the epoch; default the wall clock's. */
  startAt?: number;
  /** Watch history kept per cluster before older resourceVersions answer 410. */
  historyLimit?: number;
  /** Wall-clock interval of watch bookmarks; default 5 s. */
  bookmarkIntervalMs?: number;
  /** Hook run before every API request, after the simulation's own fault injection. */
  beforeRequest?: ApiServerOptions['beforeRequest'];
  /** Observer of every authenticated API request, with its authorization verb and resource (see `requestAttributes` in sim/server/api-server.ts). */
  onRequest?: ApiServerOptions['onRequest'];
  /** Handler for `/rollgate-sim/` paths the simulation's admin endpoint does not serve. */
  admin?: ApiServerOptions['admin'];
  /**
   * Run the simulated controllers (StatefulSet, Deployment, ReplicaSet), the
   * scheduler and the kubelets of simulated nodes: `true`, or options such
   * as `{ nodes: 5 }`. Default false: a bare API server where objects never
   * come alive, as the API-layer tests want. `rollgate sim` turns them on.
   */
  controllers?: boolean | ControllerOptions;
  /** Image catalogue of every cluster (see sim/images.ts); changeable later per cluster. */
  images?: ImageCatalogue;
  /** API faults of every cluster (see sim/faults.ts); changeable later per cluster. */
  faults?: ApiFaults;
  /** Seed of all simulated randomness, for reproducible runs. Default random (see `runtime().seed`). */
  seed?: number;
}

/** Options of the simulated controllers. */
export interface ControllerOptions {
  /** The simulated nodes of each cluster: how many, or their names. Default 3 (`sim-node-1` …). */
  nodes?: RuntimeOptions['nodes'];
  /** Called when a controller throws something other than an API error; default prints to stderr. */
  onError?: RuntimeOptions['onError'];
}

export interface SimCluster extends ServedCluster {
  /** Base URL of this cluster's API. */
  readonly url: string;
}

/** A running simulation. */
export interface Simulation {
  readonly clock: SimClock;
  readonly port: number;
  readonly clusters: ReadonlyMap<string, SimCluster>;
  cluster(name?: string): SimCluster;
  /** The kubeconfig (YAML) with one context per cluster; the first is current. */
  kubeconfig(currentContext?: string): string;
  writeKubeconfig(file: string, currentContext?: string): Promise<void>;
  /** Creates objects in a cluster, namespaces first, creating missing namespaces. */
  load(cluster: string, objects: readonly KubeObject[]): LoadReport;
  /** Closes every open watch (all clusters when omitted); returns how many. */
  dropWatches(cluster?: string): number;
  /**
   * The live parts of a cluster (default: the first): event record, image
   * catalogue, API faults, controller manager. Present even when
   * controllers are off; then only fault injection does anything.
   */
  runtime(cluster?: string): ClusterRuntime;
  readonly api: RunningApiServer;
  close(): Promise<void>;
}

export interface LoadReport {
  created: string[];
  errors: string[];
}

/** The namespaces every cluster starts with. */
const initialNamespaces = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

function createClusterStore(clock: SimClock, historyLimit: number | undefined): ClusterStore {
  const store = new ClusterStore({ clock, ...(historyLimit !== undefined ? { historyLimit } : {}) });
  store.trackFields(fieldTracker(clock));
  const ns = store.registry.lookup('', 'v1', 'namespaces') as ResourceType;
  for (const name of initialNamespaces) store.create(ns, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, undefined);
  const crdType = store.registry.lookup('apiextensions.k8s.io', 'v1', 'customresourcedefinitions') as ResourceType;
  for (const crd of [tidbClusterCrd(), redisEnterpriseClusterCrd()]) store.create(crdType, crd, undefined);
  return store;
}

/** Resolves an object's resource type from its apiVersion and kind. */
export function resourceTypeOf(store: ClusterStore, obj: KubeObject): ResourceType | undefined {
  const [group, version] = obj.apiVersion.includes('/') ? obj.apiVersion.split('/') : ['', obj.apiVersion];
  const t = store.registry.byGroupKind(group ?? '', obj.kind);
  return t && t.version === version ? t : undefined;
}

/** Starts a simulation. */
export async function startSimulation(options: SimulationOptions = {}): Promise<Simulation> {
  const names = options.clusters && options.clusters.length > 0 ? [...new Set(options.clusters)] : ['sim'];
  for (const name of names) if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new Error(`invalid cluster name "${name}": use letters, digits, '.', '_' and '-'`);
  const clock = createClock(options.timeScale ?? 1, options.startAt);
  const clusters = new Map<string, SimCluster>();
  const runtimes = new Map<string, ClusterRuntime>();
  const adminHandler = createAdminHandler((name) => {
    const c = clusters.get(name);
    const runtime = runtimes.get(name);
    return c && runtime ? { token: c.token, runtime } : undefined;
  });
  const userAdmin = options.admin;
  const userBeforeRequest = options.beforeRequest;
  const api = await startApiServer(options.port ?? 0, {
    clusters: () => clusters,
    ...(options.bookmarkIntervalMs !== undefined ? { bookmarkIntervalMs: options.bookmarkIntervalMs } : {}),
    ...(options.onRequest !== undefined ? { onRequest: options.onRequest } : {}),
    beforeRequest: async (cluster, req, url) => {
      await runtimes.get(cluster.name)?.faults.beforeRequest(req, url);
      await userBeforeRequest?.(cluster, req, url);
    },
    admin: async (req, res, path) => (await adminHandler(req, res, path)) || (userAdmin ? userAdmin(req, res, path) : false),
  });
  const controllerOptions = typeof options.controllers === 'object' ? options.controllers : {};
  for (const name of names) {
    const store = createClusterStore(clock, options.historyLimit);
    clusters.set(name, { name, token: randomBytes(24).toString('base64url'), store, url: api.clusterUrl(name) });
    runtimes.set(
      name,
      new ClusterRuntime(name, store, () => api.dropWatches(name), {
        controllers: options.controllers !== undefined && options.controllers !== false,
        ...(controllerOptions.nodes !== undefined ? { nodes: controllerOptions.nodes } : {}),
        ...(controllerOptions.onError ? { onError: controllerOptions.onError } : {}),
        ...(options.images ? { images: options.images } : {}),
        ...(options.faults ? { faults: options.faults } : {}),
        ...(options.seed !== undefined ? { seed: options.seed } : {}),
      }),
    );
  }

  const cluster = (name?: string): SimCluster => {
    const found = clusters.get(name ?? names[0] ?? 'sim');
    if (!found) throw new Error(`no cluster named "${name ?? ''}" in this simulation (have: ${[...clusters.keys()].join(', ')})`);
    return found;
  };

  const kubeconfig = (currentContext?: string): string =>
    toYaml({
      apiVersion: 'v1',
      kind: 'Config',
      preferences: {},
      clusters: [...clusters.values()].map((c) => ({ name: c.name, cluster: { server: c.url, 'certificate-authority-data': Buffer.from(api.caPem).toString('base64') } })),
      users: [...clusters.values()].map((c) => ({ name: c.name, user: { token: c.token } })),
      contexts: [...clusters.values()].map((c) => ({ name: c.name, context: { cluster: c.name, user: c.name, namespace: 'default' } })),
      'current-context': currentContext ?? names[0],
    });

  const load = (name: string, objects: readonly KubeObject[]): LoadReport => {
    const { store } = cluster(name);
    const report: LoadReport = { created: [], errors: [] };
    const nsType = store.registry.lookup('', 'v1', 'namespaces') as ResourceType;
    // Namespaces and CRDs first, so what depends on them can be created.
    const rank = (o: KubeObject) => (o.kind === 'Namespace' ? 0 : o.kind === 'CustomResourceDefinition' ? 1 : 2);
    for (const obj of [...objects].sort((a, b) => rank(a) - rank(b))) {
      const label = `${obj.kind}/${obj.metadata.name ?? ''}`;
      const t = resourceTypeOf(store, obj);
      if (!t) {
        report.errors.push(`${label}: no resource for ${obj.apiVersion} ${obj.kind} in cluster ${name}`);
        continue;
      }
      const namespace = t.namespaced ? (obj.metadata.namespace ?? 'default') : undefined;
      try {
        if (namespace && !store.find(nsType, undefined, namespace)) store.create(nsType, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } }, undefined);
        store.create(t, obj, namespace);
        report.created.push(namespace ? `${namespace}/${label}` : label);
      } catch (err) {
        report.errors.push(`${label}: ${err instanceof ApiError || err instanceof Error ? err.message : String(err)}`);
      }
    }
    return report;
  };

  return {
    clock,
    port: api.port,
    clusters,
    cluster,
    kubeconfig,
    // Written beside the target and renamed into place: whoever waits for the file (a script, a test) never reads it half written.
    writeKubeconfig: async (file, currentContext) => {
      const partial = `${file}.${process.pid}.partial`;
      await writeFile(partial, kubeconfig(currentContext), { mode: 0o600 });
      await rename(partial, file);
    },
    load,
    dropWatches: (c) => api.dropWatches(c),
    runtime: (name) => {
      const found = runtimes.get(cluster(name).name);
      if (!found) throw new Error(`no runtime for cluster "${name ?? ''}"`);
      return found;
    },
    api,
    close: async () => {
      for (const runtime of runtimes.values()) runtime.stop();
      await api.close();
      clock.stop();
    },
  };
}

/** True for a value that looks like a Kubernetes object (apiVersion, kind, metadata). */
export function isKubeObject(value: unknown): value is KubeObject {
  return isPlainObject(value) && typeof value['apiVersion'] === 'string' && typeof value['kind'] === 'string' && (value['metadata'] === undefined || isPlainObject(value['metadata']));
}
