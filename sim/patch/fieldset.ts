// Field sets and the typed-value walks of server-side apply, after sigs.k8s.io/structured-merge-
// diff (fieldpath.Set, typed.ToFieldSet, typed.Compare, typed.Merge, typed.RemoveItems,
// Set.EnsureNamedFieldsAreMembers), working on plain JSON plus the schema tables in schema.ts.
//
// A path element is kept in its FieldsV1 spelling, which is also the key of a managedFields
// entry: `f:<field>` for struct fields and map keys, `k:{"name":"app"}` for items of keyed lists
// (key fields sorted by name), `v:"x"` for items of sets, `i:<n>` for positional items.

import { internalError } from './errors.ts';
import { compareStrings, deepClone, getOwn, hasOwn, isObject, jsonEqual, setOwn } from './json.ts';
import type { Json, JsonObject } from './json.ts';
import { childSchema } from './schema.ts';
import type { FieldPath, SchemaNode } from './schema.ts';

/** A path element in FieldsV1 spelling. */
export type PathElement = string;

/** A path from the object root. */
export type Path = readonly PathElement[];

/**
 * A set of field paths, stored as a tree like fieldpath.Set: `members` are the paths that end at
 * this node, `children` lead to deeper paths.
 */
export class FieldSet {
  readonly members = new Set<PathElement>();
  readonly children = new Map<PathElement, FieldSet>();

  /** Adds `path` (the empty path is ignored: top-level ownership is not tracked). */
  insert(path: Path): void {
    const [head, ...rest] = path;
    if (head === undefined) return;
    if (rest.length === 0) this.members.add(head);
    else this.child(head).insert(rest);
  }

  /** The child for `pe`, created when missing. */
  child(pe: PathElement): FieldSet {
    let next = this.children.get(pe);
    if (!next) {
      next = new FieldSet();
      this.children.set(pe, next);
    }
    return next;
  }

  /** True when `path` is a member. */
  has(path: Path): boolean {
    const [head, ...rest] = path;
    if (head === undefined) return false;
    if (rest.length === 0) return this.members.has(head);
    return this.children.get(head)?.has(rest) ?? false;
  }

  /** True when no path is a member, at any depth. */
  isEmpty(): boolean {
    if (this.members.size > 0) return false;
    for (const child of this.children.values()) if (!child.isEmpty()) return false;
    return true;
  }

  /** A deep copy. */
  clone(): FieldSet {
    const out = new FieldSet();
    for (const m of this.members) out.members.add(m);
    for (const [pe, child] of this.children) out.children.set(pe, child.clone());
    return out;
  }

  /** Paths in this set or in `other`. */
  union(other: FieldSet): FieldSet {
    const out = this.clone();
    out.addAll(other);
    return out;
  }

  private addAll(other: FieldSet): void {
    for (const m of other.members) this.members.add(m);
    for (const [pe, child] of other.children) this.child(pe).addAll(child);
  }

  /** Paths in this set and in `other`. */
  intersection(other: FieldSet): FieldSet {
    const out = new FieldSet();
    for (const m of this.members) if (other.members.has(m)) out.members.add(m);
    for (const [pe, child] of this.children) {
      const theirs = other.children.get(pe);
      if (!theirs) continue;
      const common = child.intersection(theirs);
      if (!common.isEmpty()) out.children.set(pe, common);
    }
    return out;
  }

  /** Paths in this set but not in `other` (exact paths; deeper paths of a removed one stay). */
  difference(other: FieldSet): FieldSet {
    const out = new FieldSet();
    for (const m of this.members) if (!other.members.has(m)) out.members.add(m);
    for (const [pe, child] of this.children) {
      const theirs = other.children.get(pe);
      const rest = theirs ? child.difference(theirs) : child.clone();
      if (!rest.isEmpty()) out.children.set(pe, rest);
    }
    return out;
  }

