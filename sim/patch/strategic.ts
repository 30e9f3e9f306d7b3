// Strategic merge patch, applied as the real API server applies it: a port of the server-side
// half of apimachinery pkg/util/strategicpatch/patch.go (StrategicMergeMapPatch → mergeMap with
// MergeParallelList and IgnoreUnmatchedNulls), with errors mapped to HTTP the way
// handlers/patch.go interpretStrategicMergePatchError does. The Go struct tags it reads come from
// the tables in schema.ts.

import { badRequest, internalError, PatchError } from './errors.ts';
import { deepClone, deleteOwn, getOwn, goFormat, goJsonKind, hasOwn, isObject, setOwn } from './json.ts';
import type { Json, JsonObject } from './json.ts';
import { childSchema } from './schema.ts';
import type { KindSchema, SchemaNode } from './schema.ts';

const DIRECTIVE_MARKER = '$patch';
const DELETE_DIRECTIVE = 'delete';
const REPLACE_DIRECTIVE = 'replace';
const MERGE_DIRECTIVE = 'merge';
const RETAIN_KEYS_DIRECTIVE = '$retainKeys';
const DELETE_FROM_PRIMITIVE_LIST_PREFIX = '$deleteFromPrimitiveList';
const SET_ELEMENT_ORDER_PREFIX = '$setElementOrder';

// mergepatch/errors.go sentinels; handlers/patch.go answers these with 400 ...
const ERR_BAD_PATCH_FORMAT_FOR_PRIMITIVE_LIST = 'invalid patch format of primitive list';
const ERR_BAD_PATCH_FORMAT_FOR_RETAIN_KEYS = 'invalid patch format of retainKeys';
const ERR_BAD_PATCH_FORMAT_FOR_SET_ELEMENT_ORDER_LIST = 'invalid patch format of setElementOrder list';
// ... and this one with a generic 422 (NewGenericServerResponse drops the text).
const ERR_NO_LIST_OF_LISTS = 'lists of lists are not supported';

/**
 * Applies a strategic merge patch to `original` and returns the result; neither input is mutated.
 *
 * Supports every server-side directive: `$patch: replace` (maps and lists), `$patch: delete`
 * (maps, and list items by merge key), `$deleteFromPrimitiveList/<field>`,
 * `$setElementOrder/<field>`, `$retainKeys`; null deletes a member. `$patch: merge` is rejected as
 * upstream rejects it (500 `unknown patch type: merge in map: ...` on a map, 500 `merging lists
 * cannot yet be specified in the patch` in a list). Upstream quirks are kept, e.g. items added to
 * a merged list without `$setElementOrder` come before the items only the server had.
 *
 * Directive keys the merge leaves behind (inside a `$patch: replace` map, say) are removed, as the
 * typed decode that follows on the real server drops them as unknown fields.
 *
 * @param original the live object.
 * @param patch the decoded request body.
 * @param schema patch metadata from {@link patchMetaFor} (or a bare {@link SchemaNode}).
 * @throws PatchError 400 for an undecodable body (`json: cannot unmarshal array into Go value of
 *   type map[string]interface {}`) and malformed directives; 422 (generic message) for lists of
 *   lists; 500 with the Go error text for everything apiserver passes through unconverted, such
 *   as `map: map[image:nginx] does not contain declared merge key: name`.
 */
export function strategicMergePatch(original: Json, patch: unknown, schema: KindSchema | SchemaNode): Json {
  if (patch === null) return deepClone(original);
  if (!isObject(patch)) {
    throw badRequest(`json: cannot unmarshal ${goJsonKind(patch)} into Go value of type map[string]interface {}`);
  }
  const root = 'root' in schema ? schema.root : schema;
  const base = isObject(original) ? deepClone(original) : {};
  const merged = mergeMap(base, deepClone(patch), root);
  return stripDirectives(merged);
}

// ---- errors ----

// A Go error value carried through the merge; converted to a PatchError at the boundary.
function goError(message: string): PatchError {
  return internalError(message);
}

function errNoMergeKey(m: JsonObject, key: string): PatchError {
  return goError(`map: ${goFormat(m)} does not contain declared merge key: ${key}`);
}

