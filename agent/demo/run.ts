/**
 * `rollgate demo`: the whole idea on a laptop, offline, in under two
 * minutes. kube-sim serves the clusters of `examples-repo/`; a local Git
 * remote holds the repository; the agent follows it; a version bump of the
 * staging TidbCluster is pushed as a commit by a named author; the plan is
 * shown, then the staged upgrade live, then the status branch's history and
 * the audit table. Everything runs in a temporary directory that is removed
 * at the end, and nothing is left running.
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { startSimulation, type Simulation } from '../../sim/simulation.ts';
import { readClusters } from '../live/read-once.ts';
import { clusterObjects, componentPolicy, loadRepository, type KubeObject, type Target } from '../manifests/index.ts';
import { createPlan, formatPlan, liveStateFrom, nextCronMatch } from '../plan/index.ts';
import { formatAuditTable, runAudit } from '../report/audit/index.ts';
import type { RolloutTransition } from '../rollout/reporter.ts';
import { runAgent } from '../main.ts';
import type { Agent } from '../runtime/agent.ts';
import type { AgentConfig } from '../runtime/config.ts';
import { gitEnvironment } from '../source/remote.ts';
import { createRolloutView, type PodEvent } from './view.ts';

const run = promisify(execFile);

/** Options of {@link runDemo}. */
export interface DemoOptions {
  readonly out: NodeJS.WritableStream;
  readonly err: NodeJS.WritableStream;
  /** Redraw the live view in place. */
  readonly tty: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Resolves when the user interrupts the demo. */
  readonly stopped: Promise<void>;
  /** Simulated seconds per wall second. Default 20: a 30 s soak takes 1.5 s. */
  readonly timeScale?: number;
  /** Longest the rollout may take, in wall ms, before the demo gives up. Default 100 s. */
  readonly deadlineMs?: number;
}

/** The change the demo pushes. */
const change = { file: 'staging/tidb/tidb-cluster.yaml', target: 'staging/tidb/TidbCluster/tidb', from: 'v7.5.1', to: 'v8.1.1' };
const author = { name: 'Dana Ops', email: 'dana@example.com' };

function examplesRepo(): string {
  return fileURLToPath(new URL('../../examples-repo/', import.meta.url));
}

/**
 * The simulated start: on the next weekday, a few minutes before the
 * nightly TiDB maintenance window of examples-repo (02:00 Europe/Berlin), so
 * PD and TiKV roll at once and TiDB visibly waits for its window.
 */
function simulatedStart(now: number): number {
  return nextCronMatch('54 1 * * 1-5', now, 'Europe/Berlin') ?? now;
}

