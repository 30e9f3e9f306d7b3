/**
 * Benchmark of the planner: 1,000 TidbClusters (PD×3, TiKV×3, TiDB×2 each,
 * 8,000 live pods), planned against their live state with one version
 * change among them, and with all of them changed. Also the one-target plan
 * the agent makes when it knows which target a commit touched (`only`).
 *
 *   node bench/plan.ts [--targets N] [--runs N]
 *
 * Aims: one change among 1,000 under 50 ms; all 1,000 changed under 2 s.
 */
import { parseArgs } from 'node:util';
import { builtinPolicy, type Policy, type Position, type Target } from '../agent/manifests/index.ts';
import { createPlan, liveStateFrom } from '../agent/plan/index.ts';
import { liveObjects } from '../test/plan/helpers.ts';
import { median, printFigures } from './support/report.ts';

const { values } = parseArgs({ options: { targets: { type: 'string', default: '1000' }, runs: { type: 'string', default: '7' } } });
const count = Number(values.targets);
const runs = Number(values.runs);

const position: Position = { file: 'clusters/tidb.yaml', line: 1, column: 1 };
const policy: Policy = { suspend: false, progressDeadline: builtinPolicy.progressDeadline, gates: [...builtinPolicy.gates, { kind: 'soak', duration: 30_000 }], downgrade: 'deny', forceUpgrade: 'never', onFailure: 'halt', dependsOn: [], afterClusters: [], components: {}, origin: {} };

function tidbCluster(i: number, version: string): Record<string, unknown> {
  return {
    apiVersion: 'pingcap.com/v1alpha1',
    kind: 'TidbCluster',
    metadata: { name: `tc${i}`, namespace: `ns${i % 50}` },
    spec: { version, timezone: 'UTC', pd: { baseImage: 'pingcap/pd', replicas: 3, config: {} }, tikv: { baseImage: 'pingcap/tikv', replicas: 3, config: {} }, tidb: { baseImage: 'pingcap/tidb', replicas: 2, service: { type: 'ClusterIP' } } },
  };
}

function target(object: Record<string, unknown>): Target {
  const metadata = object['metadata'] as { name: string; namespace: string };
  return { id: `fleet/${metadata.namespace}/TidbCluster/${metadata.name}`, cluster: 'fleet', namespace: metadata.namespace, name: metadata.name, kind: 'TidbCluster', object, source: { type: 'manifest', document: 0 }, position, policy, locate: () => position } as unknown as Target;
}

const live = liveStateFrom(new Map([['fleet', liveObjects(Array.from({ length: count }, (_, i) => tidbCluster(i, 'v7.5.1')))]]));
const oneChanged = Array.from({ length: count }, (_, i) => target(tidbCluster(i, i === count - 1 ? 'v8.1.0' : 'v7.5.1')));
const allChanged = Array.from({ length: count }, (_, i) => target(tidbCluster(i, 'v8.1.0')));
const changedId = oneChanged[count - 1]?.id ?? '';

function timed(fn: () => void): number[] {
  fn(); // warm-up: JIT and caches
  return Array.from({ length: runs }, () => {
    const start = performance.now();
    fn();
    return performance.now() - start;
  });
}

let restarts = 0;
const one = timed(() => (restarts = createPlan({ targets: oneChanged, live, now: 0 }).summary.restarts));
if (restarts !== 8) throw new Error(`one change should restart 8 pods, planned ${restarts}`);
const all = timed(() => (restarts = createPlan({ targets: allChanged, live, now: 0 }).summary.restarts));
if (restarts !== 8 * count) throw new Error(`all changed should restart ${8 * count} pods, planned ${restarts}`);
const only = timed(() => createPlan({ targets: oneChanged, live, now: 0, only: new Set([changedId]) }));

printFigures(`planner: ${count} TidbClusters, ${8 * count} live pods (median of ${runs})`, [
  { name: `plan ${count} targets, one changed`, value: median(one), unit: 'ms', aim: { value: 50, better: 'lower' } },
  { name: `plan ${count} targets, all changed`, value: median(all), unit: 'ms', aim: { value: 2000, better: 'lower' } },
  { name: 'plan only the target a commit touched', value: median(only), unit: 'ms' },
]);
