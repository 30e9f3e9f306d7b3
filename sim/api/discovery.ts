/**
 * Discovery and OpenAPI documents, derived from the registry. kubectl needs
 * both: discovery to map `sts` to apps/v1 statefulsets, and OpenAPI v3 to
 * decide that `apply` may ask for server-side field validation (reference §3
 * "Discovery and OpenAPI that kubectl needs").
 */
import { createHash } from 'node:crypto';
import type { ResourceRegistry, ResourceType } from './resources.ts';

/** The version the simulator reports; the semantics it models are those of this release. */
export const simulatedVersion = { major: '1', minor: '35', gitVersion: 'v1.35.0+rollgate-sim' } as const;

export function versionInfo(): object {
  return {
    ...simulatedVersion,
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2026-01-01T00:00:00Z',
    goVersion: 'go1.25.0',
    compiler: 'gc',
    platform: 'linux/amd64',
  };
}

const allVerbs = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const subresourceVerbs = ['get', 'patch', 'update'];

export function apiVersions(serverAddress: string): object {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

function groupEntry(group: string, versions: readonly string[]): object {
  const list = versions.map((version) => ({ groupVersion: `${group}/${version}`, version }));
  return { name: group, versions: list, preferredVersion: list[0] };
}

export function apiGroupList(registry: ResourceRegistry): object {
  const groups = registry.groups().filter((g) => g.group !== '');
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: groups.map((g) => groupEntry(g.group, g.versions)) };
}

export function apiGroup(registry: ResourceRegistry, group: string): object | undefined {
  const found = registry.groups().find((g) => g.group === group && group !== '');
  return found ? { kind: 'APIGroup', apiVersion: 'v1', ...groupEntry(found.group, found.versions) } : undefined;
}

/** The `APIResourceList` of one group version, subresources listed as `plural/sub`. */
export function apiResourceList(registry: ResourceRegistry, group: string, version: string): object | undefined {
  const types = registry.all().filter((t) => t.group === group && t.version === version);
  if (types.length === 0) return undefined;
  const resources: object[] = [];
  for (const t of types.sort((a, b) => a.plural.localeCompare(b.plural))) {
    resources.push({
      name: t.plural,
      singularName: t.singular,
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: allVerbs,
      ...(t.shortNames.length ? { shortNames: t.shortNames } : {}),
      ...(t.categories.length ? { categories: t.categories } : {}),
      storageVersionHash: createHash('sha256').update(`${group}/${version}/${t.kind}`).digest('base64').slice(0, 11),
    });
    if (t.statusSubresource) resources.push({ name: `${t.plural}/status`, singularName: '', namespaced: t.namespaced, kind: t.kind, verbs: subresourceVerbs });
    if (t.scale) resources.push({ name: `${t.plural}/scale`, singularName: '', namespaced: t.namespaced, group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: subresourceVerbs });
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group === '' ? version : `${group}/${version}`, resources };
}

/** `api/v1` or `apis/apps/v1`: the OpenAPI v3 path key of a group version. */
function v3Key(group: string, version: string): string {
  return group === '' ? `api/${version}` : `apis/${group}/${version}`;
}

/** The `/openapi/v3` index. Hashes change when the group's resources change, so kubectl's cache stays honest. */
export function openApiV3Index(registry: ResourceRegistry): object {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const { group, versions } of registry.groups()) {
    for (const version of versions) {
      const key = v3Key(group, version);
      const hash = createHash('sha256').update(JSON.stringify(openApiV3Document(registry, group, version))).digest('hex').slice(0, 32).toUpperCase();
      paths[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${hash}` };
    }
  }
  return { paths };
}

function operation(t: ResourceType, action: string, extraParameters: object[] = []): object {
  return {
    operationId: `${action}${t.kind}`,
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': { group: t.group, version: t.version, kind: t.kind },
    parameters: [
      { name: 'dryRun', in: 'query', schema: { type: 'string', uniqueItems: true } },
      { name: 'fieldManager', in: 'query', schema: { type: 'string', uniqueItems: true } },
      ...extraParameters,
    ],
    responses: { '200': { description: 'OK' } },
  };
}

/**
 * The OpenAPI v3 document of one group version: paths with the
 * operations and the `fieldValidation` parameter kubectl looks for. The
 * PATCH operations carry no request body, so kubectl computes strategic
 * merge patches from its compiled-in types rather than from schemas this
 * simulator does not have.
 */
export function openApiV3Document(registry: ResourceRegistry, group: string, version: string): object | undefined {
  const types = registry.all().filter((t) => t.group === group && t.version === version);
  if (types.length === 0) return undefined;
  const fieldValidation = { name: 'fieldValidation', in: 'query', description: 'fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields.', schema: { type: 'string', uniqueItems: true } };
  const paths: Record<string, object> = {};
  const base = group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
  for (const t of types) {
    const collection = t.namespaced ? `${base}/namespaces/{namespace}/${t.plural}` : `${base}/${t.plural}`;
    paths[collection] = { get: operation(t, 'list'), post: operation(t, 'post', [fieldValidation]), delete: operation(t, 'deletecollection') };
    paths[`${collection}/{name}`] = {
      get: operation(t, 'get'),
      put: operation(t, 'put', [fieldValidation]),
      patch: operation(t, 'patch', [fieldValidation, { name: 'force', in: 'query', schema: { type: 'boolean', uniqueItems: true } }]),
      delete: operation(t, 'delete'),
    };
    if (t.statusSubresource) paths[`${collection}/{name}/status`] = { get: operation(t, 'get'), put: operation(t, 'put', [fieldValidation]), patch: operation(t, 'patch', [fieldValidation]) };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: simulatedVersion.gitVersion }, paths, components: { schemas: {} } };
}

/** Group and version from an OpenAPI v3 path key, or undefined. */
export function parseV3Key(key: string): { group: string; version: string } | undefined {
  const core = /^api\/([^/]+)$/.exec(key);
  if (core) return { group: '', version: core[1] ?? '' };
  const named = /^apis\/([^/]+)\/([^/]+)$/.exec(key);
  if (named) return { group: named[1] ?? '', version: named[2] ?? '' };
  return undefined;
}

/**
 * `/openapi/v2` as protobuf: a gnostic `Document` holding only
 * `swagger: "2.0"`. Older kubectl (≤1.26) downloads it before `apply` and
 * skips validation for kinds the document does not describe.
 */
export function openApiV2Protobuf(): Buffer {
  // field 1 (swagger), wire type 2 (length-delimited), length 3, "2.0"
  return Buffer.from([0x0a, 0x03, 0x32, 0x2e, 0x30]);
}

export function openApiV2Json(): object {
  return { swagger: '2.0', info: { title: 'Kubernetes', version: simulatedVersion.gitVersion }, paths: {}, definitions: {} };
}

