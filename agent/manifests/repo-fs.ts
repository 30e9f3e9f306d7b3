/**
 * Reading a repository as hostile input. Nothing outside the repository is
 * ever opened: symlinks are resolved and must stay inside it, and a file is
 * opened with O_NOFOLLOW after its real path was checked. Special files (FIFOs,
 * devices) are never opened, because opening a FIFO blocks forever. Sizes are
 * checked on the open descriptor before reading, and only UTF-8 text reaches
 * the YAML parser.
 *
 * Directory symlinks are not followed: they would make one file reachable
 * under two names, and an incremental reload driven by `git diff` (which names
 * files by one path only) could not keep both up to date.
 */
import { constants, type Dirent } from 'node:fs';
import { lstat, open, readdir, readlink, realpath, stat } from 'node:fs/promises';
import { isUtf8 } from 'node:buffer';
import { join, relative, sep } from 'node:path';
import { isYamlName } from './paths.ts';
import type { LineCol } from './yaml.ts';
import type { Problem, ProblemCode } from './types.ts';

/** The repository directory cannot be used at all (it does not exist or is not a directory). */
export class RepositoryRootError extends Error {
  override readonly name = 'RepositoryRootError';
  /** Why, without the path: "no such file or directory", "not a directory". */
  readonly reason: string;
  constructor(dir: string, reason: string, options?: ErrorOptions) {
    super(`${dir}: ${reason}`, options);
    this.reason = reason;
  }
}

/** Resolves the repository directory to its real path. Throws {@link RepositoryRootError} if it is not a readable directory. */
export async function resolveRoot(dir: string): Promise<string> {
  let real: string;
  try {
    real = await realpath(dir);
  } catch (err) {
    throw new RepositoryRootError(dir, describeIoError(err), { cause: err });
  }
  const info = await stat(real);
  if (!info.isDirectory()) throw new RepositoryRootError(dir, 'not a directory');
  return real;
}

function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

/** A one-line description of a file-system error, without the absolute path Node puts in its messages. */
function describeIoError(err: unknown): string {
  const code = errnoCode(err);
  switch (code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOTDIR':
      return 'not a directory';
    case 'ELOOP':
      return 'too many levels of symbolic links';
    case 'EISDIR':
      return 'is a directory';
    case undefined:
      return err instanceof Error ? err.message : String(err);
    default:
      return `cannot read (${code})`;
  }
}

function inside(root: string, real: string): boolean {
  return real === root || real.startsWith(root + sep);
}

function toRepoPath(root: string, real: string): string {
  return relative(root, real).split(sep).join('/');
}

function fileProblem(file: string, code: ProblemCode, message: string, at: LineCol = { line: 1, column: 1 }): Problem {
  return { file, line: at.line, column: at.column, code, message };
}

function describeSpecial(info: { isFIFO(): boolean; isSocket(): boolean; isBlockDevice(): boolean; isCharacterDevice(): boolean; isDirectory(): boolean }): string {
  if (info.isFIFO()) return 'a FIFO';
  if (info.isSocket()) return 'a socket';
  if (info.isBlockDevice() || info.isCharacterDevice()) return 'a device';
  if (info.isDirectory()) return 'a directory';
  return 'not a regular file';
}

/** What a symlink inside the repository points at, or the problem with it. */
type SymlinkTarget = { readonly ok: true; readonly real: string; readonly isDirectory: boolean } | { readonly ok: false; readonly problem: Problem };

async function resolveSymlink(root: string, path: string): Promise<SymlinkTarget> {
  const abs = join(root, path);
  const link = await readlink(abs).catch(() => '?');
  let real: string;
  try {
    real = await realpath(abs);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ELOOP') return { ok: false, problem: fileProblem(path, 'symlink-loop', `symlink loop: ${path} -> ${link} leads back to itself`) };
    if (code === 'ENOENT') return { ok: false, problem: fileProblem(path, 'symlink-dangling', `symlink target ${link} does not exist`) };
    return { ok: false, problem: fileProblem(path, 'io', `cannot resolve symlink: ${describeIoError(err)}`) };
  }
  if (!inside(root, real)) {
    return { ok: false, problem: fileProblem(path, 'symlink-escape', `symlink points outside the repository (-> ${link}); rollgate reads nothing outside it`) };
  }
  const info = await stat(real);
  return { ok: true, real, isDirectory: info.isDirectory() };
}

