/**
 * `rollgate run --config FILE` as a child process, as it runs in a pod: the
 * chaos campaign kills it with SIGKILL (a node lost, an OOM kill) or stops
 * it with SIGTERM (a rolling restart), and starts another in its place with
 * the same data directory, as a restarted container keeps its emptyDir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../../agent/cli/main.ts', import.meta.url));
const checkout = fileURLToPath(new URL('../../', import.meta.url));

/** How a process ended. */
export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A running agent. */
export interface AgentProcess {
  /** A name for logs (`a`, `b`, `a#3` for the third start of `a`). */
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves when the process has exited. */
  readonly exited: Promise<Exit>;
  /** True until the process has exited. */
  running(): boolean;
  /** SIGKILL, then waits for the exit. */
  kill(): Promise<Exit>;
  /** SIGTERM, then waits up to `graceMs` (default 30,000) before SIGKILL. */
  stop(graceMs?: number): Promise<Exit>;
}

/** Options of {@link startAgentProcess}. */
export interface AgentProcessOptions {
  readonly name: string;
  /** The agent configuration file. */
  readonly config: string;
  /** The whole environment of the process (git's isolation, tokens). */
  readonly env: NodeJS.ProcessEnv;
  /** The agent's stderr (its JSON logs) is appended here. */
  readonly logFile: string;
}

/** Starts `node agent/cli/main.ts run --config FILE`. */
export function startAgentProcess(options: AgentProcessOptions): AgentProcess {
  const log: WriteStream = createWriteStream(options.logFile, { flags: 'a' });
  log.write(`--- agent ${options.name} started ${new Date().toISOString()}\n`);
  const child = spawn(process.execPath, [cli, 'run', '--config', options.config], { cwd: checkout, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  let alive = true;
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => {
      alive = false;
      // Both pipes may still hold bytes; close the file once they have drained.
      const ended = Promise.all([child.stdout, child.stderr].map((s) => (s === null || s.readableEnded ? Promise.resolve() : new Promise<void>((r) => s.once('close', () => r())))));
      void ended.then(() => {
        log.end(`--- agent ${options.name} exited code=${String(code)} signal=${String(signal)} ${new Date().toISOString()}\n`);
        resolve({ code, signal });
      });
    });
  });
  return {
    name: options.name,
    child,
    exited,
    running: () => alive,
    async kill() {
      if (alive) child.kill('SIGKILL');
      return exited;
    },
    async stop(graceMs = 30_000) {
      if (!alive) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
