/**
 * Authenticity checks of a webhook delivery, run before a byte of the body
 * is parsed: GitHub's HMAC signature of the raw body, GitLab's shared token.
 * Pure functions of their inputs; the comparisons take the same time
 * whatever the inputs share, so a caller cannot learn the secret byte by
 * byte from response times.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** Why a delivery failed authentication; each maps to a fixed message. */
export type AuthFailure =
  /** No `X-Hub-Signature-256` (GitHub) or `X-Gitlab-Token` (GitLab) header. */
  | 'missing'
  /** The signature header is not `sha256=` followed by 64 hex digits. */
  | 'malformed'
  /** The signature or token does not match the configured secret. */
  | 'mismatch';

/** The outcome of a check: `ok`, or why not. */
export type AuthResult = { readonly ok: true } | { readonly ok: false; readonly reason: AuthFailure };

// GitHub sends `sha256=` and the lowercase hex digest; accept either case,
// refuse anything else before decoding (Buffer.from(hex) silently stops at the first non-hex character).
const SIGNATURE_FORMAT = /^sha256=([0-9a-fA-F]{64})$/;

/**
 * Checks GitHub's `X-Hub-Signature-256` header against the HMAC-SHA256 of
 * the raw body keyed with the webhook's secret (GitHub docs, "Validating
 * webhook deliveries"). Both digests are 32 bytes by construction, so
 * `timingSafeEqual` never sees buffers of different lengths.
 *
 * @param secret - The webhook's secret, as configured on GitHub.
 * @param body - The raw body exactly as received (the signature covers bytes, not parsed JSON).
 * @param header - The header's value, or undefined when absent.
 */
export function verifyGitHubSignature(secret: string, body: Buffer, header: string | undefined): AuthResult {
  const format = checkGitHubSignatureFormat(header);
  if (!format.ok) return format;
  const provided = Buffer.from(SIGNATURE_FORMAT.exec(header ?? '')?.[1] ?? '', 'hex');
  const expected = createHmac('sha256', secret).update(body).digest();
  return provided.length === expected.length && timingSafeEqual(provided, expected) ? { ok: true } : { ok: false, reason: 'mismatch' };
}

/**
 * The part of {@link verifyGitHubSignature} that needs no body: whether the
 * header is present and well formed. Lets the receiver refuse an unsigned
 * delivery before reading its body.
 */
export function checkGitHubSignatureFormat(header: string | undefined): AuthResult {
  if (header === undefined || header === '') return { ok: false, reason: 'missing' };
  return SIGNATURE_FORMAT.test(header) ? { ok: true } : { ok: false, reason: 'malformed' };
}

/**
 * Checks GitLab's `X-Gitlab-Token` header, which carries the webhook's
 * secret token as it is. Both sides are hashed first so the comparison
 * is constant-time even when the lengths differ (a plain length check
 * would tell an attacker the token's length).
 *
 * @param expectedDigest - SHA-256 of the configured token ({@link tokenDigest}), computed once.
 * @param header - The header's value, or undefined when absent.
 */
export function verifyGitLabToken(expectedDigest: Buffer, header: string | undefined): AuthResult {
  if (header === undefined || header === '') return { ok: false, reason: 'missing' };
  return timingSafeEqual(tokenDigest(header), expectedDigest) ? { ok: true } : { ok: false, reason: 'mismatch' };
}

/** SHA-256 of a token, as {@link verifyGitLabToken} compares them. */
export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Computes the `X-Hub-Signature-256` value GitHub would send for `body`: for tests, benchmarks and tools that replay deliveries. */
export function signGitHubBody(secret: string, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}
