/**
 * The one place the source stage runs git: the real `git` CLI as a child
 * process, with a deadline per process, a given environment, and every
 * failure turned into a `GitCommandError` whose text is already free of
 * credentials. (Spawned directly, not through simple-git, which waits a
 * fixed 50 ms after every command that prints nothing: three such commands
 * sit between a push and its rollout. See docs/adr/0005.)
 */
import { spawn } from 'node:child_process';
import type { Clock } from './clock.ts';
import { redact } from './errors.ts';

/** A git command that failed, exited non-zero, or ran past its deadline. Its texts are redacted. */
export class GitCommandError extends Error {
  override readonly name = 'GitCommandError';
  /** git's stderr (and stdout, when stderr was empty), redacted. */
  readonly output: string;
  /** Whether the command was stopped at its deadline. */
  readonly timedOut: boolean;
  /** The git subcommand (`fetch`, `ls-remote`…), for messages. */
  readonly command: string;

  constructor(command: string, output: string, timedOut: boolean) {
    super(timedOut ? `git ${command} ran past its deadline and was stopped` : `git ${command} failed: ${output}`);
    this.command = command;
    this.output = output;
    this.timedOut = timedOut;
  }
}

/** How to run one git command. */
export interface GitRunOptions {
  /** The working directory (a directory that exists). */
  cwd: string;
  /** The complete environment of the process (see `gitEnvironment`). */
  env: Readonly<Record<string, string>>;
  /** Deadline of the process, in ms; it is interrupted (SIGINT) when it passes. */
  timeoutMs: number;
  clock: Clock;
  /** Literal secrets to remove from any text of a failure. */
  secrets?: readonly string[];
}

/** How long a git interrupted at its deadline has to exit before it is killed, in ms. */
const killGraceMs = 5_000;

/** Runs `git <args>` and resolves with its stdout (untrimmed; `-z` output stays intact). */
export async function runGit(args: readonly string[], options: GitRunOptions): Promise<string> {
  const command = args.find((a) => !a.startsWith('-')) ?? 'git';
  const secrets = options.secrets ?? [];
  return new Promise<string>((resolve, reject) => {
    // Its own process group, so that the deadline reaches the helpers git starts (git-remote-http, ssh) too,
    // as an interrupt from a terminal reaches its whole foreground group.
    const child = spawn('git', [...args], { cwd: options.cwd, env: { ...options.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    let exited = false;
    let timedOut = false;
    let done = false;
    let killer: unknown;
    const signalGroup = (signal: NodeJS.Signals): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal);
      } catch {
        // The group is gone already.
      }
    };
    const finish = (error: GitCommandError | undefined, out = ''): void => {
      if (done) return;
      done = true;
      options.clock.clearTimeout(timer);
      if (killer !== undefined) options.clock.clearTimeout(killer);
      child.stdout.destroy();
      child.stderr.destroy();
      if (error !== undefined) reject(error);
      else resolve(out);
    };
    const timer = options.clock.setTimeout(() => {
      timedOut = true;
      // A git that has exited but whose helpers still hold its output open is past its deadline all the same.
      if (exited) return finish(new GitCommandError(command, '', true));
      // SIGINT first, as a terminal would: git removes its lock files on it. A git that ignores it is killed.
      signalGroup('SIGINT');
      killer = options.clock.setTimeout(() => signalGroup('SIGKILL'), killGraceMs);
    }, options.timeoutMs);
    child.once('error', (err) => finish(new GitCommandError(command, redact(err.message, secrets), false)));
    child.once('exit', () => {
      exited = true;
      if (timedOut) finish(new GitCommandError(command, '', true));
    });
    child.once('close', (code) => {
      if (timedOut) return finish(new GitCommandError(command, '', true));
      const out = Buffer.concat(stdout).toString('utf8');
      if (code === 0) return finish(undefined, out);
      const err = Buffer.concat(stderr).toString('utf8');
      const text = err.trim() !== '' ? err : out;
      finish(new GitCommandError(command, redact(text.trim() || `exit code ${code ?? 'none (killed by a signal)'}`, secrets), false));
    });
  });
}