// reflect.TypeOf names, for mergepatch.ErrBadArgType.
function goTypeName(value: Json | undefined): string {
  if (value === undefined || value === null) return '%!s(<nil>)';
  if (Array.isArray(value)) return '[]interface {}';
  if (isObject(value)) return 'map[string]interface {}';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int64' : 'float64';
  if (typeof value === 'boolean') return 'bool';
  return 'string';
}

function errBadArgType(expected: 'map' | 'slice', actual: Json | undefined): PatchError {
  const want = expected === 'map' ? 'map[string]interface {}' : '[]interface {}';
  return goError(`expected a ${want}, but received a ${goTypeName(actual)}`);
}

function errBadPatchType(directive: Json | undefined, m: JsonObject): PatchError {
  const text = typeof directive === 'string' ? directive : `%!s(${goTypeName(directive)}=${goFormat(directive)})`;
  return goError(`unknown patch type: ${text} in map: ${goFormat(m)}`);
}

function errNoListOfLists(): PatchError {
  return new PatchError(422, 'Invalid', 'the server rejected our request due to an error in our request', {
    details: {},
    detail: ERR_NO_LIST_OF_LISTS,
  });
}

// ---- value kinds, as reflect.TypeOf(...).Kind() sees decoded JSON ----

type GoKind = 'map' | 'slice' | 'string' | 'int64' | 'float64' | 'bool' | 'nil';

function goKind(value: Json | undefined): GoKind {
  if (value === undefined || value === null) return 'nil';
  if (Array.isArray(value)) return 'slice';
  if (isObject(value)) return 'map';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int64' : 'float64';
  if (typeof value === 'boolean') return 'bool';
  return 'string';
}

// reflect.TypeOf(a) != reflect.TypeOf(b); numbers are int64 or float64 as the decoder chose.
function sameGoType(a: Json, b: Json): boolean {
  return goKind(a) === goKind(b);
}

// ---- mergeMap ----

function mergeMap(original: JsonObject, patch: JsonObject, schema: SchemaNode | undefined): JsonObject {
  if (hasOwn(patch, DIRECTIVE_MARKER)) return handleDirectiveInMergeMap(getOwn(patch, DIRECTIVE_MARKER), patch);

  applyRetainKeysDirective(original, patch);
  mergePatchIntoOriginal(original, patch, schema);

  for (const rawKey of Object.keys(patch)) {
    if (!hasOwn(patch, rawKey)) continue;
    const patchValue = patch[rawKey] as Json;
    let key = rawKey;
    let isDeleteList = false;
    if (rawKey.startsWith(DELETE_FROM_PRIMITIVE_LIST_PREFIX)) {
      key = extractKey(rawKey, DELETE_FROM_PRIMITIVE_LIST_PREFIX);
      isDeleteList = true;
    }

    // A null deletes the member; IgnoreUnmatchedNulls drops it when there is nothing to delete.
    if (patchValue === null) {
      deleteOwn(original, key);
      continue;
    }

    const originalValue = getOwn(original, key);
    // Not in the original, or of another type: take the patch value, without its nulls
    // (discardNullValuesFromPatch). A deletion list never adds anything (kubernetes#105421).
    if (originalValue === undefined || !sameGoType(originalValue, patchValue)) {
      if (!isDeleteList) setOwn(original, key, discardNullValues(patchValue));
      continue;
    }

    const field = childSchema(schema, key);
    if (isObject(originalValue) && isObject(patchValue)) {
      setOwn(original, key, mergeMapHandler(originalValue, patchValue, field));
    } else if (Array.isArray(originalValue) && Array.isArray(patchValue)) {
      setOwn(original, key, mergeSliceHandler(originalValue, patchValue, field, isDeleteList));
    } else {
      setOwn(original, key, patchValue);
    }
  }
  return original;
}

function handleDirectiveInMergeMap(directive: Json | undefined, patch: JsonObject): JsonObject {
  if (directive === REPLACE_DIRECTIVE) {
    // "don't merge it, just use the patch directly"
    deleteOwn(patch, DIRECTIVE_MARKER);
    return patch;
  }
  if (directive === DELETE_DIRECTIVE) return {};
  throw errBadPatchType(directive, patch);
}

