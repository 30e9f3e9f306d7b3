/**
 * A model of TiDB Operator v1.x (reference §4): a TidbCluster owns one
 * StatefulSet per component, each held at `partition = replicas`, and the
 * operator upgrades components in its order (PD → TiProxy → TiFlash → TiKV
 * → Pump → TiDB → TiCDC), each waiting for its predecessors, one pod at a
 * time from the highest ordinal by lowering the partition. Before a PD pod
 * restarts it moves the PD leader away; before a TiKV pod restarts it
 * evicts the store's region leaders and waits for zero. `spec.paused` stops
 * all StatefulSet writes; `tidb.pingcap.com/force-upgrade` has exactly the
 * upstream effect when PD is unavailable.
 */
import type { SimClock } from '../clock.ts';
import type { KubeObject } from '../api/object.ts';
import { clone, isPlainObject, jsonEqual } from '../api/object.ts';
import type { ResourceType } from '../api/resources.ts';
import type { ClusterStore, StoreEvent } from '../api/store.ts';
import type { Controller, ControllerManager, ReconcileResult } from '../controllers/manager.ts';

/** Component keys in the operator's sync order (`tidb_cluster_control.go`). */
export const tidbComponentOrder = ['pd', 'tiproxy', 'tiflash', 'tikv', 'pump', 'tidb', 'ticdc'] as const;
export type TidbComponent = (typeof tidbComponentOrder)[number];

const defaultBaseImages: Record<TidbComponent, string> = {
  pd: 'pingcap/pd',
  tiproxy: 'pingcap/tiproxy',
  tiflash: 'pingcap/tiflash',
  tikv: 'pingcap/tikv',
  pump: 'pingcap/tidb-binlog',
  tidb: 'pingcap/tidb',
  ticdc: 'pingcap/ticdc',
};

/** Components each one waits for before it may upgrade (`isTiKVReadyToUpgrade` and friends). */
const predecessors: Record<TidbComponent, readonly TidbComponent[]> = {
  pd: [],
  tiproxy: ['pd'],
  tiflash: ['pd'],
  tikv: ['pd', 'tiflash'],
  pump: ['pd', 'tikv', 'tiflash'],
  tidb: ['pd', 'tikv', 'tiflash', 'pump'],
  ticdc: ['pd', 'tikv', 'tiflash', 'pump', 'tidb'],
};

export const forceUpgradeAnnotation = 'tidb.pingcap.com/force-upgrade';

/** Leaders a TiKV store holds at rest, and how fast they move (per simulated second). */
const leadersPerStore = 300;
const leaderMovesPerSecond = 150;
/** Simulated time PD takes to hand its leadership to another member. */
const leaderTransferMs = 500;
/** How often an upgrade in progress is looked at again while it waits on time-driven state. */
const stepRequeueMs = 250;

type Obj = Record<string, unknown>;
const rec = (v: unknown): Obj => (isPlainObject(v) ? v : {});

export type ComponentPhase = 'Normal' | 'Upgrade' | 'Scale' | 'Suspend';

interface StoreLeaders {
  /** Leaders when the last eviction began. */
  before: number;
  /** Leader count at `since`, moving toward `target` at leaderMovesPerSecond. */
  count: number;
  target: number;
  since: number;
  evicting: boolean;
}

/** The operator's name as the event record shows its writes. */
export const tidbOperatorName = 'tidb-controller-manager';

export interface TidbOperator extends Controller {
  /**
   * Makes PD unavailable for a cluster, as a bad PD config or image would:
   * PD members report unhealthy and `status.pd.synced` is false until every
   * PD pod runs a newer revision than the one broken now.
   */
  setPdUnavailable(namespace: string, name: string, unavailable: boolean): void;
}

function clusterKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** The image the operator renders for a component (`PDImage()` and its siblings). */
export function tidbComponentImage(tc: KubeObject, component: TidbComponent): string | undefined {
  const spec = rec(tc.spec);
  const c = rec(spec[component]);
  const version = typeof c['version'] === 'string' ? c['version'] : typeof spec['version'] === 'string' ? spec['version'] : undefined;
  if (typeof c['baseImage'] === 'string' && c['baseImage'] !== '') return version ? `${c['baseImage']}:${version}` : c['baseImage'];
  if (typeof c['image'] === 'string' && c['image'] !== '') return c['image'];
  return version ? `${defaultBaseImages[component]}:${version}` : undefined;
}

/** Components a TidbCluster declares, in the operator's order. */
export function tidbComponents(tc: KubeObject): TidbComponent[] {
  const spec = rec(tc.spec);
  return tidbComponentOrder.filter((c) => isPlainObject(spec[c]));
}

function podIsReady(pod: KubeObject | undefined): boolean {
  if (!pod || pod.metadata.deletionTimestamp) return false;
  const status = rec(pod.status);
  if (status['phase'] !== 'Running') return false;
  const conditions = Array.isArray(status['conditions']) ? (status['conditions'] as unknown[]) : [];
  return conditions.some((c) => rec(c)['type'] === 'Ready' && rec(c)['status'] === 'True');
}

