/**
 * Helpers for the controller scenarios: a simulation with controllers on a
 * fast clock, YAML applied with kubectl, a pod watch through client-node
 * that records what a client sees, and requests to the admin endpoint.
 */
import { request } from 'node:https';
import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import type { SimulationOptions } from '../../../sim/simulation.ts';
import type { KubectlResult, SimFixture } from '../../helpers/sim.ts';
import { startSimFixture } from '../../helpers/sim.ts';

/** A simulation with controllers on, plus a KubeConfig for client-node. */
export interface ControllerFixture extends SimFixture {
  kc: KubeConfig;
  /** `kubectl apply -f -` of a YAML text; fails the test on a non-zero exit. */
  apply(yaml: string): Promise<KubectlResult>;
  /** `kubectl` that must succeed; returns stdout. */
  ok(args: readonly string[]): Promise<string>;
}

/** Starts kube-sim with controllers, time scale 100 unless told otherwise, seed 7. */
export async function startControllerFixture(options: SimulationOptions = {}): Promise<ControllerFixture> {
  const f = await startSimFixture({ controllers: true, timeScale: 100, seed: 7, ...options });
  const kc = new KubeConfig();
  kc.loadFromFile(f.kubeconfigPath);
  const ok = async (args: readonly string[]): Promise<string> => {
    const r = await f.kubectl(args);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  };
  return {
    ...f,
    kc,
    ok,
    apply: async (yaml) => {
      const r = await f.kubectl(['apply', '-f', '-'], { input: yaml });
      if (r.code !== 0) throw new Error(`kubectl apply exited ${r.code}: ${r.stderr}`);
      return r;
    },
  };
}

/** One pod as a watch showed it. */
export interface PodSighting {
  type: string;
  name: string;
  revision: string;
  image: string;
  phase: string;
  ready: boolean;
  terminating: boolean;
}

/** A running watch on the pods of a namespace. */
export interface PodWatch {
  readonly seen: PodSighting[];
  stop(): void;
}

function sighting(type: string, pod: V1Pod): PodSighting {
  const labels = pod.metadata?.labels ?? {};
  return {
    type,
    name: pod.metadata?.name ?? '',
    revision: labels['controller-revision-hash'] ?? labels['pod-template-hash'] ?? '',
    image: pod.spec?.containers[0]?.image ?? '',
    phase: pod.status?.phase ?? '',
    ready: (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
    terminating: pod.metadata?.deletionTimestamp !== undefined,
  };
}

/** Watches pods in `namespace` with client-node's Watch, recording every event in order. */
export async function watchPods(kc: KubeConfig, namespace: string): Promise<PodWatch> {
  const seen: PodSighting[] = [];
  const watch = new Watch(kc);
  const controller = await watch.watch(
    `/api/v1/namespaces/${namespace}/pods`,
    { allowWatchBookmarks: false },
    (type, obj: KubernetesObject) => {
      if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') seen.push(sighting(type, obj));
    },
    () => undefined,
  );
  return { seen, stop: () => controller.abort() };
}

/** A running watch that keeps every object it was sent, with the simulated time it arrived. */
export interface ObjectWatch<T> {
  readonly seen: { type: string; object: T; simTimeMs: number }[];
  stop(): void;
}

/** Watches any collection path (e.g. `/apis/apps/v1/namespaces/x/statefulsets`) with client-node. */
export async function watchObjects<T>(f: ControllerFixture, path: string): Promise<ObjectWatch<T>> {
  const seen: { type: string; object: T; simTimeMs: number }[] = [];
  const controller = await new Watch(f.kc).watch(path, {}, (type, obj: T) => seen.push({ type, object: obj, simTimeMs: f.sim.clock.now() }), () => undefined);
  return { seen, stop: () => controller.abort() };
}

/** The response of an admin request. */
export interface AdminResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/**
 * A request to `/rollgate-sim/clusters/<cluster>/<path>` with the cluster's
 * token (or `token`, `null` for none).
 */
export function admin(f: SimFixture, path: string, options: { method?: string; body?: unknown; token?: string | null; cluster?: string } = {}): Promise<AdminResponse> {
  const cluster = f.sim.cluster(options.cluster);
  const url = new URL(`https://127.0.0.1:${f.sim.port}/rollgate-sim/clusters/${cluster.name}/${path.replace(/^\//, '')}`);
  const token = options.token === undefined ? cluster.token : options.token;
  const body = options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', ca: f.sim.api.caPem, headers: { ...(token !== null ? { Authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // not JSON: keep the text
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A StatefulSet manifest with the fields the scenarios vary. */
export function statefulSetYaml(o: { name: string; namespace: string; replicas?: number; image: string; strategy?: string; podManagementPolicy?: string; minReadySeconds?: number; claims?: boolean; probe?: boolean }): string {
  return `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: ${o.name}
  namespace: ${o.namespace}
spec:
  serviceName: ${o.name}
  replicas: ${o.replicas ?? 3}
  ${o.podManagementPolicy ? `podManagementPolicy: ${o.podManagementPolicy}` : ''}
  ${o.minReadySeconds ? `minReadySeconds: ${o.minReadySeconds}` : ''}
  selector:
    matchLabels: {app: ${o.name}}
${o.strategy ? o.strategy.replace(/^/gm, '  ') : ''}
  template:
    metadata:
      labels: {app: ${o.name}}
    spec:
      containers:
        - name: app
          image: ${o.image}
${o.probe ? '          readinessProbe: {httpGet: {path: /, port: 80}, initialDelaySeconds: 5}\n' : ''}${
    o.claims
      ? `  volumeClaimTemplates:
    - metadata: {name: data}
      spec:
        accessModes: [ReadWriteOnce]
        resources: {requests: {storage: 1Gi}}
`
      : ''
  }`;
}

/** The JSON patch that sets the first container's image, for `kubectl patch --type=json`. */
export function imagePatch(image: string): string {
  return JSON.stringify([{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: image }]);
}