function extractKey(key: string, prefix: string): string {
  const slash = key.indexOf('/');
  if (slash < 0 || key.slice(0, slash) !== prefix) {
    if (prefix === DELETE_FROM_PRIMITIVE_LIST_PREFIX) throw badRequest(ERR_BAD_PATCH_FORMAT_FOR_PRIMITIVE_LIST);
    throw badRequest(ERR_BAD_PATCH_FORMAT_FOR_SET_ELEMENT_ORDER_LIST);
  }
  return key.slice(slash + 1);
}

function mergeMapHandler(original: JsonObject, patch: JsonObject, schema: SchemaNode | undefined): JsonObject {
  if (schema?.patchStrategy === REPLACE_DIRECTIVE) return patch;
  return mergeMap(original, patch, schema);
}

function mergeSliceHandler(original: Json[], patch: Json[], schema: SchemaNode | undefined, isDeleteList: boolean): Json[] {
  // Deletion lists delete whatever the field's patch strategy (kubernetes#110472).
  if (schema?.patchStrategy !== MERGE_DIRECTIVE && !isDeleteList) return patch;
  return mergeSlice(original, patch, schema?.elem, schema?.patchMergeKey ?? '', isDeleteList);
}

// discardNullValuesFromPatch: drop null members of maps at any depth (null list items stay).
function discardNullValues(value: Json): Json {
  if (Array.isArray(value)) {
    for (const item of value) discardNullValues(item);
  } else if (isObject(value)) {
    for (const key of Object.keys(value)) {
      const member = value[key] as Json;
      if (member === null) deleteOwn(value, key);
      else discardNullValues(member);
    }
  }
  return value;
}

// ---- $retainKeys ----

function applyRetainKeysDirective(original: JsonObject, patch: JsonObject): void {
  if (!hasOwn(patch, RETAIN_KEYS_DIRECTIVE)) return;
  const retainKeys = getOwn(patch, RETAIN_KEYS_DIRECTIVE);
  deleteOwn(patch, RETAIN_KEYS_DIRECTIVE);
  if (!Array.isArray(retainKeys)) throw badRequest(ERR_BAD_PATCH_FORMAT_FOR_RETAIN_KEYS);
  const keep = new Set<Json>(retainKeys);
  // Every member the patch sets must be retained.
  for (const key of Object.keys(patch)) {
    const value = patch[key] as Json;
    if (value === null || key.startsWith(DELETE_FROM_PRIMITIVE_LIST_PREFIX) || key.startsWith(SET_ELEMENT_ORDER_PREFIX)) continue;
    if (!keep.has(key)) throw badRequest(ERR_BAD_PATCH_FORMAT_FOR_RETAIN_KEYS);
  }
  for (const key of Object.keys(original)) {
    if (!keep.has(key)) deleteOwn(original, key);
  }
}

// ---- $setElementOrder ----

function mergePatchIntoOriginal(original: JsonObject, patch: JsonObject, schema: SchemaNode | undefined): void {
  for (const key of Object.keys(patch)) {
    if (!key.startsWith(SET_ELEMENT_ORDER_PREFIX) || !hasOwn(patch, key)) continue;
    const setElementOrder = patch[key] as Json;
    deleteOwn(patch, key);
    if (!Array.isArray(setElementOrder)) throw errBadArgType('slice', setElementOrder);
    const originalKey = extractKey(key, SET_ELEMENT_ORDER_PREFIX);

    const originalList = getOwn(original, originalKey);
    const patchList = getOwn(patch, originalKey);
    const foundOriginal = originalList !== undefined;
    const foundPatch = patchList !== undefined;
    let originalValue: Json[] = [];
    let patchValue: Json[] = [];
    if (foundOriginal) {
      if (!Array.isArray(originalList)) throw errBadArgType('slice', originalList);
      originalValue = originalList;
    }
    if (foundPatch) {
      if (!Array.isArray(patchList)) throw errBadArgType('slice', patchList);
      patchValue = patchList;
    }
    const field = childSchema(schema, originalKey);
    const mergeKey = field?.patchMergeKey ?? '';
    validatePatchWithSetOrderList(patchValue, setElementOrder, mergeKey);

    let merged: Json[];
    if (foundOriginal && !foundPatch) merged = originalValue;
    else if (!foundOriginal && foundPatch) merged = patchValue;
    else if (foundOriginal && foundPatch) merged = mergeSliceHandler(originalValue, patchValue, field, false);
    else continue;

    const [patchItems, serverOnlyItems] =
      mergeKey === '' ? partitionPrimitivesByPresentInList(merged, setElementOrder) : partitionMapsByPresentInList(merged, setElementOrder, mergeKey);
    const kind = sliceElementType([originalValue, patchValue]);
    setOwn(original, originalKey, normalizeElementOrder(patchItems, serverOnlyItems, setElementOrder, originalValue, mergeKey, kind));
    deleteOwn(patch, originalKey);
  }
}

