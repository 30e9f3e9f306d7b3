/**
 * The hidden markers that make rollgate's comments findable and its edits
 * idempotent: each sticky comment begins with
 * `<!-- rollgate:<key> sha256:<16 hex> -->`, where the hash is of the
 * comment's content. Forges normalise what they store (line endings,
 * trailing spaces), so comparing the hash in the marker, rather than the
 * stored text, is what makes "edit only when the content changes" hold.
 */
import { createHash } from 'node:crypto';

/** Keys are short words: `plan`, `rollout`, `reply:1234`. */
const keyPattern = /^[a-z][a-z0-9-]*(:[A-Za-z0-9_-]+)?$/;

/** The first 16 hex digits of the SHA-256 of `content` (CRLF read as LF). */
export function contentHash(content: string): string {
  return createHash('sha256').update(content.replace(/\r\n/g, '\n')).digest('hex').slice(0, 16);
}

/** Throws when `key` is not a marker key (a bug in the caller, not bad input from outside). */
export function checkMarkerKey(key: string): string {
  if (!keyPattern.test(key)) throw new Error(`not a rollgate comment marker key: ${JSON.stringify(key)}`);
  return key;
}

/** The marker line for `key` and `content`. */
export function markerLine(key: string, content: string): string {
  return `<!-- rollgate:${checkMarkerKey(key)} sha256:${contentHash(content)} -->`;
}

/** The whole comment body: the marker line, then `content`. */
export function markedBody(key: string, content: string): string {
  return `${markerLine(key, content)}\n${content}`;
}

/**
 * The marker for `key` in a stored comment body: found (with the hash it
 * carries, if any) or undefined. Only an HTML comment matches, so a person
 * quoting the key in text does not.
 */
export function findMarker(body: string, key: string): { readonly hash: string | undefined } | undefined {
  const escaped = checkMarkerKey(key).replace(/[-:]/g, (c) => `\\${c}`);
  const match = new RegExp(`<!-- rollgate:${escaped}(?: sha256:([0-9a-f]{16}))? -->`).exec(body);
  return match === null ? undefined : { hash: match[1] };
}

/** Whether `body` carries any rollgate marker: such comments are rollgate's own and never read as commands. */
export function isRollgateComment(body: string): boolean {
  return /<!-- rollgate:[a-z]/.test(body);
}

/** Whether the stored `body` already says `content` for `key`. */
export function sameContent(body: string, key: string, content: string): boolean {
  return findMarker(body, key)?.hash === contentHash(content);
}
