// JSON merge patch (RFC 7386), as application/merge-patch+json is applied by the real server:
// handlers/patch.go decodes the body strictly into a map (fieldValidation defaults to Warn, which
// decodes strictly), then calls evanphx/json-patch v4 MergePatch.

import { badRequest } from './errors.ts';
import { deepClone, deleteOwn, getOwn, goJsonKind, isObject, setOwn } from './json.ts';
import type { Json, JsonObject } from './json.ts';

/**
 * Applies an RFC 7386 merge patch to `original` and returns the result; neither input is mutated.
 *
 * - A member whose patch value is null is removed; objects merge recursively; anything else
 *   (arrays included) replaces the original value.
 * - Nulls inside values that are inserted wholesale are pruned, as evanphx/json-patch's
 *   pruneNulls does; nulls inside an array that replaces an object are kept (its merge() returns
 *   such a patch value unpruned).
 *
 * @param original the live object.
 * @param patch the decoded request body.
 * @throws PatchError 400 `error decoding patch: json: cannot unmarshal array into Go value of type
 *   map[string]interface {}` when the body is not an object (handlers/patch.go strict decode), and
 *   400 `Invalid JSON Patch` for a JSON null body (evanphx ErrBadJSONPatch).
 */
export function mergePatch(original: Json, patch: unknown): Json {
  if (patch === null) throw badRequest('Invalid JSON Patch');
  if (!isObject(patch)) {
    throw badRequest(`error decoding patch: json: cannot unmarshal ${goJsonKind(patch)} into Go value of type map[string]interface {}`);
  }
  // evanphx: a document that is not an object is replaced by the (pruned) patch.
  if (!isObject(original)) return pruneNulls(deepClone(patch));
  const doc = deepClone(original);
  mergeDocs(doc, patch);
  return doc;
}

function mergeDocs(doc: JsonObject, patch: JsonObject): void {
  for (const key of Object.keys(patch)) {
    const value = patch[key] as Json;
    if (value === null) {
      deleteOwn(doc, key);
      continue;
    }
    const current = getOwn(doc, key);
    if (current === undefined || current === null) {
      setOwn(doc, key, pruneNulls(deepClone(value)));
      continue;
    }
    setOwn(doc, key, mergeValue(current, value));
  }
}

// evanphx merge(): when the current value is not an object the patch value replaces it (pruned);
// when the patch value is not an object it replaces the current value unpruned.
function mergeValue(current: Json, patch: Json): Json {
  if (!isObject(current)) return pruneNulls(deepClone(patch));
  if (!isObject(patch)) return deepClone(patch);
  mergeDocs(current, patch);
  return current;
}

// pruneNulls: drop null members of objects at any depth; array elements that are null stay.
function pruneNulls(value: Json): Json {
  if (Array.isArray(value)) {
    for (const item of value) pruneNulls(item);
    return value;
  }
  if (isObject(value)) {
    for (const key of Object.keys(value)) {
      const member = value[key] as Json;
      if (member === null) deleteOwn(value, key);
      else pruneNulls(member);
    }
  }
  return value;
}
