/**
 * rollgate at fleet scale: the agent as it runs in production, a
 * `node agent/cli/main.ts run --config FILE` child process, following a Git
 * repository of N TidbClusters (default 1,000) and M StatefulSets (default
 * 100) in a kube-sim of its own process (bench/support/fleet-sim.ts), with
 * the TiDB Operator model and the StatefulSet controller running at a
 * scaled clock. Each TidbCluster is PD×2, TiKV×1, TiDB×1 (3 StatefulSets and
 * 4 pods each), so the simulation of 1,000 of them fits beside the agent.
 * (PD×2, not ×1: kube-sim's TiDB Operator model waits to move the PD leader
 * off the pod it upgrades, and with one PD there is nowhere to move it, so
 * a single PD never upgrades; the real operator skips the transfer then.)
 *
 * Figures, each from outside the agent:
 *
 * 1. An agent managing N TidbClusters:
 *    - resident memory (VmRSS of /proc/<pid>/status) once it has synced:
 *      /readyz answers 200 and its CPU has gone quiet (the first apply of
 *      every target planned);
 *    - idle CPU (utime+stime of /proc/<pid>/stat) over windows of
 *      `--idle-seconds` with nothing changing, the median of `--runs`; the
 *      git processes it starts for its polls (cutime+cstime) are shown apart;
 *    - notice and plan: one TidbCluster's version bumped in one commit, from
 *      `git push` returning to the agent's first write to that TidbCluster in
 *      the API (the progress annotation of its first step), median of
 *      `--runs`, each a different TidbCluster spread over the repository.
 *      The agent learns of the push through a signed GitHub push webhook
 *      sent as soon as the push returned; one more change without a webhook
 *      shows the same through the `interval` poll (10 s), for scale.
 * 2. M rollouts running at once: one commit changes the image of all M
 *    StatefulSets (`--replicas` pods each, partition driven, gates podReady
 *    and rolloutStatus) with the agent's `concurrency` at M. Gate reaction as
 *    bench/rollout-gates.ts measures it: a new pod's Ready condition stored
 *    in the API → the agent's next write to that StatefulSet, over every pod
 *    that has a next step (ordinals above 0), p50/p95/max.
 *
 * API timestamps come from kube-sim's event record, stamped in the
 * subscription that runs synchronously with each stored change; this
 * process stamps the push the same way (performance.timeOrigin + now), so
 * the differences are wall time across processes of one machine.
 *
 * Other work on the machine shows in the figures; run it twice.
 *
 * Run: `node bench/fleet.ts [clusters] [rollouts] [--runs 3] [--idle-seconds 20]
 *       [--replicas 3] [--time-scale 20] [--agent-node-arg=--cpu-prof ...] [--heap-snapshots] [--no-status] [--keep]`
 * (`--agent-node-arg` passes a Node flag to the agent, e.g. `--cpu-prof
 * --agent-node-arg=--cpu-prof-dir=/tmp/prof`; `--heap-snapshots` has the agent
 * write a heap snapshot once synced and once after the rollouts; `--keep`
 * keeps the temporary directory, with the agent's log and the snapshots;
 * `--no-status` turns the agent's status commits off, to see what they cost.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { signGitHubBody } from '../agent/webhook/index.ts';
import { createTestRepository, testGitEnv, type TestRepository } from '../test/helpers/git-server.ts';
import { statefulSetManifest } from '../test/helpers/manifests.ts';
import type { FleetSimOptions, StampedEvent } from './support/fleet-sim.ts';
import { wallNow } from './support/fleet-sim.ts';
import { clockTicks, procCpu, procMemory } from './support/proc.ts';
import { median, percentile, printFigures, type Figure } from './support/report.ts';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    runs: { type: 'string', default: '3' },
    'idle-seconds': { type: 'string', default: '20' },
    replicas: { type: 'string', default: '3' },
    'time-scale': { type: 'string', default: '20' },
    'agent-node-arg': { type: 'string', multiple: true, default: [] },
    keep: { type: 'boolean', default: false },
    'heap-snapshots': { type: 'boolean', default: false },
    'no-status': { type: 'boolean', default: false },
  },
});
const whole = (name: string, text: string | undefined, min: number): number => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be a whole number of at least ${min}, got ${JSON.stringify(text)}`);
  return value;
};
const clusters = whole('clusters (first argument)', positionals[0] ?? '1000', 1);
const rollouts = whole('rollouts (second argument)', positionals[1] ?? '100', 1);
const runs = whole('--runs', args.runs, 1);
const idleSeconds = whole('--idle-seconds', args['idle-seconds'], 1);
const replicas = whole('--replicas', args.replicas, 2);
const timeScale = Number(args['time-scale']);
if (!(timeScale > 0)) throw new Error(`--time-scale must be a positive number, got ${JSON.stringify(args['time-scale'])}`);
if (rollouts > 1000) throw new Error('rollouts: the agent allows a concurrency of 1000 at most');

const contextName = 'fleet';
const hookSecret = `fleet-hook-${randomUUID()}`;
const namespaces = 10;
const tcName = (i: number): { namespace: string; name: string } => ({ namespace: `fleet-${i % namespaces}`, name: `tc-${String(i).padStart(4, '0')}` });
const stsName = (i: number): { namespace: string; name: string } => ({ namespace: `apps-${i % namespaces}`, name: `app-${String(i).padStart(3, '0')}` });

const rollgateYaml = `apiVersion: rollgate.dev/v1alpha1
kind: Config
clusters:
  - name: ${contextName}
    paths: [tidb, apps]
defaults:
  progressDeadline: 10m
  gates:
    - podReady: {}
    - rolloutStatus: {}
`;

function tidbClusterManifest(i: number, version: string): string {
  const { namespace, name } = tcName(i);
  return `apiVersion: pingcap.com/v1alpha1
kind: TidbCluster
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  version: ${version}
  timezone: UTC
  pvReclaimPolicy: Retain
  configUpdateStrategy: RollingUpdate
  pd:
    baseImage: pingcap/pd
    replicas: 2
    requests:
      storage: 1Gi
  tikv:
    baseImage: pingcap/tikv
    replicas: 1
    requests:
      storage: 1Gi
  tidb:
    baseImage: pingcap/tidb
    replicas: 1
    service:
      type: ClusterIP
`;
}

const appManifest = (i: number, tag: string): string => statefulSetManifest({ ...stsName(i), image: `example/app:${tag}`, replicas });
const tcPath = (i: number): string => `tidb/${tcName(i).namespace}/${tcName(i).name}.yaml`;
const appPath = (i: number): string => `apps/${stsName(i).namespace}/${stsName(i).name}.yaml`;
const targetId = (kind: string, ref: { namespace: string; name: string }): string => `${contextName}/${ref.namespace}/${kind}/${ref.name}`;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const log = (line: string): void => void process.stderr.write(`${line}\n`);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

/** Polls `check` every `intervalMs` until it returns a value; throws `what` after `timeoutMs`. */
async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>, intervalMs = 50): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** kube-sim's process: one JSON command line in, one JSON line out. */
interface SimProcess {
  readonly child: ChildProcess;
  ask<T>(command: Record<string, unknown>): Promise<T>;
  close(): Promise<void>;
}

