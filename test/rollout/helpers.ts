/**
 * Helpers for executor tests: kube-sim with controllers and operators, a
 * rollgate repository written for the scenario, the agent's watch cache and
 * writer per cluster, an executor whose clock is the simulation's (so a 10 s
 * soak takes 0.1 s at time scale 100), and a reporter that records every
 * transition.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pino from 'pino';
import { createLiveCache, rollgateResources, type LiveCache } from '../../agent/live/index.ts';
import { loadRepository, type LoadResult } from '../../agent/manifests/index.ts';
import { createExecutor, type Executor, type ExecutorOptions } from '../../agent/rollout/executor.ts';
import type { RolloutClock } from '../../agent/rollout/gates.ts';
import type { Reporter, RolloutTransition } from '../../agent/rollout/reporter.ts';
import { createClusterWriter } from '../../agent/rollout/writer.ts';
import type { SimEvent } from '../../sim/controllers/event-record.ts';
import type { SimulationOptions } from '../../sim/simulation.ts';
import { eventually } from '../helpers/sim.ts';
import { startControllerFixture, type ControllerFixture } from '../sim/controllers/helpers.ts';

/** A rollgate.yaml for one cluster named `sim` holding every file of the repository. */
export function simConfig(extra = ''): string {
  return `apiVersion: rollgate.dev/v1alpha1
kind: Config
clusters:
  - name: sim
    paths: [manifests]
defaults:
  progressDeadline: 5m
  gates:
    - podReady: {}
    - rolloutStatus: {}
    - soak: {duration: 10s}
${extra}`;
}

/** A TidbCluster manifest. */
export function tidbCluster(name: string, namespace: string, version: string, replicas: { pd: number; tikv: number; tidb: number } = { pd: 3, tikv: 3, tidb: 2 }): string {
  return `apiVersion: pingcap.com/v1alpha1
kind: TidbCluster
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  version: ${version}
  pd:
    baseImage: pingcap/pd
    replicas: ${replicas.pd}
  tikv:
    baseImage: pingcap/tikv
    replicas: ${replicas.tikv}
  tidb:
    baseImage: pingcap/tidb
    replicas: ${replicas.tidb}
`;
}

/** A namespace manifest. */
export function namespace(name: string): string {
  return `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n`;
}

/** The executor's clock, driven by the simulation's: timestamps agree and waits run at the simulation's speed. */
export function simClock(f: ControllerFixture): RolloutClock {
  return { now: () => f.sim.clock.now(), setTimeout: (callback, ms) => f.sim.clock.after(ms, callback) };
}

/** A reporter that keeps every transition. */
export function recordingReporter(): Reporter & { transitions: RolloutTransition[] } {
  const transitions: RolloutTransition[] = [];
  return { transitions, report: async (t) => void transitions.push(t) };
}

export interface RolloutFixture {
  readonly f: ControllerFixture;
  readonly repo: string;
  readonly reporter: Reporter & { transitions: RolloutTransition[] };
  /** The watch cache of the first cluster. */
  readonly cache: LiveCache;
  /** The watch cache of each cluster. */
  readonly caches: ReadonlyMap<string, LiveCache>;
  /** Writes files (relative to the repository) and loads the repository. */
  write(files: Readonly<Record<string, string>>): Promise<LoadResult>;
  /** Applies every object of the repository to its cluster, as a first install, and waits for TidbClusters and StatefulSets to be Ready. */
  install(result: LoadResult): Promise<void>;
  /** A new executor over the fixture's clusters (one per agent "process"). */
  executor(options?: Partial<ExecutorOptions>): Executor;
  /** Pod restarts (PodTerminating events, in order) since `since`, as pod names. Default cluster: the first. */
  restarts(since: number, namespace: string, cluster?: string): string[];
  events(since: number, namespace: string, cluster?: string): SimEvent[];
  lastSeq(cluster?: string): number;
  close(): Promise<void>;
}

/** Options of {@link startRolloutFixture}: the simulation's, and the clusters to serve (default one named `sim`). */
export type RolloutFixtureOptions = SimulationOptions & { readonly clusters?: readonly string[] };

