/**
 * One chaos run's world: kube-sim in this process (so its event record and
 * store can be read without going through the API the faults break), a
 * real `git http-backend` server on loopback holding the desired-state
 * repository, and the agents as child processes. It records, from the
 * store's change stream, every value the targets' progress record took and
 * the wall-clock moments of progress, and it answers "is the rollout done?"
 * from the store.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadRepository } from '../../agent/manifests/index.ts';
import { statusTrailers } from '../../agent/report/git/status-file.ts';
import type { KubeObject } from '../../sim/api/object.ts';
import type { ResourceType } from '../../sim/api/resources.ts';
import type { ClusterStore, StoreEvent } from '../../sim/api/store.ts';
import type { ClusterRuntime } from '../../sim/controllers/runtime.ts';
import type { ImageCatalogue } from '../../sim/images.ts';
import { startSimulation, type Simulation } from '../../sim/simulation.ts';
import { createTestRepository, run, startGitHttpServer, testGitEnv, type GitHttpServer, type TestRepository } from '../../test/helpers/git-server.ts';
import { startAgentProcess, type AgentProcess } from './agent-process.ts';
import type { TargetExpectation } from './manifests.ts';
import type { ProgressSnapshot, TransitionKey } from './measure.ts';

/** The annotation the executor keeps its progress in (agent/rollout/progress.ts). */
export const progressAnnotation = 'rollgate.dev/rollout';

/** Options of {@link startWorld}. */
export interface WorldOptions {
  /** Seed of kube-sim's randomness (fault injection, pod names). */
  readonly seed: number;
  /** Simulated ms per wall ms. Default 20: a pod restarts in about 0.2 s. */
  readonly timeScale?: number;
  /** A directory of this run: repositories, agent data and logs go here. */
  readonly dir: string;
  readonly images?: ImageCatalogue;
}

/** Agent configuration beyond the defaults of {@link World.agentConfig}. */
export interface AgentConfigOptions {
  /** Leader election with this identity and short timings (lease 3 s, renew 2 s, retry 0.5 s). */
  readonly leader?: { readonly identity: string };
  /** A GitHub-compatible forge at this base URL; the token is read from `FORGE_TOKEN`. */
  readonly forgeUrl?: string;
  /** Poll interval. Default `1s`. */
  readonly interval?: string;
}

/** Records, per target, what the progress record said and when anything moved. */
export interface Observer {
  /** Event-record position when observation began. */
  readonly since: number;
  /** Wall-clock ms of every change that is progress: a write to a target, a pod created, Ready, terminating. */
  readonly progressAt: number[];
  /** Every value of each target's progress record, in order, by target id. */
  readonly history: ReadonlyMap<string, ProgressSnapshot[]>;
  /** Called at every write to a target (a step boundary) with its 1-based index. */
  onBoundary(listener: (index: number, target: string) => void): void;
  /** How many boundaries so far. */
  boundaries(): number;
  stop(): void;
}

/** The world of one run. */
export interface World {
  readonly sim: Simulation;
  readonly runtime: ClusterRuntime;
  readonly kubeconfigPath: string;
  readonly git: GitHttpServer;
  readonly repo: TestRepository;
  readonly dir: string;
  /** The environment agents run with: git isolated from this machine. */
  readonly env: NodeJS.ProcessEnv;
  /** Writes files, commits and pushes; returns the commit. */
  push(files: Readonly<Record<string, string>>, message: string): Promise<string>;
  /** Creates every object of the working tree in the cluster (a first install) and waits until `expect` holds, ignoring progress records. */
  install(expect: readonly TargetExpectation[]): Promise<void>;
  /** Writes an agent configuration file; returns its path. */
  agentConfig(name: string, options?: AgentConfigOptions): Promise<string>;
  /** Starts an agent; its logs go to `<dir>/agent-<name>.log`. */
  startAgent(name: string, config: string, env?: NodeJS.ProcessEnv): AgentProcess;
  observe(targets: readonly TargetExpectation[]): Observer;
  /** Why `targets` are not yet rolled out to `source` (undefined when they are): version, pods Ready, rollout Succeeded. Without `source`, only the cluster state is checked. */
  notDone(targets: readonly TargetExpectation[], source?: string): string | undefined;
  /** The keys of every commit on the status branch (none when it does not exist). */
  statusKeys(): Promise<TransitionKey[]>;
  close(): Promise<void>;
}

type Obj = Record<string, unknown>;
const rec = (v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {});

