/**
 * Repository paths: checking references written in repository files, and the
 * small glob language of `rollgate.yaml` (`paths`, `exclude`).
 *
 * Every path rollgate handles is repository-relative with `/` separators.
 * References written by users are checked before use: an absolute path or a
 * `..` segment is how repository content has reached outside the repository
 * in Argo CD and Flux (CVE-2022-24877, CVE-2022-31036, GHSA-63qx-x74g-jcr7),
 * so they are refused outright rather than resolved and compared.
 */

/**
 * Why `ref` is not an acceptable repository-relative reference, or undefined
 * when it is. Accepts `a/b.yaml`, `./a/b`, `a/b/`; refuses empty paths,
 * absolute paths (`/x`, `C:\x`, `~/x`), backslashes, `..` segments and
 * control characters.
 */
export function referenceProblem(ref: string): string | undefined {
  if (ref.length === 0) return 'must not be empty';
  // eslint-disable-next-line no-control-regex -- control characters are what this looks for
  if (/[\u0000-\u001f\u007f]/.test(ref)) return 'must not contain control characters';
  if (ref.startsWith('/') || ref.startsWith('~') || /^[A-Za-z]:/.test(ref)) return 'must be relative to the repository root, not absolute';
  if (ref.includes('\\')) return 'must use "/" as the separator';
  if (ref.split('/').includes('..')) return 'must not contain ".." segments';
  return undefined;
}

/** Normalises a reference accepted by {@link referenceProblem}: drops `.` and empty segments (`./a//b/` → `a/b`). */
export function normalizeReference(ref: string): string {
  return ref
    .split('/')
    .filter((s) => s !== '' && s !== '.')
    .join('/');
}

/** Joins a repository directory (`''` for the root) and a relative reference. */
export function joinReference(dir: string, ref: string): string {
  return normalizeReference(dir === '' ? ref : `${dir}/${ref}`);
}

/** The directory part of a repository path (`''` for a file at the root). */
export function dirnameOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}

/** Whether a file name is one rollgate reads as YAML. */
export function isYamlName(path: string): boolean {
  return path.endsWith('.yaml') || path.endsWith('.yml');
}

/** A compiled `paths`/`exclude` pattern. */
export interface PathPattern {
  /** As written. */
  readonly pattern: string;
  /** The leading segments without wildcards: the folder (or file) a walk for it starts from; `''` for the root. */
  readonly base: string;
  /** Whether a repository file is covered: the pattern matches it or one of its parent folders. */
  readonly covers: (path: string) => boolean;
}

function hasWildcard(segment: string): boolean {
  return segment.includes('*') || segment.includes('?');
}

/**
 * Compiles a pattern: `*` matches within one path segment, `**` any number of
 * segments, `?` one character; anything else is literal. A pattern covers the
 * files it matches and everything below a folder it matches, so `prod`,
 * `prod/` and `prod/**` are the same. Call only on patterns accepted by
 * {@link referenceProblem}.
 */
export function compilePattern(pattern: string): PathPattern {
  const segments = normalizeReference(pattern).split('/').filter((s) => s !== '');
  const baseSegments: string[] = [];
  for (const s of segments) {
    if (hasWildcard(s)) break;
    baseSegments.push(s);
  }
  let source = '^';
  segments.forEach((segment, i) => {
    const last = i === segments.length - 1;
    if (segment === '**') {
      source += last ? '.*' : '(?:[^/]*/)*';
      return;
    }
    for (const ch of segment) {
      if (ch === '*') source += '[^/]*';
      else if (ch === '?') source += '[^/]';
      else source += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
    if (!last) source += '/';
  });
  source += '$';
  const regex = new RegExp(source);
  const everything = segments.length === 0;
  return {
    pattern,
    base: baseSegments.join('/'),
    covers: (path) => {
      if (everything || regex.test(path)) return true;
      for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) {
        if (regex.test(path.slice(0, i))) return true;
      }
      return false;
    },
  };
}

/**
 * Whether a branch name is one `git check-ref-format --branch` accepts (the
 * rules that matter for a name typed into a YAML file).
 */
export function isValidBranchName(name: string): boolean {
  if (name.length === 0 || name.length > 255) return false;
  if (name.startsWith('-') || name.startsWith('/') || name.endsWith('/') || name.endsWith('.')) return false;
  if (name.includes('..') || name.includes('//') || name.includes('@{') || name === '@') return false;
  // eslint-disable-next-line no-control-regex -- control characters are forbidden in ref names
  if (/[\u0000-\u0020\u007f~^:?*[\\]/.test(name)) return false;
  return name.split('/').every((part) => part.length > 0 && !part.startsWith('.') && !part.endsWith('.lock'));
}