/** The operator as a controller of one simulated cluster; register it with the cluster's manager. */
export function createTidbOperator(manager: ControllerManager): TidbOperator {
  const store: ClusterStore = manager.store;
  const clock: SimClock = manager.clock;
  const tcType = store.registry.lookup('pingcap.com', 'v1alpha1', 'tidbclusters') as ResourceType;
  const stsType = store.registry.lookup('apps', 'v1', 'statefulsets') as ResourceType;
  const podType = store.registry.lookup('', 'v1', 'pods') as ResourceType;
  const pdBroken = new Map<string, string>(); // cluster key → PD updateRevision at the time it broke
  const leaders = new Map<string, StoreLeaders>(); // `${cluster}/${pod}` → leader state
  const pdLeader = new Map<string, { name: string; transferUntil: number }>();

  const keysFor = (event: StoreEvent): string[] => {
    const meta = event.object.metadata;
    if (event.resource === tcType) return [clusterKey(meta.namespace ?? '', meta.name ?? '')];
    if (event.resource === stsType || event.resource === podType) {
      const instance = meta.labels?.['app.kubernetes.io/instance'];
      if (meta.labels?.['app.kubernetes.io/managed-by'] === 'tidb-operator' && instance) return [clusterKey(meta.namespace ?? '', instance)];
    }
    return [];
  };

  const leaderCount = (key: string): number => {
    const s = leaders.get(key);
    if (!s) return leadersPerStore;
    const moved = ((clock.now() - s.since) / 1000) * leaderMovesPerSecond;
    return s.count > s.target ? Math.max(s.target, Math.round(s.count - moved)) : Math.min(s.target, Math.round(s.count + moved));
  };
  const setLeaderTarget = (key: string, target: number, evicting: boolean): void => {
    const count = leaderCount(key);
    const before = evicting ? count : (leaders.get(key)?.before ?? leadersPerStore);
    leaders.set(key, { before, count, target, since: clock.now(), evicting });
  };

  function labelsFor(tc: KubeObject, component: TidbComponent): Record<string, string> {
    return {
      'app.kubernetes.io/name': 'tidb-cluster',
      'app.kubernetes.io/managed-by': 'tidb-operator',
      'app.kubernetes.io/instance': tc.metadata.name ?? '',
      'app.kubernetes.io/component': component,
    };
  }

  function renderStatefulSet(tc: KubeObject, component: TidbComponent, image: string, replicas: number, partition: number): KubeObject {
    const labels = labelsFor(tc, component);
    const name = `${tc.metadata.name ?? ''}-${component}`;
    return {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: {
        name,
        namespace: tc.metadata.namespace,
        labels,
        ownerReferences: [{ apiVersion: 'pingcap.com/v1alpha1', kind: 'TidbCluster', name: tc.metadata.name ?? '', uid: tc.metadata.uid ?? '', controller: true, blockOwnerDeletion: true }],
      },
      spec: {
        replicas,
        serviceName: `${name}-peer`,
        selector: { matchLabels: labels },
        // The operator runs every component with Parallel pod management and steps the partition itself.
        podManagementPolicy: 'Parallel',
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition } },
        template: {
          metadata: { labels },
          spec: { containers: [{ name: component, image }], terminationGracePeriodSeconds: 30 },
        },
      },
    };
  }

  function templateImage(sts: KubeObject, component: TidbComponent): string | undefined {
    const containers = rec(rec(rec(sts.spec)['template'])['spec'])['containers'];
    const c = Array.isArray(containers) ? (containers as unknown[]).map(rec).find((x) => x['name'] === component) : undefined;
    return typeof c?.['image'] === 'string' ? c['image'] : undefined;
  }

  function podsOf(namespace: string, stsName: string, replicas: number): (KubeObject | undefined)[] {
    return Array.from({ length: replicas }, (_, i) => store.find(podType, namespace, `${stsName}-${i}`));
  }

  /** `utils/statefulset.go` IsStatefulSetUpgrading, plus PD's per-pod check. */
  function isUpgrading(sts: KubeObject, pods: (KubeObject | undefined)[], component: TidbComponent): boolean {
    const status = rec(sts.status);
    const spec = rec(sts.spec);
    if (status['currentRevision'] !== status['updateRevision']) return true;
    if ((sts.metadata.generation ?? 0) > Number(status['observedGeneration'] ?? 0) && spec['replicas'] === status['replicas']) return true;
    if (component === 'pd') return pods.some((p) => p !== undefined && p.metadata.labels?.['controller-revision-hash'] !== status['updateRevision']);
    return false;
  }

  function reconcile(key: string): ReconcileResult {
    const [namespace = '', name = ''] = key.split('/');
    const tc = store.find(tcType, namespace, name);
    if (!tc || tc.metadata.deletionTimestamp) return;
    const spec = rec(tc.spec);
    const paused = spec['paused'] === true;
    const phases = new Map<TidbComponent, ComponentPhase>();
    const status: Obj = clone(rec(tc.status));
    let requeue: number | undefined;
    const want = (ms: number) => (requeue = requeue === undefined ? ms : Math.min(requeue, ms));

    for (const component of tidbComponents(tc)) {
      const cspec = rec(spec[component]);
      const replicas = typeof cspec['replicas'] === 'number' ? cspec['replicas'] : 1;
      const image = tidbComponentImage(tc, component);
      const stsName = `${name}-${component}`;
      let sts = store.find(stsType, namespace, stsName);
      if (!image) continue;
      if (!sts) {
        if (!paused) sts = store.create(stsType, renderStatefulSet(tc, component, image, replicas, 0), namespace);
        if (!sts) continue;
      }
      const stsStatus = rec(sts.status);
      const stsSpec = rec(sts.spec);
      const pods = podsOf(namespace, stsName, Math.max(replicas, Number(stsSpec['replicas'] ?? 0)));
      const updateRevision = stsStatus['updateRevision'];
      const broken = component === 'pd' ? pdBroken.get(key) : undefined;
      // PD heals once every PD pod runs a revision newer than the broken one.
      if (broken !== undefined && typeof updateRevision === 'string' && updateRevision !== broken && pods.every((p) => p?.metadata.labels?.['controller-revision-hash'] === updateRevision) && pods.every(podIsReady)) {
        pdBroken.delete(key);
      }
      const pdSynced = !pdBroken.has(key);
      const blocked = predecessors[component].some((p) => phases.get(p) === 'Upgrade' || phases.get(p) === 'Scale');
      const currentImage = templateImage(sts, component);
      const forced = component === 'pd' && !pdSynced && tc.metadata.annotations?.[forceUpgradeAnnotation] === 'true';

      if (!paused && !blocked) {
        if (Number(stsSpec['replicas']) !== replicas) {
          const next = clone<KubeObject>(sts);
          const nextSpec = next.spec as Obj;
          nextSpec['replicas'] = replicas;
          const ru = rec(rec(nextSpec['updateStrategy'])['rollingUpdate']);
          if (!isUpgrading(sts, pods, component)) ru['partition'] = replicas;
          sts = store.update(stsType, next, namespace, stsName);
        } else if (currentImage !== image) {
          if (forced) {
            // pd_member_manager.go: force upgrade writes the template with partition 0 at once,
            // skipping the graceful upgrader (no synced check, no leader transfer).
            sts = store.update(stsType, renderStatefulSetFrom(sts, tc, component, image, 0), namespace, stsName);
          } else if (component !== 'pd' || pdSynced) {
            sts = store.update(stsType, renderStatefulSetFrom(sts, tc, component, image, replicas), namespace, stsName);
          }
        } else if (isUpgrading(sts, pods, component) && !forced && (component !== 'pd' || pdSynced)) {
          const wait = stepUpgrade(key, tc, component, sts, pods);
          if (wait !== undefined) want(wait);
        }
      }

      // Status, as syncPDClusterStatus and its siblings write it.
      const freshSts = store.find(stsType, namespace, stsName) ?? sts;
      const freshPods = podsOf(namespace, stsName, replicas);
      const upgrading = isUpgrading(freshSts, freshPods, component);
      const scaling = Number(rec(freshSts.spec)['replicas']) !== Number(rec(freshSts.status)['replicas'] ?? -1) || Number(rec(freshSts.spec)['replicas']) !== replicas;
      const phase: ComponentPhase = paused && upgrading ? 'Suspend' : scaling ? 'Scale' : upgrading && !blocked ? 'Upgrade' : 'Normal';
      phases.set(component, phase);
      status[component] = componentStatus(key, tc, component, freshSts, freshPods, phase, pdSynced);
      if (component === 'tikv') {
        const revision = rec(freshSts.status)['updateRevision'];
        for (const p of freshPods) {
          if (!p) continue;
          const storeKey = `${key}/${p.metadata.name ?? ''}`;
          const state = leaders.get(storeKey);
          // tikv_upgrader.go endEvictLeaderAfterUpgrade: an upgraded, ready store stops evicting.
          if (state?.evicting && p.metadata.labels?.['controller-revision-hash'] === revision && podIsReady(p)) setLeaderTarget(storeKey, state.before, false);
          const moving = leaders.get(storeKey);
          if (moving && leaderCount(storeKey) !== moving.target) want(stepRequeueMs);
        }
      }
    }

    status['conditions'] = [readyCondition(tc, status, clock)];
    if (!jsonEqual(status, tc.status ?? {})) {
      const next = clone<KubeObject>(tc);
      next.status = status;
      store.update(tcType, next, namespace, name, { subresource: 'status' });
    }
    return requeue === undefined ? undefined : { requeueAfterMs: requeue };
  }

  function renderStatefulSetFrom(sts: KubeObject, tc: KubeObject, component: TidbComponent, image: string, partition: number): KubeObject {
    const rendered = renderStatefulSet(tc, component, image, Number(rec(sts.spec)['replicas'] ?? 1), partition);
    const next = clone<KubeObject>(sts);
    next.spec = rendered.spec;
    return next;
  }

  /**
   * One pass of the graceful upgrader: from the highest ordinal down, an
   * updated pod must be healthy; the first outdated pod gets its
   * component's pre-step, then the partition drops to its ordinal.
   * Returns a requeue delay while it waits on time-driven state.
   */
  function stepUpgrade(key: string, tc: KubeObject, component: TidbComponent, sts: KubeObject, pods: (KubeObject | undefined)[]): number | undefined {
    const stsStatus = rec(sts.status);
    const updateRevision = stsStatus['updateRevision'];
    if (typeof updateRevision !== 'string') return stepRequeueMs;
    const partition = Number(rec(rec(rec(sts.spec)['updateStrategy'])['rollingUpdate'])['partition'] ?? 0);
    for (let ordinal = pods.length - 1; ordinal >= 0; ordinal--) {
      const pod = pods[ordinal];
      const podName = `${sts.metadata.name ?? ''}-${ordinal}`;
      const storeKey = `${key}/${podName}`;
      if (pod && pod.metadata.labels?.['controller-revision-hash'] === updateRevision) {
        if (!podIsReady(pod)) return undefined; // the pod's own events wake us
        if (component === 'tikv') {
          const state = leaders.get(storeKey);
          if (state?.evicting) setLeaderTarget(storeKey, state.before, false); // end eviction: leaders come back
          const before = leaders.get(storeKey)?.before ?? leadersPerStore;
          const count = leaderCount(storeKey);
          // tikv_upgrader.go: done when the store had few leaders or got 2/3 of them back.
          if (before >= 200 && count < (2 * before) / 3) return stepRequeueMs;
        }
        continue;
      }
      if (ordinal >= partition) return stepRequeueMs; // the StatefulSet controller is recreating it
      if (component === 'pd') {
        const leader = pdLeaderOf(key, tc, pods);
        if (leader.name === podName) {
          transferPdLeader(key, pods, ordinal);
          return leaderTransferMs;
        }
        if (leader.transferUntil > clock.now()) return leader.transferUntil - clock.now();
      }
      if (component === 'tikv') {
        const state = leaders.get(storeKey);
        if (!state?.evicting) {
          setLeaderTarget(storeKey, 0, true);
          return stepRequeueMs;
        }
        if (leaderCount(storeKey) > 0) return stepRequeueMs;
      }
      const next = clone<KubeObject>(sts);
      (rec(rec(next.spec)['updateStrategy'])['rollingUpdate'] as Obj)['partition'] = ordinal;
      store.update(stsType, next, sts.metadata.namespace, sts.metadata.name ?? '');
      return undefined;
    }
    return undefined;
  }

  function pdLeaderOf(key: string, tc: KubeObject, pods: (KubeObject | undefined)[]): { name: string; transferUntil: number } {
    let leader = pdLeader.get(key);
    if (!leader) {
      leader = { name: `${tc.metadata.name ?? ''}-pd-0`, transferUntil: 0 };
      pdLeader.set(key, leader);
    }
    if (!pods.some((p) => p?.metadata.name === leader.name)) leader.name = pods.find(podIsReady)?.metadata.name ?? leader.name;
    return leader;
  }

  /** pd_upgrader.go: the highest healthy ordinal above, else the lowest below. */
  function transferPdLeader(key: string, pods: (KubeObject | undefined)[], from: number): void {
    const healthy = (i: number) => podIsReady(pods[i]);
    let to = -1;
    for (let i = pods.length - 1; i > from; i--) if (healthy(i)) { to = i; break; }
    if (to < 0) for (let i = 0; i < from; i++) if (healthy(i)) { to = i; break; }
    if (to < 0) return;
    pdLeader.set(key, { name: pods[to]?.metadata.name ?? '', transferUntil: clock.now() + leaderTransferMs });
  }

  function componentStatus(key: string, tc: KubeObject, component: TidbComponent, sts: KubeObject, pods: (KubeObject | undefined)[], phase: ComponentPhase, pdSynced: boolean): Obj {
    const stsStatus = rec(sts.status);
    const base: Obj = { phase, synced: component === 'pd' ? pdSynced : true, statefulSet: clone(stsStatus), image: templateImage(sts, component) ?? '' };
    const namespace = tc.metadata.namespace ?? '';
    const present = pods.filter((p): p is KubeObject => p !== undefined);
    if (component === 'pd') {
      const leader = pdLeaderOf(key, tc, pods);
      const members: Obj = {};
      present.forEach((p, i) => {
        const podName = p.metadata.name ?? '';
        members[podName] = { name: podName, id: String(1000 + i), clientURL: `http://${podName}.${tc.metadata.name ?? ''}-pd-peer.${namespace}.svc:2379`, health: pdSynced && podIsReady(p) };
      });
      return { ...base, members, leader: { name: leader.name, id: String(1000 + Number(leader.name.split('-').pop() ?? 0)), health: pdSynced } };
    }
    if (component === 'tikv') {
      const stores: Obj = {};
      present.forEach((p) => {
        const podName = p.metadata.name ?? '';
        const ordinal = Number(podName.split('-').pop() ?? 0);
        const id = String(ordinal + 1);
        const state = leaders.get(`${key}/${podName}`);
        stores[id] = {
          id,
          podName,
          ip: `${podName}.${tc.metadata.name ?? ''}-tikv-peer.${namespace}.svc`,
          leaderCount: podIsReady(p) ? leaderCount(`${key}/${podName}`) : 0,
          state: podIsReady(p) ? 'Up' : 'Down',
          ...(state?.evicting ? { leaderCountBeforeUpgrade: state.before } : {}),
        };
      });
      return { ...base, stores };
    }
    if (component === 'tidb') {
      const members: Obj = {};
      for (const p of present) members[p.metadata.name ?? ''] = { name: p.metadata.name ?? '', health: podIsReady(p) };
      return { ...base, members };
    }
    return base;
  }

  return {
    name: tidbOperatorName,
    keysFor,
    initialKeys: () => store.list(tcType, {}).items.map((tc) => clusterKey(tc.metadata.namespace ?? '', tc.metadata.name ?? '')),
    reconcile,
    setPdUnavailable(namespace, name, unavailable) {
      const key = clusterKey(namespace, name);
      const sts = store.find(stsType, namespace, `${name}-pd`);
      const revision = rec(sts?.status)['updateRevision'];
      if (unavailable) pdBroken.set(key, typeof revision === 'string' ? revision : '');
      else pdBroken.delete(key);
      manager.enqueue(tidbOperatorName, key);
    },
  };
}

