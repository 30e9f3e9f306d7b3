// Server-side apply and managedFields bookkeeping, after k8s.io/apimachinery
// pkg/util/managedfields (FieldManager and the managers it chains in NewDefaultFieldManager:
// lastAppliedUpdater, lastAppliedManager, skipNonAppliedManager, capManagersManager,
// buildManagerInfoManager, managedFieldsUpdater, stripMetaManager, structuredMergeManager) and
// sigs.k8s.io/structured-merge-diff merge.Updater.

import { parseAllDocuments } from 'yaml';
import { badRequest, internalError, invalidError, PatchError } from './errors.ts';
import type { FieldError } from './errors.ts';
import {
  compareObjects,
  FieldSet,
  FieldSetError,
  fieldPath,
  mergeForApply,
  pathToString,
  pruneUnowned,
  removePaths,
  toFieldSet,
  typedPatchError,
} from './fieldset.ts';
import type { Comparison, Path } from './fieldset.ts';
import { asJson, compareStrings, deepClone, getOwn, goJsonEncode, goJsonKind, isObject, jsonEqual, setOwn } from './json.ts';
import type { Json, JsonObject } from './json.ts';
import { customResourceSchema, groupOf, normalizeObject, patchMetaFor } from './schema.ts';
import type { FieldPath, KindSchema } from './schema.ts';

/** managedFields operation. */
export type ManagedFieldsOperation = 'Apply' | 'Update';

/** One metadata.managedFields entry (metav1.ManagedFieldsEntry), members in Go struct order. */
export interface ManagedFieldsEntry {
  manager: string;
  operation: ManagedFieldsOperation;
  apiVersion: string;
  /** RFC 3339 with seconds (metav1.Time); absent when the entry never changed the object. */
  time?: string;
  fieldsType: 'FieldsV1';
  fieldsV1: JsonObject;
  /** 'status' for writes to the /status subresource; absent for the main resource. */
  subresource?: string;
}

/** managedfields.DefaultMaxUpdateManagers: Update entries beyond this are merged into buckets. */
export const MAX_UPDATE_MANAGERS = 10;

/** The kubectl client-side apply annotation (corev1.LastAppliedConfigAnnotation). */
export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

const BEFORE_FIRST_APPLY_MANAGER = 'before-first-apply';
const ANCIENT_CHANGES_MANAGER = 'ancient-changes';
const FIELD_MANAGER_MAX_LENGTH = 128;

// stripMetaManager: never tracked as owned. deletionTimestamp and deletionGracePeriodSeconds are
// set by DELETE, outside the field manager, and are listed so no caller can make them owned.
const STRIPPED_PATHS: readonly FieldPath[] = [
  ['apiVersion'],
  ['kind'],
  ['metadata'],
  ['metadata', 'name'],
  ['metadata', 'namespace'],
  ['metadata', 'creationTimestamp'],
  ['metadata', 'selfLink'],
  ['metadata', 'uid'],
  ['metadata', 'clusterName'],
  ['metadata', 'generation'],
  ['metadata', 'managedFields'],
  ['metadata', 'resourceVersion'],
  ['metadata', 'deletionTimestamp'],
  ['metadata', 'deletionGracePeriodSeconds'],
];

// ---- managers ----

interface ManagerState {
  manager: string;
  operation: ManagedFieldsOperation;
  apiVersion: string;
  subresource: string;
  set: FieldSet;
  time: string | undefined;
}

// Keyed by the manager identifier (BuildManagerIdentifier): the entry without time and fields,
// and without apiVersion for appliers, as JSON.
type Managed = Map<string, ManagerState>;

function managerIdentifier(manager: string, operation: ManagedFieldsOperation, apiVersion: string, subresource: string): string {
  const id: JsonObject = { manager, operation };
  if (operation === 'Update' && apiVersion !== '') id['apiVersion'] = apiVersion;
  if (subresource !== '') id['subresource'] = subresource;
  return JSON.stringify(id);
}

function identifierOf(state: ManagerState): string {
  return managerIdentifier(state.manager, state.operation, state.apiVersion, state.subresource);
}

// conflict.go printManager.
function printManager(state: ManagerState): string {
  let text = JSON.stringify(state.manager);
  if (state.subresource !== '') text = `${text} with subresource ${JSON.stringify(state.subresource)}`;
  if (state.operation === 'Update') text = `${text} using ${state.apiVersion}`;
  return text;
}

