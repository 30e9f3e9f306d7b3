/**
 * Helpers for the planner's table tests: a repository copied from
 * examples-repo with edits, and the live side as data. The planner is a pure
 * function of (targets, live state, time), so its table tests give it live
 * objects directly: what the API server would return after the workloads'
 * controllers and operators ran, with the fields the server defaults.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterObjects, loadRepository, type KubeObject, type LoadResult } from '../../agent/manifests/index.ts';
import { liveStateFrom, type LiveState } from '../../agent/plan/index.ts';
import { imagesOf, redisClusterImage, tidbClusterComponents, tidbComponentImage } from '../../agent/plan/versions.ts';

/** The examples repository. */
export const examplesRepo = new URL('../../examples-repo', import.meta.url).pathname;

/** A fixed planning time: Friday 2026-11-20 12:00 UTC, outside the examples' nightly TiDB window. */
export const planningTime = Date.parse('2026-11-20T12:00:00Z');

type Obj = Record<string, unknown>;
const clone = <T>(value: T): T => structuredClone(value);

/** An edit of one file: replace `from` (which must occur) with `to`. */
export interface Edit {
  readonly file: string;
  readonly from: string | RegExp;
  readonly to: string;
}

/** Copies examples-repo to a temporary directory, applies the edits, and loads it; `cleanup` removes the copy. */
export async function examplesWith(edits: readonly Edit[] = []): Promise<{ dir: string; result: LoadResult; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'rollgate-plan-'));
  await cp(examplesRepo, dir, { recursive: true });
  for (const edit of edits) {
    const path = join(dir, edit.file);
    const text = await readFile(path, 'utf8');
    const next = text.replace(edit.from, edit.to);
    if (next === text) throw new Error(`edit of ${edit.file} changed nothing: ${String(edit.from)}`);
    await writeFile(path, next);
  }
  const result = await loadRepository(dir);
  if (!result.valid) throw new Error(`invalid test repository: ${result.problems.map((p) => `${p.file}:${p.line}: ${p.message}`).join('; ')}`);
  return { dir, result, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

let rv = 1000;
/** What the API server adds to every object it stores. */
function stored(object: Obj): KubeObject {
  const metadata = object['metadata'] as Obj;
  return { ...object, metadata: { ...metadata, uid: `uid-${String(metadata['name'])}`, resourceVersion: String(rv++), generation: 1, creationTimestamp: '2026-11-01T00:00:00Z' } } as unknown as KubeObject;
}

function readyPod(name: string, namespace: string, labels: Record<string, string>, containers: readonly { name: string; image: string }[], ready = true): KubeObject {
  return stored({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels },
    spec: { containers: containers.map((c) => ({ ...c, imagePullPolicy: 'IfNotPresent', terminationMessagePath: '/dev/termination-log' })), restartPolicy: 'Always', dnsPolicy: 'ClusterFirst' },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  });
}

