/**
 * A model of the Redis Enterprise operator (reference §5). The operator
 * runs as the Deployment `redis-enterprise-operator`; its image version
 * decides which cluster versions it accepts, and it manages nothing while
 * it is not Available. A RedisEnterpriseCluster gets a StatefulSet named
 * after it with `spec.nodes` pods; a `versionTag` change rolls that
 * StatefulSet one pod at a time in reverse ordinal order (the StatefulSet
 * controller's RollingUpdate), with `status.state` Upgrade until it is done,
 * or InvalidUpgrade when the operator is older than the cluster image.
 */
import type { KubeObject } from '../api/object.ts';
import { clone, isPlainObject, jsonEqual } from '../api/object.ts';
import type { ResourceType } from '../api/resources.ts';
import type { ClusterStore, StoreEvent } from '../api/store.ts';
import type { Controller, ControllerManager, ReconcileResult } from '../controllers/manager.ts';

export const redisOperatorDeploymentName = 'redis-enterprise-operator';
const nodeContainer = 'redis-enterprise-node';

type Obj = Record<string, unknown>;
const rec = (v: unknown): Obj => (isPlainObject(v) ? v : {});

/**
 * `7.4.6-22` → [7, 4, 6]. Operator and cluster releases share the
 * major.minor.patch of the Redis Enterprise release they ship with.
 */
export function redisReleaseOf(tag: string): [number, number, number] | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(tag);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

/** True when an operator at `operatorTag` can run a cluster at `clusterTag`. */
export function operatorSupports(operatorTag: string, clusterTag: string): boolean {
  const op = redisReleaseOf(operatorTag);
  const cl = redisReleaseOf(clusterTag);
  if (!op || !cl) return false;
  for (let i = 0; i < 3; i++) if ((cl[i] ?? 0) !== (op[i] ?? 0)) return (cl[i] ?? 0) < (op[i] ?? 0);
  return true;
}

/** The operator's name as the event record shows its writes. */
export const redisOperatorName = 'redis-enterprise-operator';

export interface RedisEnterpriseOperator extends Controller {
  /** Keeps one node (pod ordinal) from rejoining the cluster after it restarts. */
  setNodeWillNotRejoin(namespace: string, cluster: string, ordinal: number | undefined): void;
  /** True when the ordinal of that cluster is held out of the cluster (the kubelet reports it not Ready). */
  nodeHeldOut(namespace: string, podName: string): boolean;
}

function imageTag(image: string): string {
  const at = image.lastIndexOf(':');
  return at > image.lastIndexOf('/') ? image.slice(at + 1) : 'latest';
}

/**
 * The operator as a controller of one simulated cluster; register it with
 * the cluster's manager. `onHeldOutChange` is told which pods' readiness to
 * re-evaluate when a node is held out or let back in.
 */
