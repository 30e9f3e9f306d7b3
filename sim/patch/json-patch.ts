// JSON patch (RFC 6902), with the semantics of the library the real API server uses:
// gopkg.in/evanphx/json-patch.v4 (handlers/patch.go jsonPatcher.applyJSPatch). Its quirks are kept
// on purpose, because clients see them:
// - negative array indices count from the end (SupportNegativeIndices defaults to true);
// - "replace" of a missing object member adds it (partialDoc.get never fails in v4);
// - "copy" from a missing object member copies null;
// - "test" compares objects one-sidedly: every member of the document value must be in the
//   patch value, extra members in the patch value are ignored (lazyNode.equal);
// - a path without a leading "/" addresses the document root ("a/b" acts on key "b").
// Written from scratch rather than with fast-json-patch, which follows RFC 6902 strictly and
// refuses "__proto__" outright, where the real server treats it as an ordinary key.

import { badRequest, PatchError } from './errors.ts';
import { deepClone, deleteOwn, getOwn, goJsonKind, hasOwn, isObject, setOwn } from './json.ts';
import type { Json, JsonObject } from './json.ts';

/** handlers/patch.go maxJSONPatchOperations. */
export const MAX_JSON_PATCH_OPERATIONS = 10000;

/** One decoded RFC 6902 operation, as sent on the wire. */
export interface JsonPatchOperation {
  op: string;
  path: string;
  from?: string;
  value?: Json;
}

/**
 * Applies an RFC 6902 patch to `original` and returns the result; neither input is mutated.
 *
 * @param original the live object.
 * @param ops the decoded request body (anything: it is validated here).
 * @throws PatchError
 *  - 400 `error decoding patch: json: cannot unmarshal object into Go value of type
 *    []handlers.jsonPatchOp` when the body is not an array (and the matching texts for bad
 *    elements or non-string op/path/from), as the strict decode in handlers/patch.go reports;
 *  - 413 `Request entity too large: The allowed maximum operations in a JSON patch is 10000, got N`;
 *  - 422 reason Invalid, message `the server rejected our request due to an error in our request`,
 *    `details: {}` and no causes, for any operation that fails (a failed "test", a missing path,
 *    a bad index, an unknown op). That generic text is what the real server sends: it wraps the
 *    library error with errors.NewGenericServerResponse(422, ..., isUnexpectedResponse=false),
 *    which drops it; kubectl prints "The request is invalid: the server rejected our request due
 *    to an error in our request". The library's own words (e.g. `testing value /spec/replicas
 *    failed: test failed`) are kept in {@link PatchError.detail} for logs and tests.
 */
export function jsonPatch(original: Json, ops: unknown): Json {
  const operations = decodeOperations(ops);
  if (operations.length > MAX_JSON_PATCH_OPERATIONS) {
    throw new PatchError(
      413,
      'RequestEntityTooLarge',
      `Request entity too large: The allowed maximum operations in a JSON patch is ${MAX_JSON_PATCH_OPERATIONS}, got ${operations.length}`,
    );
  }
  const state = { doc: deepClone(original) };
  for (const op of operations) {
    try {
      applyOperation(state, op);
    } catch (err) {
      if (!(err instanceof OperationError)) throw err;
      throw new PatchError(422, 'Invalid', 'the server rejected our request due to an error in our request', {
        details: {},
        detail: err.message,
        cause: err,
      });
    }
  }
  return state.doc;
}

// A raw operation: members as sent (evanphx keeps operations as map[string]*json.RawMessage).
type RawOperation = JsonObject | null;

function decodeOperations(ops: unknown): RawOperation[] {
  const prefix = 'error decoding patch: json: ';
  if (ops === null) return [];
  if (!Array.isArray(ops)) {
    throw badRequest(`${prefix}cannot unmarshal ${goJsonKind(ops)} into Go value of type []handlers.jsonPatchOp`);
  }
  const out: RawOperation[] = [];
  for (const item of ops as unknown[]) {
    if (item === null) {
      out.push(null);
      continue;
    }
    if (!isObject(item)) {
      throw badRequest(`${prefix}cannot unmarshal ${goJsonKind(item)} into Go value of type handlers.jsonPatchOp`);
    }
    for (const member of ['op', 'path', 'from'] as const) {
      const value = getOwn(item, member);
      if (value !== undefined && value !== null && typeof value !== 'string') {
        throw badRequest(`${prefix}cannot unmarshal ${goJsonKind(value)} into Go struct field jsonPatchOp.${member} of type string`);
      }
    }
    out.push(item);
  }
  return out;
}

class OperationError extends Error {}

// errors.Wrapf(err, msg) prints "msg: err".
function wrap(message: string, cause: string): OperationError {
  return new OperationError(`${message}: ${cause}`);
}

const MISSING = 'missing value';
const INVALID_INDEX = 'invalid index referenced';
const TEST_FAILED = 'test failed';

type Container = { kind: 'doc'; obj: JsonObject } | { kind: 'ary'; arr: Json[] };

function stringMember(op: RawOperation, name: string): string | undefined {
  if (op === null) return undefined;
  const value = getOwn(op, name);
  return typeof value === 'string' ? value : undefined;
}