function cloneManaged(managed: Managed): Managed {
  const out: Managed = new Map();
  for (const [id, state] of managed) out.set(id, { ...state, set: state.set.clone() });
  return out;
}

/**
 * Decodes metadata.managedFields (DecodeManagedFields).
 * @throws TypeError when an entry is malformed, with upstream's wording.
 */
function decodeManagedFields(entries: Json | undefined): Managed {
  const managed: Managed = new Map();
  if (entries === undefined || entries === null) return managed;
  if (!Array.isArray(entries)) throw new TypeError('managedFields must be a list');
  entries.forEach((entry, i) => {
    if (!isObject(entry)) throw new TypeError(`managed fields entry ${i} must be an object`);
    const operation = getOwn(entry, 'operation');
    if (operation !== 'Apply' && operation !== 'Update') throw new TypeError('operation must be `Apply` or `Update`');
    const apiVersion = getOwn(entry, 'apiVersion');
    if (typeof apiVersion !== 'string' || apiVersion === '') throw new TypeError('apiVersion must not be empty');
    const fieldsType = getOwn(entry, 'fieldsType');
    if (fieldsType === undefined || fieldsType === '') throw new TypeError(`missing fieldsType in managed fields entry ${i}`);
    if (fieldsType !== 'FieldsV1') throw new TypeError(`invalid fieldsType ${JSON.stringify(fieldsType)} in managed fields entry ${i}`);
    const manager = getOwn(entry, 'manager');
    const subresource = getOwn(entry, 'subresource');
    const time = getOwn(entry, 'time');
    const state: ManagerState = {
      manager: typeof manager === 'string' ? manager : '',
      operation,
      apiVersion,
      subresource: typeof subresource === 'string' ? subresource : '',
      set: FieldSet.fromFieldsV1(getOwn(entry, 'fieldsV1')),
      time: typeof time === 'string' ? time : undefined,
    };
    managed.set(identifierOf(state), state);
  });
  return managed;
}

// metav1.Time serialises with second precision.
function formatTime(now: Date): string {
  return now.toISOString().replace(/\.\d+Z$/, 'Z');
}

function timeSeconds(time: string | undefined): number {
  if (time === undefined) return Number.NEGATIVE_INFINITY;
  const ms = Date.parse(time);
  return Number.isNaN(ms) ? Number.NEGATIVE_INFINITY : Math.floor(ms / 1000);
}

/**
 * Encodes managers as metadata.managedFields, sorted as sortEncodedManagedFields does: by
 * operation (Apply before Update), then time (oldest first, no time first), manager, apiVersion,
 * subresource.
 */
function encodeManagedFields(managed: Managed): JsonObject[] {
  const states = [...managed.values()].filter((s) => !s.set.isEmpty());
  states.sort((p, q) => {
    if (p.operation !== q.operation) return compareStrings(p.operation, q.operation);
    const ps = timeSeconds(p.time);
    const qs = timeSeconds(q.time);
    if (ps !== qs) return ps < qs ? -1 : 1;
    if (p.manager !== q.manager) return compareStrings(p.manager, q.manager);
    if (p.apiVersion !== q.apiVersion) return compareStrings(p.apiVersion, q.apiVersion);
    return compareStrings(p.subresource, q.subresource);
  });
  return states.map((s) => {
    const entry: JsonObject = { manager: s.manager, operation: s.operation, apiVersion: s.apiVersion };
    if (s.time !== undefined) entry['time'] = s.time;
    entry['fieldsType'] = 'FieldsV1';
    entry['fieldsV1'] = s.set.toFieldsV1();
    if (s.subresource !== '') entry['subresource'] = s.subresource;
    return entry;
  });
}

