/**
 * The agent's Kubernetes-facing parts, driven against kube-sim as the
 * agent drives them, for the RBAC check: the live cache (list and watch of
 * every kind the executor reads), the executor and its writer rolling and
 * creating each target kind (TidbCluster, RedisEnterpriseCluster,
 * StatefulSet by partition and OnDelete, Deployment), the Event reporter,
 * and leader election on a Lease; and the whole agent, `rollgate run
 * --once` as a child process, over a repository with every kind it
 * manages. Each scenario returns what happened, so the test can check that
 * it ran, not only that it asked for little.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadRepository } from '../../agent/manifests/index.ts';
import type { ObservedRequest } from '../../sim/server/api-server.ts';
import { createTestRepository, testGitEnv } from '../helpers/git-server.ts';
import { runCommand } from '../helpers/sim.ts';
import { fanOut, createEventReporter } from '../../agent/report/events.ts';
import type { RolloutOutcome } from '../../agent/rollout/executor.ts';
import { createLeaderElector, createLeaseClient, type LeaderEvent } from '../../agent/runtime/leader.ts';
import { eventually } from '../helpers/sim.ts';
import { memoryLogger } from '../helpers/memory-logger.ts';
import { namespace, simConfig, startRolloutFixture, tidbCluster } from '../rollout/helpers.ts';
import { startSimFixture } from '../helpers/sim.ts';
import type { ObserverOptions } from './observe.ts';

function redisOperator(version: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: redis-enterprise-operator, namespace: redis}
spec:
  replicas: 1
  selector: {matchLabels: {name: redis-enterprise-operator}}
  template:
    metadata: {labels: {name: redis-enterprise-operator}}
    spec:
      containers:
        - name: redis-enterprise-operator
          image: redislabs/operator:${version}
          readinessProbe: {httpGet: {path: /healthz, port: 8080}}
`;
}

function redisCluster(name: string, version: string): string {
  return `apiVersion: app.redislabs.com/v1
kind: RedisEnterpriseCluster
metadata: {name: ${name}, namespace: redis}
spec:
  nodes: 3
  redisEnterpriseImageSpec: {repository: redislabs/redis, versionTag: ${version}}
`;
}

function statefulSet(name: string, ns: string, image: string): string {
  return `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: ${name}, namespace: ${ns}}
spec:
  replicas: 2
  serviceName: ${name}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      containers:
        - name: ${name}
          image: ${image}
          readinessProbe: {httpGet: {path: /, port: 80}}
`;
}

function deployment(name: string, ns: string, image: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${ns}}
spec:
  replicas: 1
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      containers:
        - name: ${name}
          image: ${image}
          readinessProbe: {httpGet: {path: /, port: 80}}
`;
}

/** What {@link rollOutEveryKind} did. */
export interface RolloutScenarioResult {
  /** Outcome per target id. */
  readonly outcomes: ReadonlyMap<string, RolloutOutcome>;
  /** Transitions the reporter received (each also sent as an Event). */
  readonly transitions: number;
  /** Events the API server holds from rollgate after the run. */
  readonly events: number;
  /** Pods the executor deleted (the broken pod of a rollback). */
  readonly podDeletes: number;
  /** Messages of Halted and Refused transitions, for a failing test to show. */
  readonly halts: readonly string[];
  /** Warnings the event reporter logged (a refused Event shows here). */
  readonly reporterWarnings: readonly string[];
}

/**
 * One revision that upgrades an installed TidbCluster (PD, TiKV, TiDB), a
 * Redis Enterprise operator and cluster and a partition-driven StatefulSet;
 * rolls a second StatefulSet to an image that never becomes Ready, which
 * `onFailure: rollback` undoes by deleting the one broken pod; and creates
 * a TidbCluster, a RedisEnterpriseCluster, a StatefulSet and a Deployment
 * that are not installed. All through the executor, with the Event
 * reporter beside the recording one.
 *
 * (Pod deletion comes from the rollback, not from an OnDelete StatefulSet:
 * the executor's rollout-status gate waits for `currentRevision` to reach
 * `updateRevision`, which the StatefulSet controller never does under
 * OnDelete, so such a rollout halts at its deadline.)
 */
