/**
 * The resource endpoints: get, list, watch, create, update, patch, delete
 * and deletecollection on `/api/v1/...` and `/apis/<group>/<version>/...`,
 * including the `status` and `scale` subresources.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { ApiError, badRequest, invalid, methodNotAllowed, notFound, unsupportedMediaType } from '../api/errors.ts';
import type { KubeObject } from '../api/object.ts';
import { clone, getPath, isPlainObject, setPath } from '../api/object.ts';
import type { ResourceType } from '../api/resources.ts';
import { builtinResourceType, groupVersion } from '../api/resources.ts';
import { parseFieldSelector, parseLabelSelector } from '../api/selectors.ts';
import type { ClusterStore, DeleteOptions, Scope } from '../api/store.ts';
import { toTable } from '../api/table.ts';
import { boolParam, mediaType, readBody, sendJson, wantsTable } from './http-util.ts';
import { managerOrUserAgent } from '../patch/index.ts';
import { applyPatch, normalizeBody } from './patching.ts';
import { decodeProtobufObject } from './protobuf.ts';
import type { WatchOptions } from './watch.ts';
import { serveWatch } from './watch.ts';

/** A parsed resource URL. */
export interface ResourcePath {
  group: string;
  version: string;
  namespace: string | undefined;
  plural: string;
  name: string | undefined;
  subresource: string | undefined;
  /** Legacy `/watch/` path prefix. */
  legacyWatch: boolean;
}

/**
 * Parses the part of a URL after `/api/v1` or `/apis/<g>/<v>`.
 * `namespaces/<ns>/<plural>/...` is namespaced; `namespaces/<name>[/status]`
 * addresses the Namespace itself.
 */
export function parseResourcePath(group: string, version: string, segments: readonly string[]): ResourcePath | undefined {
  let segs = [...segments];
  let legacyWatch = false;
  if (segs[0] === 'watch') {
    legacyWatch = true;
    segs = segs.slice(1);
  }
  if (segs.length === 0) return undefined;
  if (segs[0] === 'namespaces' && segs.length >= 3 && !(segs.length === 3 && ['status', 'finalize'].includes(segs[2] ?? ''))) {
    const [, namespace, plural, name, subresource, ...rest] = segs;
    if (rest.length > 0 || !plural) return undefined;
    return { group, version, namespace, plural, name, subresource, legacyWatch };
  }
  const [plural, name, subresource, ...rest] = segs;
  if (rest.length > 0 || !plural) return undefined;
  return { group, version, namespace: undefined, plural, name, subresource, legacyWatch };
}

export interface HandlerContext {
  store: ClusterStore;
  watch: WatchOptions;
}

const contentTypesForWrite = ['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf'];

/** Decodes a create/update body as JSON or YAML, with the real decode errors. */
function decodeObject(body: Buffer, contentType: string): KubeObject {
  const type = mediaType(contentType);
  let parsed: unknown;
  if (type === 'application/json' || type === '') {
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch (err) {
      throw badRequest(`couldn't get version/kind; json parse error: ${(err as Error).message}`);
    }
  } else if (type === 'application/yaml') {
    try {
      parsed = parseYaml(body.toString('utf8'), { maxAliasCount: 100 });
    } catch (err) {
      throw badRequest(`error converting YAML to JSON: ${(err as Error).message}`);
    }
  } else if (type === 'application/vnd.kubernetes.protobuf') {
    parsed = decodeProtobufObject(body);
  } else throw unsupportedMediaType(contentType, contentTypesForWrite);
  if (!isPlainObject(parsed)) throw badRequest(`couldn't get version/kind; json parse error: json: cannot unmarshal ${Array.isArray(parsed) ? 'array' : typeof parsed} into Go value of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }`);
  return parsed as KubeObject;
}

/** The body's kind and apiVersion must be those of the endpoint (or absent). */
function checkKind(t: ResourceType, obj: KubeObject, expectedKind = t.kind, expectedVersion = groupVersion(t)): void {
  if (obj.kind !== undefined && obj.kind !== expectedKind) throw badRequest(`the object provided is unrecognized (must be of type ${expectedKind}): ${typeof obj.kind === 'string' ? obj.kind : ''}`);
  if (obj.apiVersion !== undefined && obj.apiVersion !== expectedVersion) throw badRequest(`the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${expectedVersion})`);
  if (obj.metadata !== undefined && !isPlainObject(obj.metadata)) throw badRequest('json: cannot unmarshal into Go struct field of type v1.ObjectMeta');
}

