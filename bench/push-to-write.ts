/**
 * Push to first write: the time from a `git push` of a new StatefulSet
 * image to the agent's first write to the cluster, two ways, over
 * repeated pushes (p50 and p95):
 *
 * 1. through a signed GitHub push webhook (the agent polls hourly, so the
 *    webhook is all that starts the reconcile): aim p95 < 500 ms;
 * 2. through polling alone (no webhook; the agent polls every `--interval`,
 *    default 2 s, the configuration's minimum being 1 s). That figure is
 *    dominated by where in the interval the push lands (aim: below the
 *    longest interval the schedule's ±10 % jitter allows, plus 500 ms), so
 *    beside it is the time from the start of the poll that saw the push (its
 *    `git ls-remote` reaching the server) to the first write, with the same
 *    500 ms aim as the webhook: it is the same work, minus the delivery.
 *    Each polling push waits first for a delay spread evenly over one
 *    interval, so the pushes land at every point of the poll cycle.
 *
 * Everything is real: kube-sim over HTTPS (controllers on, time scale 100,
 * in this process, so its `onRequest` hook timestamps each API request as it
 * arrives), `git http-backend` on loopback behind a proxy that timestamps
 * each git request (bench/support/timed-http-proxy.ts), and the agent as a
 * child process, `node agent/cli/main.ts run --config <file>`, logging JSON
 * at info level with status commits pushed to the same server. A write is
 * a create, update, patch or delete by the agent, Leases and Events aside.
 *
 * "Push" is the moment `git push` into the served bare repository exits;
 * the webhook is posted right after, as GitHub would. Each push moves the
 * image of a two-replica StatefulSet, so the agent's first write is its
 * progress record on that StatefulSet. Before the next push the system is
 * settled: the rollout finished (progress shows the commit done, the
 * StatefulSet fully updated and Ready), its Succeeded status commit pushed,
 * and no write by the agent for 200 ms. One unmeasured push per mode warms
 * the agent up (first TLS connections, JIT).
 *
 * Also printed, as medians: where the webhook figure's time goes, from the
 * agent's own log lines (`webhook event accepted`, `source fetched a new
 * revision`, `revision applied`, whole milliseconds) and the git requests
 * the proxy saw (`ls-remote` and `fetch` start). `--trace` prints each
 * push's whole timeline on stderr.
 *
 * Run: `node bench/push-to-write.ts [pushes] [--interval 2s] [--trace]` (default 20
 * pushes each way; about a minute and a half on two cores). Exits 0 whether or not the
 * aims are met, 1 on an error; it leaves no process, server or temporary
 * directory behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { loadRepository, parseDuration } from '../agent/manifests/index.ts';
import { readProgress } from '../agent/rollout/progress.ts';
import { signGitHubBody } from '../agent/webhook/index.ts';
import type { KubeObject } from '../sim/api/object.ts';
import type { ResourceType } from '../sim/api/resources.ts';
import type { ObservedRequest } from '../sim/server/api-server.ts';
import { startSimulation } from '../sim/simulation.ts';
import { createTestRepository, run, startGitHttpServer, testGitEnv, type TestRepository } from '../test/helpers/git-server.ts';
import { statefulSetManifest } from '../test/helpers/manifests.ts';
import { eventually } from '../test/helpers/sim.ts';
import { median, percentile, printFigures, type Figure } from './support/report.ts';
import { startTimedHttpProxy, type TimedRequest } from './support/timed-http-proxy.ts';

/** Prints a usage error and exits 1; only called before anything is started. */
function usage(message: string): never {
  process.stderr.write(`push-to-write: ${message}\nusage: node bench/push-to-write.ts [pushes] [--interval 2s] [--trace]\n`);
  process.exit(1);
}

const { values: args, positionals } = (() => {
  try {
    return parseArgs({ allowPositionals: true, options: { interval: { type: 'string', default: '2s' }, trace: { type: 'boolean', default: false } } });
  } catch (err) {
    return usage(err instanceof Error ? err.message : String(err));
  }
})();
const pushes = Number(positionals[0] ?? '20');
if (!Number.isInteger(pushes) || pushes < 1) usage(`pushes must be a whole number of at least 1, got ${JSON.stringify(positionals[0])}`);
const intervalText = args.interval;
const intervalMs = parseDuration(intervalText) ?? 0;
if (intervalMs < 1_000) usage(`--interval must be a duration of at least 1s (the agent's minimum, agent/runtime/config.ts), got ${JSON.stringify(intervalText)}`);

