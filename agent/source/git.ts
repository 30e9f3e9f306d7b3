/**
 * The one place the source stage runs git: simple-git over the real `git`
 * CLI, with a deadline per process, a given environment, and every failure
 * turned into a `GitCommandError` whose text is already free of
 * credentials.
 */
import type { SimpleGitOptions } from 'simple-git';
import { GitPluginError, simpleGit } from 'simple-git';
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

/**
 * The simple-git safety checks this stage opts out of, each because the
 * stage sets that variable or key itself from validated options, never from
 * repository content: the GIT_CONFIG_* variables (credentials and hardening
 * settings), GIT_CONFIG_GLOBAL (isolation from the machine),
 * GIT_SSH_COMMAND (the key and known_hosts), `credential.helper` (reset to
 * none) and `protocol.ext.allow` (set to never).
 */
const unsafe: SimpleGitOptions['unsafe'] = {
  allowUnsafeConfigEnvCount: true,
  allowUnsafeConfigPaths: true,
  allowUnsafeSshCommand: true,
  allowUnsafeCredentialHelper: true,
  allowUnsafeProtocolOverride: true,
};

/** Runs `git <args>` and resolves with its stdout (untrimmed; `-z` output stays intact). */
export async function runGit(args: readonly string[], options: GitRunOptions): Promise<string> {
  const command = args.find((a) => !a.startsWith('-')) ?? 'git';
  const controller = new AbortController();
  const timer = options.clock.setTimeout(() => controller.abort(), options.timeoutMs);
  const secrets = options.secrets ?? [];
  // What the failing process said, kept here: simple-git rewraps whatever error the handler returns.
  let failure: GitCommandError | undefined;
  try {
    const git = simpleGit({
      baseDir: options.cwd,
      abort: controller.signal,
      unsafe,
      trimmed: false,
      // simple-git treats a non-zero exit with an empty stderr as success; here every non-zero exit is a failure.
      errors: (error, result) => {
        if (error instanceof GitPluginError || controller.signal.aborted) return error;
        if (error === undefined && result.exitCode === 0) return undefined;
        const stderr = Buffer.concat(result.stdErr).toString('utf8');
        const text = stderr.trim() !== '' ? stderr : Buffer.concat(result.stdOut).toString('utf8');
        failure = new GitCommandError(command, redact(text.trim() || `exit code ${result.exitCode}`, secrets), false);
        return failure;
      },
    }).env({ ...options.env });
    return await git.raw([...args]);
  } catch (err) {
    // An interrupted git may still have written to stderr, and simple-git then reports that text instead of the abort.
    if (controller.signal.aborted) throw new GitCommandError(command, '', true);
    if (failure !== undefined) throw failure;
    throw new GitCommandError(command, redact(err instanceof Error ? err.message : String(err), secrets), false);
  } finally {
    options.clock.clearTimeout(timer);
  }
}