export async function rollOutEveryKind(observer: ObserverOptions): Promise<RolloutScenarioResult> {
  const r = await startRolloutFixture({ images: { images: [{ match: 'example/queue:broken', neverReady: true }] }, ...observer });
  const config = simConfig('targets:\n  - target: "sim/apps/StatefulSet/queue"\n    onFailure: rollback\n    progressDeadline: 2m\n');
  try {
    const installed = await r.write({
      'rollgate.yaml': config,
      'manifests/ns.yaml': [namespace('db'), namespace('redis'), namespace('apps'), namespace('fresh')].join('---\n'),
      'manifests/tidb.yaml': tidbCluster('basic', 'db', 'v7.5.1'),
      'manifests/redis-operator.yaml': redisOperator('7.4.6-2'),
      'manifests/redis-cluster.yaml': redisCluster('rec', '7.4.6-22'),
      'manifests/web.yaml': statefulSet('web', 'apps', 'example/web:v1'),
      'manifests/queue.yaml': statefulSet('queue', 'apps', 'example/queue:v1'),
    });
    await r.install(installed);
    await r.f.ok(['--context', 'sim', 'wait', '--for=jsonpath={.status.state}=Running', 'rec/rec', '-n', 'redis', '--timeout=30s']);
    const next = await r.write({
      'manifests/tidb.yaml': tidbCluster('basic', 'db', 'v8.1.0'),
      'manifests/redis-operator.yaml': redisOperator('7.8.2-6'),
      'manifests/redis-cluster.yaml': [redisCluster('rec', '7.8.2-10'), redisCluster('rec-new', '7.8.2-10')].join('---\n'),
      'manifests/web.yaml': statefulSet('web', 'apps', 'example/web:v2'),
      'manifests/queue.yaml': statefulSet('queue', 'apps', 'example/queue:broken'),
      'manifests/fresh.yaml': [tidbCluster('newdb', 'fresh', 'v8.1.0', { pd: 1, tikv: 1, tidb: 1 }), statefulSet('cache', 'fresh', 'example/cache:v1'), deployment('api', 'fresh', 'example/api:v1')].join('---\n'),
    });
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(r.f.kubeconfigPath);
    kubeConfig.setCurrentContext('sim');
    const log = memoryLogger();
    const since = r.lastSeq();
    const outcomes = await r.executor({ reporter: fanOut(r.reporter, createEventReporter({ clusters: new Map([['sim', kubeConfig]]), logger: log.logger })) }).apply({ targets: next.targets, source: 'rbac0001' });
    const events = JSON.parse(await r.f.ok(['--context', 'sim', 'get', 'events', '-A', '-o', 'json'])) as { items: { source?: { component?: string } }[] };
    return {
      outcomes,
      transitions: r.reporter.transitions.length,
      halts: r.reporter.transitions.filter((t) => t.phase === 'Halted' || t.phase === 'Refused').map((t) => `${t.target}: ${t.message}`),
      events: events.items.filter((e) => e.source?.component === 'rollgate').length,
      podDeletes: r.events(since, 'apps').filter((e) => e.type === 'ClientWrite' && e.verb === 'delete' && e.kind === 'Pod').length,
      reporterWarnings: log.lines().filter((l) => l.level >= 40).map((l) => l.msg),
    };
  } finally {
    await r.close();
  }
}

/** What {@link electLeader} saw. */
export interface LeaderScenarioResult {
  readonly events: readonly LeaderEvent['type'][];
  /** The Lease's holder after the release (empty: released). */
  readonly holderAfterRelease: string;
}

/**
 * Leader election as the agent runs it (agent/runtime/leader.ts): a
 * candidate finds no Lease and creates it, renews it, a second candidate
 * reads it and waits, and the leader releases it on shutdown.
 * @param leaseNamespace the agent's namespace (deploy/'s), where the Role grants Leases.
 */