  /** This set without the paths in `prefixes` and everything under them (RecursiveDifference). */
  withoutPrefixes(prefixes: readonly Path[]): FieldSet {
    const out = this.clone();
    for (const prefix of prefixes) {
      if (prefix.length === 0) return new FieldSet();
      let node: FieldSet | undefined = out;
      for (let i = 0; i < prefix.length - 1 && node; i++) node = node.children.get(prefix[i] as PathElement);
      if (!node) continue;
      const last = prefix[prefix.length - 1] as PathElement;
      node.members.delete(last);
      node.children.delete(last);
    }
    return out;
  }

  /** Every member path, in structured-merge-diff's Set.Iterate order (members, then children). */
  paths(): PathElement[][] {
    const out: PathElement[][] = [];
    const walk = (node: FieldSet, prefix: PathElement[]): void => {
      for (const m of [...node.members].sort(comparePathElements)) out.push([...prefix, m]);
      for (const pe of [...node.children.keys()].sort(comparePathElements)) walk(node.children.get(pe) as FieldSet, [...prefix, pe]);
    };
    walk(this, []);
    return out;
  }

  /** Structural equality. */
  equals(other: FieldSet): boolean {
    return this.difference(other).isEmpty() && other.difference(this).isEmpty();
  }

  /** The FieldsV1 form (`{"f:spec":{"f:replicas":{}}}`), keys in structured-merge-diff order. */
  toFieldsV1(): JsonObject {
    const out: JsonObject = {};
    const keys = new Set<PathElement>([...this.members, ...[...this.children].filter(([, c]) => !c.isEmpty()).map(([pe]) => pe)]);
    for (const pe of [...keys].sort(comparePathElements)) {
      const child = this.children.get(pe);
      const body: JsonObject = {};
      if (child && !child.isEmpty()) {
        if (this.members.has(pe)) body['.'] = {};
        Object.assign(body, child.toFieldsV1());
      }
      setOwn(out, pe, body);
    }
    return out;
  }

  /**
   * Decodes a FieldsV1 value. Throws a TypeError on anything that is not a FieldsV1 tree
   * (fieldpath.SetFromValue errors the same way on malformed managedFields).
   */
  static fromFieldsV1(value: Json | undefined): FieldSet {
    const out = new FieldSet();
    if (value === undefined || value === null) return out;
    if (!isObject(value)) throw new TypeError('FieldsV1 must be an object');
    for (const key of Object.keys(value)) {
      if (key === '.') continue;
      if (!/^[fkvi]:/.test(key)) throw new TypeError(`unknown FieldsV1 key ${JSON.stringify(key)}`);
      const body = value[key] as Json;
      if (!isObject(body)) throw new TypeError(`FieldsV1 member ${JSON.stringify(key)} must be an object`);
      const bodyKeys = Object.keys(body);
      if (bodyKeys.length === 0 || hasOwn(body, '.')) out.members.add(key);
      if (bodyKeys.some((k) => k !== '.')) out.children.set(key, FieldSet.fromFieldsV1(body));
    }
    return out;
  }
}

// ---- path elements ----

/** `f:<name>` */
export function fieldPE(name: string): PathElement {
  return `f:${name}`;
}

function peKind(pe: PathElement): number {
  switch (pe[0]) {
    case 'f':
      return 0;
    case 'k':
      return 1;
    case 'v':
      return 2;
    default:
      return 3;
  }
}

function parsePEJson(pe: PathElement): Json {
  try {
    return JSON.parse(pe.slice(2)) as Json;
  } catch {
    return pe.slice(2);
  }
}

/** structured-merge-diff PathElement.Compare: field names, then keys, then values, then indexes. */
export function comparePathElements(a: PathElement, b: PathElement): number {
  const ka = peKind(a);
  const kb = peKind(b);
  if (ka !== kb) return ka - kb;
  if (ka === 0) return compareStrings(a.slice(2), b.slice(2));
  if (ka === 3) return Number(a.slice(2)) - Number(b.slice(2));
  const va = parsePEJson(a);
  const vb = parsePEJson(b);
  if (ka === 1 && isObject(va) && isObject(vb)) return compareKeyLists(va, vb);
  return compareValues(va, vb);
}

