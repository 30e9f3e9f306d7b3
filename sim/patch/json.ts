// Plain JSON values and the few operations the patch engine and the store need on them.
//
// Every read and write of an object member goes through getOwn/setOwn so that keys such as
// "__proto__", "constructor" or "toString" behave like any other key, as they do in Go's
// map[string]interface{} on the real API server (no prototype lookups, no prototype pollution).

/** A plain JSON value, as decoded by JSON.parse. */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** A JSON object (a Go map[string]interface{} on the real server). */
export type JsonObject = { [k: string]: Json };

/** True for a JSON object (not null, not an array). */
export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The own member `key` of `obj`, or undefined when absent (never an inherited property). */
export function getOwn(obj: JsonObject, key: string): Json | undefined {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/** True when `obj` has its own member `key`. */
export function hasOwn(obj: JsonObject, key: string): boolean {
  return Object.hasOwn(obj, key);
}

/**
 * Sets the own member `key`. "__proto__" is defined as a data property instead of being
 * assigned, because assignment would replace the object's prototype.
 */
export function setOwn(obj: JsonObject, key: string, value: Json): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
    return;
  }
  obj[key] = value;
}

/** Removes the own member `key` (no-op when absent). */
export function deleteOwn(obj: JsonObject, key: string): void {
  if (Object.hasOwn(obj, key)) delete obj[key];
}

/** A deep copy of a JSON value. */
export function deepClone<T extends Json>(value: T): T {
  return cloneAny(value) as T;
}

function cloneAny(value: Json): Json {
  if (Array.isArray(value)) return value.map(cloneAny);
  if (isObject(value)) {
    const out: JsonObject = {};
    for (const key of Object.keys(value)) setOwn(out, key, cloneAny(value[key] as Json));
    return out;
  }
  return value;
}

/**
 * Semantic equality of two JSON values: object member order does not matter, array order does.
 * The store uses it to short-circuit no-op writes (etcd3 store.go: same bytes, no new RV).
 */
export function jsonEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) return false;
    for (const key of keys) {
      if (!Object.hasOwn(b, key) || !jsonEqual(a[key], b[key])) return false;
    }
    return true;
  }
  return false;
}

/**
 * Checks that `value` is plain JSON (what JSON.parse or the yaml package can produce) and returns
 * it typed as such. Throws a TypeError on functions, undefined, symbols, bigints, non-finite
 * numbers or class instances, which would otherwise slip through the patch engine unnoticed.
 */
export function asJson(value: unknown, where = 'value'): Json {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`${where}: non-finite number`);
    return value;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) asJson(value[i] as unknown, `${where}[${i}]`);
    return value as Json[];
  }
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) throw new TypeError(`${where}: not a plain object`);
    for (const [key, member] of Object.entries(value)) asJson(member as unknown, `${where}.${key}`);
    return value as JsonObject;
  }
  throw new TypeError(`${where}: not JSON (${typeof value})`);
}

/** The name Go's encoding/json uses for a JSON value's kind in "cannot unmarshal X into ..." errors. */
export function goJsonKind(value: unknown): 'object' | 'array' | 'string' | 'number' | 'bool' | 'null' {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  switch (typeof value) {
    case 'string':
      return 'string';
    case 'number':
      return 'number';
    case 'boolean':
      return 'bool';
    default:
      return 'object';
  }
}

/**
 * Formats a value like Go's fmt "%v" does for a decoded interface{}: maps as `map[k:v ...]` with
 * sorted keys, slices as `[a b]`, nil as `<nil>`. Used to reproduce apimachinery error texts such
 * as mergepatch.ErrNoMergeKey ("map: map[image:nginx] does not contain declared merge key: name").
 */
export function goFormat(value: Json | undefined): string {
  if (value === undefined || value === null) return '<nil>';
  if (Array.isArray(value)) return `[${value.map(goFormat).join(' ')}]`;
  if (isObject(value)) {
    const keys = Object.keys(value).sort(compareStrings);
    return `map[${keys.map((k) => `${k}:${goFormat(value[k])}`).join(' ')}]`;
  }
  if (typeof value === 'number') return goNumber(value);
  return String(value);
}

// Go prints a float64 with %v in the shortest form, in exponent form for exponents < -4 or
// >= 21 and with at least two exponent digits ("1e+21", "1e-05").
function goNumber(n: number): string {
  const s = n !== 0 && Math.abs(n) < 1e-4 ? n.toExponential() : String(n);
  const m = /^(.*)e([+-])(\d+)$/.exec(s);
  if (!m) return s;
  return `${m[1] ?? ''}e${m[2] ?? '+'}${(m[3] ?? '').padStart(2, '0')}`;
}

/** Byte-wise string order (Go's strings.Compare / sort.Strings for ASCII and BMP text). */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Serialises like Go's encoding/json Encoder for a map[string]interface{}: members sorted by key,
 * "<", ">" and "&" escaped as \u003c, \u003e, \u0026 (SetEscapeHTML defaults to true), U+2028 and
 * U+2029 escaped, and a trailing newline as Encoder.Encode writes. Used for the
 * kubectl.kubernetes.io/last-applied-configuration value written by server-side apply.
 */
export function goJsonEncode(value: Json): string {
  return `${goJsonMarshal(value)}\n`;
}

function goJsonMarshal(value: Json): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `[${value.map(goJsonMarshal).join(',')}]`;
  if (isObject(value)) {
    const keys = Object.keys(value).sort(compareStrings);
    return `{${keys.map((k) => `${goJsonString(k)}:${goJsonMarshal(value[k] as Json)}`).join(',')}}`;
  }
  if (typeof value === 'string') return goJsonString(value);
  return JSON.stringify(value);
}

function goJsonString(s: string): string {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