export async function electLeader(observer: ObserverOptions, leaseNamespace: string): Promise<LeaderScenarioResult> {
  const f = await startSimFixture({ ...observer });
  const electors: ReturnType<typeof createLeaderElector>[] = [];
  try {
    const created = f.sim.load('sim', [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: leaseNamespace } }]);
    if (created.errors.length > 0) throw new Error(created.errors.join('\n'));
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(f.kubeconfigPath);
    const api = createLeaseClient(kubeConfig);
    const timing = { leaseDurationMs: 4000, renewDeadlineMs: 2000, retryPeriodMs: 100 };
    const leader = createLeaderElector({ api, namespace: leaseNamespace, name: 'rollgate', identity: 'rollgate-0', ...timing });
    electors.push(leader);
    const events: LeaderEvent['type'][] = [];
    leader.subscribe((e) => void events.push(e.type));
    leader.start();
    await eventually(() => {
      if (!events.includes('renewed')) throw new Error(`not renewed yet: ${events.join(', ')}`);
    });
    const follower = createLeaderElector({ api, namespace: leaseNamespace, name: 'rollgate', identity: 'rollgate-1', ...timing });
    electors.push(follower);
    follower.start();
    await eventually(() => {
      if (follower.leader() !== 'rollgate-0') throw new Error(`the follower has not seen the leader yet: ${String(follower.leader())}`);
    });
    await follower.stop();
    await leader.release();
    const lease = JSON.parse(await f.kubectl(['get', 'lease', 'rollgate', '-n', leaseNamespace, '-o', 'json']).then((r) => r.stdout)) as { spec: { holderIdentity?: string } };
    return { events, holderAfterRelease: lease.spec.holderIdentity ?? '' };
  } finally {
    for (const e of electors) await e.stop().catch(() => undefined);
    await f.close();
  }
}

/** What {@link runOnceEveryKind} saw. */
export interface ProcessScenarioResult {
  /** Exit code of `rollgate run --once` (3: a rollout halted, as the rollback target's does). */
  readonly exitCode: number;
  /** Outcome per target id, from the process's `one reconcile done` log line; empty when it logged none. */
  readonly outcomes: Readonly<Record<string, string>>;
  /** The requests the process made (told apart by the identity in its User-Agent), as `verb group/resource`, sorted, each once. */
  readonly requests: readonly string[];
  /** The identity the process ran as (`POD_NAME`). */
  readonly identity: string;
  /** The last lines the process logged, for a failing test to show. */
  readonly logTail: string;
}

/** A Helm release of pingcap/tidb-cluster, with the values rollgate reads from its values file. */
function helmRelease(name: string, ns: string): string {
  return `apiVersion: rollgate.dev/v1alpha1
kind: HelmRelease
metadata: {name: ${name}, namespace: ${ns}}
spec:
  chart: {name: tidb-cluster, repository: https://charts.pingcap.org/, version: v1.5.0}
  valuesFiles: [values.yaml]
`;
}

function helmValues(version: string): string {
  // Three PD members: kube-sim's TiDB Operator model waits forever to move the leader off a single PD (the real one skips that step).
  return `pd: {replicas: 3, image: pingcap/pd:${version}}
tikv: {replicas: 3, image: pingcap/tikv:${version}}
tidb: {replicas: 1, image: pingcap/tidb:${version}}
`;
}

/**
 * The whole agent as a process: `rollgate run --once` (the CLI, its own
 * kubeconfig loading, watch caches, executor, writer, Event reporter) over
 * a Git repository whose second commit upgrades an installed TidbCluster,
 * a TidbCluster of a Helm release (values.yaml), a Redis Enterprise
 * operator Deployment and cluster, a partition-driven StatefulSet and a
 * Deployment; rolls a StatefulSet to an image that never becomes Ready
 * (undone by `onFailure: rollback`, which deletes the broken pod); and
 * creates one target of each kind that is not installed. Leader election
 * is off under `--once` (one process, nothing to elect): the Lease
 * requests are {@link electLeader}'s.
 *
 * The process runs its rollouts on the wall clock, so the repository has
 * no soak gates and the rollback target a short deadline.
 */