function validatePatchWithSetOrderList(patchList: Json[], setOrderList: Json[], mergeKey: string): void {
  if (setOrderList.length === 0 || patchList.length === 0) return;
  const nonDelete = mergeKey !== '' ? extractToDeleteItems(patchList)[0] : patchList;
  let patchIndex = 0;
  let setOrderIndex = 0;
  while (patchIndex < nonDelete.length && setOrderIndex < setOrderList.length) {
    const item = nonDelete[patchIndex] as Json;
    if (isObject(item) && hasOwn(item, DIRECTIVE_MARKER)) {
      patchIndex++;
      continue;
    }
    if (mergeKeyValueEqual(item, setOrderList[setOrderIndex] as Json, mergeKey)) patchIndex++;
    setOrderIndex++;
  }
  if (patchIndex < nonDelete.length && setOrderIndex >= setOrderList.length) {
    throw goError(`The order in patch list:\n${goFormat(patchList)}\n doesn't match ${SET_ELEMENT_ORDER_PREFIX} list:\n${goFormat(setOrderList)}\n`);
  }
}

function mergeKeyValueEqual(left: Json, right: Json, mergeKey: string): boolean {
  if (mergeKey === '') return left === right;
  if (!isObject(left)) throw errBadArgType('map', left);
  if (!isObject(right)) throw errBadArgType('map', right);
  const l = getOwn(left, mergeKey);
  if (l === undefined) throw errNoMergeKey(left, mergeKey);
  const r = getOwn(right, mergeKey);
  if (r === undefined) throw errNoMergeKey(right, mergeKey);
  return l === r;
}

// ---- list merging ----

function mergeSlice(original: Json[], patch: Json[], elemSchema: SchemaNode | undefined, mergeKey: string, isDeleteList: boolean): Json[] {
  if (original.length === 0 && patch.length === 0) return original;
  const kind = sliceElementType([original, patch]);

  let merged: Json[];
  let orig = original;
  let pat: Json[] = patch;
  if (kind !== 'map') {
    if (isDeleteList) return deleteFromSlice(original, patch);
    merged = deduplicateScalars([...original, ...patch]);
  } else {
    if (mergeKey === '') throw goError('cannot merge lists without merge key for type struct');
    [orig, pat] = mergeSliceWithSpecialElements(original, patch, mergeKey);
    merged = mergeSliceWithoutSpecialElements(orig, pat, mergeKey, elemSchema);
  }

  // Enforce the order: patch items in patch order, server-only items in server order.
  const [patchItems, serverOnlyItems] =
    mergeKey === '' ? partitionPrimitivesByPresentInList(merged, pat) : partitionMapsByPresentInList(merged, pat, mergeKey);
  return normalizeElementOrder(patchItems, serverOnlyItems, pat, orig, mergeKey, kind);
}

