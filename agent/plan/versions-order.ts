/**
 * Ordering image tags as versions: `v7.5.1` < `v8.1.0`; Redis Enterprise's
 * `7.4.6-22` (release 7.4.6, build 22) < `7.4.6-54`; `v8.0.0-alpha` <
 * `v8.0.0`. Tags that are not versions (`latest`, `nightly-2024…`) do not
 * compare.
 */

/** A tag read as a version. */
export interface ParsedVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** A numeric suffix after `-` (a build number, as Redis Enterprise tags carry); 0 when absent. */
  readonly build: number;
  /** A non-numeric suffix after `-` (`alpha`, `rc.1`): a pre-release, older than the release itself. */
  readonly prerelease: readonly (string | number)[];
}

const versionPattern = /^v?(\d{1,9})(?:\.(\d{1,9}))?(?:\.(\d{1,9}))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

/** The version a tag names, or undefined when it is not a version. */
export function parseVersion(tag: string): ParsedVersion | undefined {
  const m = versionPattern.exec(tag);
  if (m === null) return undefined;
  const suffix = m[4];
  const numericSuffix = suffix !== undefined && /^\d{1,9}$/.test(suffix);
  return {
    major: Number(m[1]),
    minor: Number(m[2] ?? 0),
    patch: Number(m[3] ?? 0),
    build: numericSuffix ? Number(suffix) : 0,
    prerelease: suffix === undefined || numericSuffix ? [] : suffix.split('.').map((part) => (/^\d+$/.test(part) ? Number(part) : part)),
  };
}

function comparePrerelease(a: readonly (string | number)[], b: readonly (string | number)[]): number {
  // Semantic Versioning §11: a release is newer than any of its pre-releases.
  if (a.length === 0 || b.length === 0) return (a.length === 0 ? 1 : 0) - (b.length === 0 ? 1 : 0);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    if (typeof x === 'number') return -1;
    if (typeof y === 'number') return 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

/** Negative when `a` is older than `b`, 0 when equal, positive when newer; undefined when either is not a version. */
export function compareVersions(a: string, b: string): number | undefined {
  const x = parseVersion(a);
  const y = parseVersion(b);
  if (x === undefined || y === undefined) return undefined;
  return x.major - y.major || x.minor - y.minor || x.patch - y.patch || x.build - y.build || comparePrerelease(x.prerelease, y.prerelease);
}

/** The major versions an upgrade from `from` to `to` jumps over (`v6.5.0` → `v8.1.0` skips [7]); empty when none or not versions. */
export function skippedMajors(from: string, to: string): number[] {
  const x = parseVersion(from);
  const y = parseVersion(to);
  if (x === undefined || y === undefined || y.major <= x.major + 1) return [];
  return Array.from({ length: y.major - x.major - 1 }, (_, i) => x.major + 1 + i);
}