function scopeFrom(t: ResourceType, path: ResourcePath, q: URLSearchParams): Scope {
  const supported = new Set(['metadata.name', 'metadata.namespace', ...t.extraFieldSelectors]);
  return {
    namespace: t.namespaced ? path.namespace : undefined,
    labelSelector: parseLabelSelector(q.get('labelSelector')),
    fieldSelector: parseFieldSelector(q.get('fieldSelector'), supported),
  };
}

function listOptionsInvalid(field: string, message: string): ApiError {
  return invalid('ListOptions', 'meta.k8s.io', '', [{ type: 'FieldValueForbidden', field, message }]);
}

/** The scale subresource view of an object (autoscaling/v1 Scale). */
function toScale(t: ResourceType, obj: KubeObject): KubeObject {
  const scale = t.scale;
  const path = (p: string | undefined) => (p ?? '').replace(/^\./, '').split('.');
  const specReplicas = getPath(obj, path(scale?.specReplicasPath));
  const statusReplicas = getPath(obj, path(scale?.statusReplicasPath));
  const selector = scale?.labelSelectorPath ? getPath(obj, path(scale.labelSelectorPath)) : undefined;
  let selectorText = typeof selector === 'string' ? selector : '';
  if (!selectorText && t.builtin) {
    const matchLabels = getPath(obj, ['spec', 'selector', 'matchLabels']);
    if (isPlainObject(matchLabels)) selectorText = Object.entries(matchLabels).map(([k, v]) => `${k}=${String(v)}`).join(',');
  }
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {
      name: obj.metadata.name,
      namespace: obj.metadata.namespace,
      uid: obj.metadata.uid,
      resourceVersion: obj.metadata.resourceVersion,
      creationTimestamp: obj.metadata.creationTimestamp,
    },
    spec: { replicas: typeof specReplicas === 'number' ? specReplicas : 0 },
    status: { replicas: typeof statusReplicas === 'number' ? statusReplicas : 0, ...(selectorText ? { selector: selectorText } : {}) },
  };
}

function deleteOptionsFrom(q: URLSearchParams, body: Buffer): DeleteOptions {
  let parsed: Record<string, unknown> = {};
  if (body.length > 0) {
    try {
      const value: unknown = JSON.parse(body.toString('utf8'));
      if (isPlainObject(value)) parsed = value;
    } catch (err) {
      throw badRequest(`error decoding DeleteOptions: ${(err as Error).message}`);
    }
  }
  const grace = q.get('gracePeriodSeconds') ?? (typeof parsed['gracePeriodSeconds'] === 'number' ? String(parsed['gracePeriodSeconds']) : null);
  const policy = q.get('propagationPolicy') ?? (typeof parsed['propagationPolicy'] === 'string' ? parsed['propagationPolicy'] : null);
  if (policy !== null && !['Orphan', 'Background', 'Foreground'].includes(policy))
    throw invalid('DeleteOptions', 'meta.k8s.io', '', [{ type: 'FieldValueNotSupported', field: 'propagationPolicy', message: `Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan", "nil"` }]);
  const pre = isPlainObject(parsed['preconditions']) ? parsed['preconditions'] : undefined;
  const dryRun = q.getAll('dryRun').includes('All') || (Array.isArray(parsed['dryRun']) && parsed['dryRun'].includes('All'));
  return {
    gracePeriodSeconds: grace === null ? undefined : Number(grace),
    propagationPolicy: (policy ?? undefined) as DeleteOptions['propagationPolicy'],
    preconditions: pre ? { ...(typeof pre['uid'] === 'string' ? { uid: pre['uid'] } : {}), ...(typeof pre['resourceVersion'] === 'string' ? { resourceVersion: pre['resourceVersion'] } : {}) } : undefined,
    dryRun,
  };
}

function dryRunFrom(q: URLSearchParams): boolean {
  const values = q.getAll('dryRun');
  for (const v of values) if (v !== 'All') throw invalid('CreateOptions', 'meta.k8s.io', '', [{ type: 'FieldValueNotSupported', field: 'dryRun', message: `Unsupported value: "${v}": supported values: "All"` }]);
  return values.length > 0;
}

