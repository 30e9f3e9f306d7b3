/**
 * Bridges the HTTP layer to the patch engine (`sim/patch`): picks the
 * strategy from the content type, and records managed fields on writes.
 */
import type { SimClock } from '../clock.ts';
import { badRequest } from '../api/errors.ts';
import type { KubeObject } from '../api/object.ts';
import type { ResourceType } from '../api/resources.ts';
import { groupVersion } from '../api/resources.ts';
import type { FieldTracker } from '../api/store.ts';
import type { Json, JsonObject, KindSchema } from '../patch/index.ts';
import {
  BUILTIN_PATCH_TYPES,
  CUSTOM_RESOURCE_PATCH_TYPES,
  customResourceSchema,
  jsonPatch,
  mergePatch,
  normalizeObject,
  parseApplyPatch,
  patchMetaFor,
  recordUpdate,
  serverSideApply,
  strategicMergePatch,
  unsupportedMediaTypeError,
} from '../patch/index.ts';

/** The patch metadata of a resource: built-in tables, or the custom-resource shape. */
export function schemaFor(t: ResourceType): KindSchema {
  return (t.builtin ? patchMetaFor(t.group, t.kind) : undefined) ?? customResourceSchema(t.group, t.kind, t.statusSubresource);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`error decoding patch: ${(err as Error).message}`);
  }
}

export interface PatchContext {
  manager: string;
  force: boolean;
  clock: SimClock;
  subresource?: 'status' | undefined;
}

/**
 * Applies a PATCH body to `current` (undefined only for an apply that
 * creates). For server-side apply the result already carries its
 * managedFields; other strategies get them from the store's field tracker.
 */
export function applyPatch(t: ResourceType, current: KubeObject | undefined, body: Buffer, contentType: string, ctx: PatchContext): KubeObject {
  const text = body.toString('utf8');
  const schema = schemaFor(t);
  const live = current as unknown as Json;
  let result: Json;
  switch (contentType) {
    case 'application/json-patch+json':
      result = jsonPatch(live, parseJson(text));
      break;
    case 'application/merge-patch+json':
      result = mergePatch(live, parseJson(text));
      break;
    case 'application/strategic-merge-patch+json':
      if (!t.builtin) throw unsupportedMediaTypeError(CUSTOM_RESOURCE_PATCH_TYPES);
      result = strategicMergePatch(live, parseJson(text), schema);
      break;
    case 'application/apply-patch+yaml': {
      const applied = serverSideApply({
        live: current as unknown as JsonObject | undefined,
        applied: parseApplyPatch(text),
        manager: ctx.manager,
        force: ctx.force,
        apiVersion: groupVersion(t),
        now: new Date(ctx.clock.now()),
        schema,
        ...(ctx.subresource ? { subresource: ctx.subresource } : {}),
      });
      return applied.object as unknown as KubeObject;
    }
    default:
      throw unsupportedMediaTypeError(t.builtin ? BUILTIN_PATCH_TYPES : CUSTOM_RESOURCE_PATCH_TYPES);
  }
  return normalizeObject(result, schema) as unknown as KubeObject;
}

/** Drops what decoding into the Go type would (nulls, empty maps), for POST and PUT bodies. */
export function normalizeBody(t: ResourceType, obj: KubeObject): KubeObject {
  return normalizeObject(obj as unknown as Json, schemaFor(t)) as unknown as KubeObject;
}

/** The store's field tracker: every write by a named manager records its fields as upstream does. */
export function fieldTracker(clock: SimClock): FieldTracker {
  return (t, live, updated, manager, subresource) =>
    recordUpdate({
      live: live as unknown as JsonObject | undefined,
      updated: updated as unknown as JsonObject,
      manager,
      apiVersion: groupVersion(t),
      now: new Date(clock.now()),
      schema: schemaFor(t),
      ...(subresource ? { subresource } : {}),
    }).object as unknown as KubeObject;
}
