/**
 * Paths shared by the deploy tests.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository's root directory (the Docker build context). */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** The deploy/ folder. */
export const deployDir = fileURLToPath(new URL('../../deploy/', import.meta.url));

/** What a finished process left. */
export interface ProcessResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The image's user (Dockerfile USER). */
export const imageUser = { uid: 10001, gid: 10001 } as const;

/**
 * Who runs the image's processes here: the image's user when this test
 * runs as root (so root-owned files are as read-only to it as in the
 * container), else this test's own user (who is then kept from writing by
 * file modes instead).
 */
export function containerUser(): { uid: number; gid: number } | undefined {
  return process.getuid?.() === 0 ? imageUser : undefined;
}

/**
 * Runs `node` (this test's own, Node 24) in `cwd` with the environment the
 * image sets and nothing inherited but PATH, as `user` when given, to its
 * end; never throws on a non-zero exit. `data` stands for the image's
 * /var/lib/rollgate.
 */
export function runNode(cwd: string, data: string, args: readonly string[], user?: { uid: number; gid: number }, timeoutMs = 60_000): Promise<ProcessResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...args], { cwd, env: containerEnv(data), timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, ...(user ?? {}) }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** The image's environment (Dockerfile ENV), with `data` as its data directory and this machine's PATH. */
export function containerEnv(data: string): NodeJS.ProcessEnv {
  return { PATH: process.env['PATH'] ?? '/usr/bin:/bin', NODE_ENV: 'production', HOME: data, TMPDIR: data };
}