// The "value" member: undefined when absent, Json (possibly null) otherwise.
function valueMember(op: RawOperation): Json | undefined {
  return op === null ? undefined : getOwn(op, 'value');
}

function applyOperation(state: { doc: Json }, op: RawOperation): void {
  const kind = stringMember(op, 'op') ?? 'unknown';
  switch (kind) {
    case 'add':
      return opAdd(state, op);
    case 'remove':
      return opRemove(state, op);
    case 'replace':
      return opReplace(state, op);
    case 'move':
      return opMove(state, op);
    case 'test':
      return opTest(state, op);
    case 'copy':
      return opCopy(state, op);
    default:
      throw new OperationError(`Unexpected kind: ${kind}`);
  }
}

function requirePath(op: RawOperation, what: string): string {
  const path = stringMember(op, 'path');
  if (path === undefined) throw wrap(`${what} operation failed to decode path`, `operation missing path field: ${MISSING}`);
  return path;
}

function requireFrom(op: RawOperation, what: string): string {
  const from = stringMember(op, 'from');
  if (from === undefined) throw wrap(`${what} operation failed to decode from`, `operation, missing from field: ${MISSING}`);
  return from;
}

function opAdd(state: { doc: Json }, op: RawOperation): void {
  const path = requirePath(op, 'add');
  const found = findObject(state.doc, path);
  if (!found) throw wrap(`add operation does not apply: doc is missing path: ${JSON.stringify(path)}`, MISSING);
  const err = containerAdd(found.container, found.key, deepClone(valueMember(op) ?? null));
  if (err) throw wrap(`error in add for path: '${path}'`, err);
}

function opRemove(state: { doc: Json }, op: RawOperation): void {
  const path = requirePath(op, 'remove');
  const found = findObject(state.doc, path);
  if (!found) throw wrap(`remove operation does not apply: doc is missing path: ${JSON.stringify(path)}`, MISSING);
  const err = containerRemove(found.container, found.key);
  if (err) throw wrap(`error in remove for path: '${path}'`, err);
}

function opReplace(state: { doc: Json }, op: RawOperation): void {
  const path = requirePath(op, 'replace');
  if (path === '') {
    const value = valueMember(op);
    if (!isObject(value) && !Array.isArray(value)) throw new OperationError('replace operation value must be object or array');
    state.doc = deepClone(value);
    return;
  }
  const found = findObject(state.doc, path);
  if (!found) throw wrap(`replace operation does not apply: doc is missing path: ${path}`, MISSING);
  const got = containerGet(found.container, found.key);
  if (got.error !== undefined) throw wrap(`replace operation does not apply: doc is missing key: ${path}`, MISSING);
  containerSet(found.container, found.key, deepClone(valueMember(op) ?? null));
}

function opMove(state: { doc: Json }, op: RawOperation): void {
  const from = requireFrom(op, 'move');
  const source = findObject(state.doc, from);
  if (!source) throw wrap(`move operation does not apply: doc is missing from path: ${from}`, MISSING);
  const got = containerGet(source.container, source.key);
  if (got.error !== undefined) throw wrap(`error in move for path: '${source.key}'`, got.error);
  const removeErr = containerRemove(source.container, source.key);
  if (removeErr) throw wrap(`error in move for path: '${source.key}'`, removeErr);
  const path = requirePath(op, 'move');
  const target = findObject(state.doc, path);
  if (!target) throw wrap(`move operation does not apply: doc is missing destination path: ${path}`, MISSING);
  const addErr = containerAdd(target.container, target.key, got.value ?? null);
  if (addErr) throw wrap(`error in move for path: '${path}'`, addErr);
}

function opCopy(state: { doc: Json }, op: RawOperation): void {
  const from = requireFrom(op, 'copy');
  const source = findObject(state.doc, from);
  if (!source) throw wrap(`copy operation does not apply: doc is missing from path: ${from}`, MISSING);
  const got = containerGet(source.container, source.key);
  if (got.error !== undefined) throw wrap(`error in copy for from: '${from}'`, got.error);
  const path = requirePath(op, 'copy');
  const target = findObject(state.doc, path);
  if (!target) throw wrap(`copy operation does not apply: doc is missing destination path: ${path}`, MISSING);
  const addErr = containerAdd(target.container, target.key, deepClone(got.value ?? null));
  if (addErr) throw wrap('error while adding value during copy', addErr);
}

function opTest(state: { doc: Json }, op: RawOperation): void {
  const path = requirePath(op, 'test');
  const expected = valueMember(op);
  if (path === '') {
    if (expected !== undefined && expected !== null && looseEqual(state.doc, expected)) return;
    throw wrap(`testing value ${path} failed`, TEST_FAILED);
  }
  const found = findObject(state.doc, path);
  if (!found) throw wrap(`test operation does not apply: is missing path: ${path}`, MISSING);
  const got = containerGet(found.container, found.key);
  if (got.error !== undefined) throw wrap(`error in test for path: '${path}'`, got.error);
  // A JSON null member decodes to a nil node in evanphx, exactly like a missing one.
  const actual = got.value ?? null;
  if (actual === null) {
    if (expected === undefined || expected === null) return;
    throw wrap(`testing value ${path} failed`, TEST_FAILED);
  }
  if (expected === undefined || expected === null || !looseEqual(actual, expected)) throw wrap(`testing value ${path} failed`, TEST_FAILED);
}

