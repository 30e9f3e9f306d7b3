/**
 * The Git source against a 10,000-file repository served by git
 * http-backend on loopback: the time of a poll when nothing changed (one
 * ls-remote), and of a poll after one file changed (ls-remote, fetch,
 * snapshot of every file, change set), medians of several runs, plus the
 * first clone and the requests each kind of poll makes.
 *
 * Run: `node bench/source-poll.ts [files] [runs]`
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGitSource } from '../agent/source/index.ts';
import { createTestRepository, startGitHttpServer, testGitEnv } from '../test/helpers/git-server.ts';
import { median, printFigures } from './support/report.ts';

const files = Number(process.argv[2] ?? '10000');
const runs = Number(process.argv[3] ?? '9');

const server = await startGitHttpServer();
const repo = await createTestRepository(server.root);
const work = await mkdtemp(join(tmpdir(), 'rollgate-bench-source-'));
try {
  const generated: Record<string, string> = {};
  for (let i = 0; i < files; i++) {
    const name = `app-${String(i).padStart(5, '0')}`;
    generated[`clusters/${i % 2 ? 'prod' : 'staging'}/ns-${String(i % 50).padStart(2, '0')}/${name}.yaml`] =
      `apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: ${name}\nspec:\n  replicas: 3\n  template:\n    spec:\n      containers:\n        - name: main\n          image: registry.example.com/${name}:v1.0.0\n`;
  }
  await repo.write(generated);
  await repo.commit('10,000 manifests');
  await repo.push();

  const source = createGitSource({ url: server.repoUrl(), branch: 'main', workDir: work, env: testGitEnv(), keepSnapshots: 2 });
  const cloneStart = performance.now();
  const first = await source.poll();
  const cloneMs = performance.now() - cloneStart;
  if (first.type !== 'changed') throw new Error(`first poll: ${JSON.stringify(first)}`);
  source.markApplied(first.revision.commit);

  const unchanged: number[] = [];
  server.resetCounts();
  for (let i = 0; i < runs * 3; i++) {
    const t0 = performance.now();
    const result = await source.poll();
    unchanged.push(performance.now() - t0);
    if (result.type !== 'unchanged') throw new Error(`no-change poll: ${JSON.stringify(result)}`);
  }
  const unchangedCounts = server.counts();

  const changed: number[] = [];
  let fetches = 0;
  for (let i = 0; i < runs; i++) {
    const path = `clusters/prod/ns-01/app-${String(2 * i + 1).padStart(5, '0')}.yaml`;
    await repo.write({ [path]: (generated[path] ?? '').replace('v1.0.0', `v1.0.${i + 1}`) });
    await repo.commit(`bump ${i}`);
    await repo.push();
    server.resetCounts();
    const t0 = performance.now();
    const result = await source.poll();
    changed.push(performance.now() - t0);
    fetches += server.counts().fetch;
    if (result.type !== 'changed' || result.changedFiles === 'all' || result.changedFiles.length !== 1) throw new Error(`one-file poll: ${JSON.stringify(result)}`);
    source.markApplied(result.revision.commit);
  }

  printFigures(`Git source, ${files} files over git http-backend on loopback`, [
    { name: 'first poll: clone and snapshot', value: cloneMs, unit: 'ms' },
    { name: `no-change poll (median of ${runs * 3})`, value: median(unchanged), unit: 'ms', aim: { value: 100, better: 'lower' } },
    { name: '  requests per no-change poll (info/refs)', value: unchangedCounts.infoRefs / (runs * 3), unit: 'req' },
    { name: '  fetches in all no-change polls', value: unchangedCounts.fetch, unit: 'req', aim: { value: 1, better: 'lower' } },
    { name: `one file changed: fetch + snapshot (median of ${runs})`, value: median(changed), unit: 'ms', aim: { value: 1000, better: 'lower' } },
    { name: '  fetches per one-file poll', value: fetches / runs, unit: 'req' },
  ]);
} finally {
  await server.close();
  await rm(repo.workDir, { recursive: true, force: true });
  await rm(work, { recursive: true, force: true });
}
