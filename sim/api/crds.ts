/**
 * The CustomResourceDefinitions kube-sim installs at start: TiDB Operator's
 * TidbCluster and Redis Enterprise's RedisEnterpriseCluster, with the names,
 * scopes, status subresources and printer columns of their upstream CRDs
 * (tidb-operator v1.6 `manifests/crd.yaml`; redis-enterprise-k8s-docs
 * `crds/rec_crd.yaml`, reference §5).
 */
import type { KubeObject } from './object.ts';

const preserveUnknown = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };

function crd(group: string, kind: string, plural: string, shortNames: string[], version: string, columns: object[], categories: string[] = []): KubeObject {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}` },
    spec: {
      group,
      names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase(), shortNames, ...(categories.length ? { categories } : {}) },
      scope: 'Namespaced',
      versions: [
        {
          name: version,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: { type: 'object', properties: { spec: preserveUnknown, status: preserveUnknown } } },
          subresources: { status: {} },
          additionalPrinterColumns: columns,
        },
      ],
    },
  };
}

/** `tidbclusters.pingcap.com`, short name `tc`. */
export function tidbClusterCrd(): KubeObject {
  const component = (name: string, key: string) => [
    { name, type: 'string', description: `The image for ${name} cluster`, jsonPath: `.status.${key}.image` },
    ...(key === 'tidb' ? [] : [{ name: 'Storage', type: 'string', description: `The storage size specified for ${name} node`, jsonPath: `.spec.${key}.requests.storage` }]),
    { name: 'Ready', type: 'integer', description: `The ready replicas number of ${name} cluster`, jsonPath: `.status.${key}.statefulSet.readyReplicas` },
    { name: 'Desire', type: 'integer', description: `The desired replicas number of ${name} cluster`, jsonPath: `.spec.${key}.replicas` },
  ];
  return crd(
    'pingcap.com',
    'TidbCluster',
    'tidbclusters',
    ['tc'],
    'v1alpha1',
    [
      { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
      ...component('PD', 'pd'),
      ...component('TiKV', 'tikv'),
      ...component('TiDB', 'tidb'),
      { name: 'Message', type: 'string', priority: 1, jsonPath: '.status.conditions[?(@.type=="Ready")].message' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
  );
}

/** `redisenterpriseclusters.app.redislabs.com`, short name `rec`. */
export function redisEnterpriseClusterCrd(): KubeObject {
  return crd('app.redislabs.com', 'RedisEnterpriseCluster', 'redisenterpriseclusters', ['rec'], 'v1', [
    { name: 'Nodes', type: 'integer', description: 'Number of Redis Enterprise nodes', jsonPath: '.spec.nodes' },
    { name: 'Version', type: 'string', description: 'Redis Enterprise Version', jsonPath: '.spec.redisEnterpriseImageSpec.versionTag' },
    { name: 'State', type: 'string', description: 'The current state of this REC', jsonPath: '.status.state' },
    { name: 'Spec Status', type: 'string', description: 'Whether the spec is valid', jsonPath: '.status.specStatus' },
    { name: 'Licence State', type: 'string', jsonPath: '.status.licenseStatus.licenseState' },
    { name: 'Shards Limit', type: 'string', jsonPath: '.status.licenseStatus.shardsLimit', priority: 1 },
    { name: 'Expiration Date', type: 'string', jsonPath: '.status.licenseStatus.activationExpired', priority: 1 },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ]);
}