// capManagersManager: keep at most MAX_UPDATE_MANAGERS Update entries by merging the oldest into
// one "ancient-changes" entry per apiVersion.
function capUpdateManagers(managed: Managed): void {
  const updaters = [...managed.entries()].filter(([, s]) => s.operation === 'Update').map(([id]) => id);
  if (updaters.length <= MAX_UPDATE_MANAGERS) return;
  updaters.sort((a, b) => {
    const ta = timeSeconds(managed.get(a)?.time);
    const tb = timeSeconds(managed.get(b)?.time);
    if (ta !== tb) return ta < tb ? -1 : 1;
    return compareStrings(a, b);
  });
  const versionToFirstManager = new Map<string, string>();
  let length = updaters.length;
  for (let i = 0; i < updaters.length && length > MAX_UPDATE_MANAGERS; i++) {
    const id = updaters[i] as string;
    const state = managed.get(id);
    if (!state) continue;
    const version = state.apiVersion;
    const bucket = managerIdentifier(ANCIENT_CHANGES_MANAGER, 'Update', version, '');
    const first = versionToFirstManager.get(version);
    if (first === undefined) {
      versionToFirstManager.set(version, id);
      continue;
    }
    if (!managed.has(bucket)) {
      const firstState = managed.get(first);
      managed.delete(first);
      if (firstState) managed.set(bucket, { ...firstState, manager: ANCIENT_CHANGES_MANAGER, subresource: '' });
    }
    const bucketState = managed.get(bucket);
    if (bucketState) managed.set(bucket, { ...bucketState, set: state.set.union(bucketState.set), time: state.time });
    managed.delete(id);
    length--;
  }
}

// ---- the object side ----

function metadataOf(obj: JsonObject | undefined): JsonObject | undefined {
  const meta = obj ? getOwn(obj, 'metadata') : undefined;
  return isObject(meta) ? meta : undefined;
}

function withoutManagedFields(obj: JsonObject): JsonObject {
  const out = deepClone(obj);
  const meta = metadataOf(out);
  if (meta) delete meta['managedFields'];
  return out;
}

function withManagedFields(obj: JsonObject, entries: JsonObject[]): JsonObject {
  const out = withoutManagedFields(obj);
  if (entries.length === 0) return out;
  let meta = metadataOf(out);
  if (!meta) {
    meta = {};
    out['metadata'] = meta;
  }
  meta['managedFields'] = entries;
  return out;
}

function resolveSchema(obj: JsonObject, schema: KindSchema | undefined): KindSchema {
  if (schema) return schema;
  const apiVersion = getOwn(obj, 'apiVersion');
  const kind = getOwn(obj, 'kind');
  const group = typeof apiVersion === 'string' ? groupOf(apiVersion) : '';
  const kindName = typeof kind === 'string' ? kind : '';
  return patchMetaFor(group, kindName) ?? customResourceSchema(group, kindName, true);
}

function resetFieldsFor(schema: KindSchema, subresource: string): readonly FieldPath[] {
  return subresource === 'status' ? schema.statusResetFields : schema.mainResetFields;
}

function stripSet(set: FieldSet): FieldSet {
  const strip = new FieldSet();
  for (const p of STRIPPED_PATHS) strip.insert(fieldPath(p));
  return set.difference(strip);
}

function excludeFromComparison(c: Comparison, ignored: readonly Path[]): Comparison {
  return { added: c.added.withoutPrefixes(ignored), modified: c.modified.withoutPrefixes(ignored), removed: c.removed.withoutPrefixes(ignored) };
}

// ---- Update ----

/** Input of {@link recordUpdate}. */
export interface RecordUpdateOptions {
  /** The stored object before the write; undefined for a create. */
  live: JsonObject | undefined;
  /**
   * The object about to be stored (after patching, defaulting and the strategy). Its
   * metadata.managedFields decides the starting point as upstream's decodeLiveOrNew does: `[]`
   * or `[{}]` resets ownership, a non-empty valid list replaces it (main resource only),
   * anything else keeps the live object's.
   */
  updated: JsonObject;
  /** The field manager (see {@link managerOrUserAgent}). */
  manager: string;
  operation?: 'Update';
  /** The group/version of the request, e.g. 'apps/v1'. */
  apiVersion: string;
  now: Date;
  /** 'status' for /status writes. */
  subresource?: string;
  /** Defaults to the built-in table for the object's kind, else a custom-resource schema. */
  schema?: KindSchema;
}

/** Result of {@link recordUpdate} and {@link serverSideApply}. */
export interface ManagedFieldsResult {
  /** The object to store, with metadata.managedFields set (or removed when empty). */
  object: JsonObject;
  /** The new metadata.managedFields (empty when ownership is not tracked). */
  managedFields: JsonObject[];
}