/** Parses the progress record, or undefined when there is none. */
export function readSnapshot(object: KubeObject | undefined): ProgressSnapshot | undefined {
  const text = object?.metadata.annotations?.[progressAnnotation];
  if (text === undefined) return undefined;
  try {
    const value = rec(JSON.parse(text));
    if (typeof value['source'] !== 'string') return undefined;
    const step = rec(value['step']);
    return {
      source: value['source'],
      ...(typeof step['stage'] === 'string' ? { step: { stage: step['stage'], pods: Array.isArray(step['pods']) ? (step['pods'] as string[]) : [] } } : {}),
      done: Array.isArray(value['done']) ? (value['done'] as string[]) : [],
      ...(value['halted'] !== undefined ? { halted: value['halted'] } : {}),
      ...(typeof value['finishedAt'] === 'number' ? { finishedAt: value['finishedAt'] } : {}),
    };
  } catch {
    return undefined;
  }
}

function podReady(pod: KubeObject): boolean {
  const conditions = rec(pod['status'])['conditions'];
  return Array.isArray(conditions) && conditions.some((c) => rec(c)['type'] === 'Ready' && rec(c)['status'] === 'True');
}

function podImages(pod: KubeObject): string[] {
  const containers = rec(pod['spec'])['containers'];
  return Array.isArray(containers) ? containers.map((c) => { const image = rec(c)['image']; return typeof image === 'string' ? image : ''; }) : [];
}