/** Starts kube-sim (cluster `sim`, or the named clusters), a watch cache over each, and a temporary repository. */
export async function startRolloutFixture(options: RolloutFixtureOptions = {}): Promise<RolloutFixture> {
  const clusters = options.clusters ?? ['sim'];
  const first = clusters[0] ?? 'sim';
  const f = await startControllerFixture({ ...options, clusters: [...clusters] });
  const repo = await mkdtemp(join(tmpdir(), 'rollgate-rollout-'));
  const kubeConfigs = new Map<string, KubeConfig>();
  const caches = new Map<string, LiveCache>();
  for (const cluster of clusters) {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(f.kubeconfigPath);
    kubeConfig.setCurrentContext(cluster);
    kubeConfigs.set(cluster, kubeConfig);
    const cache = createLiveCache({ kubeConfig, resources: rollgateResources.filter((r) => r.plural !== 'leases' && r.plural !== 'controllerrevisions') });
    await cache.start();
    caches.set(cluster, cache);
  }
  const reporter = recordingReporter();
  const logger = pino({ level: process.env['ROLLGATE_TEST_LOG'] ?? 'silent' });
  const executors: Executor[] = [];
  const stopping = new AbortController();
  const runtime = (cluster: string | undefined): ReturnType<ControllerFixture['sim']['runtime']> => f.sim.runtime(cluster ?? first);
  return {
    f,
    repo,
    reporter,
    cache: caches.get(first) as LiveCache,
    caches,
    async write(files) {
      for (const [path, text] of Object.entries(files)) {
        await mkdir(dirname(join(repo, path)), { recursive: true });
        await writeFile(join(repo, path), text);
      }
      const result = await loadRepository(repo);
      if (!result.valid) throw new Error(result.problems.map((p) => `${p.file}:${p.line}: ${p.message}`).join('\n'));
      return result;
    },
    async install(result) {
      for (const cluster of clusters) {
        const objects = [...result.resources.filter((r) => r.cluster === cluster).map((r) => r.object), ...result.targets.filter((t) => t.cluster === cluster).map((t) => t.object)];
        const report = f.sim.load(cluster, objects);
        if (report.errors.length > 0) throw new Error(report.errors.join('\n'));
        await eventually(async () => {
          const tcs = await f.kubectl(['--context', cluster, 'get', 'tc', '-A', '-o', 'jsonpath={range .items[*]}{.status.conditions[0].status} {end}']);
          if (tcs.stdout.trim().split(' ').some((s) => s !== 'True' && s !== '')) throw new Error(`not ready: ${tcs.stdout}`);
          const sts = await f.kubectl(['--context', cluster, 'get', 'sts', '-A', '-o', 'jsonpath={range .items[*]}{.status.readyReplicas}/{.spec.replicas} {end}']);
          if (!sts.stdout.trim().split(' ').every((r) => r === '' || r.split('/')[0] === r.split('/')[1])) throw new Error(`not ready: ${sts.stdout}`);
        }, 30_000);
      }
    },
    executor(overrides = {}) {
      const clock = simClock(f);
      const access = new Map([...kubeConfigs].map(([cluster, kubeConfig]) => [cluster, { cache: caches.get(cluster) as LiveCache, writer: createClusterWriter({ kubeConfig, clock, logger, signal: stopping.signal }) }]));
      const executor = createExecutor({ clusters: access, reporter, logger, clock, ...overrides });
      executors.push(executor);
      return executor;
    },
    restarts(since, ns, cluster) {
      return runtime(cluster)
        .events.list({ since, namespace: ns, kind: 'Pod', types: ['PodTerminating'] })
        .map((e) => e.name);
    },
    events: (since, ns, cluster) => runtime(cluster).events.list({ since, namespace: ns }),
    lastSeq: (cluster) => runtime(cluster).events.lastSeq,
    async close() {
      stopping.abort();
      await Promise.all(executors.map((e) => e.stop()));
      await Promise.all([...caches.values()].map((c) => c.stop()));
      await f.close();
      await rm(repo, { recursive: true, force: true });
    },
  };
}