const secret = 'bench-hook-secret-3c9e1f';
const namespace = 'apps';
const name = 'web';
const replicas = 2;
const warmups = 1;
// Generous limits: a missed one is an error (exit 1), never a figure.
const firstWriteTimeoutMs = Math.max(30_000, intervalMs * 3);
const settleTimeoutMs = 60_000;
const quietMs = 200;
const goldenRatio = (Math.sqrt(5) - 1) / 2;
// The agent's poll schedule spreads each interval by up to ±10 % (agent/source/schedule.ts).
const longestIntervalMs = intervalMs * 1.1;

/** Wall time in ms since the epoch with sub-millisecond resolution, comparable with pino's `time` of the agent process. */
const now = (): number => performance.timeOrigin + performance.now();

// ---- resources, released in reverse order whatever happens ------------------

const cleanups: (() => Promise<unknown>)[] = [];
async function cleanUp(): Promise<void> {
  for (const step of cleanups.splice(0).reverse()) await step().catch((err: unknown) => process.stderr.write(`cleanup: ${err instanceof Error ? err.message : String(err)}\n`));
}

// ---- kube-sim ----------------------------------------------------------------

/** The agent's writes as kube-sim received them, and who waits for the next one. */
interface SeenWrite {
  readonly at: number;
  readonly request: ObservedRequest;
}
const writes: SeenWrite[] = [];
let writeWaiter: ((write: SeenWrite) => void) | undefined;
const writeVerbs = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

function observe(request: ObservedRequest): void {
  // Every HTTP client of this kube-sim is the agent: the bench reads the store directly.
  if (!request.resourceRequest || !writeVerbs.has(request.verb) || request.resource === 'leases' || request.resource === 'events') return;
  const write = { at: now(), request };
  writes.push(write);
  const waiter = writeWaiter;
  writeWaiter = undefined;
  waiter?.(write);
}

/** Resolves with the next write the agent sends, rejects after `timeoutMs`. */
function nextWrite(timeoutMs: number): Promise<SeenWrite> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      writeWaiter = undefined;
      reject(new Error(`the agent wrote nothing to the cluster within ${timeoutMs} ms of the push`));
    }, timeoutMs);
    writeWaiter = (write) => {
      clearTimeout(timer);
      resolve(write);
    };
  });
}

// ---- the agent ---------------------------------------------------------------

/** One JSON log line of the agent. */
interface LogLine {
  readonly time: number;
  readonly msg: string;
  readonly commit?: string;
  readonly url?: string;
  readonly level?: number;
}

interface RunningAgent {
  readonly url: string;
  readonly logs: LogLine[];
  stop(): Promise<void>;
}

async function startAgent(configFile: string, env: Record<string, string>): Promise<RunningAgent> {
  const child: ChildProcess = spawn(process.execPath, ['agent/cli/main.ts', 'run', '--config', configFile], { cwd: new URL('..', import.meta.url).pathname, env, stdio: ['ignore', 'ignore', 'pipe'] });
  const logs: LogLine[] = [];
  const raw: string[] = [];
  let exited = false;
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    exited = true;
    resolve(code);
  }));
  const stop = async (): Promise<void> => {
    if (exited) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exit;
    clearTimeout(timer);
  };
  cleanups.push(stop);
  const stderr = child.stderr;
  if (stderr === null) throw new Error('the agent has no stderr pipe');
  createInterface({ input: stderr }).on('line', (line) => {
    raw.push(line);
    if (raw.length > 50) raw.shift();
    try {
      logs.push(JSON.parse(line) as LogLine);
    } catch {
      // Not JSON (a Node warning): kept in `raw` for the error message only.
    }
  });
  const url = await eventually(() => {
    if (exited) throw new Error(`the agent exited before serving:\n${raw.join('\n')}`);
    const found = logs.find((l) => l.msg === 'ops server listening')?.url;
    if (found === undefined) throw new Error(`the agent did not start its ops server within 30 s:\n${raw.join('\n')}`);
    return found;
  }, 30_000);
  await eventually(async () => {
    if (exited) throw new Error(`the agent exited:\n${raw.join('\n')}`);
    const res = await fetch(`${url}/readyz`);
    if (res.status !== 200) throw new Error(`the agent was not ready within 30 s (/readyz ${res.status}: ${await res.text()})`);
  }, 30_000, 50);
  return { url, logs, stop };
}