/** `tidb_cluster_condition_updater.go`: the first failing reason, else Ready. */
function readyCondition(tc: KubeObject, status: Obj, clock: SimClock): Obj {
  const previous = (Array.isArray(rec(tc.status)['conditions']) ? (rec(tc.status)['conditions'] as unknown[]) : []).map(rec).find((c) => c['type'] === 'Ready');
  let reason = 'Ready';
  let message = 'TiDB cluster is fully up and running';
  for (const component of ['pd', 'tikv', 'tidb', 'tiflash'] as const) {
    const s = rec(status[component]);
    const sts = rec(s['statefulSet']);
    if (Object.keys(s).length > 0 && sts['currentRevision'] !== sts['updateRevision']) {
      reason = 'StatefulSetNotUpToDate';
      message = 'Statefulset(s) are in progress';
      break;
    }
  }
  if (reason === 'Ready') {
    const pd = rec(status['pd']);
    const tikv = rec(status['tikv']);
    const tidb = rec(status['tidb']);
    if (Object.keys(pd).length > 0 && (pd['synced'] !== true || Object.values(rec(pd['members'])).some((m) => rec(m)['health'] !== true))) [reason, message] = ['PDUnhealthy', 'PD(s) are not healthy'];
    else if (Object.values(rec(tikv['stores'])).some((s) => rec(s)['state'] !== 'Up')) [reason, message] = ['TiKVStoreNotUp', 'TiKV store(s) are not up'];
    else if (Object.values(rec(tidb['members'])).some((m) => rec(m)['health'] !== true)) [reason, message] = ['TiDBUnhealthy', 'TiDB(s) are not healthy'];
  }
  const state = reason === 'Ready' ? 'True' : 'False';
  const unchanged = previous && previous['status'] === state;
  return {
    type: 'Ready',
    status: state,
    reason,
    message,
    lastUpdateTime: unchanged && previous['reason'] === reason ? previous['lastUpdateTime'] : clock.rfc3339(),
    lastTransitionTime: unchanged ? previous['lastTransitionTime'] : clock.rfc3339(),
  };
}