/**
 * Records ownership for a non-apply write (create, update, JSON/merge/strategic patch): the
 * fields the write added or changed become owned by `manager` (operation Update, at
 * `apiVersion`, with `subresource`), and are taken away from every other manager; removed
 * fields are taken away from everyone. The entry's time is set only when the write changed a
 * tracked field. Server-owned metadata (resourceVersion, uid, generation, creationTimestamp,
 * managedFields, ...) and the fields the strategy resets (status on the main resource, spec on
 * /status) are never owned.
 *
 * As upstream (skipNonAppliedManager), an existing object without managedFields stays untracked
 * until someone applies to it; creates are always tracked. More than 10 Update entries are
 * merged, oldest first, into "ancient-changes" entries.
 */
export function recordUpdate(options: RecordUpdateOptions): ManagedFieldsResult {
  const { live, updated, manager, apiVersion, now } = options;
  const subresource = options.subresource ?? '';
  const schema = resolveSchema(updated, options.schema);
  const managed = decodeLiveOrNew(live, updated, subresource !== '');
  const liveObj = live ? withoutManagedFields(live) : {};
  const newObj = withoutManagedFields(updated);

  if (managed.size === 0 && live !== undefined) return { object: newObj, managedFields: [] };

  const ignored = resetFieldsFor(schema, subresource).map(fieldPath);
  applyUpdate(managed, liveObj, newObj, schema, ignored, managerIdentifier(manager, 'Update', apiVersion, subresource), {
    manager,
    apiVersion,
    subresource,
    now,
  });
  capUpdateManagers(managed);
  const entries = encodeManagedFields(managed);
  return { object: withManagedFields(newObj, entries), managedFields: entries };
}

function applyUpdate(
  managed: Managed,
  liveObj: JsonObject,
  newObj: JsonObject,
  schema: KindSchema,
  ignored: readonly Path[],
  selfId: string,
  self: { manager: string; apiVersion: string; subresource: string; now: Date },
): void {
  const compare = excludeFromComparison(compareObjects(liveObj, newObj, schema.root), ignored);
  const changed = compare.modified.union(compare.added);
  // Updater.update with force: every other manager (the writer's previous entry included)
  // loses what changed, and everyone loses what was removed.
  for (const [id, state] of managed) {
    const rest = state.set.difference(changed).difference(compare.removed);
    if (rest.isEmpty()) managed.delete(id);
    else state.set = rest;
  }
  const taken = stripSet(changed.difference(compare.removed).withoutPrefixes(ignored));
  if (taken.isEmpty()) return;
  const previous = managed.get(selfId);
  managed.set(selfId, {
    manager: self.manager,
    operation: 'Update',
    apiVersion: self.apiVersion,
    subresource: self.subresource,
    set: previous ? previous.set.union(taken) : taken,
    time: formatTime(self.now),
  });
}

// decodeLiveOrNew: subresources always use the live object's managedFields.
function decodeLiveOrNew(live: JsonObject | undefined, updated: JsonObject, isSubresource: boolean): Managed {
  const fromLive = (): Managed => {
    try {
      return decodeManagedFields(getOwn(metadataOf(live) ?? {}, 'managedFields'));
    } catch {
      return new Map();
    }
  };
  if (isSubresource) return fromLive();
  const requested = getOwn(metadataOf(updated) ?? {}, 'managedFields');
  if (Array.isArray(requested)) {
    // isResetManagedFields: [] or [{}] resets.
    if (requested.length === 0) return new Map();
    if (requested.length === 1 && isObject(requested[0]) && Object.keys(requested[0]).length === 0) return new Map();
  }
  try {
    const managed = decodeManagedFields(requested);
    if (managed.size > 0) return managed;
  } catch {
    // Fall back to the live object's, so clients that do not understand managedFields cannot
    // erase them by accident.
  }
  return fromLive();
}

// ---- Apply ----

/** Input of {@link serverSideApply}. */
export interface ServerSideApplyOptions {
  /** The stored object; undefined when the apply creates it. */
  live: JsonObject | undefined;
  /** The decoded apply body (see {@link parseApplyPatch}). */
  applied: unknown;
  /** The fieldManager query parameter (validated beforehand with {@link validatePatchOptions}). */
  manager: string;
  /** The force query parameter. */
  force: boolean;
  /** The group/version of the request, e.g. 'apps/v1'; the body must use the same. */
  apiVersion: string;
  now: Date;
  /** 'status' for applies to /status. */
  subresource?: string;
  /** Defaults to the built-in table for the kind, else a custom-resource schema. */
  schema?: KindSchema;
}

