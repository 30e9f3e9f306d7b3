/**
 * The shape every `rollgate` subcommand shares. Each lives in its own module
 * under `commands/` and is loaded only when named, so `rollgate validate`
 * never pays for the simulator and vice versa.
 */

/** Where a command writes; injected so tests can capture output. */
export interface CommandIO {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  /** Environment variables; defaults to `process.env` in the real CLI. */
  readonly env: NodeJS.ProcessEnv;
  /** Working directory relative paths are resolved against. */
  readonly cwd: string;
  /**
   * Resolves when the user asks the command to stop (SIGINT/SIGTERM).
   * Long-running commands race their work against it.
   */
  readonly stopped: Promise<void>;
}

/** A subcommand: parses its own arguments and returns the process exit code. */
export type Command = (argv: readonly string[], io: CommandIO) => Promise<number>;

/**
 * A usage error: the command line itself is wrong. Printed as one line with
 * the usage text, exit code 2, never with a stack trace.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