function mergeSliceWithSpecialElements(original: Json[], patch: Json[], mergeKey: string): [Json[], Json[]] {
  const withoutSpecial: Json[] = [];
  let replace = false;
  let orig = original;
  for (const item of patch) {
    const typed = item as JsonObject;
    if (!hasOwn(typed, DIRECTIVE_MARKER)) {
      withoutSpecial.push(item);
      continue;
    }
    const directive = getOwn(typed, DIRECTIVE_MARKER);
    if (directive === DELETE_DIRECTIVE) {
      const mergeValue = getOwn(typed, mergeKey);
      if (mergeValue === undefined) throw errNoMergeKey(typed, mergeKey);
      orig = deleteMatchingEntries(orig, mergeKey, mergeValue);
    } else if (directive === REPLACE_DIRECTIVE) {
      // Keep scanning to prune any other $patch elements.
      replace = true;
    } else if (directive === MERGE_DIRECTIVE) {
      throw goError('merging lists cannot yet be specified in the patch');
    } else {
      throw errBadPatchType(directive, typed);
    }
  }
  if (replace) return [withoutSpecial, []];
  return [orig, withoutSpecial];
}

function deleteMatchingEntries(original: Json[], mergeKey: string, mergeValue: Json): Json[] {
  for (const item of original) if (!isObject(item)) throw goError(`value for key ${original.indexOf(item)} is not a map.`);
  return original.filter((item) => getOwn(item as JsonObject, mergeKey) !== mergeValue);
}

function mergeSliceWithoutSpecialElements(original: Json[], patch: Json[], mergeKey: string, elemSchema: SchemaNode | undefined): Json[] {
  // A copy: the caller keeps `original` as the server order, which appended items must not join.
  const out = [...original];
  for (const item of patch) {
    const typed = item as JsonObject;
    const mergeValue = getOwn(typed, mergeKey);
    if (mergeValue === undefined) throw errNoMergeKey(typed, mergeKey);
    const found = findMapInSliceBasedOnKeyValue(out, mergeKey, mergeValue);
    if (found) out[found.index] = mergeMap(found.map, typed, elemSchema);
    else out.push(item);
  }
  return out;
}

function findMapInSliceBasedOnKeyValue(list: Json[], key: string, value: Json): { map: JsonObject; index: number } | undefined {
  for (let i = 0; i < list.length; i++) {
    const item = list[i] as Json;
    if (!isObject(item)) throw goError(`value for key ${i} is not a map.`);
    const candidate = getOwn(item, key);
    if (candidate !== undefined && candidate === value) return { map: item, index: i };
  }
  return undefined;
}

function deleteFromSlice(current: Json[], toDelete: Json[]): Json[] {
  const drop = new Set<Json>(toDelete);
  return current.filter((item) => !drop.has(item));
}

// Order-preserving deduplication; upstream's swap-with-last variant only differs in an order that
// normalizeElementOrder overrides afterwards.
function deduplicateScalars(list: Json[]): Json[] {
  const seen = new Set<Json>();
  const out: Json[] = [];
  for (const item of list) {
    if (seen.has(item)) continue;
    seen.add(item);
    out.push(item);
  }
  return out;
}

// sliceElementType: all elements must share one type, which may not be a list.
function sliceElementType(slices: Json[][]): GoKind {
  let previous: GoKind | undefined;
  for (const slice of slices) {
    for (const item of slice) {
      const current = goKind(item);
      if (previous === undefined) {
        previous = current;
        if (previous === 'slice') throw errNoListOfLists();
      } else if (previous !== current) {
        throw goError(`list element types are not identical: ${goFormat(slices)}`);
      }
    }
  }
  if (previous === undefined) throw goError('no elements in any of the given slices');
  return previous;
}

function partitionPrimitivesByPresentInList(list: Json[], partitionBy: Json[]): [Json[], Json[]] {
  const inPatch = new Set<Json>(partitionBy);
  const patchItems: Json[] = [];
  const serverOnly: Json[] = [];
  for (const item of list) (inPatch.has(item) ? patchItems : serverOnly).push(item);
  return [patchItems, serverOnly];
}

function partitionMapsByPresentInList(list: Json[], partitionBy: Json[], mergeKey: string): [Json[], Json[]] {
  const patchItems: Json[] = [];
  const serverOnly: Json[] = [];
  for (const item of list) {
    if (!isObject(item)) throw errBadArgType('map', item);
    const value = getOwn(item, mergeKey);
    if (value === undefined) throw errNoMergeKey(item, mergeKey);
    (findMapInSliceBasedOnKeyValue(partitionBy, mergeKey, value) ? patchItems : serverOnly).push(item);
  }
  return [patchItems, serverOnly];
}

