/**
 * Which objects rollgate accepts in a cluster's paths, and what it does with
 * each: targets it rolls out, its own HelmRelease descriptor, and well-known
 * companions (Services, ConfigMaps, RBAC, CRDs, the operators' other custom
 * resources…) that are part of the cluster's desired state but are not
 * rolled out. Anything else is an error: a typo in `kind` must not quietly
 * turn a manifest into something rollgate ignores.
 */
import type { SchemaName } from './schemas.ts';
import type { TargetKind } from './types.ts';

/** What a document is, by its apiVersion and kind. */
export type ObjectClass =
  | { readonly class: 'target'; readonly kind: TargetKind; readonly schema: SchemaName }
  | { readonly class: 'helmRelease' }
  | { readonly class: 'config' }
  | { readonly class: 'resource'; readonly namespaced: boolean }
  | { readonly class: 'wrongApiVersion'; readonly expected: string }
  | { readonly class: 'list' }
  | { readonly class: 'unknown' };

const targets: Record<string, { readonly kind: TargetKind; readonly schema: SchemaName }> = {
  'pingcap.com/v1alpha1 TidbCluster': { kind: 'TidbCluster', schema: 'tidbcluster' },
  'app.redislabs.com/v1 RedisEnterpriseCluster': { kind: 'RedisEnterpriseCluster', schema: 'redisenterprisecluster' },
  'apps/v1 StatefulSet': { kind: 'StatefulSet', schema: 'statefulset' },
  'apps/v1 Deployment': { kind: 'Deployment', schema: 'deployment' },
};

/** Companion kinds, by apiVersion: `true` when namespaced. */
const resources: Record<string, Record<string, boolean>> = {
  v1: {
    Namespace: false,
    Service: true,
    ConfigMap: true,
    Secret: true,
    ServiceAccount: true,
    PersistentVolumeClaim: true,
    PersistentVolume: false,
    LimitRange: true,
    ResourceQuota: true,
  },
  'apps/v1': { DaemonSet: true, ReplicaSet: true },
  'batch/v1': { Job: true, CronJob: true },
  'rbac.authorization.k8s.io/v1': { Role: true, RoleBinding: true, ClusterRole: false, ClusterRoleBinding: false },
  'apiextensions.k8s.io/v1': { CustomResourceDefinition: false },
  'admissionregistration.k8s.io/v1': { ValidatingWebhookConfiguration: false, MutatingWebhookConfiguration: false },
  'policy/v1': { PodDisruptionBudget: true },
  'networking.k8s.io/v1': { NetworkPolicy: true, Ingress: true, IngressClass: false },
  'scheduling.k8s.io/v1': { PriorityClass: false },
  'storage.k8s.io/v1': { StorageClass: false },
  'autoscaling/v2': { HorizontalPodAutoscaler: true },
  // TiDB Operator v1.x's other resources live next to the TidbCluster they serve.
  'pingcap.com/v1alpha1': {
    TidbMonitor: true,
    TidbInitializer: true,
    TidbDashboard: true,
    TidbNGMonitoring: true,
    Backup: true,
    BackupSchedule: true,
    Restore: true,
    DMCluster: true,
  },
  // Redis Enterprise databases are upgraded through spec.redisVersion after the cluster; rollgate does not drive that yet.
  'app.redislabs.com/v1alpha1': { RedisEnterpriseDatabase: true, RedisEnterpriseActiveActiveDatabase: true, RedisEnterpriseRemoteCluster: true },
};

/** Every kind rollgate knows, with the apiVersion it must be written with. */
function knownKinds(): Map<string, string> {
  const out = new Map<string, string>();
  for (const key of Object.keys(targets)) {
    const [apiVersion, kind] = key.split(' ') as [string, string];
    out.set(kind, apiVersion);
  }
  out.set('HelmRelease', 'rollgate.dev/v1alpha1');
  out.set('Config', 'rollgate.dev/v1alpha1');
  for (const [apiVersion, kinds] of Object.entries(resources)) {
    for (const kind of Object.keys(kinds)) if (!out.has(kind)) out.set(kind, apiVersion);
  }
  return out;
}

/** Names of every kind rollgate accepts, for "did you mean" suggestions. */
export function kindNames(): string[] {
  return [...knownKinds().keys()];
}

/** Classifies a document by its apiVersion and kind. */
export function classify(apiVersion: string, kind: string): ObjectClass {
  const target = targets[`${apiVersion} ${kind}`];
  if (target !== undefined) return { class: 'target', kind: target.kind, schema: target.schema };
  if (apiVersion === 'rollgate.dev/v1alpha1' && kind === 'HelmRelease') return { class: 'helmRelease' };
  if (apiVersion === 'rollgate.dev/v1alpha1' && kind === 'Config') return { class: 'config' };
  const namespaced = Object.hasOwn(resources, apiVersion) ? resources[apiVersion]?.[kind] : undefined;
  if (namespaced !== undefined) return { class: 'resource', namespaced };
  if (apiVersion === 'v1' && kind.endsWith('List')) return { class: 'list' };
  const expected = knownKinds().get(kind);
  if (expected !== undefined) return { class: 'wrongApiVersion', expected };
  return { class: 'unknown' };
}

/** The target kinds, in the order messages list them. */
export const targetKinds: readonly TargetKind[] = ['TidbCluster', 'RedisEnterpriseCluster', 'StatefulSet', 'Deployment'];