// ---- git requests --------------------------------------------------------------

/** One git process's connection to the server, as the proxy saw it. */
interface GitConnection {
  readonly kind: 'ls-remote' | 'fetch' | 'push' | 'other';
  /** Its first request's arrival, ms since the epoch. */
  readonly start: number;
}

function gitConnections(requests: readonly TimedRequest[]): GitConnection[] {
  const byConnection = new Map<number, TimedRequest[]>();
  for (const r of requests) byConnection.set(r.connection, [...(byConnection.get(r.connection) ?? []), r]);
  return [...byConnection.values()].map((rs) => {
    const kind = rs.some((r) => r.url.includes('receive-pack')) ? 'push' : rs.some((r) => r.command === 'fetch') ? 'fetch' : rs.some((r) => r.command === 'ls-refs') ? 'ls-remote' : 'other';
    return { kind, start: rs[0]?.at ?? 0 };
  });
}

// ---- one push ----------------------------------------------------------------

interface PushTiming {
  /** Push exit → first write, ms. */
  readonly toWrite: number;
  /** Push exit → the webhook's answer, ms (webhook mode). */
  readonly answered?: number;
  /** Push exit → each stage, ms; undefined when not seen. */
  readonly accepted?: number;
  readonly lsRemote?: number;
  readonly fetch?: number;
  readonly fetched?: number;
  readonly applied?: number;
  readonly firstWrite: SeenWrite;
  /** What happened from the push to the first write, one line each, ms from the push (for `--trace`). */
  readonly timeline: readonly string[];
}

