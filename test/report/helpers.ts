/**
 * Helpers for the report tests: real Git repositories isolated from the
 * machine's configuration, a free loopback port, a pino logger whose output
 * the test reads, and transitions to report. The HTTP git server is
 * test/helpers/git-server.ts.
 */
import { spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ReporterClock } from '../../agent/report/git/index.ts';
import type { RolloutTransition, StageProgress } from '../../agent/rollout/reporter.ts';

/** The repository checkout (where package.json is). */
export const checkout = fileURLToPath(new URL('../../', import.meta.url));
/** The reference repository. */
export const examplesRepo = join(checkout, 'examples-repo');

/** A fresh temporary directory, and a function that removes it. */
export async function tempDir(prefix: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `rollgate-${prefix}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * The environment every git in these tests runs with: no global or system
 * configuration, no proxy, a HOME of its own, and (when given) a GNUPGHOME.
 */
export function gitEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: home, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', LC_ALL: 'C', ...extra };
}

/** A person with a fixed date, for commits whose ids the test can predict. */
export interface Person {
  readonly name: string;
  readonly email: string;
}

/** Runs git and returns stdout without its last newline; throws with stderr when it fails. */
export function git(cwd: string, args: readonly string[], env: NodeJS.ProcessEnv, input?: string): string {
  const result = spawnSync('git', [...args], { cwd, env, encoding: 'utf8', input, timeout: 60_000 });
  if (result.status !== 0) throw new Error(`git ${args.join(' ')} failed (${result.status}): ${result.stderr}`);
  return result.stdout.replace(/\n$/, '');
}

/** Commits everything in `dir` as `who` at `date` (ISO 8601); signs with `signKey` (a gpg key id) when given. */
export function commitAll(dir: string, env: NodeJS.ProcessEnv, who: Person, date: string, message: string, signKey?: string): string {
  git(dir, ['add', '-A'], env);
  const dates = { GIT_AUTHOR_NAME: who.name, GIT_AUTHOR_EMAIL: who.email, GIT_AUTHOR_DATE: date, GIT_COMMITTER_NAME: who.name, GIT_COMMITTER_EMAIL: who.email, GIT_COMMITTER_DATE: date };
  git(dir, ['commit', '--quiet', '--allow-empty', ...(signKey !== undefined ? [`-S${signKey}`] : ['--no-gpg-sign']), '-m', message], { ...env, ...dates });
  return git(dir, ['rev-parse', 'HEAD'], env);
}

/** A work repository holding a copy of examples-repo on `main`, committed once, and a bare remote cloned from it. */
export async function examplesRemote(root: string, env: NodeJS.ProcessEnv, who: Person, date: string): Promise<{ work: string; remote: string; initial: string }> {
  const work = join(root, 'work');
  await cp(examplesRepo, work, { recursive: true });
  git(work, ['init', '--quiet', '--initial-branch=main'], env);
  const initial = commitAll(work, env, who, date, 'Initial desired state');
  const remote = join(root, 'remote.git');
  git(root, ['clone', '--bare', '--quiet', work, remote], env);
  git(work, ['remote', 'add', 'origin', remote], env);
  return { work, remote, initial };
}

/** Writes a file under `dir`, creating folders. */
export async function writeText(dir: string, path: string, text: string): Promise<void> {
  await mkdir(dirname(join(dir, path)), { recursive: true });
  await writeFile(join(dir, path), text);
}


/** A clock at a fixed time whose timers are real but short (at most `maxDelayMs`), so backoff is exercised without waiting. */
export function testClock(now: string, maxDelayMs = 20): ReporterClock {
  return {
    now: () => Date.parse(now),
    setTimeout: (callback, ms) => setTimeout(callback, Math.min(ms, maxDelayMs)),
    clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  };
}

const tidbStages = (state: Partial<Record<'pd' | 'tikv' | 'tidb', StageProgress['state']>>, podsDone: Partial<Record<string, number>> = {}): StageProgress[] =>
  (['pd', 'tikv', 'tidb'] as const).map((component) => ({
    component,
    from: 'v7.5.1',
    to: 'v7.5.2',
    state: state[component] ?? 'pending',
    podsDone: podsDone[component] ?? 0,
    podsTotal: component === 'tidb' ? 2 : 3,
  }));

/** A transition of staging/tidb/TidbCluster/tidb, with the fields a test changes. */
export function tidbTransition(source: string, overrides: Partial<RolloutTransition> = {}): RolloutTransition {
  return {
    target: 'staging/tidb/TidbCluster/tidb',
    cluster: 'staging',
    kind: 'TidbCluster',
    namespace: 'tidb',
    name: 'tidb',
    source,
    planHash: 'plan-1',
    phase: 'Progressing',
    stage: 'tikv',
    step: 1,
    stages: tidbStages({ pd: 'done', tikv: 'running' }, { pd: 3, tikv: 1 }),
    startedAt: '2024-05-02T09:00:00Z',
    at: '2024-05-02T09:03:00Z',
    message: 'Restarting tikv-1.',
    ...overrides,
  };
}

export { tidbStages };

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export { eventually } from '../helpers/sim.ts';

export { memoryLogger } from '../helpers/memory-logger.ts';
