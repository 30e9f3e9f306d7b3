/**
 * The hashes behind the names controllers give their children, as upstream
 * computes them:
 *
 * - ControllerRevision names (`<set>-<hash>`, the `controller-revision-hash`
 *   label): kubernetes `pkg/controller/history` `HashControllerRevision`,
 *   which runs **FNV-1** (`fnv.New32()`, not FNV-1a) over the revision's raw
 *   JSON, then the collision count as decimal text, and renders the 32-bit sum
 *   as decimal digits passed through apimachinery `rand.SafeEncodeString`.
 * - `pod-template-hash` (ReplicaSet names): kubernetes `pkg/controller`
 *   `ComputeHash`, which runs **FNV-1a** over a spew dump of the Go struct and
 *   then the collision count as 8 little-endian bytes. We cannot reproduce a
 *   Go struct dump, so we hash the canonical JSON of the template instead: the
 *   names have the real shape but not the real values.
 */

const offsetBasis = 0x811c9dc5;
const prime = 0x01000193;

/** FNV-1 32-bit (Go `hash/fnv.New32`): multiply, then xor each byte. */
export function fnv1(bytes: Uint8Array, hash = offsetBasis): number {
  let h = hash;
  for (const b of bytes) h = (Math.imul(h, prime) ^ b) >>> 0;
  return h >>> 0;
}

/** FNV-1a 32-bit (Go `hash/fnv.New32a`): xor, then multiply each byte. */
export function fnv1a(bytes: Uint8Array, hash = offsetBasis): number {
  let h = hash;
  for (const b of bytes) h = Math.imul(h ^ b, prime) >>> 0;
  return h >>> 0;
}

/** The alphabet of apimachinery `util/rand` (no vowels, no confusable characters). */
export const safeAlphanums = 'bcdfghjklmnpqrstvwxz2456789';

/**
 * apimachinery `rand.SafeEncodeString`: each character `c` becomes
 * `alphanums[c % 27]`. Applied to the decimal text of a hash, so `"123"`
 * maps through the character codes of '1', '2', '3'.
 */
export function safeEncodeString(s: string): string {
  let out = '';
  for (const ch of s) out += safeAlphanums[(ch.codePointAt(0) ?? 0) % safeAlphanums.length];
  return out;
}

/**
 * JSON with object keys sorted and no whitespace, escaped as Go's
 * `json.Marshal` escapes (`<`, `>`, `&`, U+2028, U+2029). This is the byte
 * form `getPatch` produces after its round trip through `map[string]interface{}`.
 */
export function canonicalJson(value: unknown): string {
  return encode(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`);
}

function encode(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : encode(v))).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${encode(obj[k])}`).join(',')}}`;
}

const utf8 = new TextEncoder();

/**
 * `HashControllerRevision(revision, &collisionCount)`: FNV-1 over the raw
 * data, then over `strconv.FormatInt(collisionCount, 10)`, safe-encoded.
 */
export function controllerRevisionHash(rawData: string, collisionCount: number | undefined): string {
  let h = fnv1(utf8.encode(rawData));
  if (collisionCount !== undefined) h = fnv1(utf8.encode(String(collisionCount)), h);
  return safeEncodeString(String(h));
}

/**
 * `ComputeHash(template, collisionCount)` with the canonical JSON standing in
 * for the spew dump; the collision count is written as 8 little-endian bytes
 * when set, as upstream does.
 */
export function podTemplateHash(template: unknown, collisionCount: number | undefined): string {
  let h = fnv1a(utf8.encode(canonicalJson(template)));
  if (collisionCount !== undefined) {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setUint32(0, collisionCount >>> 0, true);
    h = fnv1a(bytes, h);
  }
  return safeEncodeString(String(h));
}