async function startSim(options: FleetSimOptions): Promise<SimProcess> {
  const child = spawn(process.execPath, [new URL('./support/fleet-sim.ts', import.meta.url).pathname, JSON.stringify(options)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  let queue = Promise.resolve();
  const read = async <T>(): Promise<T> => {
    const next = await lines.next();
    if (next.done === true) throw new Error('kube-sim exited');
    return JSON.parse(String(next.value)) as T;
  };
  await read<{ ready: true }>();
  const ask = <T>(command: Record<string, unknown>): Promise<T> => {
    // One command at a time: answers come back in order on one stream.
    const answer = queue.then(() => {
      child.stdin?.write(`${JSON.stringify(command)}\n`);
      return read<T>();
    });
    queue = answer.then(() => undefined, () => undefined);
    return answer;
  };
  return {
    child,
    ask,
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin?.write('{"cmd":"exit"}\n');
      await Promise.race([exited, sleep(10_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/** The agent's process and its ops endpoint. */
interface AgentProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly url: string;
  readonly logFile: string;
  stop(): Promise<void>;
}

async function startAgent(root: string, repo: TestRepository, kubeconfig: string, nodeArgs: readonly string[]): Promise<AgentProcess> {
  const port = await freePort();
  const configFile = join(root, 'agent.yaml');
  await writeFile(
    configFile,
    `apiVersion: rollgate.dev/v1alpha1
kind: AgentConfig
repo: ${repo.bareDir}
interval: 10s
dataDir: ${join(root, 'agent-data')}
kubeconfig: ${kubeconfig}
concurrency: ${rollouts}
listen: 127.0.0.1:${port}
webhooks:
  githubSecretEnv: FLEET_HOOK_SECRET
${args['no-status'] ? 'status:\n  enabled: false\n' : ''}`,
  );
  const logFile = join(root, 'agent.log');
  const fd = openSync(logFile, 'w');
  const child = spawn(process.execPath, [...nodeArgs, 'agent/cli/main.ts', 'run', '--config', configFile], {
    cwd: new URL('..', import.meta.url).pathname,
    env: { ...testGitEnv(), FLEET_HOOK_SECRET: hookSecret },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error('the agent did not start');
  const pid = child.pid;
  return {
    child,
    pid,
    url: `http://127.0.0.1:${port}`,
    logFile,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(20_000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** The last lines of the agent's log, for an error message. */
function logTail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Sends the push webhook GitHub would send for `commit`; resolves with the HTTP status. */
async function sendPushWebhook(url: string, commit: string): Promise<number> {
  const body = JSON.stringify({ ref: 'refs/heads/main', before: '0'.repeat(40), after: commit, repository: { full_name: 'bench/fleet' }, commits: [] });
  const response = await fetch(`${url}/webhooks/github`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': signGitHubBody(hookSecret, body) },
    body,
  });
  await response.arrayBuffer();
  return response.status;
}

/** The agent's event-loop delay, ms, the highest p99 and max of the /metrics reads since `reset` (each read resets prom-client's histogram). */
const agentLag = { p99: 0, max: 0, reset(): void {
  this.p99 = 0;
  this.max = 0;
} };

/** Targets whose rollout phase metric is `phase` now. */
async function targetsInPhase(url: string, phase: string): Promise<Set<string>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const seconds = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  agentLag.p99 = Math.max(agentLag.p99, 1000 * seconds('nodejs_eventloop_lag_p99_seconds'));
  agentLag.max = Math.max(agentLag.max, 1000 * seconds('nodejs_eventloop_lag_max_seconds'));
  const found = new Set<string>();
  for (const match of text.matchAll(/^rollgate_rollout_phase\{target="([^"]+)",phase="([^"]+)"\} 1$/gm)) if (match[2] === phase && match[1] !== undefined) found.add(match[1]);
  return found;
}

/** The agent's V8 heap and external memory, MiB, from the Node.js metrics of its /metrics. */
async function heapOf(url: string): Promise<string> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string): string => {
    const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
    return match?.[1] === undefined ? '?' : (Number(match[1]) / 2 ** 20).toFixed(0);
  };
  return `heap used ${value('nodejs_heap_size_used_bytes')} of ${value('nodejs_heap_size_total_bytes')} MiB, external ${value('nodejs_external_memory_bytes')} MiB`;
}

/** With --heap-snapshots: has the agent write a heap snapshot (into the kept directory) and waits until it is written. */
async function heapSnapshot(agent: AgentProcess, dir: string, label: string): Promise<void> {
  if (!args['heap-snapshots']) return;
  const { readdir } = await import('node:fs/promises');
  const count = async (): Promise<number> => (await readdir(dir)).filter((f) => f.endsWith('.heapsnapshot')).length;
  const before = await count();
  agent.child.kill('SIGUSR2');
  await until(`the ${label} heap snapshot`, 120_000, async () => ((await count()) > before ? true : undefined), 200);
  // The file appears when writing starts; the agent answers again once it is done.
  await until(`the ${label} heap snapshot to be written`, 120_000, async () => ((await fetch(`${agent.url}/healthz`).then((r) => r.status, () => 0)) === 200 ? true : undefined), 200);
  log(`heap snapshot (${label}) written to ${dir}`);
}

/** Waits until the agent's own CPU stays under `percent` of a core over `windowMs`; returns how long that took. */
async function quiet(pid: number, ticks: number, percent: number, windowMs: number, timeoutMs: number): Promise<number> {
  const start = performance.now();
  return until('the agent to go quiet', timeoutMs, async () => {
    const before = procCpu(pid, ticks).selfMs;
    await sleep(windowMs);
    return (100 * (procCpu(pid, ticks).selfMs - before)) / windowMs < percent ? performance.now() - start : undefined;
  }, 0);
}

/** Gate reactions of one StatefulSet's rollout to `image`: each new pod Ready (ordinal above 0) → the next client write to the StatefulSet. */
function reactionsOf(record: readonly StampedEvent[], ref: { namespace: string; name: string }, image: string, podCount: number): { reactions: number[]; problems: string[] } {
  const mine = record.filter((e) => e.namespace === ref.namespace);
  const writes = mine.filter((e) => e.type === 'ClientWrite' && e.kind === 'StatefulSet' && e.name === ref.name);
  const reactions: number[] = [];
  const problems: string[] = [];
  for (let ordinal = podCount - 1; ordinal >= 1; ordinal--) {
    const pod = `${ref.name}-${ordinal}`;
    const ready = mine.find((e) => e.type === 'PodReady' && e.name === pod && e.image === image);
    if (ready === undefined) {
      problems.push(`${ref.namespace}/${pod}: no Ready at ${image} in the record`);
      continue;
    }
    const next = writes.find((w) => w.wall >= ready.wall);
    if (next === undefined) problems.push(`${ref.namespace}/${ref.name}: no write after ${pod} was Ready`);
    else reactions.push(next.wall - ready.wall);
  }
  return { reactions, problems };
}

const root = await mkdtemp(join(tmpdir(), 'rollgate-fleet-'));
let sim: SimProcess | undefined;
let agent: AgentProcess | undefined;
let repo: TestRepository | undefined;
let failed = false;
try {
  const started = performance.now();
  const ticks = clockTicks();
  log(`load average at the start: ${loadavg().map((l) => l.toFixed(1)).join(', ')} (other work on the machine shows in every figure)`);

  // ---- kube-sim with every object of the repository, all pods Ready -------------------------
  const kubeconfig = join(root, 'kubeconfig');
  // Pods start in 2 simulated seconds, stop in 1; containers with a readiness probe are Ready 1 s after.
  sim = await startSim({ cluster: contextName, timeScale, images: { defaults: { startSeconds: 2, readySeconds: 1, stopSeconds: 1 } }, kubeconfig, nodes: 20 });
  const objects: unknown[] = [];
  for (let i = 0; i < clusters; i++) objects.push(parseYaml(tidbClusterManifest(i, 'v7.5.1')));
  for (let i = 0; i < rollouts; i++) objects.push(parseYaml(appManifest(i, 'v1')));
  const objectsFile = join(root, 'objects.json');
  await writeFile(objectsFile, JSON.stringify(objects));
  const loaded = await sim.ask<{ created: number; errors: string[] }>({ cmd: 'load', file: objectsFile });
  if (loaded.errors.length > 0) throw new Error(`kube-sim refused objects: ${loaded.errors.slice(0, 5).join('; ')}`);
  const wantPods = 4 * clusters + replicas * rollouts;
  await until(`${wantPods} pods Ready in kube-sim`, 180_000, async () => {
    const { ready } = await sim?.ask<{ ready: number }>({ cmd: 'pods' }) ?? { ready: 0 };
    return ready >= wantPods ? true : undefined;
  }, 500);
  const simRss = (await sim.ask<{ rss: number }>({ cmd: 'rss' })).rss;
  log(`kube-sim: ${clusters} TidbClusters and ${rollouts} StatefulSets, ${wantPods} pods Ready, ${(simRss / 2 ** 20).toFixed(0)} MiB, after ${((performance.now() - started) / 1000).toFixed(1)} s`);

  // ---- the repository ----------------------------------------------------------------------
  repo = await createTestRepository(root);
  const files: Record<string, string> = { 'rollgate.yaml': rollgateYaml };
  for (let i = 0; i < clusters; i++) files[tcPath(i)] = tidbClusterManifest(i, 'v7.5.1');
  for (let i = 0; i < rollouts; i++) files[appPath(i)] = appManifest(i, 'v1');
  await repo.write(files);
  await repo.commit(`${clusters} TidbClusters, ${rollouts} StatefulSets`);
  await repo.push();

  // ---- the agent: synced, then its memory -----------------------------------------------------
  const agentStart = performance.now();
  const snapshots = args['heap-snapshots'] ? [`--heapsnapshot-signal=SIGUSR2`, `--diagnostic-dir=${root}`] : [];
  agent = await startAgent(root, repo, kubeconfig, [...snapshots, ...args['agent-node-arg']]);
  const a = agent;
  await until('the agent to answer /readyz with 200', 300_000, async () => {
    if (a.child.exitCode !== null) throw new Error(`the agent exited with ${a.child.exitCode}:\n${logTail(a.logFile)}`);
    const status = await fetch(`${a.url}/readyz`).then((r) => r.status, () => 0);
    return status === 200 ? true : undefined;
  }, 100);
  const readyMs = performance.now() - agentStart;
  // Ready means loaded and synced; the first apply then plans every target. Quiet: under 5 % of a core for a second.
  const quietMs = await quiet(a.pid, ticks, 5, 1_000, 120_000);
  const synced = procMemory(a.pid);
  log(`agent: ready after ${(readyMs / 1000).toFixed(1)} s, quiet ${(quietMs / 1000).toFixed(1)} s later, VmRSS ${(synced.rss / 2 ** 20).toFixed(0)} MiB, ${await heapOf(a.url)}`);
  await heapSnapshot(a, root, 'synced');
  await sim.ask({ cmd: 'requests' }); // reset

  // ---- idle CPU: nothing changes ----------------------------------------------------------------
  const idle: number[] = [];
  const idleChildren: number[] = [];
  for (let run = 1; run <= runs; run++) {
    const before = procCpu(a.pid, ticks);
    const t0 = performance.now();
    await sleep(idleSeconds * 1000);
    const after = procCpu(a.pid, ticks);
    const wall = performance.now() - t0;
    idle.push((100 * (after.selfMs - before.selfMs)) / wall);
    idleChildren.push((100 * (after.childrenMs - before.childrenMs)) / wall);
    log(`idle window ${run}/${runs}: agent ${idle.at(-1)?.toFixed(2)} % of a core, its git processes ${idleChildren.at(-1)?.toFixed(2)} %`);
  }
  const steady = procMemory(a.pid);
  log(`after the idle windows: VmRSS ${(steady.rss / 2 ** 20).toFixed(0)} MiB, ${await heapOf(a.url)}`);
  const idleRequests = await sim.ask<Record<string, number>>({ cmd: 'requests' });
  log(`API requests while idle: ${JSON.stringify(idleRequests)}`);

  // ---- notice and plan: one TidbCluster's version among them ------------------------------------
  let seq = (await sim.ask<{ last: number }>({ cmd: 'record', since: Number.MAX_SAFE_INTEGER })).last;
  /** Pushes a version bump of TidbCluster `index`; resolves with push → first write, ms. */
  const bump = async (index: number, version: string, webhook: boolean): Promise<number> => {
    const ref = tcName(index);
    await repo?.write({ [tcPath(index)]: tidbClusterManifest(index, version) });
    const commit = await repo?.commit(`${ref.name} ${version}`) ?? '';
    await repo?.push();
    const pushed = wallNow();
    if (webhook) {
      const status = await sendPushWebhook(a.url, commit);
      if (status !== 202) throw new Error(`the webhook answered ${status}`);
    }
    const first = await until(`the agent's first write to ${ref.namespace}/${ref.name}`, webhook ? 60_000 : 90_000, async () => {
      const { events } = await sim?.ask<{ events: StampedEvent[] }>({ cmd: 'record', since: seq }) ?? { events: [] };
      return events.find((e) => e.type === 'ClientWrite' && e.kind === 'TidbCluster' && e.namespace === ref.namespace && e.name === ref.name && e.wall >= pushed);
    });
    const id = targetId('TidbCluster', ref);
    await until(`${id} to roll out`, 120_000, async () => ((await targetsInPhase(a.url, 'Succeeded')).has(id) ? true : undefined), 200);
    seq = (await sim?.ask<{ last: number }>({ cmd: 'record', since: Number.MAX_SAFE_INTEGER }))?.last ?? seq;
    return first.wall - pushed;
  };
  const notice: number[] = [];
  for (let run = 1; run <= runs; run++) {
    // Spread over the repository: the executor starts targets in repository order.
    const index = Math.min(clusters - 1, Math.floor(((run - 0.5) * clusters) / runs));
    await sim.ask({ cmd: 'requests' });
    const cpu0 = procCpu(a.pid, ticks).selfMs;
    notice.push(await bump(index, 'v7.5.2', true));
    const requests = await sim.ask<Record<string, number>>({ cmd: 'requests' });
    log(`notice and plan ${run}/${runs} (webhook, ${tcName(index).name}): ${notice.at(-1)?.toFixed(0)} ms; rollout done, agent CPU ${(procCpu(a.pid, ticks).selfMs - cpu0).toFixed(0)} ms, API requests ${JSON.stringify(requests)}`);
  }
  const pollIndex = clusters - 1;
  const polled = await bump(pollIndex, 'v7.5.2', false);
  log(`notice and plan (poll every 10 s, ${tcName(pollIndex).name}): ${polled.toFixed(0)} ms`);
  const afterChanges = procMemory(a.pid);
  log(`after the changes: VmRSS ${(afterChanges.rss / 2 ** 20).toFixed(0)} MiB, ${await heapOf(a.url)}`);

  // ---- M rollouts at once -----------------------------------------------------------------------
  await quiet(a.pid, ticks, 5, 1_000, 60_000);
  const files2: Record<string, string> = {};
  for (let i = 0; i < rollouts; i++) files2[appPath(i)] = appManifest(i, 'v2');
  await repo.write(files2);
  const commit = await repo.commit(`${rollouts} StatefulSets to v2`);
  await sim.ask({ cmd: 'requests' });
  await targetsInPhase(a.url, 'Succeeded');
  agentLag.reset();
  await sim.ask({ cmd: 'lag' });
  const simPid = sim.child.pid ?? 0;
  const simCpuBefore = procCpu(simPid, ticks).selfMs;
  const cpuBefore = procCpu(a.pid, ticks).selfMs;
  await repo.push();
  const pushed = wallNow();
  const rolloutStart = performance.now();
  if ((await sendPushWebhook(a.url, commit)) !== 202) throw new Error('the webhook was not accepted');
  const ids = Array.from({ length: rollouts }, (_, i) => targetId('StatefulSet', stsName(i)));
  // Once a second: every /metrics read costs the agent a little (it lists its open file descriptors).
  await until(`${rollouts} StatefulSet rollouts to succeed`, 240_000, async () => {
    const done = await targetsInPhase(a.url, 'Succeeded');
    return ids.every((id) => done.has(id)) ? true : undefined;
  }, 1_000);
  const rolloutMs = performance.now() - rolloutStart;
  const cpuDuring = procCpu(a.pid, ticks).selfMs - cpuBefore;
  const simCpuDuring = procCpu(simPid, ticks).selfMs - simCpuBefore;
  const simLag = await sim.ask<{ p50: number; p99: number; max: number }>({ cmd: 'lag' });
  const loadRequests = await sim.ask<Record<string, number>>({ cmd: 'requests' });
  const { events } = await sim.ask<{ events: StampedEvent[] }>({ cmd: 'record', since: seq });
  const reactions: number[] = [];
  const problems: string[] = [];
  for (let i = 0; i < rollouts; i++) {
    const r = reactionsOf(events, stsName(i), 'example/app:v2', replicas);
    reactions.push(...r.reactions);
    problems.push(...r.problems);
  }
  const stsWrites = events.filter((e) => e.type === 'ClientWrite' && e.kind === 'StatefulSet' && e.wall >= pushed);
  const writes = Object.entries(loadRequests).filter(([key]) => /^(create|update|patch|delete) /.test(key)).reduce((n, [, count]) => n + count, 0);
  for (const p of problems.slice(0, 10)) log(`problem: ${p}`);
  log(`${rollouts} rollouts: ${(rolloutMs / 1000).toFixed(1)} s, agent CPU ${(cpuDuring / 1000).toFixed(1)} s, API requests ${JSON.stringify(loadRequests)}`);
  const end = procMemory(a.pid);
  log(`after the rollouts: VmRSS ${(end.rss / 2 ** 20).toFixed(0)} MiB, ${await heapOf(a.url)}`);
  await heapSnapshot(a, root, 'after the rollouts');

  const figures: Figure[] = [
    { name: 'agent VmRSS, synced and quiet', value: synced.rss / 2 ** 20, unit: 'MiB', aim: { value: 250, better: 'lower' } },
    { name: `agent VmRSS, synced, after ${runs * idleSeconds} s idle`, value: steady.rss / 2 ** 20, unit: 'MiB', aim: { value: 250, better: 'lower' } },
    { name: '  ready (loaded, caches synced) after start', value: readyMs / 1000, unit: 's' },
    { name: `idle CPU, median of ${runs} × ${idleSeconds} s`, value: median(idle), unit: '% core', aim: { value: 2, better: 'lower' } },
    { name: '  highest window', value: Math.max(...idle), unit: '% core' },
    { name: '  its git processes (polls), median', value: median(idleChildren), unit: '% core' },
    { name: `notice and plan, webhook, median of ${runs}`, value: median(notice), unit: 'ms' },
    { name: '  slowest', value: Math.max(...notice), unit: 'ms' },
    { name: '  through the 10 s poll instead (one change)', value: polled, unit: 'ms' },
    { name: 'agent VmRSS after the changes', value: afterChanges.rss / 2 ** 20, unit: 'MiB' },
    { name: 'kube-sim resident memory', value: simRss / 2 ** 20, unit: 'MiB' },
  ];
  const ok1 = printFigures(`An agent managing ${clusters} TidbClusters (PD×2, TiKV×1, TiDB×1) and ${rollouts} StatefulSets in kube-sim (time scale ${timeScale})`, figures);
  const ok2 = printFigures(`${rollouts} rollouts at once: ${rollouts} StatefulSets × ${replicas} pods in one commit, concurrency ${rollouts}, beside ${clusters} TidbClusters`, [
    { name: `gate reaction p50 (${reactions.length} steps)`, value: percentile(reactions, 50), unit: 'ms' },
    { name: 'gate reaction p95', value: percentile(reactions, 95), unit: 'ms', aim: { value: 200, better: 'lower' } },
    { name: 'gate reaction max', value: Math.max(0, ...reactions), unit: 'ms' },
    { name: 'push → first StatefulSet write (webhook)', value: (stsWrites[0]?.wall ?? pushed) - pushed, unit: 'ms' },
    { name: 'push → last StatefulSet write (all rolled out)', value: ((stsWrites.at(-1)?.wall ?? pushed) - pushed) / 1000, unit: 's' },
    { name: 'agent CPU during the rollouts', value: (100 * cpuDuring) / rolloutMs, unit: '% core' },
    { name: '  its event-loop delay, highest p99 of 1 s reads', value: agentLag.p99, unit: 'ms' },
    { name: '  its event-loop delay, max', value: agentLag.max, unit: 'ms' },
    { name: 'kube-sim CPU during the rollouts', value: (100 * simCpuDuring) / rolloutMs, unit: '% core' },
    { name: '  its event-loop delay, p99', value: simLag.p99, unit: 'ms' },
    { name: 'agent write requests per pod', value: writes / (rollouts * replicas), unit: 'req' },
    { name: 'agent VmRSS after the rollouts', value: end.rss / 2 ** 20, unit: 'MiB' },
    { name: '  peak', value: end.peak / 2 ** 20, unit: 'MiB' },
    { name: 'problems with the rollouts', value: problems.length, unit: '', aim: { value: 0, better: 'atMost' } },
  ]);
  log(`load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(', ')}`);
  log(`whole benchmark: ${((performance.now() - started) / 1000).toFixed(0)} s${ok1 && ok2 ? '' : '; some aims MISSED (see above)'}`);
} catch (err) {
  failed = true;
  log(`fleet benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  if (agent !== undefined) log(`agent log (last lines):\n${logTail(agent.logFile)}`);
} finally {
  await agent?.stop();
  await sim?.close();
  if (args.keep || args['heap-snapshots']) log(`kept ${root}`);
  else await rm(root, { recursive: true, force: true });
  if (repo !== undefined) await rm(repo.workDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