async function git(cwd: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<string> {
  const { stdout } = await run('git', [...args], { cwd, env, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

/** True once every workload of the simulation is up: TidbClusters Ready, Redis clusters Running, StatefulSets and Deployments fully ready. */
function settled(objects: ReadonlyMap<string, readonly KubeObject[]>): boolean {
  for (const list of objects.values()) {
    for (const o of list) {
      const status = (o as { status?: Record<string, unknown> }).status ?? {};
      const spec = (o as { spec?: Record<string, unknown> }).spec ?? {};
      if (o.kind === 'TidbCluster' && !((status['conditions'] as { type: string; status: string }[] | undefined) ?? []).some((c) => c.type === 'Ready' && c.status === 'True')) return false;
      if (o.kind === 'RedisEnterpriseCluster' && status['state'] !== 'Running') return false;
      if ((o.kind === 'StatefulSet' || o.kind === 'Deployment') && (status['readyReplicas'] ?? 0) !== (spec['replicas'] ?? 1)) return false;
    }
  }
  return true;
}

const podEventNames: Readonly<Record<string, PodEvent['what']>> = { PodTerminating: 'Terminating', PodCreated: 'Created', PodRunning: 'Running', PodReady: 'Ready', PodNotReady: 'NotReady', ContainerWaiting: 'Waiting' };

/** Runs the demo; returns the exit code. */
export async function runDemo(options: DemoOptions): Promise<number> {
  const { out } = options;
  const timeScale = options.timeScale ?? 20;
  const work = await mkdtemp(join(tmpdir(), 'rollgate-demo-'));
  let simulation: Simulation | undefined;
  const gitEnv: NodeJS.ProcessEnv = { ...gitEnvironment(options.env), GIT_AUTHOR_NAME: author.name, GIT_AUTHOR_EMAIL: author.email, GIT_COMMITTER_NAME: author.name, GIT_COMMITTER_EMAIL: author.email };
  const step = (n: number, text: string): void => void out.write(options.tty ? `\n\x1b[1m[${n}/6] ${text}\x1b[0m\n` : `\n[${n}/6] ${text}\n`);
  const started = Date.now();
  try {
    // 1. The clusters.
    step(1, 'Starting kube-sim with the clusters of examples-repo/ (staging, prod)');
    const checkout = join(work, 'checkout');
    await cp(examplesRepo(), checkout, { recursive: true });
    const { clusters } = await clusterObjects(checkout);
    simulation = await startSimulation({ clusters: clusters.map((c) => c.name), controllers: true, timeScale, startAt: simulatedStart(Date.now()), seed: 1 });
    for (const cluster of clusters) {
      const report = simulation.load(cluster.name, cluster.objects);
      if (report.errors.length > 0) throw new Error(`loading ${cluster.name}: ${report.errors.join('; ')}`);
      out.write(`  ${cluster.name}: ${report.created.length} objects\n`);
    }
    const sim = simulation;
    const kubeconfigPath = join(work, 'kubeconfig');
    await simulation.writeKubeconfig(kubeconfigPath);
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(kubeconfigPath);
    const initial = await loadRepository(checkout);
    for (;;) {
      if (settled(await readClusters(kubeConfig, initial.targets))) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    out.write(`  every TidbCluster, Redis Enterprise cluster and StatefulSet is up (sim time ${new Date(simulation.clock.now()).toISOString().slice(0, 19)}Z, ×${timeScale})\n`);

    // 2. The repository.
    step(2, 'Making a Git remote from examples-repo/');
    const remote = join(work, 'remote.git');
    await git(checkout, ['init', '-q', '-b', 'main'], gitEnv);
    await git(checkout, ['add', '-A'], gitEnv);
    // Commits carry simulated time, so the audit's commit and rollout times read on one clock.
    const simDate = (): NodeJS.ProcessEnv => ({ ...gitEnv, GIT_AUTHOR_DATE: new Date(sim.clock.now()).toISOString(), GIT_COMMITTER_DATE: new Date(sim.clock.now()).toISOString() });
    await git(checkout, ['commit', '-q', '-m', 'Desired state of staging and prod'], simDate());
    await git(work, ['clone', '-q', '--bare', checkout, remote], gitEnv);
    await git(checkout, ['remote', 'add', 'origin', remote], gitEnv);
    out.write(`  ${remote} (branch main)\n`);

    // 3. The agent.
    step(3, 'Starting the agent: it polls the remote every second');
    const config: AgentConfig = {
      repo: remote,
      branch: 'main',
      intervalMs: 1_000,
      dataDir: join(work, 'data'),
      kubeconfig: kubeconfigPath,
      clusters: {},
      concurrency: 4,
      status: { enabled: true, author: { name: 'rollgate', email: 'rollgate@localhost' } },
      webhooks: {},
      leaderElection: { enabled: false, namespace: 'default', name: 'rollgate', identity: 'demo', leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, shards: 1 },
      logLevel: 'info',
      once: false,
    };
    const logFile = join(work, 'agent.log');
    const logger = pino({ level: 'info' }, pino.destination({ dest: logFile, sync: true }));
    let agent: Agent | undefined;
    let finish: (t: RolloutTransition | undefined) => void = () => undefined;
    const finished = new Promise<RolloutTransition | undefined>((resolve) => (finish = resolve));
    let bump = '';
    const target: Target | undefined = initial.targets.find((t) => t.id === change.target);
    const view = createRolloutView({ out, tty: options.tty, now: () => sim.clock.now(), target: change.target, gatesOf: (component) => (target !== undefined ? componentPolicy(target.policy, component as never).gates : []), timeScale });
    let viewing = false;
    const reporters = [
      {
        report: (t: RolloutTransition): Promise<void> => {
          if (viewing && t.source === bump) view.transition(t);
          if (t.target === change.target && t.source === bump && (t.phase === 'Succeeded' || t.phase === 'Halted' || t.phase === 'Refused')) finish(t);
          return Promise.resolve();
        },
      },
    ];
    const stopAgent = new Promise<void>((resolve) => void finished.then(() => resolve()));
    const agentRun = runAgent({ config, logger, env: { ...options.env, ...gitEnv }, stopped: Promise.race([stopAgent, options.stopped]), reporters, rolloutClock: { now: () => sim.clock.now(), setTimeout: (callback, ms) => sim.clock.after(ms, callback) }, onAgent: (a) => (agent = a) });
    for (;;) {
      if (agent?.readiness().ok === true) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    out.write('  the agent has loaded the repository: the clusters match Git, nothing to do\n');

    // 4. The change and its plan.
    step(4, `Pushing a change: ${change.target} ${change.from} → ${change.to}, by ${author.name}`);
    const file = join(checkout, change.file);
    await writeFile(file, (await readFile(file, 'utf8')).replace(`version: ${change.from}`, `version: ${change.to}`));
    await git(checkout, ['commit', '-q', '-am', `Upgrade staging TiDB to ${change.to}`], simDate());
    bump = (await git(checkout, ['rev-parse', 'HEAD'], gitEnv)).trim();
    const next = await loadRepository(checkout);
    const plan = createPlan({ targets: next.targets, live: liveStateFrom(await readClusters(kubeConfig, next.targets)), now: sim.clock.now(), source: bump });
    out.write(`  commit ${bump.slice(0, 12)}; the plan rollgate will follow:\n\n`);
    out.write(formatPlan({ ...plan, targets: plan.targets.filter((t) => t.action !== 'none') }, 'text').replace(/^/gm, '    '));
    await git(checkout, ['push', '-q', 'origin', 'main'], gitEnv);

    // 5. The rollout, live.
    step(5, 'The rollout, live: PD, then TiKV, then TiDB, one pod at a time, each past its gates (simulated time, UTC)');
    viewing = true;
    let seq = sim.runtime('staging').events.lastSeq;
    const pods = setInterval(() => {
      for (const e of sim.runtime('staging').events.list({ since: seq, namespace: 'tidb', kind: 'Pod' })) {
        seq = Math.max(seq, e.seq);
        const what = podEventNames[e.type];
        if (what !== undefined) view.pod({ at: e.simTimeMs, pod: e.name, what, ...(e.image !== undefined ? { image: e.image } : {}) });
      }
    }, 100);
    const deadline = new Promise<'deadline'>((resolve) => setTimeout(() => resolve('deadline'), options.deadlineMs ?? 100_000).unref());
    const outcome = await Promise.race([finished, deadline, options.stopped.then(() => 'interrupted' as const)]);
    clearInterval(pods);
    view.close();
    if (outcome === 'deadline' || outcome === 'interrupted') finish(undefined);
    await agentRun;
    if (outcome === 'interrupted') {
      out.write('\ninterrupted; cleaning up\n');
      return 130;
    }
    if (outcome === 'deadline' || outcome === undefined || outcome.phase !== 'Succeeded') {
      options.err.write(`rollgate demo: the rollout did not succeed (${outcome === 'deadline' ? 'it took too long' : (outcome?.message ?? 'no outcome')}); the agent's log:\n${(await readFile(logFile, 'utf8')).split('\n').slice(-20).join('\n')}\n`);
      return 1;
    }
    out.write(`  ${outcome.message}\n`);

    // 6. The record.
    step(6, 'What Git now says: the status branch, and the audit trail');
    out.write('  $ git log rollgate/status\n');
    const log = await git(work, ['--git-dir', remote, 'log', '--reverse', '--format=%h %s', 'rollgate/status'], gitEnv);
    out.write(log.replace(/^/gm, '    '));
    const { report } = await runAudit({ repo: remote, branch: 'main', cwd: work, env: gitEnv, tempDir: work });
    out.write(`\n  $ rollgate audit   (${change.target} only)\n`);
    // Every target appears with the commit that created it; the demo's story is the one it changed.
    out.write(formatAuditTable({ ...report, targets: report.targets.filter((t) => t.id === change.target) }).replace(/^/gm, '    ').replace(/\s+$/, '\n'));
    out.write(`\nDone in ${Math.round((Date.now() - started) / 1000)} s. Try it on your own repository: rollgate plan --repo DIR, then rollgate run --repo URL.\n`);
    return 0;
  } finally {
    await simulation?.close();
    await rm(work, { recursive: true, force: true });
  }
}
