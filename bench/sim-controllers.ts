/**
 * Benchmark of kube-sim's controllers: how long a fleet of StatefulSets
 * takes to settle (every pod Running and Ready, every status written), how
 * long an image rollout across the whole fleet takes, and how much CPU the
 * controllers use while the cluster is idle (they must be event-driven, not
 * polling).
 *
 *   node bench/sim-controllers.ts [--sets 100] [--replicas 10] [--time-scale 100] [--idle-seconds 5]
 *
 * StatefulSets are created in-process through the store, so the figures are
 * the controllers' and the kubelet model's, not HTTP's.
 */
import { parseArgs } from 'node:util';
import type { KubeObject } from '../sim/api/object.ts';
import type { StoreEvent } from '../sim/api/store.ts';
import { startSimulation } from '../sim/simulation.ts';
import { printFigures, type Figure } from './support/report.ts';

const { values } = parseArgs({
  options: {
    sets: { type: 'string', default: '100' },
    replicas: { type: 'string', default: '10' },
    'time-scale': { type: 'string', default: '100' },
    'idle-seconds': { type: 'string', default: '5' },
    namespaces: { type: 'string', default: '10' },
  },
});
const sets = Number(values.sets);
const replicas = Number(values.replicas);
const timeScale = Number(values['time-scale']);
const idleSeconds = Number(values['idle-seconds']);
const namespaces = Number(values.namespaces);

const sim = await startSimulation({ controllers: true, timeScale, seed: 1 });
const rt = sim.runtime();
const { store, types } = rt;

function statefulSet(name: string, namespace: string, image: string): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name, namespace },
    spec: {
      serviceName: name,
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image, ports: [{ containerPort: 80 }] }] } },
    },
  };
}

/** The StatefulSets whose status says every pod is Ready at `image` and nothing is left to roll. */
function isSettled(set: KubeObject, image: string): boolean {
  const status = (set.status ?? {}) as Record<string, unknown>;
  const spec = set.spec as { template: { spec: { containers: { image: string }[] } } };
  return (
    spec.template.spec.containers[0]?.image === image &&
    status['readyReplicas'] === replicas &&
    status['updatedReplicas'] === replicas &&
    status['currentRevision'] === status['updateRevision'] &&
    status['observedGeneration'] === set.metadata.generation
  );
}

/** Resolves when every StatefulSet is settled at `image`, checked on StatefulSet changes only (no polling). */
function settledAt(image: string): Promise<void> {
  const pending = new Set(store.list(types.statefulSet, {}).items.filter((s) => !isSettled(s, image)).map((s) => `${s.metadata.namespace ?? ''}/${s.metadata.name ?? ''}`));
  return new Promise((resolve) => {
    const unsubscribe = store.subscribe((e: StoreEvent) => {
      if (e.resource !== types.statefulSet) return;
      const key = `${e.object.metadata.namespace ?? ''}/${e.object.metadata.name ?? ''}`;
      if (e.type !== 'DELETED' && isSettled(e.object, image)) pending.delete(key);
      else pending.add(key);
      if (pending.size > 0) return;
      unsubscribe();
      resolve();
    });
  });
}

function cpuPercent(fromCpu: NodeJS.CpuUsage, wallMs: number): number {
  const used = process.cpuUsage(fromCpu);
  return ((used.user + used.system) / 1000 / wallMs) * 100;
}

async function phase(label: string, action: () => void, image: string): Promise<Record<string, string | number>> {
  const rv0 = store.resourceVersion;
  const reconciles0 = rt.manager.reconcileCount;
  const sim0 = sim.clock.now();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const settled = settledAt(image);
  action();
  await settled;
  const wall = performance.now() - t0;
  return {
    phase: label,
    'wall s': Number((wall / 1000).toFixed(2)),
    'simulated s': Number(((sim.clock.now() - sim0) / 1000).toFixed(1)),
    'CPU % of a core': Number(cpuPercent(cpu0, wall).toFixed(0)),
    'stored writes': store.resourceVersion - rv0,
    reconciles: rt.manager.reconcileCount - reconciles0,
  };
}

for (let n = 0; n < namespaces; n++) store.create(types.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: `bench-${n}` } }, undefined);
const nsOf = (i: number) => `bench-${i % namespaces}`;

const results: Record<string, string | number>[] = [];
results.push(
  await phase(
    `create ${sets} StatefulSets x ${replicas} replicas`,
    () => {
      for (let i = 0; i < sets; i++) store.create(types.statefulSet, statefulSet(`set-${i}`, nsOf(i), 'nginx:1.25'), nsOf(i));
    },
    'nginx:1.25',
  ),
);
results.push(
  await phase(
    `roll ${sets * replicas} pods to a new image`,
    () => {
      for (let i = 0; i < sets; i++) {
        const cur = store.get(types.statefulSet, nsOf(i), `set-${i}`);
        const next = structuredClone(cur);
        (next.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0]!.image = 'nginx:1.26';
        store.update(types.statefulSet, next, nsOf(i), `set-${i}`);
      }
    },
    'nginx:1.26',
  ),
);

// Idle: nothing changes; a polling controller would burn CPU here.
const pods = store.list(types.pod, {}).items.length;
const rvBefore = store.resourceVersion;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await new Promise((r) => setTimeout(r, idleSeconds * 1000));
const idleWall = performance.now() - t0;
const idle = cpuPercent(cpu0, idleWall);
const mem = process.memoryUsage();

const [created, rolled] = results;
const phaseFigures = (name: string, r: Record<string, string | number> | undefined): Figure[] => [
  { name: `${name}: wall time`, value: Number(r?.['wall s'] ?? NaN), unit: 's' },
  { name: `${name}: simulated time`, value: Number(r?.['simulated s'] ?? NaN), unit: 's' },
  { name: `${name}: CPU`, value: Number(r?.['CPU % of a core'] ?? NaN), unit: '% core' },
  { name: `${name}: stored writes`, value: Number(r?.['stored writes'] ?? NaN), unit: 'writes' },
];
printFigures(`kube-sim controllers: ${sets} StatefulSets × ${replicas} replicas = ${sets * replicas} pods in ${namespaces} namespaces, time scale ${timeScale}, 3 nodes`, [
  ...phaseFigures(`create ${sets * replicas} pods`, created),
  ...phaseFigures(`roll ${sets * replicas} pods`, rolled),
  // Event-driven controllers do nothing while nothing changes; a polling one would burn CPU here.
  { name: `idle CPU with ${pods} pods`, value: idle, unit: '% core', aim: { value: 2, better: 'lower' } },
  { name: '  writes while idle', value: store.resourceVersion - rvBefore, unit: 'writes', aim: { value: 0, better: 'atMost' } },
  { name: '  heap in use', value: mem.heapUsed / 2 ** 20, unit: 'MiB' },
  { name: '  resident memory', value: mem.rss / 2 ** 20, unit: 'MiB' },
]);
process.stdout.write(`idle for ${(idleWall / 1000).toFixed(1)} s; ${rt.manager.pending.delayed} requeue timers pending; event record ${rt.events.lastSeq} entries\n`);
await sim.close();
