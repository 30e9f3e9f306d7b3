/**
 * Gate reaction and rollout overhead of rollgate's executor, beside the
 * shell loop a user might write instead, measured in the same run against
 * the same kube-sim.
 *
 * A generic StatefulSet of N replicas is rolled to a new image, partition
 * driven, once by rollgate's executor (namespace `rg`) and once by a bash
 * loop of `kubectl patch` (partition) and `kubectl rollout status --watch`
 * (namespace `sh`), alternately, several runs each. kube-sim runs in this
 * process, as the rollout tests start it; its event record is read through a
 * subscription that fires synchronously with each stored change, so every
 * timestamp below is the wall time (performance.now()) at which the change
 * was in the API, without any watch delivery delay in between. (The
 * simulation shares this process's event loop with the executor, as in the
 * tests: its own work delays rollgate a little, never the kubectl processes.)
 *
 * - gate reaction: a new pod's Ready condition stored → the next write to
 *   the StatefulSet by a client (rollgate or kubectl), p50 and p95 over
 *   every step that has a next step (N-1 per run) and every run;
 * - step turnaround: pod Ready → the write that lowers the partition to the
 *   next ordinal (for the shell loop this is its next write);
 * - rollout overhead: wall time of the whole rollout (`apply()` call to its
 *   result; script start to exit) over the sum of the pod cycles (old pod
 *   deletion started → its replacement Ready), minus 1;
 * - for rollgate, where a step's time goes: when its watch cache received
 *   the Ready pod and the StatefulSet status that `rolloutStatus` judges;
 *   how many write requests it sent per pod (kube-sim's `beforeRequest`
 *   hook), how many of them changed the object (the event record), and how
 *   many came on a new TLS connection.
 *
 * The pod cycle's wall length is what makes the overhead figure meaningful:
 * it is `(stop + start + ready seconds) / time scale` and is printed.
 *
 * Run: `node bench/rollout-gates.ts [--replicas 10] [--runs 3] [--time-scale 10]
 *       [--start-seconds 10] [--ready-seconds 5] [--stop-seconds 2]`
 */
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { resources } from '../agent/live/index.ts';
import type { SimEvent } from '../sim/controllers/event-record.ts';
import type { KubeObject } from '../sim/api/object.ts';
import type { ResourceType } from '../sim/api/resources.ts';
import { namespace, startRolloutFixture, type RolloutFixture } from '../test/rollout/helpers.ts';
import { median, percentile, printFigures } from './support/report.ts';