function extractToDeleteItems(list: Json[]): [Json[], Json[]] {
  const nonDelete: Json[] = [];
  const toDelete: Json[] = [];
  for (const item of list) {
    if (!isObject(item)) throw errBadArgType('map', item);
    (getOwn(item, DIRECTIVE_MARKER) === DELETE_DIRECTIVE ? toDelete : nonDelete).push(item);
  }
  return [nonDelete, toDelete];
}

// index(): position of an item in `list`, by merge key value for maps, by value otherwise.
function indexOf(list: Json[], item: Json, mergeKey: string, kind: GoKind): number {
  const valueOf = (v: Json): Json | undefined => (kind === 'map' ? (isObject(v) ? (getOwn(v, mergeKey) ?? null) : null) : v);
  const wanted = valueOf(item);
  for (let i = 0; i < list.length; i++) if (valueOf(list[i] as Json) === wanted) return i;
  return -1;
}

function normalizeSliceOrder(toSort: Json[], order: Json[], mergeKey: string, kind: GoKind): Json[] {
  let sortable = toSort;
  let toDelete: Json[] = [];
  if (kind === 'map') {
    for (const list of [toSort, order]) {
      for (const item of list) {
        if (!isObject(item)) throw errBadArgType('map', item);
        if (!hasOwn(item, mergeKey)) throw errNoMergeKey(item, mergeKey);
      }
    }
    [sortable, toDelete] = extractToDeleteItems(toSort);
  }
  // sort.SliceStable with upstream's less(): by position in `order` when both are found.
  const sorted = [...sortable].sort((a, b) => {
    const ia = indexOf(order, a, mergeKey, kind);
    const ib = indexOf(order, b, mergeKey, kind);
    if (ia >= 0 && ib >= 0) return ia - ib;
    return 0;
  });
  return [...sorted, ...toDelete];
}

function normalizeElementOrder(patch: Json[], serverOnly: Json[], patchOrder: Json[], serverOrder: Json[], mergeKey: string, kind: GoKind): Json[] {
  const sortedPatch = normalizeSliceOrder(patch, patchOrder, mergeKey, kind);
  const sortedServerOnly = normalizeSliceOrder(serverOnly, serverOrder, mergeKey, kind);
  return mergeSortedSlice(sortedServerOnly, sortedPatch, serverOrder, mergeKey, kind);
}

// mergeSortedSlice: interleave server-only items (left) into patch items (right), using the live
// order where both are known; otherwise the patch item goes first.
function mergeSortedSlice(left: Json[], right: Json[], serverOrder: Json[], mergeKey: string, kind: GoKind): Json[] {
  const out: Json[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    if (i >= left.length) {
      out.push(right[j++] as Json);
      continue;
    }
    if (j >= right.length) {
      out.push(left[i++] as Json);
      continue;
    }
    const li = indexOf(serverOrder, left[i] as Json, mergeKey, kind);
    const ri = indexOf(serverOrder, right[j] as Json, mergeKey, kind);
    if (li >= 0 && ri >= 0 && li < ri) out.push(left[i++] as Json);
    else out.push(right[j++] as Json);
  }
  return out;
}

// ---- cleanup ----

function isDirectiveKey(key: string): boolean {
  return (
    key === DIRECTIVE_MARKER ||
    key === RETAIN_KEYS_DIRECTIVE ||
    key.startsWith(`${SET_ELEMENT_ORDER_PREFIX}/`) ||
    key.startsWith(`${DELETE_FROM_PRIMITIVE_LIST_PREFIX}/`)
  );
}

function stripDirectives(value: Json): Json {
  if (Array.isArray(value)) return value.map(stripDirectives);
  if (!isObject(value)) return value;
  for (const key of Object.keys(value)) {
    if (isDirectiveKey(key)) deleteOwn(value, key);
    else setOwn(value, key, stripDirectives(value[key] as Json));
  }
  return value;
}