function compareKeyLists(a: JsonObject, b: JsonObject): number {
  const ak = Object.keys(a).sort(compareStrings);
  const bk = Object.keys(b).sort(compareStrings);
  for (let i = 0; ; i++) {
    if (i >= ak.length && i >= bk.length) return 0;
    if (i >= ak.length) return -1;
    if (i >= bk.length) return 1;
    const c = compareStrings(ak[i] as string, bk[i] as string);
    if (c !== 0) return c;
    const v = compareValues(a[ak[i] as string] as Json, b[bk[i] as string] as Json);
    if (v !== 0) return v;
  }
}

// value.Compare: numbers < strings < bools < lists < maps < null.
function valueRank(v: Json): number {
  if (typeof v === 'number') return 0;
  if (typeof v === 'string') return 1;
  if (typeof v === 'boolean') return 2;
  if (Array.isArray(v)) return 3;
  if (isObject(v)) return 4;
  return 5;
}

function compareValues(a: Json, b: Json): number {
  const ra = valueRank(a);
  const rb = valueRank(b);
  if (ra !== rb) return ra - rb;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return compareStrings(a, b);
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const c = compareValues(a[i] as Json, b[i] as Json);
      if (c !== 0) return c;
    }
    return a.length - b.length;
  }
  return compareStrings(JSON.stringify(a), JSON.stringify(b));
}

// value.ToString: strings quoted, everything else as JSON.
function valueToString(v: Json): string {
  if (isObject(v)) {
    return `{${Object.keys(v)
      .sort(compareStrings)
      .map((k) => `${k}=${valueToString(v[k] as Json)}`)
      .join(',')}}`;
  }
  if (Array.isArray(v)) return `[${v.map(valueToString).join(',')}]`;
  return JSON.stringify(v);
}

/**
 * fieldpath.Path.String(): `.spec.template.spec.containers[name="app"].image`, `[="x"]` for set
 * items, `[0]` for positional ones. Used in conflict messages and causes.
 */
export function pathToString(path: Path): string {
  return path
    .map((pe) => {
      switch (pe[0]) {
        case 'f':
          return `.${pe.slice(2)}`;
        case 'k': {
          const key = parsePEJson(pe);
          if (!isObject(key)) return `[${pe.slice(2)}]`;
          return `[${Object.keys(key)
            .sort(compareStrings)
            .map((k) => `${k}=${valueToString(key[k] as Json)}`)
            .join(',')}]`;
        }
        case 'v':
          return `[=${valueToString(parsePEJson(pe))}]`;
        default:
          return `[${pe.slice(2)}]`;
      }
    })
    .join('');
}

/** A path given as field names, e.g. ['spec', 'replicas'], in path-element form. */
export function fieldPath(names: FieldPath): Path {
  return names.map(fieldPE);
}

// ---- schema resolution ----

/** How a value is walked: as one leaf value, or member by member. */
type Shape =
  | { kind: 'leaf' }
  | { kind: 'struct'; node: SchemaNode | undefined }
  | { kind: 'map'; node: SchemaNode }
  | { kind: 'list'; node: SchemaNode; listType: 'set' | 'map' };

function shapeOf(node: SchemaNode | undefined, value: Json): Shape {
  if (node?.atomic) return { kind: 'leaf' };
  if (Array.isArray(value)) {
    if (node?.type === 'list' && (node.listType === 'map' || node.listType === 'set')) return { kind: 'list', node, listType: node.listType };
    return { kind: 'leaf' };
  }
  if (isObject(value)) {
    if (node?.type === 'map') return { kind: 'map', node };
    if (node === undefined || node.type === 'struct' || node.type === undefined) return { kind: 'struct', node };
  }
  return { kind: 'leaf' };
}

function sameShape(a: Shape, b: Shape): boolean {
  return a.kind === b.kind;
}

/** Raised for apply configurations structured-merge-diff refuses to type (missing or duplicate keys). */
export class FieldSetError extends Error {}

/**
 * The path element of a list item: keyed lists use their key fields (absent ones from the
 * schema default), sets use the value itself.
 */