/** A StatefulSet as the API server returns it after defaulting (apps/v1 `SetDefaults_StatefulSet`). */
function defaultedStatefulSet(object: Obj): KubeObject {
  const spec = clone(object['spec'] as Obj);
  spec['replicas'] ??= 1;
  spec['podManagementPolicy'] ??= 'OrderedReady';
  spec['revisionHistoryLimit'] ??= 10;
  const strategy = (spec['updateStrategy'] ??= { type: 'RollingUpdate' }) as Obj;
  if (strategy['type'] === 'RollingUpdate') strategy['rollingUpdate'] ??= { partition: 0 };
  spec['persistentVolumeClaimRetentionPolicy'] ??= { whenDeleted: 'Retain', whenScaled: 'Retain' };
  const template = spec['template'] as Obj;
  const podSpec = template['spec'] as Obj;
  podSpec['restartPolicy'] ??= 'Always';
  podSpec['terminationGracePeriodSeconds'] ??= 30;
  podSpec['dnsPolicy'] ??= 'ClusterFirst';
  podSpec['schedulerName'] ??= 'default-scheduler';
  podSpec['containers'] = (podSpec['containers'] as Obj[]).map((c) => ({ ...c, imagePullPolicy: c['imagePullPolicy'] ?? 'IfNotPresent', terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File' }));
  const replicas = spec['replicas'] as number;
  return stored({ ...object, spec, status: { replicas, readyReplicas: replicas, currentReplicas: replicas, updatedReplicas: replicas, currentRevision: `${String((object['metadata'] as Obj)['name'])}-rev1`, updateRevision: `${String((object['metadata'] as Obj)['name'])}-rev1`, observedGeneration: 1 } });
}

/** Options for {@link liveCluster}. */
export interface LiveOptions {
  /** Pods (by name) that run this image instead of their workload's, e.g. already upgraded. */
  readonly podImages?: Readonly<Record<string, string>>;
  /** Pods (by name) that are not Ready. */
  readonly unready?: readonly string[];
  /** Objects (by `kind/name`) with this merged into them after creation: a hand edit, an annotation, a status. */
  readonly overrides?: Readonly<Record<string, (object: Obj) => void>>;
}

/**
 * The live objects of a cluster whose manifests are `objects`, as if they had
 * been applied and every controller had settled: StatefulSets and pods for
 * TidbClusters (one per component, container named after it) and Redis
 * Enterprise clusters, pods for workloads, all Running and Ready.
 */
export function liveObjects(objects: readonly Obj[], options: LiveOptions = {}): KubeObject[] {
  const out: KubeObject[] = [];
  const image = (pod: string, fallback: string): string => options.podImages?.[pod] ?? fallback;
  const ready = (pod: string): boolean => !(options.unready ?? []).includes(pod);
  for (const original of objects) {
    const object = clone(original);
    const metadata = object['metadata'] as Obj;
    const name = String(metadata['name']);
    const namespace = typeof metadata['namespace'] === 'string' ? metadata['namespace'] : 'default';
    const kind = String(object['kind']);
    let live: KubeObject;
    if (kind === 'StatefulSet') {
      live = defaultedStatefulSet(object);
      const spec = live['spec'] as Obj;
      const containers = Object.entries(imagesOf('StatefulSet', live)).map(([n, i]) => ({ name: n, image: i }));
      for (let i = 0; i < Number(spec['replicas']); i++) out.push(readyPod(`${name}-${i}`, namespace, { 'controller-revision-hash': `${name}-rev1` }, containers.map((c) => ({ ...c, image: image(`${name}-${i}`, c.image) })), ready(`${name}-${i}`)));
    } else if (kind === 'Deployment') {
      live = stored({ ...object, status: { observedGeneration: 1, replicas: (object['spec'] as Obj)['replicas'] ?? 1, availableReplicas: (object['spec'] as Obj)['replicas'] ?? 1 } });
      const spec = object['spec'] as Obj;
      const labels = ((spec['template'] as Obj)['metadata'] as Obj)['labels'] as Record<string, string>;
      const containers = Object.entries(imagesOf('Deployment', live)).map(([n, i]) => ({ name: n, image: i }));
      for (let i = 0; i < Number(spec['replicas'] ?? 1); i++) out.push(readyPod(`${name}-5d4f8b7c9-${'abcde'[i] ?? i}`, namespace, labels, containers, ready(`${name}-${i}`)));
    } else if (kind === 'TidbCluster') {
      live = stored({ ...object, status: { pd: { synced: true, phase: 'Normal' }, tikv: { synced: true, phase: 'Normal' }, tidb: { phase: 'Normal' } } });
      for (const component of tidbClusterComponents(live)) {
        const componentImage = tidbComponentImage(live, component) ?? `pingcap/${component}:latest`;
        const replicas = Number(((live['spec'] as Obj)[component] as Obj)['replicas'] ?? 1);
        const stsName = `${name}-${component}`;
        out.push(defaultedStatefulSet({ apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: stsName, namespace }, spec: { replicas, podManagementPolicy: 'Parallel', updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: replicas } }, template: { spec: { containers: [{ name: component, image: componentImage }] } } } }));
        for (let i = 0; i < replicas; i++) out.push(readyPod(`${stsName}-${i}`, namespace, { 'app.kubernetes.io/component': component }, [{ name: component, image: image(`${stsName}-${i}`, componentImage) }], ready(`${stsName}-${i}`)));
      }
    } else if (kind === 'RedisEnterpriseCluster') {
      live = stored({ ...object, status: { state: 'Running', specStatus: 'Valid' } });
      const nodes = Number((live['spec'] as Obj)['nodes'] ?? 3);
      const clusterImage = redisClusterImage(live) ?? 'redislabs/redis:latest';
      out.push(defaultedStatefulSet({ apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name, namespace }, spec: { replicas: nodes, template: { spec: { containers: [{ name: 'redis-enterprise-node', image: clusterImage }] } } } }));
      for (let i = 0; i < nodes; i++) out.push(readyPod(`${name}-${i}`, namespace, { app: 'redis-enterprise' }, [{ name: 'redis-enterprise-node', image: image(`${name}-${i}`, clusterImage) }], ready(`${name}-${i}`)));
    } else {
      live = stored(object);
    }
    out.push(live);
  }
  for (const object of out) options.overrides?.[`${object.kind}/${object.metadata.name}`]?.(object);
  return out;
}

/** The live state of examples-repo as it is in the repository (before any edit), for every cluster. */
export async function examplesLive(options: LiveOptions = {}): Promise<LiveState> {
  const { clusters } = await clusterObjects(examplesRepo);
  return liveStateFrom(new Map(clusters.map((c) => [c.name, liveObjects(c.objects, options)])));
}
