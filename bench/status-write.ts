/**
 * The cost of writing status to Git and of auditing it back.
 *
 * - one status commit and its push to a local bare remote, transition by
 *   transition (report, then flush), median and p90 over the runs;
 * - a burst of transitions queued at once, written in batches (one commit
 *   each, one push per batch);
 * - `rollgate audit` over a history of version bumps interleaved with
 *   commits that touch no manifest (which it skips), with the status of
 *   every bump's rollout.
 *
 * Run: `node bench/status-write.ts [commits]` (default 40 single writes).
 */
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { runAudit } from '../agent/report/audit/index.ts';
import { createGitStatusReporter } from '../agent/report/git/index.ts';
import type { RolloutTransition } from '../agent/rollout/reporter.ts';
import { median, percentile, printFigures } from './support/report.ts';

const singles = Number(process.argv[2] ?? '40');
const root = await mkdtemp(join(tmpdir(), 'rollgate-bench-status-'));
const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: root, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };
const examples = fileURLToPath(new URL('../examples-repo/', import.meta.url));

function git(cwd: string, args: readonly string[], extra: Record<string, string> = {}): string {
  const result = spawnSync('git', [...args], { cwd, env: { ...env, ...extra }, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`git ${args.join(' ')}: ${result.stderr}`);
  return result.stdout.trim();
}

const work = join(root, 'work');
await cp(examples, work, { recursive: true });
git(work, ['init', '--quiet', '--initial-branch=main']);
const who = (date: number): Record<string, string> => {
  const d = new Date(Date.UTC(2024, 0, 1) + date * 60_000).toISOString();
  return { GIT_AUTHOR_NAME: 'Bench', GIT_AUTHOR_EMAIL: 'bench@example.com', GIT_COMMITTER_NAME: 'Bench', GIT_COMMITTER_EMAIL: 'bench@example.com', GIT_AUTHOR_DATE: d, GIT_COMMITTER_DATE: d };
};
let clock = 0;
const commit = (message: string): string => {
  git(work, ['add', '-A']);
  git(work, ['commit', '--quiet', '-m', message], who(clock++));
  return git(work, ['rev-parse', 'HEAD']);
};
const source = commit('initial');

// A history for the audit: 30 bumps of the staging TiDB version, each followed by two commits elsewhere.
const manifest = join(work, 'staging/tidb/tidb-cluster.yaml');
const original = await readFile(manifest, 'utf8');
const bumps: string[] = [];
for (let i = 1; i <= 30; i++) {
  await writeFile(manifest, original.replace('version: v7.5.1', `version: v7.5.${i + 1}`));
  bumps.push(commit(`bump ${i}`));
  for (let j = 0; j < 2; j++) {
    await writeFile(join(work, 'README.md'), `note ${i}.${j}\n`);
    commit(`note ${i}.${j}`);
  }
}
const remote = join(root, 'remote.git');
git(root, ['clone', '--bare', '--quiet', work, remote]);

const logger = pino({ level: 'silent' });
const transition = (i: number, src = source): RolloutTransition => ({
  target: 'staging/tidb/TidbCluster/tidb',
  cluster: 'staging',
  kind: 'TidbCluster',
  namespace: 'tidb',
  name: 'tidb',
  source: src,
  planHash: `plan-${src.slice(0, 8)}`,
  phase: 'Progressing',
  stage: 'tikv',
  step: i,
  stages: [{ component: 'tikv', state: 'running', podsDone: i, podsTotal: 1000 }],
  startedAt: '2024-05-02T09:00:00Z',
  at: new Date(Date.UTC(2024, 4, 2, 9) + i * 1000).toISOString(),
  message: `step ${i}`,
});

// One commit and push per transition.
const single = createGitStatusReporter({ repoUrl: remote, workDir: join(root, 'agent-single'), mode: { mode: 'branch', branch: 'rollgate/status' }, author: { name: 'rollgate', email: 'rollgate@example.com' }, env, logger });
await single.report(transition(0));
await single.flush(); // creates the branch and the mirror: not timed
const times: number[] = [];
for (let i = 1; i <= singles; i++) {
  const t0 = performance.now();
  await single.report(transition(i));
  await single.flush();
  times.push(performance.now() - t0);
}
await single.close();

// A burst: 100 transitions queued at once.
const burst = createGitStatusReporter({ repoUrl: remote, workDir: join(root, 'agent-burst'), mode: { mode: 'branch', branch: 'rollgate/status' }, author: { name: 'rollgate', email: 'rollgate@example.com' }, env, logger });
const burstStart = performance.now();
for (let i = 1; i <= 100; i++) await burst.report(transition(10_000 + i));
await burst.flush();
const burstMs = performance.now() - burstStart;
await burst.close();

// Status of each bump's rollout (Pending, Succeeded), then the audit.
const writer = createGitStatusReporter({ repoUrl: remote, workDir: join(root, 'agent-audit'), mode: { mode: 'branch', branch: 'rollgate/status' }, author: { name: 'rollgate', email: 'rollgate@example.com' }, env, logger });
for (const [i, sha] of bumps.entries()) {
  const at = (m: number): string => new Date(Date.UTC(2024, 5, 1) + i * 3_600_000 + m * 60_000).toISOString();
  await writer.report({ ...transition(0, sha), phase: 'Pending', stage: undefined, step: undefined, startedAt: at(0), at: at(0) });
  await writer.report({ ...transition(0, sha), phase: 'Succeeded', stage: undefined, step: undefined, startedAt: at(0), at: at(10), finishedAt: at(10) });
}
await writer.flush();
await writer.close();
const auditTimes: number[] = [];
let loads = 0;
let commits = 0;
for (let i = 0; i < 5; i++) {
  const t0 = performance.now();
  const { stats } = await runAudit({ repo: remote, cwd: root, env });
  auditTimes.push(performance.now() - t0);
  loads = stats.loads;
  commits = stats.commits;
}
await rm(root, { recursive: true, force: true });

printFigures('status commits to a local bare remote, and the audit that reads them', [
  { name: `status commit + push, one transition (median of ${singles})`, value: median(times), unit: 'ms', aim: { value: 250, better: 'lower' } },
  { name: `status commit + push, one transition (p90 of ${singles})`, value: percentile(times, 90), unit: 'ms' },
  { name: '100 transitions queued at once, all pushed', value: burstMs, unit: 'ms' },
  { name: '100 transitions queued at once, per transition', value: burstMs / 100, unit: 'ms' },
  { name: `audit of ${commits} commits, ${bumps.length * 2} status commits (median of 5)`, value: median(auditTimes), unit: 'ms', aim: { value: 5000, better: 'lower' } },
  { name: 'commits the audit read from disk', value: loads, unit: 'commits' },
]);
