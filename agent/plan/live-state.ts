/**
 * A {@link LiveState} over lists of objects read from each cluster: what the
 * one-shot reader of `rollgate plan` and tests build, indexed once so that
 * planning a thousand targets costs a thousand map lookups.
 */
import type { KubeObject } from '../manifests/index.ts';
import type { LiveKind, LiveState } from './types.ts';

const liveKinds: ReadonlySet<string> = new Set<LiveKind>(['TidbCluster', 'RedisEnterpriseCluster', 'StatefulSet', 'Deployment']);

/** Builds a live state from the objects of each cluster (any kinds; those the planner does not read are ignored). */
export function liveStateFrom(clusters: ReadonlyMap<string, readonly KubeObject[]>): LiveState {
  const objects = new Map<string, KubeObject>();
  const pods = new Map<string, KubeObject>();
  const podsByNamespace = new Map<string, KubeObject[]>();
  for (const [cluster, list] of clusters) {
    for (const object of list) {
      const namespace = object.metadata.namespace ?? 'default';
      if (object.kind === 'Pod') {
        pods.set(`${cluster}\0${namespace}\0${object.metadata.name}`, object);
        const key = `${cluster}\0${namespace}`;
        const inNamespace = podsByNamespace.get(key);
        if (inNamespace === undefined) podsByNamespace.set(key, [object]);
        else inNamespace.push(object);
      } else if (liveKinds.has(object.kind)) {
        objects.set(`${cluster}\0${object.kind}\0${namespace}\0${object.metadata.name}`, object);
      }
    }
  }
  return {
    object: (cluster, kind, namespace, name) => objects.get(`${cluster}\0${kind}\0${namespace}\0${name}`),
    pod: (cluster, namespace, name) => pods.get(`${cluster}\0${namespace}\0${name}`),
    pods: (cluster, namespace) => podsByNamespace.get(`${cluster}\0${namespace}`) ?? [],
  };
}