/** Starts kube-sim, the git server and an empty repository. */
export async function startWorld(options: WorldOptions): Promise<World> {
  await mkdir(options.dir, { recursive: true });
  const sim = await startSimulation({ controllers: true, timeScale: options.timeScale ?? 20, seed: options.seed, ...(options.images !== undefined ? { images: options.images } : {}) });
  const kubeconfigPath = join(options.dir, 'kubeconfig');
  await sim.writeKubeconfig(kubeconfigPath);
  const git = await startGitHttpServer();
  const repo = await createTestRepository(git.root);
  const runtime = sim.runtime('sim');
  const store: ClusterStore = sim.cluster('sim').store;
  const type = (group: string, version: string, plural: string): ResourceType => {
    const found = store.registry.lookup(group, version, plural);
    if (found === undefined) throw new Error(`kube-sim has no ${group}/${version} ${plural}`);
    return found;
  };
  const types = {
    TidbCluster: type('pingcap.com', 'v1alpha1', 'tidbclusters'),
    RedisEnterpriseCluster: type('app.redislabs.com', 'v1', 'redisenterpriseclusters'),
    Deployment: type('apps', 'v1', 'deployments'),
    Pod: type('', 'v1', 'pods'),
  };
  let receivePack = false;
  const env: NodeJS.ProcessEnv = { ...testGitEnv(), FORGE_TOKEN: 'chaos-forge-token' };
  const agents: AgentProcess[] = [];

  const notDone = (targets: readonly TargetExpectation[], source?: string): string | undefined => {
    for (const t of targets) {
      const object = store.find(types[t.kind], t.namespace, t.name);
      if (object === undefined) return `${t.id} does not exist`;
      if (source !== undefined) {
        const progress = readSnapshot(object);
        if (progress?.source !== source) return `${t.id}: progress is for ${progress?.source.slice(0, 8) ?? 'nothing'}, not ${source.slice(0, 8)}`;
        if (progress.halted !== undefined) return `${t.id}: halted: ${JSON.stringify(progress.halted)}`;
        if (progress.finishedAt === undefined) return `${t.id}: rollout not finished`;
      }
      const status = rec(object['status']);
      if (t.kind === 'TidbCluster' && !(Array.isArray(status['conditions']) && status['conditions'].some((c) => rec(c)['type'] === 'Ready' && rec(c)['status'] === 'True'))) return `${t.id}: not Ready`;
      if (t.kind === 'RedisEnterpriseCluster' && status['state'] !== 'Running') return `${t.id}: state ${String(status['state'])}`;
      const pods = store.list(types.Pod, { namespace: t.namespace }).items;
      for (const want of t.pods) {
        const mine = pods.filter((p) => (p.metadata.name ?? '').startsWith(want.prefix));
        if (mine.length !== want.count) return `${t.id}: ${mine.length} pods ${want.prefix}*, want ${want.count}`;
        for (const pod of mine) {
          if (!podImages(pod).includes(want.image)) return `${t.id}: ${pod.metadata.name ?? ''} runs ${podImages(pod).join(',')}, want ${want.image}`;
          if (pod.metadata.deletionTimestamp !== undefined || !podReady(pod)) return `${t.id}: ${pod.metadata.name ?? ''} not Ready`;
        }
      }
    }
    return undefined;
  };

  return {
    sim,
    runtime,
    kubeconfigPath,
    git,
    repo,
    dir: options.dir,
    env,
    async push(files, message) {
      await repo.write({ ...files });
      const commit = await repo.commit(message);
      await repo.push();
      if (!receivePack) {
        // http-backend refuses anonymous pushes unless the repository allows them: the agent pushes status here.
        await run('git', ['--git-dir', repo.bareDir, 'config', 'http.receivepack', 'true']);
        receivePack = true;
      }
      return commit;
    },
    async install(expect) {
      const loaded = await loadRepository(repo.workDir);
      if (!loaded.valid) throw new Error(loaded.problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.message}`).join('\n'));
      const report = sim.load('sim', [...loaded.resources.map((r) => r.object), ...loaded.targets.map((t) => t.object)] as KubeObject[]);
      if (report.errors.length > 0) throw new Error(report.errors.join('\n'));
      await until(() => notDone(expect), 60_000, 'the first install to settle');
    },
    async agentConfig(name, configOptions = {}) {
      const path = join(options.dir, `agent-${name}.yaml`);
      const lines = [
        'apiVersion: rollgate.dev/v1alpha1',
        'kind: AgentConfig',
        `repo: ${git.repoUrl()}`,
        `interval: ${configOptions.interval ?? '1s'}`,
        `dataDir: ${join(options.dir, `data-${name}`)}`,
        `kubeconfig: ${kubeconfigPath}`,
        'listen: ""',
        'logLevel: debug',
      ];
      if (configOptions.leader !== undefined) {
        lines.push('leaderElection:', '  enabled: true', '  namespace: default', `  identity: ${configOptions.leader.identity}`, '  leaseDuration: 3s', '  renewDeadline: 2s', '  retryPeriod: 500ms');
      }
      if (configOptions.forgeUrl !== undefined) {
        lines.push('forge:', '  type: github', '  repository: acme/deploy', `  baseUrl: ${configOptions.forgeUrl}`, '  tokenEnv: FORGE_TOKEN');
      }
      await writeFile(path, `${lines.join('\n')}\n`);
      return path;
    },
    startAgent(name, config, agentEnv = env) {
      const agent = startAgentProcess({ name, config, env: agentEnv, logFile: join(options.dir, `agent-${name.split('#')[0] ?? name}.log`) });
      agents.push(agent);
      return agent;
    },
    observe(targets) {
      const since = runtime.events.lastSeq;
      const progressAt: number[] = [];
      const history = new Map<string, ProgressSnapshot[]>(targets.map((t) => [t.id, []]));
      const listeners: ((index: number, target: string) => void)[] = [];
      let boundaries = 0;
      const byKey = new Map(targets.map((t) => [`${t.kind}/${t.namespace}/${t.name}`, t]));
      const off = store.subscribe((event: StoreEvent) => {
        const meta = event.object.metadata;
        const kind = event.object.kind;
        if (kind === 'Pod') {
          const becameReady = podReady(event.object) && (event.previous === undefined || !podReady(event.previous));
          const terminating = meta.deletionTimestamp !== undefined && event.previous?.metadata.deletionTimestamp === undefined;
          if (event.type === 'ADDED' || becameReady || terminating) progressAt.push(Date.now());
          return;
        }
        const target = byKey.get(`${kind}/${meta.namespace ?? ''}/${meta.name ?? ''}`);
        if (target === undefined) return;
        const before = event.previous === undefined ? undefined : JSON.stringify({ a: event.previous.metadata.annotations, s: event.previous['spec'] });
        const after = JSON.stringify({ a: meta.annotations, s: event.object['spec'] });
        if (before === after) return; // a status write by the operator, not the agent
        progressAt.push(Date.now());
        const snapshot = readSnapshot(event.object);
        const list = history.get(target.id) ?? [];
        if (snapshot !== undefined && JSON.stringify(list.at(-1)) !== JSON.stringify(snapshot)) list.push(snapshot);
        history.set(target.id, list);
        boundaries++;
        for (const listener of listeners) listener(boundaries, target.id);
      });
      return {
        since,
        progressAt,
        history,
        onBoundary: (listener) => void listeners.push(listener),
        boundaries: () => boundaries,
        stop: () => void off(),
      };
    },
    notDone,
    async statusKeys() {
      const branches = await run('git', ['--git-dir', repo.bareDir, 'branch', '--list', 'rollgate/status']);
      if (branches.trim() === '') return [];
      const log = await run('git', ['--git-dir', repo.bareDir, 'log', '--format=%B%x1e', 'rollgate/status']);
      return log
        .split('\x1e')
        .map((message) => statusTrailers(message.trim()))
        .filter((t) => t !== undefined)
        .map((t) => ({ target: t.target, source: t.source, phase: t.phase, stage: t.stage, step: t.step }));
    },
    async close() {
      await Promise.all(agents.map((a) => a.kill()));
      await git.close();
      await sim.close();
      await rm(repo.workDir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` every 50 ms until it returns undefined; throws with its last answer after `timeoutMs`. */
export async function until(check: () => string | undefined | Promise<string | undefined>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: string | undefined;
  for (;;) {
    last = await check();
    if (last === undefined) return;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${Math.round(timeoutMs / 1000)} s: ${last}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