/** Result of {@link serverSideApply}. */
export interface ServerSideApplyResult extends ManagedFieldsResult {
  /** False when the apply left the object's content unchanged (managedFields may still differ). */
  changed: boolean;
}

/**
 * Server-side apply (PATCH with application/apply-patch+yaml).
 *
 * The configuration is merged into the live object (keyed lists such as containers, env and
 * ports merge by key, atomic lists and selectors are replaced); fields the manager applied last
 * time but omits now are removed unless another manager owns them; the manager then owns exactly
 * the fields of its configuration. A field owned by another manager whose value the apply would
 * change is a conflict (409), unless `force` moves ownership; applying the value another manager
 * already set shares ownership. The fields the strategy resets are ignored (status on the main
 * resource, spec on /status). Creates when `live` is undefined.
 *
 * Also as upstream: an existing object without managedFields is first attributed to
 * "before-first-apply"; for the manager "kubectl", conflicts on fields still equal to the
 * last-applied-configuration annotation are forgiven (client-side to server-side apply upgrade)
 * and that annotation, when present, is rewritten to the applied configuration.
 *
 * @throws PatchError
 *  - 409 Conflict `Apply failed with 1 conflict: conflict with "mgr" using apps/v1: .spec.replicas`
 *    (several: `Apply failed with 2 conflicts: conflicts with "mgr" using apps/v1:\n- .spec.replicas\n- ...`),
 *    causes `{type: 'FieldManagerConflict', message: 'conflict with "mgr" using apps/v1', field: '.spec.replicas'}`;
 *  - 400 `invalid object type: apps/v1, Kind=Foo` when apiVersion/kind differ from the request;
 *  - 400 `metadata.managedFields must be nil` when the configuration sets managedFields;
 *  - 500 `failed to create typed patch object (...)` for keyed-list items without their key or
 *    with duplicate keys.
 */
export function serverSideApply(options: ServerSideApplyOptions): ServerSideApplyResult {
  const { live, manager, force, apiVersion, now } = options;
  const subresource = options.subresource ?? '';
  if (!isObject(options.applied)) {
    throw badRequest(
      `error decoding YAML: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal ${goJsonKind(options.applied)} into Go value of type map[string]interface {}`,
    );
  }
  const applied = asJson(options.applied, 'applied') as JsonObject;

  // versionCheckManager: the body must be of the kind and version the request is for.
  const expectedKind = kindOf(live) ?? options.schema?.kind ?? kindOf(applied) ?? '';
  const bodyVersion = stringMember(applied, 'apiVersion');
  const bodyKind = stringMember(applied, 'kind');
  if (bodyVersion !== apiVersion || bodyKind !== expectedKind) throw badRequest(`invalid object type: ${gvkString(bodyVersion, bodyKind)}`);
  const appliedMeta = metadataOf(applied);
  if (appliedMeta && getOwn(appliedMeta, 'managedFields') !== undefined && getOwn(appliedMeta, 'managedFields') !== null) {
    throw badRequest('metadata.managedFields must be nil');
  }

  const schema = resolveSchema(applied, options.schema);
  const resetFields = resetFieldsFor(schema, subresource);
  const config = removePaths(applied, resetFields) as JsonObject;
  const liveObj = live ? withoutManagedFields(live) : {};
  let managed: Managed;
  try {
    managed = live ? decodeManagedFields(getOwn(metadataOf(live) ?? {}, 'managedFields')) : new Map<string, ManagerState>();
  } catch (err) {
    throw internalError(`failed to decode managed fields: ${(err as Error).message}`, { cause: err });
  }

  const ignored = resetFields.map(fieldPath);
  // skipNonAppliedManager: fields of an untracked object belong to "before-first-apply".
  if (live !== undefined && managed.size === 0) {
    applyUpdate(managed, {}, liveObj, schema, ignored, managerIdentifier(BEFORE_FIRST_APPLY_MANAGER, 'Update', apiVersion, subresource), {
      manager: BEFORE_FIRST_APPLY_MANAGER,
      apiVersion,
      subresource,
      now,
    });
  }

  const gvk = gvkString(bodyVersion, bodyKind);
  const context: ApplyContext = { liveObj, config, schema, ignored, manager, apiVersion, subresource, now, gvk };
  let outcome = structuredApply(context, managed, force);
  if ('conflicts' in outcome && manager === 'kubectl') {
    // lastAppliedManager: forgive conflicts on fields the client-side apply annotation still
    // describes, so `kubectl apply --server-side` can take over from `kubectl apply`.
    const allowed = allowedConflictsFromLastApplied(liveObj, schema);
    if (allowed) {
      const remaining = new Map<string, FieldSet>();
      for (const [id, set] of outcome.conflicts) {
        const rest = set.difference(allowed);
        if (!rest.isEmpty()) remaining.set(id, rest);
      }
      outcome = remaining.size === 0 ? structuredApply(context, managed, true) : { conflicts: remaining };
    }
  }
  if ('conflicts' in outcome) throw conflictError(outcome.conflicts, managed);

  const { managed: after, changed } = outcome;
  let object = outcome.object;
  // lastAppliedUpdater: keep kubectl's client-side annotation in step with server-side applies.
  if (manager === 'kubectl') object = syncLastApplied(object, applied);
  capUpdateManagers(after);
  const entries = encodeManagedFields(after);
  return { object: withManagedFields(object, entries), managedFields: entries, changed };
}

