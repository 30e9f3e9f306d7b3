/**
 * Running the `git` CLI for the report stage: argument arrays (never a
 * shell), an explicit environment, optional stdin, and errors whose text is
 * sanitised before anyone can log it.
 *
 * Plumbing needs stdin (`hash-object --stdin`, `commit-tree`) and per-call
 * environment (`GIT_INDEX_FILE`, author and committer), which is why this
 * spawns git itself, as the source stage does (ADR 0005).
 */
import { spawn } from 'node:child_process';

/** What one git invocation returned. */
export interface GitResult {
  /** Exit code; -1 when git was killed (timeout). */
  readonly code: number;
  readonly stdout: Buffer;
  /** Sanitised (see {@link sanitize}). */
  readonly stderr: string;
}

/** Options of {@link runGit}. */
export interface GitRunOptions {
  /** Working directory (`-C` is not used so relative paths stay the caller's). */
  readonly cwd: string;
  /** The whole environment git runs with. Extra variables go in `extraEnv`. */
  readonly env: NodeJS.ProcessEnv;
  /** Variables added to `env` for this call only (`GIT_INDEX_FILE`, author, committer). */
  readonly extraEnv?: Readonly<Record<string, string>>;
  /** Written to git's stdin, which is then closed. */
  readonly input?: string | Buffer;
  /** Killed after this many milliseconds. Default 120,000. */
  readonly timeoutMs?: number;
  /** Strings removed from error text besides credentials in URLs (see {@link secretsOf}). */
  readonly secrets?: readonly string[];
}

/** Stable codes of {@link GitError}. */
export type GitErrorCode = 'git-failed' | 'git-timeout' | 'git-unavailable';

/** A git invocation failed. Its message and `stderr` are sanitised: they never hold a credential. */
export class GitError extends Error {
  override readonly name = 'GitError';
  readonly code: GitErrorCode;
  /** `git <subcommand>`, without the other arguments (they may hold a URL). */
  readonly command: string;
  readonly exitCode: number;
  /** Sanitised, trimmed. */
  readonly stderr: string;
  constructor(code: GitErrorCode, command: string, exitCode: number, stderr: string, options?: ErrorOptions) {
    const last = stderr.trim().split('\n').slice(-3).join(' / ');
    super(`${command} failed${exitCode >= 0 ? ` (exit ${exitCode})` : ''}${last === '' ? '' : `: ${last}`}`, options);
    this.code = code;
    this.command = command;
    this.exitCode = exitCode;
    this.stderr = stderr.trim();
  }
}

// scheme://user:password@host → scheme://***@host. Git redacts some messages itself, not all of them.
const urlCredentials = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@]+@/gi;
// Environment variables whose values are credentials: tokens, passwords, askpass secrets, config values (http.extraHeader).
const secretNames = /token|passw|secret|credential|auth|private|_key$|^git_config_value_|^git_config_parameters$/i;

/** Removes credentials from text: the user-info of URLs, and every secret given. */
export function sanitize(text: string, secrets: readonly string[] = []): string {
  let out = text.replace(urlCredentials, '$1***@');
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join('***');
  return out;
}

/**
 * The values in an environment that are credentials, by variable name
 * (`*TOKEN*`, `*PASSWORD*`, `*SECRET*`, `*AUTH*`, `*_KEY`, `GIT_CONFIG_VALUE_n`…),
 * so that error text can be stripped of them.
 */
export function secretsOf(env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(env)) if (value !== undefined && secretNames.test(name)) out.push(value);
  return out;
}

/** A URL or path with its credentials removed, for logs. */
export function displayRemote(remote: string): string {
  return sanitize(remote);
}

// Variables that would point git at another repository or index than the one we name.
const inherited = ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_OBJECT_DIRECTORY', 'GIT_ALTERNATE_OBJECT_DIRECTORIES', 'GIT_NAMESPACE', 'GIT_COMMON_DIR'];

/** `git <subcommand>`, skipping global options (`-c name=value`, `-C dir`). */
function commandName(args: readonly string[]): string {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg === '-c' || arg === '-C') {
      i++;
      continue;
    }
    if (!arg.startsWith('-')) return `git ${arg}`;
  }
  return 'git';
}

/** Runs git to its end. Never throws for a non-zero exit (see {@link gitOk}); throws {@link GitError} when git cannot start or times out. */
export function runGit(args: readonly string[], options: GitRunOptions): Promise<GitResult> {
  const env: NodeJS.ProcessEnv = { ...options.env };
  for (const name of inherited) delete env[name];
  // Messages we match on (rejections, missing refs) are the C locale's; a prompt would hang an agent.
  Object.assign(env, { LC_ALL: 'C', LANGUAGE: 'C', GIT_TERMINAL_PROMPT: '0' }, options.extraEnv);
  const secrets = [...secretsOf(options.env), ...(options.secrets ?? [])];
  const command = commandName(args);
  return new Promise((resolve, reject) => {
    const child = spawn('git', [...args], { cwd: options.cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 120_000);
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', (cause) => {
      clearTimeout(timer);
      reject(new GitError('git-unavailable', command, -1, sanitize(cause.message, secrets), { cause }));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const stderr = sanitize(Buffer.concat(err).toString('utf8'), secrets);
      if (timedOut) {
        reject(new GitError('git-timeout', command, -1, `timed out after ${options.timeoutMs ?? 120_000} ms`));
        return;
      }
      resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr });
    });
    // git may exit before reading all its input (an error); the EPIPE is reported by its exit code instead.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input);
  });
}

/** Runs git and returns its stdout as text (trailing newline removed); throws {@link GitError} on a non-zero exit. */
export async function gitOk(args: readonly string[], options: GitRunOptions): Promise<string> {
  const result = await runGit(args, options);
  if (result.code !== 0) throw new GitError('git-failed', commandName(args), result.code, result.stderr);
  return result.stdout.toString('utf8').replace(/\n$/, '');
}

/**
 * The text of several objects (`<commit>:<path>` names) in one `git cat-file --batch`;
 * a name that does not resolve to a blob maps to undefined.
 */
export async function readBlobs(names: readonly string[], options: GitRunOptions): Promise<Map<string, string | undefined>> {
  const out = new Map<string, string | undefined>();
  if (names.length === 0) return out;
  if (names.some((n) => /[\r\n]/.test(n))) throw new TypeError('object names for cat-file --batch must be single lines');
  const result = await runGit(['cat-file', '--batch'], { ...options, input: names.map((n) => `${n}\n`).join('') });
  if (result.code !== 0) throw new GitError('git-failed', 'git cat-file', result.code, result.stderr);
  const data = result.stdout;
  let offset = 0;
  for (const name of names) {
    const end = data.indexOf(0x0a, offset);
    if (end < 0) break;
    const header = data.subarray(offset, end).toString('utf8');
    offset = end + 1;
    // "<oid> <type> <size>", then the content and a newline; "<name> missing" (or ambiguous) alone.
    const match = /^[0-9a-f]+ (\w+) (\d+)$/.exec(header);
    if (!match) {
      out.set(name, undefined);
      continue;
    }
    const size = Number(match[2]);
    out.set(name, match[1] === 'blob' ? data.subarray(offset, offset + size).toString('utf8') : undefined);
    offset += size + 1;
  }
  return out;
}