export function createRedisEnterpriseOperator(manager: ControllerManager, onHeldOutChange: (namespace: string, podName: string) => void): RedisEnterpriseOperator {
  const store: ClusterStore = manager.store;
  const recType = store.registry.lookup('app.redislabs.com', 'v1', 'redisenterpriseclusters') as ResourceType;
  const stsType = store.registry.lookup('apps', 'v1', 'statefulsets') as ResourceType;
  const deployType = store.registry.lookup('apps', 'v1', 'deployments') as ResourceType;
  const podType = store.registry.lookup('', 'v1', 'pods') as ResourceType;
  const heldOut = new Map<string, number>(); // namespace/cluster → ordinal

  const keysFor = (event: StoreEvent): string[] => {
    const meta = event.object.metadata;
    const ns = meta.namespace ?? '';
    if (event.resource === recType) return [`${ns}/${meta.name ?? ''}`];
    if (event.resource === stsType || event.resource === podType) {
      const owner = meta.labels?.['app'] === 'redis-enterprise' ? meta.labels['redis.io/cluster'] : undefined;
      return owner ? [`${ns}/${owner}`] : [];
    }
    if (event.resource === deployType && meta.name === redisOperatorDeploymentName) return store.list(recType, { namespace: ns }).items.map((r) => `${ns}/${r.metadata.name ?? ''}`);
    return [];
  };

  function operatorVersion(namespace: string): string | undefined {
    const deploy = store.find(deployType, namespace, redisOperatorDeploymentName);
    if (!deploy) return undefined;
    const conditions = Array.isArray(rec(deploy.status)['conditions']) ? (rec(deploy.status)['conditions'] as unknown[]).map(rec) : [];
    const available = conditions.some((c) => c['type'] === 'Available' && c['status'] === 'True');
    const containers = rec(rec(rec(deploy.spec)['template'])['spec'])['containers'];
    const first = Array.isArray(containers) ? rec(containers[0]) : {};
    // A Deployment mid-rollout still runs old pods; the version in force is the one fully rolled out.
    const status = rec(deploy.status);
    const rolledOut = Number(status['updatedReplicas'] ?? 0) === Number(rec(deploy.spec)['replicas'] ?? 1) && Number(status['availableReplicas'] ?? 0) >= 1 && (deploy.metadata.generation ?? 0) <= Number(status['observedGeneration'] ?? 0);
    if (!available || !rolledOut || typeof first['image'] !== 'string') return undefined;
    return imageTag(first['image']);
  }

  function renderStatefulSet(cluster: KubeObject, image: string): KubeObject {
    const name = cluster.metadata.name ?? '';
    const labels = { app: 'redis-enterprise', 'redis.io/cluster': name, 'redis.io/role': 'node' };
    return {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: {
        name,
        namespace: cluster.metadata.namespace,
        labels,
        ownerReferences: [{ apiVersion: 'app.redislabs.com/v1', kind: 'RedisEnterpriseCluster', name, uid: cluster.metadata.uid ?? '', controller: true, blockOwnerDeletion: true }],
      },
      spec: {
        replicas: Number(rec(cluster.spec)['nodes'] ?? 3),
        serviceName: name,
        selector: { matchLabels: labels },
        podManagementPolicy: 'OrderedReady',
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } },
        template: { metadata: { labels }, spec: { containers: [{ name: nodeContainer, image }], terminationGracePeriodSeconds: 60 } },
      },
    };
  }

  function reconcile(key: string): ReconcileResult {
    const [namespace = '', name = ''] = key.split('/');
    const cluster = store.find(recType, namespace, name);
    if (!cluster || cluster.metadata.deletionTimestamp) return;
    const operator = operatorVersion(namespace);
    if (operator === undefined) return; // no running operator: nobody reconciles the cluster
    const spec = rec(cluster.spec);
    const imageSpec = rec(spec['redisEnterpriseImageSpec']);
    const repository = typeof imageSpec['repository'] === 'string' ? imageSpec['repository'] : 'redislabs/redis';
    const versionTag = typeof imageSpec['versionTag'] === 'string' ? imageSpec['versionTag'] : operator;
    const image = `${repository}:${versionTag}`;
    const previous = rec(cluster.status);
    let state: string;
    let sts = store.find(stsType, namespace, name);

    if (!operatorSupports(operator, versionTag)) {
      state = 'InvalidUpgrade';
    } else {
      const desired = renderStatefulSet(cluster, image);
      if (!sts) sts = store.create(stsType, desired, namespace);
      else {
        const current = rec(rec(rec(sts.spec)['template'])['spec'])['containers'];
        const currentImage = Array.isArray(current) ? rec(current[0])['image'] : undefined;
        const replicas = rec(desired.spec)['replicas'];
        if (currentImage !== image || rec(sts.spec)['replicas'] !== replicas) {
          const next = clone<KubeObject>(sts);
          const nextSpec = next.spec as Obj;
          nextSpec['replicas'] = replicas;
          nextSpec['template'] = rec(desired.spec)['template'];
          sts = store.update(stsType, next, namespace, name);
        }
      }
      const s = rec(sts.status);
      const replicas = Number(rec(sts.spec)['replicas'] ?? 0);
      const rolling = s['currentRevision'] !== s['updateRevision'] || Number(s['updatedReplicas'] ?? 0) < replicas || (sts.metadata.generation ?? 0) > Number(s['observedGeneration'] ?? 0);
      const ready = Number(s['readyReplicas'] ?? 0) === replicas;
      if (previous['state'] === undefined || previous['state'] === 'PendingCreation' || previous['state'] === 'BootstrappingFirstPod' || previous['state'] === 'Initializing') {
        state = Number(s['readyReplicas'] ?? 0) === 0 ? (Number(s['replicas'] ?? 0) === 0 ? 'PendingCreation' : 'BootstrappingFirstPod') : ready ? 'Running' : 'Initializing';
      } else if (rolling) state = 'Upgrade';
      else state = ready ? 'Running' : 'Upgrade';
    }

    const status: Obj = {
      ...previous,
      state,
      specStatus: 'Valid',
      licenseStatus: { licenseState: 'Valid', shardsLimit: 4, activationExpired: false },
      ...(state === 'InvalidUpgrade' ? { specStatusMessage: `operator ${operator} does not support Redis Enterprise ${versionTag}: upgrade the operator first` } : {}),
    };
    if (state !== 'InvalidUpgrade') delete status['specStatusMessage'];
    if (!jsonEqual(status, previous)) {
      const next = clone<KubeObject>(cluster);
      next.status = status;
      store.update(recType, next, namespace, name, { subresource: 'status' });
    }
    return undefined;
  }

  return {
    name: redisOperatorName,
    keysFor,
    initialKeys: () => store.list(recType, {}).items.map((r) => `${r.metadata.namespace ?? ''}/${r.metadata.name ?? ''}`),
    reconcile,
    setNodeWillNotRejoin(namespace, cluster, ordinal) {
      const previous = heldOut.get(`${namespace}/${cluster}`);
      if (ordinal === undefined) heldOut.delete(`${namespace}/${cluster}`);
      else heldOut.set(`${namespace}/${cluster}`, ordinal);
      for (const o of [previous, ordinal]) if (o !== undefined) onHeldOutChange(namespace, `${cluster}-${o}`);
      manager.enqueue(redisOperatorName, `${namespace}/${cluster}`);
    },
    nodeHeldOut(namespace, podName) {
      const m = /^(.*)-(\d+)$/.exec(podName);
      return m !== null && heldOut.get(`${namespace}/${m[1] ?? ''}`) === Number(m[2]);
    },
  };
}
