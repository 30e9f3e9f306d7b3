/**
 * Is a workload done? Pure judgements over live objects, as the tools users
 * trust judge them: `kubectl rollout status` for StatefulSets and
 * Deployments, TiDB Operator's component status for a TidbCluster, the
 * Redis Enterprise operator's `status.state`. Each returns undefined when
 * done, or a sentence saying what it still waits for.
 */
import type { KubeObject } from '../manifests/index.ts';

type Obj = { readonly [key: string]: unknown };
const isObj = (value: unknown): value is Obj => typeof value === 'object' && value !== null && !Array.isArray(value);
const at = (value: unknown, ...path: string[]): unknown => path.reduce<unknown>((v, key) => (isObj(v) ? v[key] : undefined), value);
const num = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);

/** A pod is stuck when a container cannot start at all: an image that cannot be pulled, or a crash loop. The reason, or undefined. */
export function podFailure(pod: KubeObject | undefined): string | undefined {
  const statuses = at(pod, 'status', 'containerStatuses');
  if (!Array.isArray(statuses)) return undefined;
  for (const status of statuses as readonly unknown[]) {
    const reason = at(status, 'state', 'waiting', 'reason');
    if (reason === 'ErrImagePull' || reason === 'ImagePullBackOff' || reason === 'InvalidImageName' || reason === 'CrashLoopBackOff' || reason === 'CreateContainerConfigError') {
      const message = at(status, 'state', 'waiting', 'message');
      return `${String(reason)}${typeof message === 'string' && message !== '' ? `: ${message}` : ''}`;
    }
  }
  return undefined;
}

/** `kubectl rollout status sts` (kubectl `StatefulSetStatusViewer`): undefined when rolled out. */
export function statefulSetRollout(sts: KubeObject | undefined): string | undefined {
  if (sts === undefined) return 'the StatefulSet does not exist';
  const generation = num(sts.metadata['generation']) ?? 0;
  const observed = num(at(sts, 'status', 'observedGeneration')) ?? 0;
  if (observed === 0 || generation > observed) return 'waiting for the StatefulSet spec update to be observed';
  const replicas = num(at(sts, 'spec', 'replicas')) ?? 1;
  const ready = num(at(sts, 'status', 'readyReplicas')) ?? 0;
  if (ready < replicas) return `waiting for ${replicas - ready} pod${replicas - ready === 1 ? '' : 's'} to be ready`;
  // kubectl refuses OnDelete, and the controller never advances currentRevision under it
  // (completeRollingUpdate is for RollingUpdate only). Under OnDelete a pod moves only when
  // it is deleted, so which pods are at the new revision is the caller's check, pod by pod;
  // the StatefulSet itself is done once every replica is ready.
  if (at(sts, 'spec', 'updateStrategy', 'type') === 'OnDelete') return undefined;
  const partition = num(at(sts, 'spec', 'updateStrategy', 'rollingUpdate', 'partition'));
  if (at(sts, 'spec', 'updateStrategy', 'type') === 'RollingUpdate' && partition !== undefined && partition > 0) {
    const updated = num(at(sts, 'status', 'updatedReplicas')) ?? 0;
    if (updated < replicas - partition) return `waiting for partitioned roll out to finish: ${updated} out of ${replicas - partition} new pods have been updated`;
    return undefined;
  }
  if (at(sts, 'status', 'updateRevision') !== at(sts, 'status', 'currentRevision')) {
    return `waiting for the rolling update to complete: ${num(at(sts, 'status', 'updatedReplicas')) ?? 0} pods at revision ${String(at(sts, 'status', 'updateRevision'))}`;
  }
  return undefined;
}

/** `kubectl rollout status deployment` (`DeploymentStatusViewer`): undefined when rolled out and available. */
export function deploymentRollout(deployment: KubeObject | undefined): string | undefined {
  if (deployment === undefined) return 'the Deployment does not exist';
  const generation = num(deployment.metadata['generation']) ?? 0;
  const observed = num(at(deployment, 'status', 'observedGeneration')) ?? 0;
  if (generation > observed) return 'waiting for the Deployment spec update to be observed';
  const conditions = at(deployment, 'status', 'conditions');
  if (Array.isArray(conditions) && conditions.some((c) => at(c, 'type') === 'Progressing' && at(c, 'reason') === 'ProgressDeadlineExceeded')) return 'the Deployment exceeded its progress deadline';
  const replicas = num(at(deployment, 'spec', 'replicas')) ?? 1;
  const updated = num(at(deployment, 'status', 'updatedReplicas')) ?? 0;
  const total = num(at(deployment, 'status', 'replicas')) ?? 0;
  const available = num(at(deployment, 'status', 'availableReplicas')) ?? 0;
  if (updated < replicas) return `waiting for rollout to finish: ${updated} out of ${replicas} new replicas have been updated`;
  if (total > updated) return `waiting for rollout to finish: ${total - updated} old replicas are pending termination`;
  if (available < updated) return `waiting for rollout to finish: ${available} of ${updated} updated replicas are available`;
  return undefined;
}

/**
 * TiDB Operator's view of one component: phase Normal, its StatefulSet
 * updated and Ready, and its members healthy (PD members, TiKV stores Up,
 * TiDB members).
 */
export function tidbComponentStatus(tc: KubeObject | undefined, component: string, sts: KubeObject | undefined): string | undefined {
  if (tc === undefined) return 'the TidbCluster does not exist';
  const status = at(tc, 'status', component);
  const phase = at(status, 'phase');
  if (phase !== 'Normal') return `waiting for ${component} phase Normal (now ${typeof phase === 'string' ? phase : 'unknown'})`;
  if (component === 'pd' && at(status, 'synced') === false) return 'waiting for PD to be synced (PD is unavailable)';
  if (sts !== undefined) {
    const replicas = num(at(sts, 'spec', 'replicas')) ?? 0;
    const ready = num(at(sts, 'status', 'readyReplicas')) ?? 0;
    if (ready < replicas) return `waiting for ${replicas - ready} ${component} pod${replicas - ready === 1 ? '' : 's'} to be ready`;
    if (at(sts, 'status', 'updateRevision') !== at(sts, 'status', 'currentRevision')) return `waiting for ${component}'s StatefulSet to finish updating`;
  }
  const members = component === 'tikv' ? at(status, 'stores') : at(status, 'members');
  if (isObj(members)) {
    for (const [name, member] of Object.entries(members)) {
      if (component === 'tikv' ? at(member, 'state') !== 'Up' : at(member, 'health') !== true) {
        const podName = at(member, 'podName');
        return `waiting for ${component} member ${typeof podName === 'string' ? podName : name} to be healthy`;
      }
    }
  }
  return undefined;
}

/** The Redis Enterprise operator's view: `status.state` Running. */
export function redisClusterStatus(rec: KubeObject | undefined): string | undefined {
  if (rec === undefined) return 'the RedisEnterpriseCluster does not exist';
  const state = at(rec, 'status', 'state');
  if (state === 'Running') return undefined;
  return `waiting for state Running (now ${typeof state === 'string' ? state : 'unknown'})`;
}

/** A failure the Redis Enterprise operator reports, which no wait will mend, or undefined. */
export function redisClusterFailure(rec: KubeObject | undefined): string | undefined {
  const state = at(rec, 'status', 'state');
  if (state === 'InvalidUpgrade' || state === 'Invalid' || state === 'Error') {
    const message = at(rec, 'status', 'specStatusMessage');
    return `the cluster's state is ${state}${typeof message === 'string' ? `: ${message}` : ''}`;
  }
  return undefined;
}
