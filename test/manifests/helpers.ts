/**
 * Helpers for the manifests tests: running `rollgate validate` in-process
 * and as a child process, and temporary directories.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { main } from '../../agent/cli/main.ts';

/** The repository checkout (where package.json is). */
export const checkout = fileURLToPath(new URL('../../', import.meta.url));
/** The examples repository. */
export const examplesRepo = join(checkout, 'examples-repo');

/** What a run of the CLI printed and returned. */
export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function collector(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(String(chunk));
      callback();
    },
  });
  return { stream, text: () => chunks.join('') };
}

/** Runs `rollgate <args>` in-process, through the CLI's own `main`, with `cwd` as the working directory. */
export async function runInProcess(args: readonly string[], cwd: string): Promise<Run> {
  const out = collector();
  const err = collector();
  const code = await main(args, { stdout: out.stream, stderr: err.stream, env: {}, cwd, stopped: new Promise<void>(() => undefined) });
  return { code, stdout: out.text(), stderr: err.text() };
}

/** Runs `node agent/cli/main.ts <args>` as a child process, as a user would. */
export function runSpawned(args: readonly string[], cwd: string): Run {
  const result = spawnSync(process.execPath, [join(checkout, 'agent/cli/main.ts'), ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** The lines of output, without the trailing empty one. */
export function lines(text: string): string[] {
  return text === '' ? [] : text.replace(/\n$/, '').split('\n');
}

/** A stack trace in output looks like this ("    at fn (file:1:2)"). */
export const stackTrace = /^\s+at .+[:(]/m;

/** A fresh temporary directory, and a function that removes it. */
export async function tempDir(prefix: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `rollgate-${prefix}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