/** Options of {@link walkRepository}. */
export interface WalkOptions {
  /** Folders (or single files) to walk, repository-relative; `''` is the whole repository. */
  readonly bases: readonly string[];
  /** Whether a YAML file is wanted (its cluster paths cover it). */
  readonly wants: (path: string) => boolean;
  /** Whether to leave a file or folder out entirely (`exclude`, in-tree status). */
  readonly skips: (path: string) => boolean;
  /** Stop after this many wanted files, reporting it. */
  readonly maxFiles: number;
}

/** The YAML files of a repository that a load reads, sorted, and the problems met walking to them. */
export interface WalkResult {
  readonly files: readonly string[];
  readonly problems: readonly Problem[];
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Lists the YAML files under `bases` that `wants` accepts, in a stable order.
 * Reports symlinks that leave the repository, loop, or point at folders, and
 * special files with YAML names; never reads file contents.
 */
export async function walkRepository(root: string, options: WalkOptions): Promise<WalkResult> {
  const files: string[] = [];
  const problems: Problem[] = [];
  // Drop bases inside other bases so that nothing is listed twice: a base goes when it or an ancestor is kept already.
  // Looking ancestors up in a set keeps this linear; rollgate.yaml may name thousands of paths.
  const unique = [...new Set(options.bases)];
  const kept = new Set<string>();
  const covered = (base: string): boolean => {
    if (kept.has('') || kept.has(base)) return true;
    for (let at = base.indexOf('/'); at >= 0; at = base.indexOf('/', at + 1)) if (kept.has(base.slice(0, at))) return true;
    return false;
  };
  // Shorter paths first, so that an ancestor is always considered before what it covers.
  for (const base of [...unique].sort((a, b) => a.length - b.length || compareNames(a, b))) if (!covered(base)) kept.add(base);
  const bases = unique.filter((b) => kept.has(b)).sort(compareNames);
  let full = false;
  const add = (path: string): void => {
    if (full) return;
    if (files.length === options.maxFiles) {
      full = true;
      problems.push(fileProblem(path, 'too-many-files', `more than ${options.maxFiles} YAML files; rollgate reads at most ${options.maxFiles} per repository`));
      return;
    }
    files.push(path);
  };

  const visitEntry = async (path: string, kind: 'dir' | 'file' | 'symlink' | 'other', pending: string[]): Promise<void> => {
    if (options.skips(path)) return;
    const name = path.slice(path.lastIndexOf('/') + 1);
    if (name === '.git') return;
    if (kind === 'dir') {
      pending.push(path);
    } else if (kind === 'file') {
      if (isYamlName(name) && options.wants(path)) add(path);
    } else if (kind === 'symlink') {
      if (isYamlName(name) && options.wants(path)) {
        // Checked when read, where the problem is reported with the file's other problems.
        add(path);
        return;
      }
      const target = await resolveSymlink(root, path);
      if (!target.ok) {
        if (target.problem.code !== 'symlink-dangling') problems.push(target.problem);
      } else if (target.isDirectory) {
        problems.push(fileProblem(path, 'symlink-directory', `symlink to a folder (${toRepoPath(root, target.real) || '.'}): rollgate does not follow folder symlinks`));
      }
    } else if (isYamlName(name) && options.wants(path)) {
      const info = await lstat(join(root, path));
      problems.push(fileProblem(path, 'not-regular-file', `${describeSpecial(info)}, not a regular file; rollgate reads only regular files`));
    }
  };

  for (const base of bases) {
    const pending: string[] = [];
    if (base === '') {
      pending.push('');
    } else {
      const info = await lstat(join(root, base)).catch(() => undefined);
      if (info === undefined) continue;
      await visitEntry(base, info.isDirectory() ? 'dir' : info.isFile() ? 'file' : info.isSymbolicLink() ? 'symlink' : 'other', pending);
    }
    while (pending.length > 0 && !full) {
      const dir = pending.pop() as string;
      let entries: Dirent[];
      try {
        entries = await readdir(join(root, dir), { withFileTypes: true });
      } catch (err) {
        problems.push(fileProblem(dir, 'io', `cannot list folder: ${describeIoError(err)}`));
        continue;
      }
      entries.sort((a, b) => compareNames(a.name, b.name));
      const subdirs: string[] = [];
      for (const entry of entries) {
        const path = dir === '' ? entry.name : `${dir}/${entry.name}`;
        const kind = entry.isDirectory() ? 'dir' : entry.isFile() ? 'file' : entry.isSymbolicLink() ? 'symlink' : 'other';
        await visitEntry(path, kind, subdirs);
        if (full) break;
      }
      // Depth-first in name order: push reversed so the first name is popped first.
      for (let i = subdirs.length - 1; i >= 0; i--) pending.push(subdirs[i] as string);
    }
  }
  files.sort(compareNames);
  return { files, problems };
}

/** The outcome of reading one repository file. */
export type ReadResult =
  /** UTF-8 text without a byte-order mark. `target` is the repository path it was read from when `path` is a symlink. */
  | { readonly kind: 'text'; readonly text: string; readonly target?: string }
  /** The file does not exist (deleted, or never there). */
  | { readonly kind: 'missing' }
  | { readonly kind: 'problem'; readonly problem: Problem; readonly target?: string };

/**
 * Reads a repository file as UTF-8 text, refusing anything that would read
 * outside the repository, block, or feed the parser something that is not
 * text. `path` must be repository-relative without `..` (as from
 * {@link walkRepository} or checked with `referenceProblem`). `parents`
 * caches the real paths of parent folders across the files of one load.
 */
export async function readRepositoryFile(root: string, path: string, maxBytes: number, parents: Map<string, Promise<string | undefined>> = new Map()): Promise<ReadResult> {
  const abs = join(root, path);
  let info;
  try {
    info = await lstat(abs);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'missing' };
    return { kind: 'problem', problem: fileProblem(path, 'io', `cannot read: ${describeIoError(err)}`) };
  }
  // A parent folder may itself be a symlink (a reload names paths that were never walked).
  const parentPath = join(abs, '..');
  let parentReal = parents.get(parentPath);
  if (parentReal === undefined) {
    parentReal = realpath(parentPath).catch(() => undefined);
    parents.set(parentPath, parentReal);
  }
  const parent = await parentReal;
  if (parent === undefined || !inside(root, parent)) {
    return { kind: 'problem', problem: fileProblem(path, 'symlink-escape', 'path goes through a symlink that leaves the repository; rollgate reads nothing outside it') };
  }
  if (parent !== join(root, path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '')) {
    return { kind: 'problem', problem: fileProblem(path, 'symlink-directory', 'path goes through a folder symlink: rollgate does not follow folder symlinks') };
  }
  let openPath = abs;
  let target: string | undefined;
  if (info.isSymbolicLink()) {
    const resolved = await resolveSymlink(root, path);
    if (!resolved.ok) return { kind: 'problem', problem: resolved.problem };
    target = toRepoPath(root, resolved.real);
    if (resolved.isDirectory) {
      return { kind: 'problem', problem: fileProblem(path, 'symlink-directory', `symlink to a folder (${target || '.'}): rollgate does not follow folder symlinks`), target };
    }
    openPath = resolved.real;
  } else if (!info.isFile()) {
    return { kind: 'problem', problem: fileProblem(path, 'not-regular-file', `${describeSpecial(info)}, not a regular file; rollgate reads only regular files`) };
  }
  let handle;
  try {
    // O_NOFOLLOW: the checked path must not have become a symlink since; O_NONBLOCK: a FIFO swapped in must not hang us.
    handle = await open(openPath, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    return { kind: 'problem', problem: fileProblem(path, 'io', `cannot read: ${describeIoError(err)}`), target };
  }
  try {
    const opened = await handle.stat();
    if (!opened.isFile()) return { kind: 'problem', problem: fileProblem(path, 'not-regular-file', `${describeSpecial(opened)}, not a regular file`), target };
    if (opened.size > maxBytes) {
      return { kind: 'problem', problem: fileProblem(path, 'file-too-large', `file is ${opened.size} bytes; rollgate reads files of at most ${maxBytes} bytes`), target };
    }
    // Read one byte more than allowed, so a file that grew since fstat is still caught.
    const buffer = Buffer.alloc(Math.min(opened.size, maxBytes) + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > maxBytes) {
      return { kind: 'problem', problem: fileProblem(path, 'file-too-large', `file is larger than ${maxBytes} bytes; rollgate reads files of at most ${maxBytes} bytes`), target };
    }
    const decoded = decodeText(buffer.subarray(0, length));
    if ('problem' in decoded) return { kind: 'problem', problem: { file: path, ...decoded.problem }, target };
    return target === undefined ? { kind: 'text', text: decoded.text } : { kind: 'text', text: decoded.text, target };
  } catch (err) {
    return { kind: 'problem', problem: fileProblem(path, 'io', `cannot read: ${describeIoError(err)}`), target };
  } finally {
    await handle.close();
  }
}

/** The offset of the first byte that is not valid UTF-8 (overlong forms and surrogates included), or -1. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] as number;
    if (b < 0x80) {
      i += 1;
      continue;
    }
    let need: number;
    let min: number;
    let max = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = b === 0xe0 ? 0xa0 : 0x80;
      if (b === 0xed) max = 0x9f; // no UTF-16 surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = b === 0xf0 ? 0x90 : 0x80;
      if (b === 0xf4) max = 0x8f; // nothing above U+10FFFF
    } else {
      return i;
    }
    const second = bytes[i + 1];
    if (second === undefined || second < min || second > max) return i;
    for (let k = 2; k <= need; k++) {
      const next = bytes[i + k];
      if (next === undefined || next < 0x80 || next > 0xbf) return i;
    }
    i += need + 1;
  }
  return -1;
}

function lineColOfByte(bytes: Uint8Array, offset: number): LineCol {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (bytes[i] === 0x0a) {
      line += 1;
      lineStart = i + 1;
    }
  }
  // Columns count UTF-16 code units of the valid text before the offset, like every other position.
  const column = Buffer.from(bytes.subarray(lineStart, offset)).toString('utf8').length + 1;
  return { line, column };
}

/**
 * Decodes file bytes as UTF-8 text without a byte-order mark, or says why they
 * are not: UTF-16/32 (by their byte-order mark), binary (a NUL byte), or
 * invalid UTF-8 (at the first bad byte).
 */
export function decodeText(bytes: Uint8Array): { readonly text: string } | { readonly problem: LineCol & { readonly code: ProblemCode; readonly message: string } } {
  const at = (offset: number): LineCol => lineColOfByte(bytes, offset);
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff) || (bytes[0] === 0 && bytes[1] === 0 && bytes[2] === 0xfe && bytes[3] === 0xff)) {
    return { problem: { line: 1, column: 1, code: 'encoding', message: 'UTF-16 or UTF-32 text (byte-order mark); save the file as UTF-8' } };
  }
  const nul = bytes.indexOf(0);
  if (nul >= 0) return { problem: { ...at(nul), code: 'binary', message: 'binary content (a NUL byte); rollgate reads only UTF-8 text' } };
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!isUtf8(buffer)) {
    const bad = firstInvalidUtf8(bytes);
    const offset = bad < 0 ? 0 : bad;
    const hex = (bytes[offset] ?? 0).toString(16).toUpperCase().padStart(2, '0');
    return { problem: { ...at(offset), code: 'encoding', message: `not valid UTF-8 (byte 0x${hex}); rollgate reads only UTF-8 text` } };
  }
  const bom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  return { text: buffer.toString('utf8', bom) };
}