const { values: args } = parseArgs({
  options: {
    replicas: { type: 'string', default: '10' },
    runs: { type: 'string', default: '3' },
    'time-scale': { type: 'string', default: '10' },
    'start-seconds': { type: 'string', default: '10' },
    'ready-seconds': { type: 'string', default: '5' },
    'stop-seconds': { type: 'string', default: '2' },
  },
});
const positive = (name: keyof typeof args): number => {
  const value = Number(args[name]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number, got ${JSON.stringify(args[name])}`);
  return value;
};
const replicas = Math.floor(positive('replicas'));
const runs = Math.floor(positive('runs'));
const timeScale = positive('time-scale');
const image = { startSeconds: positive('start-seconds'), readySeconds: positive('ready-seconds'), stopSeconds: positive('stop-seconds') };
if (replicas < 2) throw new Error('--replicas must be 2 or more: a reaction needs a next step');

const config = `apiVersion: rollgate.dev/v1alpha1
kind: Config
clusters:
  - name: sim
    paths: [manifests]
defaults:
  progressDeadline: 10m
  gates:
    - podReady: {}
    - rolloutStatus: {}
`;

function statefulSet(ns: string, tag: string): string {
  return `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
  namespace: ${ns}
spec:
  replicas: ${replicas}
  serviceName: web
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: app
          image: example/web:${tag}
          readinessProbe:
            httpGet: {path: /, port: 80}
`;
}

/** One stored change with the wall time it was stored at. */
interface Stamped {
  readonly wall: number;
  readonly event: SimEvent;
  /** For client writes to the StatefulSet: its partition after the write. */
  readonly partition?: number;
}

/** What one rollout (by either driver) showed. */
interface Measured {
  readonly totalMs: number;
  readonly cyclesMs: number;
  readonly reactions: number[];
  readonly turnarounds: number[];
  /** Problems with the rollout itself (wrong order, a pod moved before the previous was Ready). */
  readonly problems: string[];
}

/** Reads reaction, turnaround and pod cycles from the stamped record of one rollout from `from` to `to`. */
function measure(record: readonly Stamped[], ns: string, from: string, to: string, totalMs: number): Measured {
  const mine = record.filter((r) => r.event.namespace === ns);
  const problems: string[] = [];
  const reactions: number[] = [];
  const turnarounds: number[] = [];
  let cyclesMs = 0;
  const writes = mine.filter((r) => r.event.type === 'ClientWrite' && r.event.kind === 'StatefulSet');
  const order = mine.filter((r) => r.event.type === 'PodTerminating' && r.event.image === from).map((r) => r.event.name);
  const expected = Array.from({ length: replicas }, (_, i) => `web-${replicas - 1 - i}`);
  if (order.join() !== expected.join()) problems.push(`${ns}: pods restarted in the order ${order.join(', ')}`);
  for (let ordinal = replicas - 1; ordinal >= 0; ordinal--) {
    const name = `web-${ordinal}`;
    const terminating = mine.find((r) => r.event.type === 'PodTerminating' && r.event.name === name && r.event.image === from);
    const ready = mine.find((r) => r.event.type === 'PodReady' && r.event.name === name && r.event.image === to);
    if (terminating === undefined || ready === undefined) {
      problems.push(`${ns}: ${name} has no ${terminating === undefined ? 'deletion' : 'Ready'} in the record`);
      continue;
    }
    cyclesMs += ready.wall - terminating.wall;
    if (ordinal === 0) continue;
    const nextMoved = mine.find((r) => r.event.type === 'PodTerminating' && r.event.name === `web-${ordinal - 1}`);
    if (nextMoved !== undefined && nextMoved.wall < ready.wall) problems.push(`${ns}: web-${ordinal - 1} was deleted before ${name} was Ready`);
    const next = writes.find((r) => r.wall >= ready.wall);
    const lowered = writes.find((r) => r.wall >= ready.wall && r.partition !== undefined && r.partition < ordinal);
    if (next !== undefined) reactions.push(next.wall - ready.wall);
    if (lowered !== undefined) turnarounds.push(lowered.wall - ready.wall);
  }
  return { totalMs, cyclesMs, reactions, turnarounds, problems };
}

/** Runs the shell loop a user might write; resolves with its wall time. */
async function shellLoop(r: RolloutFixture, ns: string, tag: string): Promise<number> {
  const script = `set -euo pipefail
kubectl -n ${ns} patch sts web -p '{"spec":{"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":${replicas}}}}}' >/dev/null
kubectl -n ${ns} set image sts/web app=example/web:${tag} >/dev/null
for ((i = ${replicas - 1}; i >= 0; i--)); do
  kubectl -n ${ns} patch sts web -p "{\\"spec\\":{\\"updateStrategy\\":{\\"rollingUpdate\\":{\\"partition\\":$i}}}}" >/dev/null
  kubectl -n ${ns} rollout status sts/web --watch >/dev/null
done
`;
  const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: r.f.dir, KUBECONFIG: r.f.kubeconfigPath, KUBECACHEDIR: join(r.f.dir, 'kube-cache') };
  const start = performance.now();
  const child = spawn('bash', ['-c', script], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`the shell loop exited ${String(code)}: ${stderr}`);
  return performance.now() - start;
}

// Every write request the agent sends (not kubectl's, not watches), and whether it came on a new connection.
const agentRequests = { writes: 0, newConnections: 0, counting: false };
const sockets = new WeakSet<Socket>();
const r = await startRolloutFixture({
  timeScale,
  images: { defaults: image },
  beforeRequest: (_cluster, req) => {
    if (!agentRequests.counting || req.method === 'GET' || (req.headers['user-agent'] ?? '').startsWith('kubectl')) return;
    agentRequests.writes++;
    if (!sockets.has(req.socket)) agentRequests.newConnections++;
    sockets.add(req.socket);
  },
});
try {
  const store = r.f.sim.cluster('sim').store;
  const stsType = store.registry.lookup('apps', 'v1', 'statefulsets') as ResourceType;
  const record: Stamped[] = [];
  r.f.sim.runtime('sim').events.subscribe((event) => {
    const wall = performance.now();
    if (event.type === 'ClientWrite' && event.kind === 'StatefulSet' && event.namespace !== undefined) {
      const sts = store.find(stsType, event.namespace, event.name);
      const partition = (sts?.spec as { updateStrategy?: { rollingUpdate?: { partition?: number } } } | undefined)?.updateStrategy?.rollingUpdate?.partition;
      record.push({ wall, event, ...(partition !== undefined ? { partition } : {}) });
    } else if (event.type === 'PodReady' || event.type === 'PodTerminating') record.push({ wall, event });
  });
  // When rollgate's watch cache received each pod and StatefulSet of namespace rg.
  const cacheSeen: { wall: number; kind: 'pod' | 'sts'; object: KubeObject }[] = [];
  r.cache.subscribe((e) => {
    if (e.object.metadata.namespace !== 'rg') return;
    if (e.resource === resources.pods) cacheSeen.push({ wall: performance.now(), kind: 'pod', object: e.object });
    else if (e.resource === resources.statefulSets) cacheSeen.push({ wall: performance.now(), kind: 'sts', object: e.object });
  });

  const installed = await r.write({ 'rollgate.yaml': config, 'manifests/ns.yaml': namespace('rg'), 'manifests/web.yaml': statefulSet('rg', 'v0') });
  // The shell loop's StatefulSet: the same manifest in its own namespace, outside the repository.
  const load = r.f.sim.load('sim', [parseYaml(namespace('sh')) as KubeObject, parseYaml(statefulSet('sh', 'v0')) as KubeObject]);
  if (load.errors.length > 0) throw new Error(load.errors.join('\n'));
  await r.install(installed);
  const executor = r.executor();

  const rollgate: Measured[] = [];
  const shell: Measured[] = [];
  const cacheLag: { pod: number[]; sts: number[] } = { pod: [], sts: [] };
  let storedWrites = 0;
  for (let run = 1; run <= runs; run++) {
    const from = `example/web:v${run - 1}`;
    const to = `example/web:v${run}`;

    let since = record.length;
    const next = await r.write({ 'manifests/web.yaml': statefulSet('rg', `v${run}`) });
    const cacheSince = cacheSeen.length;
    agentRequests.counting = true;
    const start = performance.now();
    const outcomes = await executor.apply({ targets: next.targets, source: `run-${run}` });
    const total = performance.now() - start;
    agentRequests.counting = false;
    if ([...outcomes.values()].join() !== 'succeeded') throw new Error(`rollgate run ${run}: ${JSON.stringify([...outcomes])}`);
    const slice = record.slice(since);
    rollgate.push(measure(slice, 'rg', from, to, total));
    storedWrites += slice.filter((s) => s.event.type === 'ClientWrite' && s.event.namespace === 'rg').length;
    // Ready in the API → the cache has the Ready pod, and the StatefulSet status that counts it.
    for (const ready of slice.filter((s) => s.event.type === 'PodReady' && s.event.namespace === 'rg' && s.event.image === to)) {
      const seen = cacheSeen.slice(cacheSince);
      const pod = seen.find((c) => c.kind === 'pod' && c.wall >= ready.wall && c.object.metadata.name === ready.event.name && (c.object.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True'));
      const sts = seen.find((c) => c.kind === 'sts' && c.wall >= ready.wall && Number(c.object.metadata.resourceVersion ?? '0') > ready.event.resourceVersion && (c.object.status as { readyReplicas?: number } | undefined)?.readyReplicas === replicas);
      if (pod !== undefined) cacheLag.pod.push(pod.wall - ready.wall);
      if (sts !== undefined) cacheLag.sts.push(sts.wall - ready.wall);
    }

    since = record.length;
    const shellMs = await shellLoop(r, 'sh', `v${run}`);
    shell.push(measure(record.slice(since), 'sh', from, to, shellMs));
    process.stderr.write(`run ${run}/${runs}: rollgate ${(total / 1000).toFixed(1)} s, shell loop ${(shellMs / 1000).toFixed(1)} s\n`);
  }

  const problems = [...rollgate, ...shell].flatMap((m) => m.problems);
  for (const p of problems) process.stderr.write(`problem: ${p}\n`);
  const all = (list: readonly Measured[], pick: (m: Measured) => number[]): number[] => list.flatMap(pick);
  const overhead = (m: Measured): number => (m.totalMs / m.cyclesMs - 1) * 100;
  const perStep = (m: Measured): number => (m.totalMs - m.cyclesMs) / replicas;
  const rgReaction = all(rollgate, (m) => m.reactions);
  const shReaction = all(shell, (m) => m.reactions);
  const rgTurn = all(rollgate, (m) => m.turnarounds);
  const shTurn = all(shell, (m) => m.turnarounds);
  const rgOverhead = median(rollgate.map(overhead));
  const shOverhead = median(shell.map(overhead));
  const cycle = median([...rollgate, ...shell].map((m) => m.cyclesMs / replicas));
  process.stdout.write(`\npod cycle: ${image.stopSeconds} s stop + ${image.startSeconds} s start + ${image.readySeconds} s ready (simulated) at time scale ${timeScale}; measured ${cycle.toFixed(0)} ms of wall time per pod (median)\n`);
  printFigures(`Gate reaction and rollout overhead: StatefulSet of ${replicas}, ${runs} runs each, rollgate vs. a kubectl shell loop`, [
    { name: `rollgate reaction p50 (${rgReaction.length} steps)`, value: percentile(rgReaction, 50), unit: 'ms' },
    { name: 'rollgate reaction p95', value: percentile(rgReaction, 95), unit: 'ms', aim: { value: 50, better: 'lower' } },
    { name: 'rollgate Ready → partition lowered p50', value: percentile(rgTurn, 50), unit: 'ms' },
    { name: 'rollgate Ready → partition lowered p95', value: percentile(rgTurn, 95), unit: 'ms' },
    { name: `rollgate overhead (median of ${runs})`, value: rgOverhead, unit: '%', aim: { value: 2, better: 'lower' } },
    { name: '  time outside pod cycles, per pod (median)', value: median(rollgate.map(perStep)), unit: 'ms' },
    { name: '  cache got the Ready pod, p50 after the API', value: percentile(cacheLag.pod, 50), unit: 'ms' },
    { name: '  cache got the StatefulSet all Ready, p50', value: percentile(cacheLag.sts, 50), unit: 'ms' },
    { name: '  write requests per pod', value: agentRequests.writes / (runs * replicas), unit: 'req' },
    { name: '  of which changed something (stored changes)', value: storedWrites / (runs * replicas), unit: 'req' },
    { name: '  write requests on a new TLS connection', value: (100 * agentRequests.newConnections) / Math.max(1, agentRequests.writes), unit: '%' },
    { name: `shell loop reaction p50 (${shReaction.length} steps)`, value: percentile(shReaction, 50), unit: 'ms' },
    { name: 'shell loop reaction p95', value: percentile(shReaction, 95), unit: 'ms' },
    { name: 'shell loop Ready → partition lowered p95', value: percentile(shTurn, 95), unit: 'ms' },
    { name: `shell loop overhead (median of ${runs})`, value: shOverhead, unit: '%' },
    { name: '  time outside pod cycles, per pod (median)', value: median(shell.map(perStep)), unit: 'ms' },
    { name: 'shell loop / rollgate, reaction p95', value: percentile(shReaction, 95) / percentile(rgReaction, 95), unit: '×', aim: { value: 1, better: 'higher' } },
    { name: 'shell loop / rollgate, total rollout time', value: median(shell.map((m) => m.totalMs)) / median(rollgate.map((m) => m.totalMs)), unit: '×', aim: { value: 1, better: 'higher' } },
    { name: 'shell loop / rollgate, overhead', value: shOverhead / rgOverhead, unit: '×', aim: { value: 1, better: 'higher' } },
    { name: 'problems with either rollout', value: problems.length, unit: '', aim: { value: 0, better: 'atMost' } },
  ]);
} finally {
  await r.close();
}
process.exit(0);
