/**
 * Reading forge answers at the boundary (STYLE.md §7): every field the
 * adapters use is checked for its type before it enters rollgate, and a
 * missing or mistyped one is a `protocol` {@link ForgeError} that names the
 * request and the field, not a `TypeError` three calls later.
 */
import { ForgeError } from './errors.ts';

/** A JSON object from a forge, with the request it came from for messages. */
export interface Fields {
  readonly value: Record<string, unknown>;
  /** `github GET /repos/o/r/pulls`, for messages. */
  readonly where: string;
}

function fail(where: string, message: string): never {
  throw new ForgeError('protocol', `${where} answered unexpected JSON: ${message}`);
}

/** `value` as an object, or a `protocol` error. */
export function fields(value: unknown, where: string): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(where, `expected an object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
  return { value: value as Record<string, unknown>, where };
}

/** `value` as an array of objects, or a `protocol` error. */
export function list(value: unknown, where: string): Fields[] {
  if (!Array.isArray(value)) fail(where, 'expected an array');
  return value.map((item, i) => fields(item, `${where} [${i}]`));
}

/** A required string field. */
export function str(f: Fields, key: string): string {
  const v = f.value[key];
  if (typeof v !== 'string') fail(f.where, `"${key}" is ${v === undefined ? 'missing' : `not a string (${typeof v})`}`);
  return v;
}

/** An optional string field: undefined when absent or null. */
export function optStr(f: Fields, key: string): string | undefined {
  const v = f.value[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') fail(f.where, `"${key}" is not a string (${typeof v})`);
  return v;
}

/** A required number field. */
export function num(f: Fields, key: string): number {
  const v = f.value[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(f.where, `"${key}" is ${v === undefined ? 'missing' : 'not a number'}`);
  return v;
}

/** An optional boolean field: false when absent or null. */
export function flag(f: Fields, key: string): boolean {
  const v = f.value[key];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') fail(f.where, `"${key}" is not a boolean`);
  return v;
}

/** A required nested object. */
export function sub(f: Fields, key: string): Fields {
  if (f.value[key] === undefined || f.value[key] === null) fail(f.where, `"${key}" is missing`);
  return fields(f.value[key], `${f.where} .${key}`);
}

/** An id (number or string) as a string. */
export function id(f: Fields, key: string): string {
  const v = f.value[key];
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v === 'string' && v !== '') return v;
  return fail(f.where, `"${key}" is not an id`);
}