function itemPE(list: SchemaNode, listType: 'set' | 'map', item: Json, index: number, path: Path): PathElement {
  if (listType === 'set') {
    if (isObject(item) || Array.isArray(item)) throw new FieldSetError(`${pathToString(path)}: element ${index}: sets may only contain scalars`);
    return `v:${JSON.stringify(item)}`;
  }
  if (!isObject(item)) throw new FieldSetError(`${pathToString(path)}: element ${index}: associative list with keys has an element that is not a map`);
  const key: JsonObject = {};
  for (const name of [...(list.listMapKeys ?? [])].sort(compareStrings)) {
    let value = getOwn(item, name);
    if (value === undefined || value === null) value = list.keyDefaults ? getOwn(list.keyDefaults, name) : undefined;
    if (value === undefined || value === null) {
      throw new FieldSetError(
        `${pathToString(path)}: element ${index}: associative list with keys has an element that omits key field ${JSON.stringify(name)} (and doesn't have default value)`,
      );
    }
    setOwn(key, name, value);
  }
  return `k:${JSON.stringify(key)}`;
}

interface IndexedItem {
  pe: PathElement;
  value: Json;
}

// Items with their path elements. Duplicates are an error for an applied configuration and are
// tolerated (first one wins) for live objects, like typed.AllowDuplicates.
function indexItems(list: SchemaNode, listType: 'set' | 'map', items: Json[], path: Path, allowDuplicates: boolean): { order: IndexedItem[]; byPE: Map<PathElement, Json> } {
  const order: IndexedItem[] = [];
  const byPE = new Map<PathElement, Json>();
  items.forEach((value, i) => {
    let pe: PathElement;
    try {
      pe = itemPE(list, listType, value, i, path);
    } catch (err) {
      if (!allowDuplicates) throw err;
      pe = `i:${i}`;
    }
    if (byPE.has(pe)) {
      if (!allowDuplicates) throw new FieldSetError(`${pathToString(path)}: duplicate entries for key ${pathToString([pe])}`);
      return;
    }
    byPE.set(pe, value);
    order.push({ pe, value });
  });
  return { order, byPE };
}

function elemOf(shape: Shape): SchemaNode | undefined {
  return shape.kind === 'list' || shape.kind === 'map' ? shape.node.elem : undefined;
}

function childOf(shape: Shape, key: string): SchemaNode | undefined {
  if (shape.kind === 'map') return shape.node.elem;
  if (shape.kind === 'struct') return childSchema(shape.node, key);
  return undefined;
}

// ---- ToFieldSet ----

/**
 * typed.ToFieldSet: the fields an applied configuration sets. Leaves and atomic values are
 * members; map keys are members; list items are members (and their fields below them); struct
 * fields are members only when their value is null or an empty object.
 *
 * @throws FieldSetError for keyed-list items without their key, or duplicate keys.
 */
export function toFieldSet(value: Json, schema: SchemaNode | undefined): FieldSet {
  const set = new FieldSet();
  walkToFieldSet(value, schema, [], set);
  return set;
}

function walkToFieldSet(value: Json, node: SchemaNode | undefined, path: PathElement[], set: FieldSet): void {
  const shape = shapeOf(node, value);
  switch (shape.kind) {
    case 'leaf':
      set.insert(path);
      return;
    case 'struct':
    case 'map': {
      const obj = value as JsonObject;
      for (const key of Object.keys(obj)) {
        const member = obj[key] as Json;
        const childPath = [...path, fieldPE(key)];
        walkToFieldSet(member, childOf(shape, key), childPath, set);
        if (member === null || (isObject(member) && Object.keys(member).length === 0) || shape.kind === 'map') set.insert(childPath);
      }
      return;
    }
    case 'list': {
      const { order } = indexItems(shape.node, shape.listType, value as Json[], path, false);
      for (const item of order) {
        const childPath = [...path, item.pe];
        walkToFieldSet(item.value, shape.node.elem, childPath, set);
        set.insert(childPath);
      }
      return;
    }
  }
}