/** Answers an object, or its Table form when kubectl asked for one. */
function sendObject(ctx: HandlerContext, res: ServerResponse, req: IncomingMessage, q: URLSearchParams, t: ResourceType, obj: KubeObject, code = 200): void {
  if (wantsTable(req.headers.accept)) {
    sendJson(res, code, toTable(t, [obj], ctx.store.clock.now(), q.get('includeObject') ?? 'Metadata', { resourceVersion: obj.metadata.resourceVersion ?? '' }));
    return;
  }
  sendJson(res, code, ctx.store.jsonOf(t, obj));
}

/** Handles one request to a resource URL. */
export async function handleResource(ctx: HandlerContext, req: IncomingMessage, res: ServerResponse, path: ResourcePath, q: URLSearchParams): Promise<void> {
  const { store } = ctx;
  const t = store.registry.lookup(path.group, path.version, path.plural);
  if (!t) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});
  if (t.namespaced && path.namespace === undefined && path.name !== undefined)
    throw new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});
  if (!t.namespaced && path.namespace !== undefined) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});
  const sub = path.subresource;
  if (sub !== undefined && !((sub === 'status' && t.statusSubresource) || (sub === 'scale' && t.scale !== undefined)))
    throw new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});
  const method = req.method ?? 'GET';
  const res_ = { group: t.group, resource: t.plural };

  if (method === 'GET') {
    const watching = path.legacyWatch || boolParam(q.get('watch'));
    if (path.name !== undefined && !watching) {
      const obj = store.get(t, path.namespace, path.name);
      if (sub === 'scale') {
        sendJson(res, 200, toScale(t, obj));
        return;
      }
      sendObject(ctx, res, req, q, t, obj);
      return;
    }
    const scope = scopeFrom(t, path, q);
    if (path.name !== undefined) {
      // A watch on one name is a watch with a name field selector.
      scope.fieldSelector = [...(scope.fieldSelector ?? []), { field: 'metadata.name', op: 'eq', value: path.name }];
    }
    const rv = q.get('resourceVersion') ?? '';
    const rvMatch = q.get('resourceVersionMatch') ?? '';
    const sendInitialEventsRaw = q.get('sendInitialEvents');
    if (watching) {
      const sendInitialEvents = boolParam(sendInitialEventsRaw);
      const allowBookmarks = boolParam(q.get('allowWatchBookmarks'));
      if (sendInitialEventsRaw !== null) {
        if (rvMatch !== 'NotOlderThan') throw listOptionsInvalid('resourceVersionMatch', "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan");
        if (sendInitialEvents && !allowBookmarks) throw listOptionsInvalid('allowWatchBookmarks', 'Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true');
      } else if (rvMatch !== '') throw listOptionsInvalid('resourceVersionMatch', 'Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided');
      if (rv !== '' && !/^\d+$/.test(rv)) throw badRequest(`invalid resource version: ${rv}`);
      const timeout = q.get('timeoutSeconds');
      serveWatch(store, req, res, {
        type: t,
        scope,
        resourceVersion: sendInitialEvents ? '' : rv,
        sendInitialEvents,
        allowBookmarks,
        timeoutSeconds: timeout === null ? undefined : Number(timeout),
        table: wantsTable(req.headers.accept) ? { includeObject: q.get('includeObject') ?? 'Metadata' } : undefined,
      }, ctx.watch);
      return;
    }
    if (sendInitialEventsRaw !== null) throw listOptionsInvalid('sendInitialEvents', 'Forbidden: sendInitialEvents is forbidden for list');
    if (rvMatch !== '') {
      if (rv === '') throw listOptionsInvalid('resourceVersionMatch', 'Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided');
      if (rvMatch === 'Exact' && rv === '0') throw listOptionsInvalid('resourceVersionMatch', 'Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"');
      if (rvMatch !== 'Exact' && rvMatch !== 'NotOlderThan') throw invalid('ListOptions', 'meta.k8s.io', '', [{ type: 'FieldValueNotSupported', field: 'resourceVersionMatch', message: `Unsupported value: "${rvMatch}": supported values: "Exact", "NotOlderThan"` }]);
      // Only the latest state is kept, so an exact historical list is as gone as after compaction.
      if (rvMatch === 'Exact' && rv !== String(store.resourceVersion)) throw new ApiError(410, 'Expired', `too old resource version: ${rv} (${store.resourceVersion})`);
    }
    if (rv !== '' && rv !== '0' && Number(rv) > store.resourceVersion)
      throw new ApiError(504, 'Timeout', `Too large resource version: ${rv}, current: ${store.resourceVersion}`, { causes: [{ type: 'ResourceVersionTooLarge', message: 'Too large resource version' }], retryAfterSeconds: 1 });
    const limitRaw = q.get('limit');
    const result = store.list(t, scope, { limit: limitRaw === null ? undefined : Number(limitRaw), continue: q.get('continue') ?? undefined });
    const metadata = { resourceVersion: result.resourceVersion, ...(result.continue ? { continue: result.continue } : {}) };
    if (wantsTable(req.headers.accept)) {
      sendJson(res, 200, toTable(t, result.items, store.clock.now(), q.get('includeObject') ?? 'Metadata', metadata));
      return;
    }
    // Typed lists of built-ins omit each item's kind and apiVersion; custom resource lists keep them.
    const prefix = `{"kind":"${t.kind}","apiVersion":"${groupVersion(t)}",`;
    const items = result.items
      .map((o) => {
        const json = store.jsonOf(t, o);
        return t.builtin && json.startsWith(prefix) ? `{${json.slice(prefix.length)}` : json;
      })
      .join(',');
    sendJson(res, 200, `{"kind":"${t.listKind}","apiVersion":"${groupVersion(t)}","metadata":${JSON.stringify(metadata)},"items":[${items}]}`);
    return;
  }

  if (method === 'POST') {
    if (path.name !== undefined) throw methodNotAllowed('create', res_);
    const body = await readBody(req);
    const obj = decodeObject(body, req.headers['content-type'] ?? '');
    checkKind(t, obj);
    const dryRun = dryRunFrom(q);
    const manager = managerOrUserAgent(q.get('fieldManager') ?? undefined, req.headers['user-agent']);
    const created = store.create(t, normalizeBody(t, obj), path.namespace, { dryRun, fieldManager: manager });
    sendObject(ctx, res, req, q, t, created, 201);
    return;
  }

  if (method === 'PUT') {
    if (path.name === undefined) throw methodNotAllowed('update', res_);
    const body = await readBody(req);
    const obj = decodeObject(body, req.headers['content-type'] ?? '');
    const dryRun = dryRunFrom(q);
    const manager = managerOrUserAgent(q.get('fieldManager') ?? undefined, req.headers['user-agent']);
    const current = store.get(t, path.namespace, path.name);
    if (sub === 'scale') {
      checkKind(t, obj, 'Scale', 'autoscaling/v1');
      const replicas = getPath(obj, ['spec', 'replicas']);
      const next = withReplicas(t, current, replicas, obj.metadata?.resourceVersion);
      const updated = store.update(t, next, path.namespace, path.name, { dryRun, fieldManager: manager });
      sendJson(res, 200, toScale(t, updated));
      return;
    }
    checkKind(t, obj);
    const subresource = sub === 'status' ? ('status' as const) : undefined;
    const updated = store.update(t, normalizeBody(t, obj), path.namespace, path.name, { dryRun, fieldManager: manager, ...(subresource ? { subresource } : {}) });
    sendObject(ctx, res, req, q, t, updated);
    return;
  }

  if (method === 'PATCH') {
    if (path.name === undefined) throw methodNotAllowed('patch', res_);
    const body = await readBody(req);
    const contentType = mediaType(req.headers['content-type']);
    const force = q.get('force');
    const isApply = contentType === 'application/apply-patch+yaml';
    if (force !== null && !isApply) throw invalid('PatchOptions', 'meta.k8s.io', '', [{ type: 'FieldValueForbidden', field: 'force', message: 'Forbidden: may not be specified for non-apply patch' }]);
    const manager = isApply ? (q.get('fieldManager') ?? undefined) : managerOrUserAgent(q.get('fieldManager') ?? undefined, req.headers['user-agent']);
    if (isApply && !manager) throw invalid('PatchOptions', 'meta.k8s.io', '', [{ type: 'FieldValueRequired', field: 'fieldManager', message: 'Required value: is required for apply patch' }]);
    const dryRun = dryRunFrom(q);
    const current = store.find(t, path.namespace, path.name);
    if (!current && !(isApply && sub === undefined)) throw notFound(res_, path.name);
    if (sub === 'scale' && current) {
      if (contentType === 'application/strategic-merge-patch+json' || contentType === 'application/apply-patch+yaml')
        throw unsupportedMediaType(contentType, ['application/json-patch+json', 'application/merge-patch+json']);
      const patchedScale = applyPatch(scaleType, toScale(t, current), body, contentType, { manager: manager ?? '', force: false, clock: store.clock });
      const next = withReplicas(t, current, getPath(patchedScale, ['spec', 'replicas']), patchedScale.metadata.resourceVersion);
      const updated = store.update(t, next, path.namespace, path.name, { dryRun, ...(manager ? { fieldManager: manager } : {}) });
      sendJson(res, 200, toScale(t, updated));
      return;
    }
    if (!current) {
      // Server-side apply creates what does not exist yet.
      const applied = applyPatch(t, undefined, body, contentType, { manager: manager ?? '', force: boolParam(force), clock: store.clock });
      if (applied.metadata.name !== path.name) throw badRequest(`the name of the object (${String(applied.metadata.name)}) does not match the name on the URL (${path.name})`);
      const created = store.create(t, applied, path.namespace, { dryRun });
      sendObject(ctx, res, req, q, t, created, 201);
      return;
    }
    const patched = applyPatch(t, current, body, contentType, { manager: manager ?? '', force: boolParam(force), clock: store.clock, ...(sub === 'status' ? { subresource: 'status' as const } : {}) });
    if (patched.metadata.name !== undefined && patched.metadata.name !== path.name) throw badRequest(`the name of the object (${String(patched.metadata.name)}) does not match the name on the URL (${path.name})`);
    // The patched object keeps the stored resourceVersion unless the patch set one, which then acts as a precondition.
    // Server-side apply has already recorded its managedFields; other patches are tracked by the store.
    const updated = store.update(t, patched, path.namespace, path.name, {
      dryRun,
      ...(sub === 'status' ? { subresource: 'status' as const } : {}),
      ...(!isApply && manager ? { fieldManager: manager } : {}),
    });
    sendObject(ctx, res, req, q, t, updated);
    return;
  }

  if (method === 'DELETE') {
    if (sub !== undefined) throw methodNotAllowed('delete', res_);
    const body = await readBody(req);
    const options = deleteOptionsFrom(q, body);
    if (path.name !== undefined) {
      const deleted = store.delete(t, path.namespace, path.name, options);
      sendJson(res, 200, JSON.stringify(deleted));
      return;
    }
    const scope = scopeFrom(t, path, q);
    const items = store.list(t, scope).items;
    const deleted: KubeObject[] = [];
    for (const item of items) {
      try {
        deleted.push(store.delete(t, item.metadata.namespace, item.metadata.name ?? '', options));
      } catch (err) {
        if (!(err instanceof ApiError && err.code === 404)) throw err;
      }
    }
    sendJson(res, 200, { kind: t.listKind, apiVersion: groupVersion(t), metadata: { resourceVersion: String(store.resourceVersion) }, items: deleted });
    return;
  }

  throw methodNotAllowed(method.toLowerCase(), res_);
}

/** The autoscaling/v1 Scale kind, for patching the scale subresource as JSON. */
const scaleType: ResourceType = builtinResourceType({ group: 'autoscaling', version: 'v1', kind: 'Scale', plural: 'scales', namespaced: true });

/** The object with `replicas` written at its scale path; the Scale's resourceVersion is a precondition. */
function withReplicas(t: ResourceType, current: KubeObject, replicas: unknown, resourceVersion: unknown): KubeObject {
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0)
    throw invalid('Scale', 'autoscaling', current.metadata.name ?? '', [{ type: 'FieldValueInvalid', field: 'spec.replicas', message: `Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0` }]);
  const next = clone<KubeObject>(current);
  setPath(next, (t.scale?.specReplicasPath ?? '.spec.replicas').replace(/^\./, '').split('.'), replicas);
  if (typeof resourceVersion === 'string' && resourceVersion !== '') next.metadata.resourceVersion = resourceVersion;
  return next;
}
