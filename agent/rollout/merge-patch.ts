/**
 * Turning a plan's JSON patch (computed against a projection of the live
 * object) into a JSON merge patch (RFC 7386) that is safe to send: a list is
 * written whole, as Git has it, because the indices of the projection need
 * not be those of the live list; a removed field becomes `null`.
 */
import type { PatchOperation } from '../plan/index.ts';

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
/** A JSON object: a merge patch. */
export type JsonObject = { [key: string]: Json };

const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

function segments(pointer: string): string[] {
  return pointer === '' ? [] : pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Sets `value` at `path` in a nested merge-patch object, creating objects on the way. */
function setPath(patch: JsonObject, path: readonly string[], value: Json): void {
  let node = patch;
  path.forEach((key, i) => {
    if (i === path.length - 1) {
      node[key] = value;
      return;
    }
    const next = node[key];
    if (!isObject(next)) node[key] = {};
    node = node[key] as JsonObject;
  });
}

/**
 * A merge patch that brings the live object to `desired` for the given
 * operations. An operation inside a list writes the whole list from
 * `desired`; `remove` writes `null`.
 */
export function mergePatchFor(operations: readonly PatchOperation[], desired: unknown): JsonObject {
  const patch: JsonObject = {};
  for (const op of operations) {
    const path = segments(op.path);
    let node: unknown = desired;
    let cut = path.length;
    for (let i = 0; i < path.length; i++) {
      if (Array.isArray(node)) {
        cut = i;
        break;
      }
      node = isObject(node) ? node[path[i] ?? ''] : undefined;
    }
    if (cut < path.length || Array.isArray(node)) {
      // Inside (or at) a list: the whole list, as Git has it.
      const listPath = path.slice(0, cut);
      let list: unknown = desired;
      for (const key of listPath) list = isObject(list) ? list[key] : undefined;
      setPath(patch, listPath, (list ?? null) as Json);
    } else {
      setPath(patch, path, op.op === 'remove' ? null : (structuredClone(op.value) as Json));
    }
  }
  return patch;
}

/** Merges merge patches left to right (later ones win), as applying them in turn would. */
export function combinePatches(...patches: readonly JsonObject[]): JsonObject {
  const merge = (a: JsonObject, b: JsonObject): JsonObject => {
    const out: JsonObject = { ...a };
    for (const [key, value] of Object.entries(b)) {
      const current = out[key];
      out[key] = isObject(current) && isObject(value) ? merge(current, value) : value;
    }
    return out;
  };
  return patches.reduce<JsonObject>((acc, p) => merge(acc, p), {});
}