// lazyNode.equal: the document side drives the comparison of objects.
function looseEqual(doc: Json, value: Json): boolean {
  if (isObject(doc)) {
    if (!isObject(value)) return false;
    for (const key of Object.keys(doc)) {
      if (!hasOwn(value, key)) return false;
      const d = doc[key] as Json;
      const v = value[key] as Json;
      if (d === null && v === null) continue;
      if (d === null || v === null || !looseEqual(d, v)) return false;
    }
    return true;
  }
  if (Array.isArray(doc)) {
    if (!Array.isArray(value) || doc.length !== value.length) return false;
    for (let i = 0; i < doc.length; i++) {
      const d = doc[i] as Json;
      const v = value[i] as Json;
      if (d === null && v === null) continue;
      if (d === null || v === null || !looseEqual(d, v)) return false;
    }
    return true;
  }
  if (isObject(value) || Array.isArray(value)) return false;
  return JSON.stringify(doc) === JSON.stringify(value);
}

// RFC 6901 unescaping, in the order evanphx's strings.NewReplacer applies it.
function decodePatchKey(key: string): string {
  return key.replace(/~1|~0/g, (m) => (m === '~1' ? '/' : '~'));
}

function containerOf(value: Json | undefined): Container | undefined {
  if (isObject(value)) return { kind: 'doc', obj: value };
  if (Array.isArray(value)) return { kind: 'ary', arr: value };
  return undefined;
}

// findObject: walk every segment but the last; a missing, null or scalar step fails.
function findObject(doc: Json, path: string): { container: Container; key: string } | undefined {
  const split = path.split('/');
  if (split.length < 2) return undefined;
  let container = containerOf(doc);
  if (!container) return undefined;
  for (const part of split.slice(1, -1)) {
    const got = containerGet(container, decodePatchKey(part));
    if (got.error !== undefined || got.value === undefined || got.value === null) return undefined;
    container = containerOf(got.value);
    if (!container) return undefined;
  }
  return { container, key: decodePatchKey(split[split.length - 1] ?? '') };
}

// strconv.Atoi: optional sign, decimal digits, within int64 (checked loosely as a safe integer).
function atoi(key: string): { value: number } | { error: string } {
  if (!/^[+-]?\d+$/.test(key)) return { error: `strconv.Atoi: parsing ${JSON.stringify(key)}: invalid syntax` };
  const value = Number.parseInt(key, 10);
  if (!Number.isSafeInteger(value)) return { error: `strconv.Atoi: parsing ${JSON.stringify(key)}: value out of range` };
  return { value };
}

function containerGet(container: Container, key: string): { value?: Json; error?: string } {
  if (container.kind === 'doc') return { value: getOwn(container.obj, key) };
  const parsed = atoi(key);
  if ('error' in parsed) return { error: parsed.error };
  let idx = parsed.value;
  const len = container.arr.length;
  if (idx < 0) {
    if (idx < -len) return { error: `Unable to access invalid index: ${idx}: ${INVALID_INDEX}` };
    idx += len;
  }
  if (idx >= len) return { error: `Unable to access invalid index: ${parsed.value}: ${INVALID_INDEX}` };
  return { value: container.arr[idx] };
}

function containerSet(container: Container, key: string, value: Json): void {
  if (container.kind === 'doc') {
    setOwn(container.obj, key, value);
    return;
  }
  const parsed = atoi(key);
  if ('error' in parsed) return;
  const idx = parsed.value < 0 ? parsed.value + container.arr.length : parsed.value;
  container.arr[idx] = value;
}

function containerAdd(container: Container, key: string, value: Json): string | undefined {
  if (container.kind === 'doc') {
    setOwn(container.obj, key, value);
    return undefined;
  }
  if (key === '-') {
    container.arr.push(value);
    return undefined;
  }
  const parsed = atoi(key);
  if ('error' in parsed) return `value was not a proper array index: '${key}': ${parsed.error}`;
  let idx = parsed.value;
  const size = container.arr.length + 1;
  if (idx >= size || idx < -size) return `Unable to access invalid index: ${idx}: ${INVALID_INDEX}`;
  if (idx < 0) idx += size;
  container.arr.splice(idx, 0, value);
  return undefined;
}

function containerRemove(container: Container, key: string): string | undefined {
  if (container.kind === 'doc') {
    if (!hasOwn(container.obj, key)) return `Unable to remove nonexistent key: ${key}: ${MISSING}`;
    deleteOwn(container.obj, key);
    return undefined;
  }
  const parsed = atoi(key);
  if ('error' in parsed) return parsed.error;
  let idx = parsed.value;
  const len = container.arr.length;
  if (idx >= len || idx < -len) return `Unable to access invalid index: ${idx}: ${INVALID_INDEX}`;
  if (idx < 0) idx += len;
  container.arr.splice(idx, 1);
  return undefined;
}
