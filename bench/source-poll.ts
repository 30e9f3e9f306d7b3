/**
 * The Git source against a generated repository of 10,000 manifests and
 * 1,000 commits of history, served by git http-backend on loopback behind a
 * byte-counting proxy:
 *
 * - a poll when nothing changed: its time (median), the git processes it
 *   spawned (counted by a PATH shim, so exactly the processes the source
 *   started, plus the ones those started in turn, from GIT_TRACE: over
 *   HTTP, `git remote-http` and the `git-remote-http` it runs), the HTTP
 *   requests the server answered by kind, and the bytes the server sent;
 * - a one-file push: the time from the poll that detects it to the list of
 *   targets that changed, i.e. ls-remote, fetch, snapshot, changed files,
 *   then the manifests loader's incremental `reload` over the changed files
 *   (targets whose object identity changed are the changed ones); beside it
 *   the same with a cold `loadRepository` of the new snapshot compared
 *   target by target; and the git processes and bytes of that poll.
 *
 * Timed polls run through a source whose git is the real one; a second
 * source over the same remote, whose PATH starts with the shim, is polled
 * for the counts (the shim costs a shell start per git).
 *
 * Run: `node bench/source-poll.ts [--files 10000] [--commits 1000] [--runs 9]`
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadRepository, reload, type LoadResult } from '../agent/manifests/index.ts';
import { createGitSource, type PollResult } from '../agent/source/index.ts';
import { createTestRepository, startGitHttpServer, testGitEnv, type RequestCounts } from '../test/helpers/git-server.ts';
import { startByteCountingProxy } from './support/byte-proxy.ts';
import { createGitShim, fastImport, type GeneratedCommit } from './support/git-history.ts';
import { median, printFigures } from './support/report.ts';

const { values: args } = parseArgs({ options: { files: { type: 'string', default: '10000' }, commits: { type: 'string', default: '1000' }, runs: { type: 'string', default: '9' } } });
const count = (name: keyof typeof args, min: number): number => {
  const value = Number(args[name]);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be a whole number of at least ${min}, got ${JSON.stringify(args[name])}`);
  return value;
};
const files = count('files', 2);
const commits = count('commits', 1);
const runs = count('runs', 1);

const config = `apiVersion: rollgate.dev/v1alpha1
kind: Config
clusters:
  - name: staging
    paths: [clusters/staging]
  - name: prod
    paths: [clusters/prod]
`;

const pathOf = (i: number): string => `clusters/${i % 2 ? 'prod' : 'staging'}/ns-${String(i % 50).padStart(2, '0')}/app-${String(i).padStart(5, '0')}.yaml`;
const manifest = (i: number, version: string): string => {
  const name = `app-${String(i).padStart(5, '0')}`;
  return `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: ${name}
  namespace: ns-${String(i % 50).padStart(2, '0')}
spec:
  serviceName: ${name}
  replicas: 3
  selector:
    matchLabels: {app: ${name}}
  template:
    metadata:
      labels: {app: ${name}}
    spec:
      containers:
        - name: main
          image: registry.example.com/${name}:${version}
`;
};

/** The history: every manifest in the first commit, then one version bump per commit, spread over the files. */
function* history(): Generator<GeneratedCommit> {
  const all: Record<string, string> = { 'rollgate.yaml': config };
  for (let i = 0; i < files; i++) all[pathOf(i)] = manifest(i, 'v1.0.0');
  yield { message: `${files} manifests`, files: all };
  for (let c = 1; c < commits; c++) {
    const i = (c * 7919) % files;
    yield { message: `bump app ${i}`, files: { [pathOf(i)]: manifest(i, `v1.${c}.0`) } };
  }
}

/**
 * `reload` reads changed files from the root of the load it is given, and
 * has no parameter for another root; the source checks each commit out into
 * a snapshot directory of its own. This hands `reload` the previous load
 * re-rooted at the new snapshot (whose other files are identical: git says
 * only `changed` differ). It reaches into the loader's internal snapshot,
 * which is why the cold load is measured beside it.
 */
async function reloadAt(previous: LoadResult, root: string, changed: readonly string[]): Promise<LoadResult> {
  return reload(previous, changed, root);
}