interface ApplyContext {
  liveObj: JsonObject;
  config: JsonObject;
  schema: KindSchema;
  ignored: readonly Path[];
  manager: string;
  apiVersion: string;
  subresource: string;
  now: Date;
  gvk: string;
}

type ApplyOutcome = { object: JsonObject; managed: Managed; changed: boolean } | { conflicts: Map<string, FieldSet> };

// structuredMergeManager + merge.Updater.Apply (+ stripMetaManager and managedFieldsUpdater).
function structuredApply(ctx: ApplyContext, managedIn: Managed, force: boolean): ApplyOutcome {
  const managed = cloneManaged(managedIn);
  const root = ctx.schema.root;
  let merged: Json;
  let configSet: FieldSet;
  try {
    merged = mergeForApply(ctx.liveObj, ctx.config, root);
    configSet = toFieldSet(ctx.config, root).withoutPrefixes(ctx.ignored);
  } catch (err) {
    if (err instanceof FieldSetError) typedPatchError(err, ctx.gvk);
    throw err;
  }

  const selfId = managerIdentifier(ctx.manager, 'Apply', '', ctx.subresource);
  const previous = managed.get(selfId);
  const lastSet = previous?.set;
  // The applier's new set takes part in pruning unstripped: it keeps .metadata alive.
  let owned = configSet.clone();
  for (const [id, state] of managed) if (id !== selfId) owned = owned.union(state.set);
  const pruned = lastSet ? pruneUnowned(merged, lastSet, owned, root) : merged;

  const compare = excludeFromComparison(compareObjects(ctx.liveObj, pruned, root), ctx.ignored);
  const changedFields = compare.modified.union(compare.added);
  const conflicts = new Map<string, FieldSet>();
  for (const [id, state] of managed) {
    if (id === selfId) continue;
    const conflict = state.set.intersection(changedFields);
    if (!conflict.isEmpty()) conflicts.set(id, conflict);
  }
  if (!force && conflicts.size > 0) return { conflicts };

  for (const [id, state] of managed) {
    if (id === selfId) continue;
    const rest = state.set.difference(conflicts.get(id) ?? new FieldSet()).difference(compare.removed);
    if (rest.isEmpty()) managed.delete(id);
    else state.set = rest;
  }

  const object = normalizeObject(pruned, ctx.schema) as JsonObject;
  const changed = !jsonEqual(normalizeObject(ctx.liveObj, ctx.schema), object);
  const mine = stripSet(configSet);
  if (mine.isEmpty()) {
    managed.delete(selfId);
  } else {
    managed.set(selfId, {
      manager: ctx.manager,
      operation: 'Apply',
      apiVersion: ctx.apiVersion,
      subresource: ctx.subresource,
      set: mine,
      // managedFieldsUpdater: the time moves only when the object changed.
      time: changed ? formatTime(ctx.now) : previous?.time,
    });
  }
  return { object, managed, changed };
}