// ---- Compare ----

/** The result of typed.Compare between two objects. */
export interface Comparison {
  /** Paths present in the new object only (interior nodes included, see {@link compareObjects}). */
  added: FieldSet;
  /** Leaf or atomic values present in both with different values. */
  modified: FieldSet;
  /** Paths present in the old object only. */
  removed: FieldSet;
}

/**
 * typed.Compare(old, new). Leaves and atomic values are added, removed or modified; structs,
 * maps, lists and list items are added or removed as a whole too (the "." entries of
 * managedFields). Fields flagged `zero` in the schema (non-pointer structs such as spec, slices
 * without omitempty such as containers) exist in the Go zero value the real server compares a
 * create against, so they count as present whenever their parent is and are never "added".
 */
export function compareObjects(oldValue: Json | undefined, newValue: Json | undefined, schema: SchemaNode | undefined): Comparison {
  const c: Comparison = { added: new FieldSet(), modified: new FieldSet(), removed: new FieldSet() };
  walkCompare(oldValue, newValue, schema, [], c, false);
  return c;
}

function walkCompare(l: Json | undefined, r: Json | undefined, node: SchemaNode | undefined, path: PathElement[], c: Comparison, lhsIsZero: boolean): void {
  if (l === undefined && r === undefined) return;
  const ls = l === undefined ? undefined : shapeOf(node, l);
  const rs = r === undefined ? undefined : shapeOf(node, r);
  const shape = (rs ?? ls) as Shape;
  const isLeaf = shape.kind === 'leaf' || (ls !== undefined && rs !== undefined && !sameShape(ls, rs));
  if (isLeaf) {
    if (l === undefined) {
      if (!lhsIsZero) c.added.insert(path);
      else c.modified.insert(path);
    } else if (r === undefined) c.removed.insert(path);
    else if (!jsonEqual(l, r)) c.modified.insert(path);
    return;
  }

  if (shape.kind === 'list') {
    const li = l === undefined ? undefined : indexItems(shape.node, shape.listType, l as Json[], path, true);
    const ri = r === undefined ? undefined : indexItems(shape.node, shape.listType, r as Json[], path, true);
    const seen = new Set<PathElement>();
    for (const item of [...(li?.order ?? []), ...(ri?.order ?? [])]) {
      if (seen.has(item.pe)) continue;
      seen.add(item.pe);
      walkItem(li?.byPE.get(item.pe), ri?.byPE.get(item.pe), shape.node.elem, [...path, item.pe], c);
    }
  } else {
    const lo = l as JsonObject | undefined;
    const ro = r as JsonObject | undefined;
    const keys = new Set<string>([...(lo ? Object.keys(lo) : []), ...(ro ? Object.keys(ro) : [])]);
    for (const key of keys) {
      const child = childOf(shape, key);
      const lv = lo ? getOwn(lo, key) : undefined;
      const rv = ro ? getOwn(ro, key) : undefined;
      const childZero = lv === undefined && (lo !== undefined || lhsIsZero) && child?.zero === true;
      walkCompare(lv, rv, child, [...path, fieldPE(key)], c, childZero);
    }
  }
  markWhole(l, r, path, c, lhsIsZero);
}

function walkItem(l: Json | undefined, r: Json | undefined, node: SchemaNode | undefined, path: PathElement[], c: Comparison): void {
  walkCompare(l, r, node, path, c, false);
  // List items are always tracked as a whole, whatever their shape (mergingWalker postItemHook).
  const leaf = (l === undefined ? undefined : shapeOf(node, l))?.kind === 'leaf' || (r === undefined ? undefined : shapeOf(node, r))?.kind === 'leaf';
  if (leaf) return;
  if (l === undefined) c.added.insert(path);
  else if (r === undefined) c.removed.insert(path);
}

function markWhole(l: Json | undefined, r: Json | undefined, path: PathElement[], c: Comparison, lhsIsZero: boolean): void {
  if (path.length === 0 || lhsIsZero) return;
  const last = path[path.length - 1] as PathElement;
  if (last[0] !== 'f') return; // list items are marked by walkItem
  if (l === undefined) c.added.insert(path);
  else if (r === undefined) c.removed.insert(path);
}