export async function runOnceEveryKind(observer: ObserverOptions): Promise<ProcessScenarioResult> {
  const identity = 'rollgate-rbac-once';
  const own = new Set<string>();
  const r = await startRolloutFixture({
    images: { images: [{ match: 'example/queue:broken', neverReady: true }] },
    onRequest: (request: ObservedRequest) => {
      observer.onRequest(request);
      if (request.userAgent.endsWith(`(${identity})`)) own.add(`${request.verb} ${request.resourceRequest ? `${request.group === '' ? 'core' : request.group}/${request.resource}${request.subresource !== '' ? `/${request.subresource}` : ''}` : request.path}`);
    },
  });
  const root = await mkdtemp(join(tmpdir(), 'rollgate-rbac-once-'));
  try {
    const repo = await createTestRepository(root);
    const policy = `apiVersion: rollgate.dev/v1alpha1
kind: Config
clusters:
  - name: sim
    paths: [manifests]
defaults:
  progressDeadline: 1m
  gates:
    - podReady: {}
    - rolloutStatus: {}
targets:
  - target: "sim/apps/StatefulSet/queue"
    onFailure: rollback
    progressDeadline: 3s
`;
    await repo.write({
      'rollgate.yaml': policy,
      'manifests/ns.yaml': [namespace('db'), namespace('analytics'), namespace('redis'), namespace('apps'), namespace('fresh')].join('---\n'),
      'manifests/tidb.yaml': tidbCluster('basic', 'db', 'v7.5.1'),
      'manifests/analytics/release.yaml': helmRelease('analytics', 'analytics'),
      'manifests/analytics/values.yaml': helmValues('v7.5.1'),
      'manifests/redis-operator.yaml': redisOperator('7.4.6-2'),
      'manifests/redis-cluster.yaml': redisCluster('rec', '7.4.6-22'),
      'manifests/web.yaml': statefulSet('web', 'apps', 'example/web:v1'),
      'manifests/queue.yaml': statefulSet('queue', 'apps', 'example/queue:v1'),
      'manifests/api.yaml': deployment('api', 'apps', 'example/api:v1'),
    });
    await repo.commit('everything at v1');
    await repo.push();
    const installed = await loadRepository(repo.workDir);
    if (!installed.valid) throw new Error(installed.problems.map((p) => `${p.file}:${p.line}: ${p.message}`).join('\n'));
    await r.install(installed);
    await r.f.ok(['--context', 'sim', 'wait', '--for=jsonpath={.status.state}=Running', 'rec/rec', '-n', 'redis', '--timeout=30s']);
    await r.f.ok(['--context', 'sim', 'rollout', 'status', 'deploy/api', '-n', 'apps', '--timeout=30s']);

    await repo.write({
      'manifests/tidb.yaml': tidbCluster('basic', 'db', 'v8.1.0'),
      'manifests/analytics/values.yaml': helmValues('v8.1.0'),
      'manifests/redis-operator.yaml': redisOperator('7.8.2-6'),
      'manifests/redis-cluster.yaml': [redisCluster('rec', '7.8.2-10'), redisCluster('rec-new', '7.8.2-10')].join('---\n'),
      'manifests/web.yaml': statefulSet('web', 'apps', 'example/web:v2'),
      'manifests/queue.yaml': statefulSet('queue', 'apps', 'example/queue:broken'),
      'manifests/api.yaml': deployment('api', 'apps', 'example/api:v2'),
      'manifests/fresh.yaml': [tidbCluster('newdb', 'fresh', 'v8.1.0', { pd: 1, tikv: 1, tidb: 1 }), statefulSet('cache', 'fresh', 'example/cache:v1'), deployment('worker', 'fresh', 'example/worker:v1')].join('---\n'),
    });
    await repo.commit('everything at v2, a broken queue, new targets');
    await repo.push();

    const cli = fileURLToPath(new URL('../../agent/cli/main.ts', import.meta.url));
    const run = await runCommand(process.execPath, [cli, 'run', '--once', '--repo', repo.bareDir, '--kubeconfig', r.f.kubeconfigPath], {
      env: { ...testGitEnv(), POD_NAME: identity, ROLLGATE_DATA_DIR: join(root, 'data'), ROLLGATE_LISTEN: '', ROLLGATE_LOG_LEVEL: 'info' },
      timeoutMs: 90_000,
    });
    const done = run.stderr
      .split('\n')
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as { msg?: string; outcomes?: Record<string, string> }];
        } catch {
          return [];
        }
      })
      .find((l) => l.msg === 'one reconcile done');
    return { exitCode: run.code, outcomes: done?.outcomes ?? {}, requests: [...own].sort(), identity, logTail: run.stderr.split('\n').slice(-30).join('\n') };
  } finally {
    await r.close();
    await rm(root, { recursive: true, force: true });
  }
}
