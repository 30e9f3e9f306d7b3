/**
 * Readers of the Dockerfile and .dockerignore, for tests that check what
 * the image holds without a Docker engine (none exists where rollgate is
 * built and tested). Pure: text in, structure out.
 */

/** One Dockerfile instruction, continuation lines joined. */
export interface Instruction {
  /** Upper case: `FROM`, `RUN`, `COPY`… */
  readonly keyword: string;
  /** The text after the keyword, continuations joined with a space. */
  readonly args: string;
  /** 1-based line of the keyword, for messages. */
  readonly line: number;
}

/** A build stage: its FROM and the instructions up to the next FROM. */
export interface Stage {
  /** The image reference of FROM, e.g. `node:24.9.0-bookworm-slim`. */
  readonly image: string;
  /** The `AS` name; undefined for an unnamed stage. */
  readonly name: string | undefined;
  readonly line: number;
  readonly instructions: readonly Instruction[];
}

/** A Dockerfile line that is not an instruction this reader understands. */
export class DockerfileError extends Error {
  override readonly name = 'DockerfileError';
  readonly line: number;
  constructor(file: string, line: number, message: string) {
    super(`${file}:${line}: ${message}`);
    this.line = line;
  }
}

/**
 * Splits a Dockerfile into instructions: comment lines and blank lines
 * dropped, `\` continuations joined (comments and blank lines inside a
 * continued instruction are skipped, and a continuation at the end of the
 * file ends the instruction, as BuildKit does). Parser directives
 * (`# syntax=`) count as comments.
 * @throws DockerfileError naming `file` and the line for a line that does not start with an instruction keyword.
 */
export function parseDockerfile(text: string, file = 'Dockerfile'): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split(/\r?\n/);
  let pending: { keyword: string; parts: string[]; line: number } | undefined;
  lines.forEach((raw, index) => {
    const trimmed = raw.trim();
    if (trimmed.startsWith('#')) return;
    if (trimmed === '') return;
    const continued = /\\$/.test(trimmed);
    const body = continued ? trimmed.slice(0, -1).trim() : trimmed;
    if (pending === undefined) {
      const m = /^([A-Za-z]+)(?:\s+(.*))?$/.exec(body);
      if (m?.[1] === undefined) throw new DockerfileError(file, index + 1, `expected an instruction, got ${JSON.stringify(trimmed)}`);
      pending = { keyword: m[1].toUpperCase(), parts: m[2] !== undefined ? [m[2]] : [], line: index + 1 };
    } else if (body !== '') pending.parts.push(body);
    if (!continued) {
      out.push({ keyword: pending.keyword, args: pending.parts.join(' '), line: pending.line });
      pending = undefined;
    }
  });
  if (pending !== undefined) out.push({ keyword: pending.keyword, args: pending.parts.join(' '), line: pending.line });
  return out;
}

/**
 * Groups instructions into stages.
 * @throws DockerfileError when an instruction other than ARG comes before the first FROM, or a FROM has no image.
 */
export function stagesOf(instructions: readonly Instruction[], file = 'Dockerfile'): Stage[] {
  const stages: { image: string; name: string | undefined; line: number; instructions: Instruction[] }[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const words = instruction.args.split(/\s+/).filter((w) => !w.startsWith('--'));
      const image = words[0];
      if (image === undefined || image === '') throw new DockerfileError(file, instruction.line, 'FROM names no image');
      const as = words[1]?.toUpperCase() === 'AS' ? words[2] : undefined;
      stages.push({ image, name: as, line: instruction.line, instructions: [] });
      continue;
    }
    const current = stages.at(-1);
    if (current === undefined) {
      if (instruction.keyword === 'ARG') continue;
      throw new DockerfileError(file, instruction.line, `${instruction.keyword} before the first FROM`);
    }
    current.instructions.push(instruction);
  }
  return stages;
}

/** An instruction's exec-form (JSON array) arguments, or undefined in shell form. */
export function execForm(instruction: Instruction): string[] | undefined {
  if (!instruction.args.startsWith('[')) return undefined;
  try {
    const parsed = JSON.parse(instruction.args) as unknown;
    return Array.isArray(parsed) && parsed.every((a) => typeof a === 'string') ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** A COPY instruction, read. */
export interface Copy {
  /** `--from=` stage, when it copies from another stage. */
  readonly from: string | undefined;
  /** `--chown=` value, when set. */
  readonly chown: string | undefined;
  readonly sources: readonly string[];
  readonly destination: string;
  readonly line: number;
}

/**
 * Reads a COPY (shell form, no spaces in paths, as rollgate's Dockerfile
 * writes them).
 * @throws DockerfileError for a COPY with fewer than a source and a destination.
 */
export function readCopy(instruction: Instruction, file = 'Dockerfile'): Copy {
  const words = instruction.args.split(/\s+/).filter((w) => w !== '');
  const flags = words.filter((w) => w.startsWith('--'));
  const paths = words.filter((w) => !w.startsWith('--'));
  const flag = (name: string): string | undefined => flags.find((f) => f.startsWith(`--${name}=`))?.slice(name.length + 3);
  const destination = paths.at(-1);
  if (paths.length < 2 || destination === undefined) throw new DockerfileError(file, instruction.line, `COPY needs a source and a destination, got ${JSON.stringify(instruction.args)}`);
  return { from: flag('from'), chown: flag('chown'), sources: paths.slice(0, -1), destination, line: instruction.line };
}

/** One .dockerignore rule. */
interface IgnoreRule {
  readonly pattern: RegExp;
  readonly exception: boolean;
}

/** Go `filepath.Match` with Docker's `**`, as a RegExp over a slash-separated relative path. */
function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] ?? '';
    if (c === '*' && glob[i + 1] === '*') {
      // `**/` matches any number of directories, including none; a trailing `**` anything.
      if (glob[i + 2] === '/') {
        out += '(?:.*/)?';
        i += 2;
      } else {
        out += '.*';
        i += 1;
      }
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

/**
 * A matcher for a .dockerignore: whether the build context leaves a path
 * (relative to the context, `/`-separated) out. As Docker's patternmatcher:
 * patterns are relative to the context root (a leading `/` is dropped), a
 * path is left out when it or a parent directory matches, and the last
 * matching rule wins, so `!pattern` lets a path back in.
 */
export function dockerignore(text: string): (path: string) => boolean {
  const rules: IgnoreRule[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const exception = line.startsWith('!');
    const glob = (exception ? line.slice(1) : line).trim().replace(/^\/+/, '').replace(/\/+$/, '');
    rules.push({ pattern: globToRegExp(glob), exception });
  }
  return (path) => {
    const parts = path.replace(/^\.\/+/, '').split('/').filter((p) => p !== '');
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let ignored = false;
    for (const rule of rules) if (candidates.some((c) => rule.pattern.test(c))) ignored = !rule.exception;
    return ignored;
  };
}