// ---- Merge (apply) ----

/**
 * typed.Merge(live, config): the applied configuration merged into the live object. Keyed lists
 * and sets merge item by item (live-only items keep their place, configuration items follow the
 * configuration's order); atomic values and plain arrays are replaced; null in the configuration
 * sets null (normalizeObject drops it afterwards). Returns a new value.
 *
 * @throws FieldSetError for configuration items without their key, or duplicate keys.
 */
export function mergeForApply(live: Json | undefined, config: Json, schema: SchemaNode | undefined): Json {
  // Type the whole configuration first, as ObjectToTyped does, so errors carry full paths.
  toFieldSet(config, schema);
  return mergeValue(live, config, schema, []);
}

function mergeValue(l: Json | undefined, r: Json, node: SchemaNode | undefined, path: PathElement[]): Json {
  if (l === undefined) return deepClone(r);
  const ls = shapeOf(node, l);
  const rs = shapeOf(node, r);
  if (rs.kind === 'leaf' || !sameShape(ls, rs)) return deepClone(r);
  if (rs.kind === 'list') return mergeList(l as Json[], r as Json[], rs, path);
  const lo = l as JsonObject;
  const ro = r as JsonObject;
  const out: JsonObject = {};
  for (const key of Object.keys(lo)) {
    const rv = getOwn(ro, key);
    setOwn(out, key, rv === undefined ? deepClone(lo[key] as Json) : mergeValue(lo[key], rv, childOf(rs, key), [...path, fieldPE(key)]));
  }
  for (const key of Object.keys(ro)) {
    if (hasOwn(lo, key)) continue;
    setOwn(out, key, mergeValue(undefined, ro[key] as Json, childOf(rs, key), [...path, fieldPE(key)]));
  }
  return out;
}

// A port of mergingWalker.visitListItems: walk both lists, emit live-only items where they are,
// shared and new items in the configuration's order.
function mergeList(lhs: Json[], rhs: Json[], shape: Extract<Shape, { kind: 'list' }>, path: PathElement[]): Json[] {
  const rhsIdx = indexItems(shape.node, shape.listType, rhs, path, false);
  const lhsIdx = indexItems(shape.node, shape.listType, lhs, path, true);
  const rhsPEs = rhsIdx.order.map((i) => i.pe);
  const lhsPEs = lhsIdx.order.map((i) => i.pe);
  const elem = elemOf(shape);
  const mergeItem = (pe: PathElement): Json => {
    const l = lhsIdx.byPE.get(pe);
    const r = rhsIdx.byPE.get(pe);
    if (r === undefined) return deepClone(l as Json);
    return mergeValue(l, r, elem, [...path, pe]);
  };

  const sharedOrder = rhsPEs.filter((pe) => lhsIdx.byPE.has(pe));
  let nextShared = sharedOrder.shift();
  const mergedRHS = new Set<PathElement>();
  const out: Json[] = [];
  let lI = 0;
  let rI = 0;
  while (lI < lhsPEs.length || rI < rhsPEs.length) {
    if (lI < lhsPEs.length && rI < rhsPEs.length) {
      const pe = lhsPEs[lI] as PathElement;
      if (pe === rhsPEs[rI]) {
        mergedRHS.add(pe);
        out.push(mergeItem(pe));
        lI++;
        rI++;
        nextShared = sharedOrder.shift();
        continue;
      }
      if (rhsIdx.byPE.has(pe) && nextShared !== undefined && nextShared !== pe) {
        // A shared item, but not the one the configuration wants next.
        lI++;
        continue;
      }
    }
    if (lI < lhsPEs.length) {
      const pe = lhsPEs[lI] as PathElement;
      if (!rhsIdx.byPE.has(pe)) {
        out.push(mergeItem(pe));
        lI++;
        continue;
      }
      if (mergedRHS.has(pe)) {
        lI++;
        continue;
      }
    }
    if (rI < rhsPEs.length) {
      const pe = rhsPEs[rI] as PathElement;
      mergedRHS.add(pe);
      out.push(mergeItem(pe));
      rI++;
      if (nextShared !== undefined && nextShared === pe) nextShared = sharedOrder.shift();
    }
  }
  return out;
}

