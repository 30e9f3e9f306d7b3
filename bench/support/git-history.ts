/**
 * Large Git histories for benchmarks, written in one `git fast-import`
 * stream (seconds for thousands of commits, where one `git commit` per
 * commit would take minutes), and a PATH shim that counts the git processes
 * a program spawns.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** One commit of a generated history: the files it writes (path → content). */
export interface GeneratedCommit {
  readonly message: string;
  readonly files: Readonly<Record<string, string>>;
}

/**
 * Writes `commits` as a linear history on `refs/heads/<branch>` of the
 * repository at `gitDir` (a bare repository or a `.git` directory), the
 * first commit a root commit; each later commit changes only the files it
 * names. Author and committer are fixed; commit `i` is dated `start + i`
 * minutes, so the history is reproducible. Resolves with the tip's sha.
 */
export async function fastImport(gitDir: string, branch: string, commits: Iterable<GeneratedCommit>, env: NodeJS.ProcessEnv, start = Date.UTC(2025, 0, 1)): Promise<string> {
  const child = spawn('git', ['--git-dir', gitDir, 'fast-import', '--quiet', '--done'], { env, stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  const write = async (text: string): Promise<void> => {
    if (!child.stdin.write(text)) await new Promise<void>((resolve) => child.stdin.once('drain', () => resolve()));
  };
  const data = (text: string): string => `data ${Buffer.byteLength(text)}\n${text}\n`;
  let i = 0;
  for (const commit of commits) {
    const when = `${Math.floor((start + i * 60_000) / 1000)} +0000`;
    let block = `commit refs/heads/${branch}\nmark :${i + 1}\nauthor Bench <bench@example.com> ${when}\ncommitter Bench <bench@example.com> ${when}\n${data(commit.message)}`;
    if (i > 0) block += `from :${i}\n`;
    for (const [path, content] of Object.entries(commit.files)) block += `M 100644 inline ${path}\n${data(content)}`;
    await write(`${block}\n`);
    i++;
  }
  await write('done\n');
  child.stdin.end();
  const code = await exited;
  if (code !== 0) throw new Error(`git fast-import exited ${String(code)}: ${stderr}`);
  const tip = spawnSync('git', ['--git-dir', gitDir, 'rev-parse', `refs/heads/${branch}`], { env, encoding: 'utf8' });
  if (tip.status !== 0) throw new Error(`git rev-parse after fast-import: ${tip.stderr}`);
  return tip.stdout.trim();
}

/** Counts of what went through a {@link GitShim}. */
export interface GitProcessCounts {
  /** `git` processes started through PATH: the ones the program itself spawned. */
  readonly processes: number;
  /** Processes those started in turn (`run_command` in GIT_TRACE: transport helpers such as git-remote-http, upload-pack for local remotes). */
  readonly subprocesses: number;
  /** The subcommand of each process, in order (`ls-remote`, `fetch`…). */
  readonly commands: readonly string[];
  /** Wall time the `processes` ran, summed, from their GIT_TRACE2 exit events, in ms. */
  readonly gitMs: number;
}

/** A directory with a `git` that logs each start and execs the real one. */
export interface GitShim {
  /** Put first in the PATH of the program whose git processes are counted. */
  readonly dir: string;
  /** Counts since the shim was made or last reset. */
  counts(): Promise<GitProcessCounts>;
  reset(): Promise<void>;
}

/**
 * Makes a shim in `dir`: a `git` script that appends one line per start to
 * a log and execs the real git (found on this process's PATH) with
 * `GIT_TRACE` pointing at a second log, from which the processes git itself
 * starts are counted, and `GIT_TRACE2_EVENT` at a third, from which the
 * time each ran is summed. The shim costs a shell start per git, so time
 * nothing through it.
 */
export async function createGitShim(dir: string): Promise<GitShim> {
  const real = spawnSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).stdout.trim();
  if (real === '') throw new Error('no git on PATH');
  await mkdir(dir, { recursive: true });
  const starts = join(dir, 'starts.log');
  const trace = join(dir, 'trace.log');
  const events = join(dir, 'trace2.json');
  const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  await writeFile(join(dir, 'git'), `#!/bin/sh\nprintf '%s\\n' "$*" >> ${quote(starts)}\nGIT_TRACE=${quote(trace)}\nGIT_TRACE2_EVENT=${quote(events)}\nexport GIT_TRACE GIT_TRACE2_EVENT\nexec ${quote(real)} "$@"\n`);
  await chmod(join(dir, 'git'), 0o755);
  const reset = async (): Promise<void> => {
    await writeFile(starts, '');
    await writeFile(trace, '');
    await writeFile(events, '');
  };
  await reset();
  return {
    dir,
    reset,
    counts: async () => {
      const lines = (await readFile(starts, 'utf8')).split('\n').filter((l) => l !== '');
      const traced = (await readFile(trace, 'utf8')).split('\n').filter((l) => l.includes('trace: run_command:'));
      // The subcommand: the first argument that is not an option (`--git-dir=…`, `-c`, its value).
      const commands = lines.map((l) => {
        const words = l.split(' ');
        for (let k = 0; k < words.length; k++) {
          const w = words[k] ?? '';
          if (w === '-c' || w === '-C') k++;
          else if (!w.startsWith('-')) return w;
        }
        return '?';
      });
      // A child's session id is its parent's, a slash, and its own: top-level processes have none.
      let gitMs = 0;
      for (const line of (await readFile(events, 'utf8')).split('\n')) {
        if (line === '') continue;
        const event = JSON.parse(line) as { event?: string; sid?: string; t_abs?: number };
        if (event.event === 'exit' && event.sid !== undefined && !event.sid.includes('/')) gitMs += (event.t_abs ?? 0) * 1000;
      }
      return { processes: lines.length, subprocesses: traced.length, commands, gitMs };
    },
  };
}