function conflictError(conflicts: Map<string, FieldSet>, managed: Managed): PatchError {
  const ids = [...conflicts.keys()].sort(compareStrings);
  const list: { who: string; field: string }[] = [];
  for (const id of ids) {
    const state = managed.get(id);
    const who = state ? printManager(state) : JSON.stringify(id);
    for (const path of (conflicts.get(id) as FieldSet).paths()) list.push({ who, field: pathToString(path) });
  }
  let message: string;
  if (list.length === 1) {
    const only = list[0] as { who: string; field: string };
    message = `Apply failed with 1 conflict: conflict with ${only.who}: ${only.field}`;
  } else {
    const lines: string[] = [];
    let current: string | undefined;
    for (const c of list) {
      if (c.who !== current) {
        lines.push(`conflicts with ${c.who}:`);
        current = c.who;
      }
      lines.push(`- ${c.field}`);
    }
    message = `Apply failed with ${list.length} conflicts: ${lines.join('\n')}`;
  }
  return new PatchError(409, 'Conflict', message, {
    details: {},
    causes: list.map((c) => ({ type: 'FieldManagerConflict', message: `conflict with ${c.who}`, field: c.field })),
  });
}

function lastAppliedOf(obj: JsonObject): string | undefined {
  const annotations = getOwn(metadataOf(obj) ?? {}, 'annotations');
  const value = isObject(annotations) ? getOwn(annotations, LAST_APPLIED_ANNOTATION) : undefined;
  return typeof value === 'string' && value !== '' ? value : undefined;
}

// lastAppliedManager.allowedConflictsFromLastApplied: fields of the annotation whose live value
// still equals the annotation's.
function allowedConflictsFromLastApplied(liveObj: JsonObject, schema: KindSchema): FieldSet | undefined {
  const text = lastAppliedOf(liveObj);
  if (text === undefined) return undefined;
  try {
    const lastApplied = asJson(JSON.parse(text) as unknown);
    if (!isObject(lastApplied)) return undefined;
    const set = toFieldSet(lastApplied, schema.root);
    return set.difference(compareObjects(lastApplied, liveObj, schema.root).modified);
  } catch {
    return undefined;
  }
}

// lastAppliedUpdater: rewrite an existing annotation with the applied configuration (minus the
// annotation itself), encoded as Go's encoding/json does.
function syncLastApplied(object: JsonObject, applied: JsonObject): JsonObject {
  if (lastAppliedOf(object) === undefined) return object;
  const config = deepClone(applied);
  const configAnnotations = getOwn(metadataOf(config) ?? {}, 'annotations');
  if (isObject(configAnnotations)) delete configAnnotations[LAST_APPLIED_ANNOTATION];
  const out = deepClone(object);
  const annotations = getOwn(metadataOf(out) ?? {}, 'annotations');
  if (isObject(annotations)) setOwn(annotations, LAST_APPLIED_ANNOTATION, goJsonEncode(config));
  return out;
}

function stringMember(obj: JsonObject, key: string): string | undefined {
  const value = getOwn(obj, key);
  return typeof value === 'string' ? value : undefined;
}

function kindOf(obj: JsonObject | undefined): string | undefined {
  return obj ? stringMember(obj, 'kind') : undefined;
}

// schema.GroupVersionKind.String(): "apps/v1, Kind=StatefulSet", "/v1, Kind=Pod", "/, Kind=".
function gvkString(apiVersion: string | undefined, kind: string | undefined): string {
  const version = apiVersion ?? '';
  const slash = version.indexOf('/');
  const group = slash < 0 ? '' : version.slice(0, slash);
  const v = slash < 0 ? version : version.slice(slash + 1);
  return `${group}/${v}, Kind=${kind ?? ''}`;
}

// ---- request options ----

/** Input of {@link validatePatchOptions}. */
export interface PatchOptionsInput {
  /** The Content-Type of the PATCH, without parameters. */
  patchType: string;
  /** The fieldManager query parameter ('' or undefined when absent). */
  fieldManager?: string | undefined;
  /** The force query parameter (undefined when absent). */
  force?: boolean | undefined;
}

/**
 * ValidatePatchOptions (apimachinery meta/v1/validation): apply patches need a fieldManager,
 * other patches may not set force, and a fieldManager must be at most 128 bytes of printable
 * characters. Returns the 422 the real server sends, e.g. `PatchOptions.meta.k8s.io "" is
 * invalid: fieldManager: Required value: is required for apply patch`, or undefined when valid.
 */
