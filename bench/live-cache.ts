/**
 * The live cache under load: how long a change takes from its commit in
 * kube-sim to a cache subscriber (writes through the API with client-node,
 * one at a time), and the resident memory of a process caching 1,000
 * TidbClusters and 3,000 pods. The memory is measured in a child process
 * that holds only the cache, with the server in this one.
 *
 * Run: `node bench/live-cache.ts [writes] [tidbclusters] [pods]` (defaults 300, 1000, 3000)
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { createLiveCache, resources } from '../agent/live/index.ts';
import type { KubeObject } from '../sim/api/object.ts';
import { startSimulation } from '../sim/simulation.ts';
import { median, percentile, printFigures } from './support/report.ts';

if (process.argv[2] === '--holder') {
  // The child: a cache of pods and TidbClusters, nothing else, then its memory.
  const kc = new KubeConfig();
  kc.loadFromFile(process.argv[3] ?? '');
  globalThis.gc?.();
  const { rss: before, heapUsed: heapBefore } = process.memoryUsage();
  const cache = createLiveCache({ kubeConfig: kc, resources: [resources.pods, resources.tidbClusters] });
  const t0 = performance.now();
  await cache.start();
  const syncMs = performance.now() - t0;
  globalThis.gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  const objects = cache.list(resources.pods).length + cache.list(resources.tidbClusters).length;
  await cache.stop();
  process.stdout.write(`${JSON.stringify({ before, heapBefore, rss, heapUsed, syncMs, objects })}\n`);
  process.exit(0);
}

const writes = Number(process.argv[2] ?? '300');
const tidbClusters = Number(process.argv[3] ?? '1000');
const pods = Number(process.argv[4] ?? '3000');

// ---- event latency: commit in kube-sim → cache subscriber ------------------
const sim = await startSimulation({ clusters: ['bench'] });
const kc = new KubeConfig();
kc.loadFromString(sim.kubeconfig());
const core = kc.makeApiClient(CoreV1Api);
await core.createNamespace({ body: { metadata: { name: 'lat' } } });
await core.createNamespacedPod({ namespace: 'lat', body: { metadata: { name: 'target', labels: { n: '0' } }, spec: { containers: [{ name: 'app', image: 'pingcap/tikv:v7.5.1' }] } } });

const committedAt = new Map<string, number>();
const { store } = sim.cluster();
store.subscribe((event) => {
  if (event.object.metadata.name === 'target') committedAt.set(String(event.resourceVersion), performance.now());
});
const cache = createLiveCache({ kubeConfig: kc, resources: [resources.pods], namespaces: ['lat'] });
const fromCommit: number[] = [];
const fromRequest: number[] = [];
let requestStart = 0;
let arrived: (() => void) | undefined;
cache.subscribe((event) => {
  const now = performance.now();
  const committed = committedAt.get(event.object.metadata.resourceVersion ?? '');
  if (committed === undefined || event.type !== 'MODIFIED') return;
  fromCommit.push(now - committed);
  fromRequest.push(now - requestStart);
  arrived?.();
});
await cache.start();
// The first write must not race the watch request; opening a watch is no event, so look.
while (!cache.health().resources.every((r) => r.watching)) await new Promise((r) => setTimeout(r, 5));
for (let i = 1; i <= writes; i++) {
  const seen = new Promise<void>((resolve) => (arrived = resolve));
  requestStart = performance.now();
  await core.patchNamespacedPod({ namespace: 'lat', name: 'target', body: [{ op: 'replace', path: '/metadata/labels/n', value: String(i) }] });
  await seen;
}
await cache.stop();
await core.deleteNamespacedPod({ namespace: 'lat', name: 'target', gracePeriodSeconds: 0 });

// ---- memory: a process caching TidbClusters and pods ------------------------
function tidbCluster(i: number): KubeObject {
  const name = `tc-${String(i).padStart(4, '0')}`;
  const component = (replicas: number, image: string) => ({ baseImage: image, replicas, requests: { storage: '10Gi', cpu: '1', memory: '2Gi' }, config: { log: { level: 'info' } } });
  return {
    apiVersion: 'pingcap.com/v1alpha1',
    kind: 'TidbCluster',
    metadata: { name, namespace: `tenant-${i % 50}`, labels: { team: `team-${i % 20}`, env: i % 3 ? 'prod' : 'staging' }, annotations: { 'rollgate.dev/source': `git@example.com:db/${name}.git` } },
    spec: { version: 'v7.5.1', timezone: 'UTC', pvReclaimPolicy: 'Retain', pd: component(3, 'pingcap/pd'), tikv: component(3, 'pingcap/tikv'), tidb: { ...component(2, 'pingcap/tidb'), service: { type: 'ClusterIP' } } },
    status: {
      clusterID: String(7_000_000_000 + i),
      pd: { phase: 'Normal', synced: true, statefulSet: { replicas: 3, readyReplicas: 3, currentRevision: `${name}-pd-6b9`, updateRevision: `${name}-pd-6b9` }, members: { [`${name}-pd-0`]: { name: `${name}-pd-0`, health: true } } },
      tikv: { phase: 'Normal', synced: true, statefulSet: { replicas: 3, readyReplicas: 3 }, stores: { '1': { id: '1', podName: `${name}-tikv-0`, state: 'Up' } } },
      tidb: { phase: 'Normal', statefulSet: { replicas: 2, readyReplicas: 2 } },
      conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', message: 'TiDB cluster is fully up and running', lastTransitionTime: '2026-01-01T00:00:00Z' }],
    },
  };
}

function pod(i: number): KubeObject {
  const set = `tc-${String(i % tidbClusters).padStart(4, '0')}-tikv`;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `${set}-${i}`, namespace: `tenant-${i % 50}`, labels: { 'app.kubernetes.io/component': 'tikv', 'controller-revision-hash': `${set}-6b9`, 'apps.kubernetes.io/pod-index': String(i % 3) }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: set, uid: `uid-${i}`, controller: true }] },
    spec: {
      nodeName: `node-${i % 10}`,
      containers: [{ name: 'tikv', image: 'pingcap/tikv:v7.5.1', ports: [{ containerPort: 20160, name: 'server' }], env: [{ name: 'TZ', value: 'UTC' }], resources: { requests: { cpu: '1', memory: '2Gi' } }, volumeMounts: [{ name: 'tikv', mountPath: '/var/lib/tikv' }] }],
      volumes: [{ name: 'tikv', persistentVolumeClaim: { claimName: `tikv-${set}-${i}` } }],
    },
    status: {
      phase: 'Running',
      podIP: `10.0.${(i >> 8) & 255}.${i & 255}`,
      conditions: [
        { type: 'Ready', status: 'True', lastTransitionTime: '2026-01-01T00:00:00Z' },
        { type: 'ContainersReady', status: 'True', lastTransitionTime: '2026-01-01T00:00:00Z' },
      ],
      containerStatuses: [{ name: 'tikv', ready: true, restartCount: 0, image: 'pingcap/tikv:v7.5.1', imageID: 'docker.io/pingcap/tikv@sha256:0', state: { running: { startedAt: '2026-01-01T00:00:00Z' } } }],
    },
  };
}

const objects = [...Array.from({ length: tidbClusters }, (_, i) => tidbCluster(i)), ...Array.from({ length: pods }, (_, i) => pod(i))];
const report = sim.load('bench', objects);
if (report.errors.length > 0) throw new Error(`loading the objects failed: ${report.errors.slice(0, 3).join('; ')}`);
const dir = await mkdtemp(join(tmpdir(), 'rollgate-bench-'));
const kubeconfigPath = join(dir, 'kubeconfig');
await sim.writeKubeconfig(kubeconfigPath);
const child = spawn(process.execPath, ['--expose-gc', new URL(import.meta.url).pathname, '--holder', kubeconfigPath], { stdio: ['ignore', 'pipe', 'inherit'] });
const line = await createInterface({ input: child.stdout })[Symbol.asyncIterator]().next();
const held = JSON.parse(String(line.value)) as { before: number; heapBefore: number; rss: number; heapUsed: number; syncMs: number; objects: number };
await sim.close();
await rm(dir, { recursive: true, force: true });
if (held.objects !== tidbClusters + pods) throw new Error(`the cache held ${held.objects} objects, expected ${tidbClusters + pods}`);

printFigures(`live cache: ${writes} writes one at a time; ${tidbClusters} TidbClusters + ${pods} pods cached`, [
  { name: 'event latency, commit → subscriber, p50', value: median(fromCommit), unit: 'ms' },
  { name: 'event latency, commit → subscriber, p95', value: percentile(fromCommit, 95), unit: 'ms', aim: { value: 50, better: 'lower' } },
  { name: 'write request start → subscriber, p50', value: median(fromRequest), unit: 'ms' },
  { name: 'write request start → subscriber, p95', value: percentile(fromRequest, 95), unit: 'ms' },
  { name: 'initial sync of all objects (list, 500/page)', value: held.syncMs, unit: 'ms', aim: { value: 2000, better: 'lower' } },
  { name: 'resident memory, modules loaded, no cache', value: held.before / 2 ** 20, unit: 'MiB' },
  { name: 'resident memory with every object cached', value: held.rss / 2 ** 20, unit: 'MiB', aim: { value: 256, better: 'lower' } },
  { name: 'resident memory the cache added', value: (held.rss - held.before) / 2 ** 20, unit: 'MiB' },
  { name: 'heap the cache added', value: (held.heapUsed - held.heapBefore) / 2 ** 20, unit: 'MiB' },
]);
process.exit(0);