/** Ids of targets added, removed or changed: unchanged targets keep their identity across `reload`. */
function changedByIdentity(before: LoadResult, after: LoadResult): string[] {
  const kept = new Set(before.targets);
  const ids = new Set(after.targets.map((t) => t.id));
  return [...after.targets.filter((t) => !kept.has(t)).map((t) => t.id), ...before.targets.filter((t) => !ids.has(t.id)).map((t) => t.id)].sort();
}

/** What a cold load allows: compare every target's object and policy with the previous load's. */
function fingerprints(result: LoadResult): Map<string, string> {
  return new Map(result.targets.map((t) => [t.id, JSON.stringify([t.object, t.policy])]));
}
function changedByContent(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): string[] {
  const out = [...after].filter(([id, text]) => before.get(id) !== text).map(([id]) => id);
  for (const id of before.keys()) if (!after.has(id)) out.push(id);
  return out.sort();
}

const expectChanged = (result: PollResult, what: string): Extract<PollResult, { type: 'changed' }> => {
  if (result.type !== 'changed') throw new Error(`${what}: ${JSON.stringify(result)}`);
  return result;
};

const env = testGitEnv();
const server = await startGitHttpServer();
const proxy = await startByteCountingProxy(Number(new URL(server.url).port));
const repo = await createTestRepository(server.root);
const work = await mkdtemp(join(tmpdir(), 'rollgate-bench-source-'));
try {
  const genStart = performance.now();
  await fastImport(join(repo.workDir, '.git'), 'main', history(), env);
  await repo.git(['reset', '-q', '--hard']);
  await repo.push();
  const genMs = performance.now() - genStart;
  const objects = (await repo.git(['rev-list', '--count', 'HEAD'])).trim();
  const tracked = (await repo.git(['ls-files'])).split('\n').filter((l) => l !== '').length;
  process.stderr.write(`generated ${tracked} files, ${objects} commits in ${(genMs / 1000).toFixed(1)} s\n`);

  const url = `http://127.0.0.1:${proxy.port}/${repo.name}`;
  const shim = await createGitShim(join(work, 'shim'));
  const source = createGitSource({ url, branch: 'main', workDir: join(work, 'timed'), env, keepSnapshots: 2 });
  const counted = createGitSource({ url, branch: 'main', workDir: join(work, 'counted'), env: { ...env, PATH: `${shim.dir}:${env['PATH'] ?? ''}` }, keepSnapshots: 2 });

  const cloneStart = performance.now();
  const first = expectChanged(await source.poll(), 'first poll');
  const cloneMs = performance.now() - cloneStart;
  source.markApplied(first.revision.commit);
  counted.markApplied(expectChanged(await counted.poll(), 'first poll (counted)').revision.commit);
  const coldStart = performance.now();
  let loaded = await loadRepository(first.revision.dir);
  const coldMs = performance.now() - coldStart;
  if (!loaded.valid) throw new Error(`the generated repository is invalid: ${loaded.problems.slice(0, 3).map((p) => `${p.file}:${p.line}: ${p.message}`).join('; ')}`);
  let prints = fingerprints(loaded);

  // No change: timed, then counted.
  const unchanged: number[] = [];
  for (let i = 0; i < runs * 3; i++) {
    const t0 = performance.now();
    const result = await source.poll();
    unchanged.push(performance.now() - t0);
    if (result.type !== 'unchanged') throw new Error(`no-change poll: ${JSON.stringify(result)}`);
  }
  await shim.reset();
  proxy.reset();
  server.resetCounts();
  for (let i = 0; i < runs; i++) if ((await counted.poll()).type !== 'unchanged') throw new Error('no-change poll (counted) saw a change');
  const quiet = { git: await shim.counts(), http: server.counts(), bytes: proxy.counts() };

  // One file pushed: poll → changed files → changed targets.
  const polls: number[] = [];
  const incremental: number[] = [];
  const cold: number[] = [];
  const pushed = { processes: 0, subprocesses: 0, bytes: 0, fetches: 0, gitMs: 0, commands: new Set<string>() };
  for (let i = 0; i < runs; i++) {
    const n = (i * 104_729 + 17) % files;
    const id = `${n % 2 ? 'prod' : 'staging'}/ns-${String(n % 50).padStart(2, '0')}/StatefulSet/app-${String(n).padStart(5, '0')}`;
    await repo.write({ [pathOf(n)]: manifest(n, `v9.${i}.0`) });
    await repo.commit(`bump app ${n}`);
    await repo.push();

    const t0 = performance.now();
    const result = expectChanged(await source.poll(), 'one-file poll');
    const t1 = performance.now();
    if (result.changedFiles === 'all' || result.changedFiles.length !== 1) throw new Error(`one-file poll changed ${JSON.stringify(result.changedFiles)}`);
    const next = await reloadAt(loaded, result.revision.dir, result.changedFiles);
    const byIdentity = changedByIdentity(loaded, next);
    const t2 = performance.now();
    const coldNext = await loadRepository(result.revision.dir);
    const nextPrints = fingerprints(coldNext);
    const byContent = changedByContent(prints, nextPrints);
    const t3 = performance.now();
    if (byIdentity.join() !== id || byContent.join() !== id) throw new Error(`changed targets: incremental ${byIdentity.join()}, cold ${byContent.join()}; expected ${id}`);
    polls.push(t1 - t0);
    incremental.push(t2 - t0);
    cold.push(t1 - t0 + (t3 - t2));
    loaded = next;
    prints = nextPrints;
    source.markApplied(result.revision.commit);

    await shim.reset();
    proxy.reset();
    server.resetCounts();
    counted.markApplied(expectChanged(await counted.poll(), 'one-file poll (counted)').revision.commit);
    const git = await shim.counts();
    pushed.processes += git.processes;
    pushed.subprocesses += git.subprocesses;
    pushed.gitMs += git.gitMs;
    for (const c of git.commands) pushed.commands.add(c);
    pushed.bytes += proxy.counts().toClient;
    pushed.fetches += server.counts().fetch;
  }

  const per = (n: number): number => n / runs;
  const requests = (c: RequestCounts): string => `${per(c.infoRefs)} info/refs + ${per(c.lsRefs)} ls-refs + ${per(c.fetch)} fetch`;
  process.stdout.write(`\nno-change poll runs: ${[...new Set(quiet.git.commands)].join(', ')}; HTTP requests per poll: ${requests(quiet.http)}\n`);
  process.stdout.write(`one-file poll runs: ${[...pushed.commands].join(', ')}\n`);
  printFigures(`Git source: ${tracked} files (${files} manifests), ${objects} commits, git http-backend on loopback`, [
    { name: 'generating the history (fast-import + push)', value: genMs, unit: 'ms' },
    { name: 'first poll: clone and snapshot', value: cloneMs, unit: 'ms' },
    { name: 'first load of the snapshot (cold)', value: coldMs, unit: 'ms' },
    { name: `no-change poll (median of ${runs * 3})`, value: median(unchanged), unit: 'ms', aim: { value: 50, better: 'lower' } },
    { name: '  git processes the source spawned, per poll', value: per(quiet.git.processes), unit: 'proc', aim: { value: 1, better: 'atMost' } },
    { name: '  processes those started (git remote-http)', value: per(quiet.git.subprocesses), unit: 'proc' },
    { name: '  time inside the git process', value: per(quiet.git.gitMs), unit: 'ms' },
    { name: '  upload-pack fetches (pack data), all polls', value: quiet.http.fetch, unit: 'req', aim: { value: 0, better: 'atMost' } },
    { name: '  bytes the server sent, per poll (refs only)', value: per(quiet.bytes.toClient), unit: 'B' },
    { name: `push → changed targets, incremental (median of ${runs})`, value: median(incremental), unit: 'ms', aim: { value: 500, better: 'lower' } },
    { name: '  of which the poll (ls-remote, fetch, snapshot)', value: median(polls), unit: 'ms' },
    { name: '  of which reload + changed-target list', value: median(incremental.map((v, i) => v - (polls[i] ?? 0))), unit: 'ms' },
    { name: `push → changed targets, cold load (median of ${runs}), for comparison`, value: median(cold), unit: 'ms' },
    { name: '  git processes per one-file poll', value: per(pushed.processes), unit: 'proc' },
    { name: '  time inside those git processes, summed', value: per(pushed.gitMs), unit: 'ms' },
    { name: '  processes those started', value: per(pushed.subprocesses), unit: 'proc' },
    { name: '  upload-pack fetches per one-file poll', value: per(pushed.fetches), unit: 'req' },
    { name: '  bytes the server sent, per one-file poll', value: per(pushed.bytes), unit: 'B' },
  ]);
} finally {
  await proxy.close();
  await server.close();
  await rm(repo.workDir, { recursive: true, force: true });
  await rm(work, { recursive: true, force: true });
}