// ---- EnsureNamedFieldsAreMembers and RemoveItems (prune) ----

/**
 * Set.EnsureNamedFieldsAreMembers: every struct field that leads to a path in the set becomes a
 * member too, so that pruning can remove a whole struct field (but not a whole map) once nobody
 * owns anything in it.
 */
export function ensureNamedFieldsAreMembers(set: FieldSet, schema: SchemaNode | undefined): FieldSet {
  const out = new FieldSet();
  for (const m of set.members) out.members.add(m);
  for (const [pe, child] of set.children) {
    let childNode: SchemaNode | undefined;
    if (pe[0] === 'f') {
      const name = pe.slice(2);
      if (schema?.type !== 'map') out.members.add(pe);
      childNode = schema?.type === 'map' ? schema.elem : childSchema(schema, name);
    } else {
      childNode = schema?.type === 'list' ? schema.elem : undefined;
    }
    out.children.set(pe, ensureNamedFieldsAreMembers(child, childNode));
  }
  return out;
}

/**
 * Updater.prune: removes from `merged` every field, list item or map entry the applier owned
 * before (`lastSet`) that no manager owns now (`owned`, the union of every manager's set, the
 * applier's new one included). Named struct fields count as owned when anything under them is.
 */
export function pruneUnowned(merged: Json, lastSet: FieldSet, owned: FieldSet, schema: SchemaNode | undefined): Json {
  if (lastSet.isEmpty()) return merged;
  return removeWalk(merged, ensureNamedFieldsAreMembers(lastSet, schema), ensureNamedFieldsAreMembers(owned, schema), schema, []);
}

function removeWalk(value: Json, last: FieldSet, owned: FieldSet | undefined, node: SchemaNode | undefined, path: PathElement[]): Json {
  const shape = shapeOf(node, value);
  if (shape.kind === 'leaf') return value;
  if (shape.kind === 'list') {
    const out: Json[] = [];
    const items = value as Json[];
    items.forEach((item, i) => {
      let pe: PathElement;
      try {
        pe = itemPE(shape.node, shape.listType, item, i, path);
      } catch {
        out.push(item);
        return;
      }
      if (last.members.has(pe) && !owned?.members.has(pe)) return;
      const lastChild = last.children.get(pe);
      out.push(lastChild ? removeWalk(item, lastChild, owned?.children.get(pe), shape.node.elem, [...path, pe]) : item);
    });
    return out;
  }
  const obj = value as JsonObject;
  const out: JsonObject = {};
  for (const key of Object.keys(obj)) {
    const pe = fieldPE(key);
    if (last.members.has(pe) && !owned?.members.has(pe)) continue;
    const lastChild = last.children.get(pe);
    const member = obj[key] as Json;
    setOwn(out, key, lastChild ? removeWalk(member, lastChild, owned?.children.get(pe), childOf(shape, key), [...path, pe]) : member);
  }
  return out;
}

/** Removes the values at `paths` (and below) from an object; used to drop reset fields. */
export function removePaths(value: Json, paths: readonly FieldPath[]): Json {
  const out = deepClone(value);
  for (const p of paths) {
    let node: Json | undefined = out;
    for (let i = 0; i < p.length - 1 && isObject(node); i++) node = getOwn(node, p[i] as string);
    const last = p[p.length - 1];
    if (isObject(node) && last !== undefined && hasOwn(node, last)) delete node[last];
  }
  return out;
}

/** Wraps FieldSetError as the 500 the real server answers for an untypeable apply configuration. */
export function typedPatchError(err: FieldSetError, gvk: string): never {
  throw internalError(`failed to create typed patch object (${gvk}): ${err.message}`, { cause: err });
}
