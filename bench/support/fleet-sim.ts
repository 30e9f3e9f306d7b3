/**
 * kube-sim for the fleet benchmark, in its own process so that its work
 * never counts against the agent's CPU or memory: one cluster with the
 * controllers and the TiDB Operator model on, at a given time scale.
 *
 * Started as `node bench/support/fleet-sim.ts <options JSON>` (see
 * {@link FleetSimOptions}); it writes the kubeconfig, prints `{"ready":…}`,
 * then answers one JSON line per command line on stdin:
 *
 * - `{"cmd":"load","file":F}`: creates the objects of the JSON array in F;
 *   answers `{"created":n,"errors":[…]}`.
 * - `{"cmd":"pods"}`: `{"pods":n,"ready":m}`, pods that exist and are Running and Ready.
 * - `{"cmd":"record","since":s}`: the stamped record after `s` (see {@link StampedEvent}): `{"events":[…],"last":seq}`.
 * - `{"cmd":"requests"}`: API requests by `verb resource` since the last call (the counts are then reset).
 * - `{"cmd":"rss"}`: `{"rss":bytes}` of this process.
 * - `{"cmd":"lag"}`: this process's event-loop delay since the last call, ms: `{"p50":…,"p99":…,"max":…}`.
 * - `{"cmd":"exit"}`: closes the simulation and exits.
 *
 * Every stamp is `performance.timeOrigin + performance.now()`, taken in the
 * record's subscription, which runs synchronously with the store change:
 * the wall time (epoch ms) at which the change was in the API. The other
 * processes of the benchmark stamp the same way, so the figures subtract
 * stamps across processes of one machine.
 */
import { readFile } from 'node:fs/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import type { KubeObject } from '../../sim/api/object.ts';
import type { SimEventType } from '../../sim/controllers/event-record.ts';
import { isPodReady } from '../../sim/controllers/objects.ts';
import type { ImageCatalogue } from '../../sim/images.ts';
import { startSimulation } from '../../sim/simulation.ts';

/** What the parent passes as the one argument, JSON. */
export interface FleetSimOptions {
  /** The cluster's name: the kubeconfig context. */
  readonly cluster: string;
  /** Simulated ms per wall ms. */
  readonly timeScale: number;
  readonly images: ImageCatalogue;
  /** Where the kubeconfig is written. */
  readonly kubeconfig: string;
  /** Simulated nodes. */
  readonly nodes: number;
}

/** One entry of the stamped record the benchmark reads. */
export interface StampedEvent {
  readonly seq: number;
  /** Wall time, epoch ms (sub-millisecond), when the change was stored. */
  readonly wall: number;
  readonly type: SimEventType;
  readonly actor: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly image?: string;
}

/** The types of record entries the benchmark reads; the rest is not kept. */
const kept: ReadonlySet<SimEventType> = new Set<SimEventType>(['PodReady', 'PodTerminating', 'ClientWrite']);

/** Wall time as epoch ms with sub-millisecond precision, comparable across processes of one machine. */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

// Only when run as the child process: importing this module for its types does nothing.
if (import.meta.main) {
  const options = JSON.parse(process.argv[2] ?? '{}') as FleetSimOptions;
  const sim = await startSimulation({ clusters: [options.cluster], timeScale: options.timeScale, images: options.images, controllers: { nodes: options.nodes }, onRequest: (r) => countRequest(`${r.verb} ${r.resource}${r.subresource !== '' ? `/${r.subresource}` : ''}`) });
  const requests = new Map<string, number>();
  function countRequest(key: string): void {
    requests.set(key, (requests.get(key) ?? 0) + 1);
  }
  const runtime = sim.runtime(options.cluster);
  const { store } = sim.cluster(options.cluster);
  const record: StampedEvent[] = [];
  runtime.events.subscribe((event) => {
    if (!kept.has(event.type)) return;
    record.push({ seq: event.seq, wall: wallNow(), type: event.type, actor: event.actor, kind: event.kind, namespace: event.namespace ?? '', name: event.name, ...(event.image !== undefined ? { image: event.image } : {}) });
  });
  await sim.writeKubeconfig(options.kubeconfig, options.cluster);
  const reply = (value: unknown): void => void process.stdout.write(`${JSON.stringify(value)}\n`);
  reply({ ready: true, url: sim.cluster(options.cluster).url });

  const podType = runtime.types.pod;
  // How late this process's event loop runs: a busy simulation delays every watch event and every answer.
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  for await (const line of createInterface({ input: process.stdin })) {
    const command = JSON.parse(line) as { cmd: string; file?: string; since?: number };
    if (command.cmd === 'load') {
      const objects = JSON.parse(await readFile(command.file ?? '', 'utf8')) as KubeObject[];
      const report = sim.load(options.cluster, objects);
      reply({ created: report.created.length, errors: report.errors });
    } else if (command.cmd === 'pods') {
      const pods = store.list(podType, {}).items;
      const ready = pods.filter(isPodReady).length;
      reply({ pods: pods.length, ready });
    } else if (command.cmd === 'record') {
      const since = command.since ?? 0;
      reply({ events: record.filter((e) => e.seq > since), last: runtime.events.lastSeq });
    } else if (command.cmd === 'requests') {
      reply(Object.fromEntries(requests));
      requests.clear();
    } else if (command.cmd === 'rss') {
      reply({ rss: process.memoryUsage().rss });
    } else if (command.cmd === 'lag') {
      reply({ p50: delay.percentile(50) / 1e6, p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 });
      delay.reset();
    } else if (command.cmd === 'exit') break;
    else reply({ error: `unknown command ${JSON.stringify(command.cmd)}` });
  }
  await sim.close();
  process.exit(0);
}
