/**
 * Container image references, as far as rollgate reads them: the tag is the
 * version.
 */

/**
 * The tag of an image reference, or undefined if it has none:
 * `pingcap/pd:v7.5.1` → `v7.5.1`; `registry:5000/pd` → undefined (the
 * `:5000` is a port); `pd@sha256:…` → undefined (a digest only);
 * `pd:v1@sha256:…` → `v1`.
 */
export function imageTag(reference: string): string | undefined {
  const withoutDigest = reference.split('@', 1)[0] ?? '';
  const lastSegment = withoutDigest.slice(withoutDigest.lastIndexOf('/') + 1);
  const colon = lastSegment.lastIndexOf(':');
  if (colon < 0) return undefined;
  const tag = lastSegment.slice(colon + 1);
  return tag === '' ? undefined : tag;
}