export function validatePatchOptions(input: PatchOptionsInput): PatchError | undefined {
  const errors: FieldError[] = [];
  const isApply = input.patchType === 'application/apply-patch+yaml' || input.patchType === 'application/apply-patch+cbor';
  if (!isApply) {
    if (input.force !== undefined) errors.push({ type: 'FieldValueForbidden', field: 'force', body: 'Forbidden: may not be specified for non-apply patch' });
  } else if (!input.fieldManager) {
    errors.push({ type: 'FieldValueRequired', field: 'fieldManager', body: 'Required value: is required for apply patch' });
  }
  errors.push(...fieldManagerErrors(input.fieldManager ?? ''));
  return errors.length === 0 ? undefined : invalidError('meta.k8s.io', 'PatchOptions', '', errors);
}

/**
 * ValidateCreateOptions / ValidateUpdateOptions for the fieldManager query parameter of POST and
 * PUT: `CreateOptions.meta.k8s.io "" is invalid: fieldManager: Too long: ...`.
 */
export function validateWriteOptions(kind: 'CreateOptions' | 'UpdateOptions', fieldManager: string | undefined): PatchError | undefined {
  const errors = fieldManagerErrors(fieldManager ?? '');
  return errors.length === 0 ? undefined : invalidError('meta.k8s.io', kind, '', errors);
}

// unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space.
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

function fieldManagerErrors(fieldManager: string): FieldError[] {
  const errors: FieldError[] = [];
  if (Buffer.byteLength(fieldManager, 'utf8') > FIELD_MANAGER_MAX_LENGTH) {
    errors.push({ type: 'FieldValueTooLong', field: 'fieldManager', body: `Too long: may not be more than ${FIELD_MANAGER_MAX_LENGTH} bytes` });
  }
  let position = 0;
  for (const ch of fieldManager) {
    if (!PRINTABLE.test(ch)) {
      const code = (ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
      errors.push({
        type: 'FieldValueInvalid',
        field: 'fieldManager',
        body: `Invalid value: ${JSON.stringify(fieldManager)}: invalid character U+${code} (at position ${position})`,
      });
    }
    position += Buffer.byteLength(ch, 'utf8');
  }
  return errors;
}

/**
 * The manager recorded for a non-apply write (handlers managerOrUserAgent): the fieldManager
 * parameter when set, else the User-Agent up to its first "/", without unprintable characters,
 * cut to 128 bytes (kubectl/v1.31.0 → "kubectl").
 */
export function managerOrUserAgent(fieldManager: string | undefined, userAgent: string | undefined): string {
  if (fieldManager) return fieldManager;
  const prefix = (userAgent ?? '').split('/')[0] ?? '';
  let out = '';
  for (const ch of prefix) {
    if (!PRINTABLE.test(ch)) continue;
    if (Buffer.byteLength(out + ch, 'utf8') > FIELD_MANAGER_MAX_LENGTH) break;
    out += ch;
  }
  return out;
}

/**
 * Decodes an application/apply-patch+yaml body (JSON is YAML too) into an object. An empty body
 * decodes to {} as sigs.k8s.io/yaml does (the apply then fails its kind check). Uses the YAML 1.2
 * core schema, so timestamps stay strings; unlike go-yaml v2, YAML 1.1 booleans such as `yes`
 * stay strings too. Only the first document of a stream is used.
 *
 * @throws PatchError 400 `error decoding YAML: ...` for malformed YAML or a body that is not a map.
 */
export function parseApplyPatch(body: string): JsonObject {
  let value: unknown;
  try {
    const docs = parseAllDocuments(body, { uniqueKeys: false });
    const first = Array.isArray(docs) ? docs[0] : docs;
    if (!first) return {};
    const parseError = first.errors[0];
    if (parseError) throw parseError;
    value = first.toJS({ maxAliasCount: 100 }) as unknown;
  } catch (err) {
    throw badRequest(`error decoding YAML: error converting YAML to JSON: yaml: ${(err as Error).message}`, { cause: err });
  }
  if (value === null || value === undefined) return {};
  if (!isObject(value)) {
    throw badRequest(
      `error decoding YAML: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal ${goJsonKind(value)} into Go value of type map[string]interface {}`,
    );
  }
  try {
    return asJson(value, 'body') as JsonObject;
  } catch (err) {
    throw badRequest(`error decoding YAML: ${(err as Error).message}`, { cause: err });
  }
}
