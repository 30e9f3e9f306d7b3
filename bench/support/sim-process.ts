/**
 * A kube-sim in its own process for benchmarks, so the figures measure the
 * server alone: it loads N pods, prints its connection details as one JSON
 * line, then answers `rss` on stdin with its resident memory.
 */
import { createInterface } from 'node:readline';
import type { ResourceType } from '../../sim/api/resources.ts';
import { startSimulation } from '../../sim/simulation.ts';

const pods = Number(process.argv[2] ?? '10000');
const sim = await startSimulation({ clusters: ['bench'] });
const { store } = sim.cluster();
const podType = store.registry.lookup('', 'v1', 'pods') as ResourceType;
for (let i = 0; i < pods; i++) {
  store.create(
    podType,
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `pod-${String(i).padStart(5, '0')}`, labels: { app: `app-${i % 100}`, tier: i % 2 ? 'db' : 'web' } },
      spec: { nodeName: `node-${i % 10}`, containers: [{ name: 'main', image: 'pingcap/tikv:v7.5.1', ports: [{ containerPort: 20160 }], env: [{ name: 'TZ', value: 'UTC' }] }] },
    },
    'default',
  );
}
globalThis.gc?.();
process.stdout.write(`${JSON.stringify({ url: sim.cluster().url, token: sim.cluster().token, ca: sim.api.caPem })}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'rss') {
    globalThis.gc?.();
    process.stdout.write(`${JSON.stringify({ rss: process.memoryUsage().rss, heapUsed: process.memoryUsage().heapUsed })}\n`);
  } else if (line === 'touch') {
    // Modifies every pod once: the event source of the watch fan-out figure.
    for (const pod of store.list(podType, { namespace: 'default' }).items) {
      const next = structuredClone(pod);
      next.metadata.labels = { ...next.metadata.labels, touched: 'yes' };
      store.update(podType, next, 'default', pod.metadata.name ?? '');
    }
    process.stdout.write('{"touched":true}\n');
  } else if (line === 'exit') break;
}
await sim.close();