async function main(): Promise<void> {
  // Other work on the machine shows in every figure here (git processes, two Node processes): say how busy it was.
  const loadBefore = loadavg()[0] ?? 0;
  const root = await mkdtemp(join(tmpdir(), 'rollgate-bench-push-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));

  const sim = await startSimulation({ clusters: ['sim'], controllers: true, timeScale: 100, seed: 7, onRequest: observe });
  cleanups.push(() => sim.close());
  const kubeconfig = join(root, 'kubeconfig');
  await sim.writeKubeconfig(kubeconfig);
  const { store } = sim.cluster('sim');
  const statefulSets = store.registry.lookup('apps', 'v1', 'statefulsets') as ResourceType;

  const server = await startGitHttpServer();
  cleanups.push(() => server.close());
  const proxy = await startTimedHttpProxy(server.url);
  cleanups.push(() => proxy.close());
  const repo: TestRepository = await createTestRepository(server.root);
  cleanups.push(() => rm(repo.workDir, { recursive: true, force: true }));
  // http-backend refuses pushes from anonymous clients unless told otherwise; the agent pushes its status commits.
  await run('git', ['--git-dir', repo.bareDir, 'config', 'http.receivepack', 'true']);

  let version = 0;
  const manifest = (): string => statefulSetManifest({ name, namespace, image: `example/web:v${version}`, replicas });
  await repo.write({
    'rollgate.yaml': 'apiVersion: rollgate.dev/v1alpha1\nkind: Config\nclusters:\n  - name: sim\n    paths: [manifests]\ndefaults:\n  gates:\n    - podReady: {}\n    - rolloutStatus: {}\n',
    'manifests/ns.yaml': `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${namespace}\n`,
    'manifests/web.yaml': manifest(),
  });
  let head = await repo.commit('web v0');
  await repo.push();
  const installed = await loadRepository(repo.workDir);
  const loaded = sim.load('sim', [...installed.resources.map((r) => r.object), ...installed.targets.map((t) => t.object)]);
  if (loaded.errors.length > 0) throw new Error(`kube-sim refused the initial objects: ${loaded.errors.join('; ')}`);

  const liveStatefulSet = (): KubeObject => {
    const sts = store.find(statefulSets, namespace, name);
    if (sts === undefined) throw new Error(`StatefulSet ${namespace}/${name} is gone`);
    return sts;
  };
  /** Throws (for `eventually`) until the StatefulSet runs `image` on every replica, Ready. */
  const rolledOut = (image: string): void => {
    const sts = liveStatefulSet() as KubeObject & { spec: { template: { spec: { containers: { image: string }[] } } }; status?: Record<string, unknown> };
    const status = sts.status ?? {};
    const image0 = sts.spec.template.spec.containers[0]?.image;
    const done = image0 === image && status['observedGeneration'] === sts.metadata.generation && status['updatedReplicas'] === replicas && status['readyReplicas'] === replicas && status['currentRevision'] === status['updateRevision'];
    if (!done) throw new Error(`StatefulSet ${namespace}/${name} not rolled out to ${image}: ${JSON.stringify({ image: image0, status })}`);
  };
  await eventually(() => rolledOut(`example/web:v${version}`), settleTimeoutMs);

  /** Throws until the agent has finished `commit`: rollout done, status commit pushed, no write for `quietMs`. */
  const settled = async (commit: string): Promise<void> => {
    rolledOut(`example/web:v${version}`);
    const progress = readProgress(liveStatefulSet().metadata.annotations);
    if (progress?.source !== commit || progress.finishedAt === undefined) throw new Error(`the agent has not recorded ${commit.slice(0, 12)} as finished: ${JSON.stringify(progress)}`);
    const lastWrite = writes.at(-1)?.at ?? 0;
    if (now() - lastWrite < quietMs) throw new Error('the agent wrote within the last 200 ms');
    const status = await run('git', ['--git-dir', repo.bareDir, 'log', '-1', '--format=%B', 'rollgate/status']).catch(() => '');
    if (!status.includes(`Rollgate-Source: ${commit}`) || !status.includes('Rollgate-Phase: Succeeded')) throw new Error(`the Succeeded status commit of ${commit.slice(0, 12)} is not pushed yet; the newest status commit is:\n${status}`);
  };

  const template = JSON.parse(await readFile(new URL('../test/webhook/fixtures/github/push.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  const headCommit = template['head_commit'] as Record<string, unknown>;

  /** Pushes a new image and measures; `agent.url` receives a webhook when `webhook`. */
  const push = async (agent: RunningAgent, webhook: boolean, delayMs: number): Promise<PushTiming> => {
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    version++;
    await repo.write({ 'manifests/web.yaml': manifest() });
    const before = head;
    head = await repo.commit(`web v${version}`);
    const body = JSON.stringify({ ...template, ref: 'refs/heads/main', before, after: head, head_commit: { ...headCommit, id: head }, commits: [{ ...headCommit, id: head }] });
    const signature = signGitHubBody(secret, body);
    const pushStart = now();
    const written = nextWrite(firstWriteTimeoutMs);
    // Handled here as well, so a failed push below does not leave it to reject unhandled later.
    written.catch(() => undefined);
    await repo.push();
    const t0 = now();
    let answered: Promise<number> | undefined;
    if (webhook) {
      answered = fetch(`${agent.url}/webhooks/github`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': crypto.randomUUID(), 'x-hub-signature-256': signature },
        body,
      }).then(async (res) => {
        const at = now();
        if (res.status !== 202) throw new Error(`the webhook was answered ${res.status}: ${await res.text()}`);
        return at - t0;
      });
    }
    const [firstWrite, answer] = await Promise.all([written, answered]);
    await eventually(() => settled(head), settleTimeoutMs, 25);

    const logTime = (msg: string, commit?: string): number | undefined => {
      const line = agent.logs.find((l) => l.msg === msg && l.time >= Math.floor(pushStart) && (commit === undefined || l.commit === commit));
      return line === undefined ? undefined : line.time - t0;
    };
    // The fetch of this push, and the ls-remote that saw the new head just before it. That ls-remote may have
    // reached the server before the push ended (git http-backend reads the refs a moment after the request
    // arrives), so it is looked for before the push too.
    const requests = proxy.requests();
    const connections = gitConnections(requests).filter((c) => c.kind !== 'push');
    const fetchIndex = connections.findIndex((c) => c.kind === 'fetch' && c.start >= pushStart);
    const fetchConnection = connections[fetchIndex];
    const lsRemote = connections.slice(0, Math.max(0, fetchIndex)).findLast((c) => c.kind === 'ls-remote');
    // The push's timeline, ms from the push: what the git server saw, what the agent logged, the first write.
    const timeline = [
      ...requests.filter((r) => r.at >= Math.min(pushStart, lsRemote?.start ?? pushStart)).map((r) => ({ at: r.at, text: `git #${r.connection} ${r.method} ${r.url.replace(/\?.*/, '')} ${r.command ?? ''}` })),
      ...agent.logs.filter((l) => l.time >= Math.floor(pushStart) && l.time <= firstWrite.at + 1).map((l) => ({ at: l.time, text: `agent: ${l.msg}` })),
      { at: t0, text: 'push done' },
      { at: firstWrite.at, text: `first write: ${firstWrite.request.verb} ${firstWrite.request.resource} ${firstWrite.request.namespace}/${firstWrite.request.name}` },
    ]
      .sort((a, b) => a.at - b.at)
      .map((line) => `${(line.at - t0).toFixed(1).padStart(8)} ms  ${line.text}`);
    return {
      toWrite: firstWrite.at - t0,
      firstWrite,
      timeline,
      ...(answer !== undefined ? { answered: answer } : {}),
      ...(webhook ? { accepted: logTime('webhook event accepted') } : {}),
      ...(lsRemote !== undefined ? { lsRemote: lsRemote.start - t0 } : {}),
      ...(fetchConnection !== undefined ? { fetch: fetchConnection.start - t0 } : {}),
      fetched: logTime('source fetched a new revision', head),
      applied: logTime('revision applied', head),
    };
  };

  const runMode = async (mode: 'webhook' | 'polling'): Promise<PushTiming[]> => {
    const configFile = join(root, `agent-${mode}.yaml`);
    const lines = [
      'apiVersion: rollgate.dev/v1alpha1',
      'kind: AgentConfig',
      `repo: ${proxy.url}/${repo.name}`,
      `interval: ${mode === 'webhook' ? '1h' : intervalText}`,
      `dataDir: ${join(root, `data-${mode}`)}`,
      `kubeconfig: ${kubeconfig}`,
      'listen: 127.0.0.1:0',
      ...(mode === 'webhook' ? ['webhooks:', '  githubSecretEnv: HOOK_SECRET'] : []),
    ];
    await writeFile(configFile, `${lines.join('\n')}\n`);
    const agent = await startAgent(configFile, { ...testGitEnv(), HOOK_SECRET: secret });
    const timings: PushTiming[] = [];
    for (let i = 0; i < warmups + pushes; i++) {
      // Settling takes about as long every time, so without a delay each push would land at the same
      // point of the poll interval. Delays spread evenly over one interval (the golden-ratio sequence)
      // make the polling figure cover every point, as pushes at random times would.
      const delayMs = mode === 'polling' ? ((i * goldenRatio) % 1) * intervalMs : 0;
      const timing = await push(agent, mode === 'webhook', delayMs);
      if (i >= warmups) timings.push(timing);
      process.stderr.write(`${mode} push ${i + 1 - warmups}/${pushes}${i < warmups ? ' (warm-up)' : ''}: ${timing.toWrite.toFixed(0)} ms to the first write\n`);
      if (args.trace) for (const line of timing.timeline) process.stderr.write(`  ${line}\n`);
    }
    await agent.stop();
    const errors = agent.logs.filter((l) => (l.level ?? 0) >= 50);
    if (errors.length > 0) process.stderr.write(`the ${mode} agent logged ${errors.length} error(s), first: ${JSON.stringify(errors[0])}\n`);
    return timings;
  };

  const byWebhook = await runMode('webhook');
  const byPolling = await runMode('polling');

  const values = (timings: readonly PushTiming[], pick: (t: PushTiming) => number | undefined): number[] => timings.map(pick).filter((v): v is number => v !== undefined);
  /** Median of a stage-to-stage segment over the pushes where both ends were seen. */
  const segment = (timings: readonly PushTiming[], from: (t: PushTiming) => number | undefined, to: (t: PushTiming) => number | undefined): number => {
    const spans = timings.flatMap((t) => {
      const a = from(t);
      const b = to(t);
      return a === undefined || b === undefined ? [] : [b - a];
    });
    return spans.length === 0 ? Number.NaN : median(spans);
  };
  // From the start of the poll that saw the push, or from the push when that poll began before the push had
  // ended: the new head exists from then on, and the time before it is the push's, not the agent's.
  const afterPoll = values(byPolling, (t) => (t.lsRemote === undefined ? undefined : t.toWrite - Math.max(0, t.lsRemote)));
  const overlapping = byPolling.filter((t) => t.lsRemote !== undefined && t.lsRemote < 0).length;
  const firstWrites = [...byWebhook, ...byPolling].map((t) => `${t.firstWrite.request.verb} ${t.firstWrite.request.resource} ${t.firstWrite.request.namespace}/${t.firstWrite.request.name}`);
  const kinds = [...new Set(firstWrites)].map((k) => `${k} (${firstWrites.filter((w) => w === k).length}×)`);
  process.stdout.write(`\nfirst writes: ${kinds.join(', ')}\n`);
  process.stdout.write(`load average (1 min) at the start ${loadBefore.toFixed(2)}, at the end ${(loadavg()[0] ?? 0).toFixed(2)}, on ${cpus().length} cores\n`);
  if (overlapping > 0) process.stdout.write(`the poll that saw the push began before the push ended for ${overlapping} of ${byPolling.length} polling pushes; their time after the poll counts from the push\n`);
  if (afterPoll.length < byPolling.length) process.stdout.write(`the poll that saw the push was not identified for ${byPolling.length - afterPoll.length} of ${byPolling.length} polling pushes\n`);

  const figures: Figure[] = [
    { name: 'webhook: push → first write, p50', value: median(byWebhook.map((t) => t.toWrite)), unit: 'ms' },
    { name: 'webhook: push → first write, p95', value: percentile(byWebhook.map((t) => t.toWrite), 95), unit: 'ms', aim: { value: 500, better: 'lower' } },
    { name: 'webhook: push → 202 answer, p50', value: median(values(byWebhook, (t) => t.answered)), unit: 'ms' },
    { name: '  of which: push → delivery accepted (log)', value: segment(byWebhook, () => 0, (t) => t.accepted), unit: 'ms' },
    { name: '  accepted → ls-remote at the server', value: segment(byWebhook, (t) => t.accepted, (t) => t.lsRemote), unit: 'ms' },
    { name: '  ls-remote → fetch at the server', value: segment(byWebhook, (t) => t.lsRemote, (t) => t.fetch), unit: 'ms' },
    { name: '  fetch → revision checked out (log)', value: segment(byWebhook, (t) => t.fetch, (t) => t.fetched), unit: 'ms' },
    { name: '  checked out → revision applied (log)', value: segment(byWebhook, (t) => t.fetched, (t) => t.applied), unit: 'ms' },
    { name: '  applied → first write', value: segment(byWebhook, (t) => t.applied, (t) => t.toWrite), unit: 'ms' },
    { name: 'polling: interval', value: intervalMs, unit: 'ms' },
    { name: 'polling: push → first write, p50', value: median(byPolling.map((t) => t.toWrite)), unit: 'ms' },
    { name: 'polling: push → first write, p95', value: percentile(byPolling.map((t) => t.toWrite), 95), unit: 'ms', aim: { value: longestIntervalMs + 500, better: 'lower' } },
    { name: 'polling: after the poll that saw it, p50', value: median(afterPoll), unit: 'ms' },
    { name: 'polling: after the poll that saw it, p95', value: percentile(afterPoll, 95), unit: 'ms', aim: { value: 500, better: 'lower' } },
  ];
  printFigures(`push → first cluster write, ${pushes} pushes each way (webhook; polling every ${intervalText})`, figures);
}

let exitCode = 0;
const interrupted = (): void => {
  void cleanUp().finally(() => process.exit(130));
};
process.once('SIGINT', interrupted);
process.once('SIGTERM', interrupted);
try {
  await main();
} catch (err) {
  process.stderr.write(`push-to-write failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  exitCode = 1;
} finally {
  await cleanUp();
}
process.exit(exitCode);
