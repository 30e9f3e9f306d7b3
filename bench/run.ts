/**
 * `npm run bench`: every benchmark under bench/, each in its own process,
 * repeated, and one table of medians beside their aims. The figures also go
 * to a JSON file, so that two runs (two commits, two machines) can be
 * compared with `--compare`.
 *
 * Each benchmark appends its tables to the file named by
 * ROLLGATE_BENCH_FIGURES (bench/support/report.ts); the median of a figure
 * is taken across the runs of its benchmark. Benchmarks that already take
 * medians of many samples inside one run, and take minutes, run once unless
 * `--runs` says otherwise.
 *
 * Run: `npm run bench [-- --runs 3] [--only rollout-gates,plan] [--json FILE] [--compare OLD.json]`
 *
 * Exits 1 when a benchmark fails; a missed aim is reported, not an error
 * (these machines are shared and noisy: a figure is evidence, not a test).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { figuresFileVariable, machine, median, meets, type Figure } from './support/report.ts';

/** One benchmark of the suite. */
interface Benchmark {
  /** File name under bench/, without `.ts`. */
  readonly name: string;
  /** What it measures, for the progress line. */
  readonly about: string;
  readonly args: readonly string[];
  /** Runs when `--runs` is not given. */
  readonly runs: number;
}

const suite: readonly Benchmark[] = [
  { name: 'rollout-gates', about: 'gate reaction and overhead, rollgate against the kubectl shell loop', args: [], runs: 1 },
  { name: 'push-to-write', about: 'push to first cluster write, through a webhook and through polling', args: [], runs: 1 },
  { name: 'source-poll', about: 'no-change poll and push to changed targets, 10,000 files', args: [], runs: 1 },
  { name: 'manifests-load', about: 'cold load of 10,000 manifests and the incremental reload', args: [], runs: 3 },
  { name: 'plan', about: 'planning 1,000 targets', args: [], runs: 3 },
  { name: 'fleet', about: '1,000 TidbClusters under one agent; 100 rollouts at once', args: [], runs: 1 },
  { name: 'live-cache', about: 'live cache latency and memory', args: [], runs: 3 },
  { name: 'status-write', about: 'status commits and audit', args: [], runs: 3 },
  { name: 'webhook', about: 'webhook receiver latency and throughput', args: [], runs: 3 },
  { name: 'leader', about: 'leader election handovers', args: [], runs: 1 },
  { name: 'sim-api', about: "kube-sim's API server capacity", args: [], runs: 3 },
  { name: 'sim-controllers', about: "kube-sim's controllers capacity", args: [], runs: 3 },
];

/** One table a benchmark printed in one run. */
interface Table {
  readonly title: string;
  readonly machine: string;
  readonly figures: readonly Figure[];
}

/** A figure across the runs of its benchmark. */
export interface SummaryFigure {
  readonly benchmark: string;
  readonly title: string;
  readonly name: string;
  readonly unit: string;
  readonly median: number;
  readonly values: readonly number[];
  readonly aim?: Figure['aim'];
  readonly met?: boolean;
}

/** What `--json` writes. */
export interface Summary {
  readonly date: string;
  readonly commit: string;
  readonly machine: string;
  readonly benchmarks: readonly { readonly name: string; readonly runs: number; readonly seconds: number; readonly ok: boolean; readonly error?: string }[];
  readonly figures: readonly SummaryFigure[];
}

/** A figure's name without the counts that vary between runs ("(median of 27)", "(12 steps)"). */
export function stableName(name: string): string {
  return name.replace(/\s*\([^()]*\d[^()]*\)/g, '');
}

/** The figures of one benchmark's runs, each the median across runs, in the order first printed. */
export function summarise(benchmark: string, runs: readonly (readonly Table[])[]): SummaryFigure[] {
  const byKey = new Map<string, { title: string; name: string; unit: string; aim?: Figure['aim']; values: number[] }>();
  for (const tables of runs) {
    for (const table of tables) {
      const title = stableName(table.title);
      for (const figure of table.figures) {
        const key = `${title}\u0000${stableName(figure.name)}`;
        let entry = byKey.get(key);
        if (entry === undefined) {
          entry = { title, name: stableName(figure.name), unit: figure.unit, values: [], ...(figure.aim !== undefined ? { aim: figure.aim } : {}) };
          byKey.set(key, entry);
        }
        if (Number.isFinite(figure.value)) entry.values.push(figure.value);
      }
    }
  }
  return [...byKey.values()].map((e) => {
    const value = e.values.length > 0 ? median(e.values) : NaN;
    return { benchmark, title: e.title, name: e.name, unit: e.unit, median: value, values: e.values, ...(e.aim !== undefined ? { aim: e.aim, met: Number.isFinite(value) && meets(value, e.aim) } : {}) };
  });
}

function format(value: number): string {
  if (!Number.isFinite(value)) return '—';
  return Math.abs(value) >= 100 ? value.toFixed(0) : value.toPrecision(3);
}

/** The table of a summary, optionally beside an earlier one. */
export function render(summary: Summary, previous?: Summary): string {
  const lines: string[] = [];
  lines.push(`rollgate benchmarks · ${summary.date} · commit ${summary.commit}`);
  lines.push(`machine: ${summary.machine}`);
  if (previous !== undefined) lines.push(`compared with: ${previous.date} · commit ${previous.commit} · ${previous.machine}`);
  const old = new Map((previous?.figures ?? []).map((f) => [`${f.benchmark}\u0000${f.title}\u0000${f.name}`, f]));
  let title = '';
  for (const f of summary.figures) {
    if (f.title !== title) {
      title = f.title;
      lines.push('', `${f.benchmark}: ${f.title}`);
    }
    const spread = f.values.length > 1 ? `${format(Math.min(...f.values))}–${format(Math.max(...f.values))}` : '';
    const aim = f.aim !== undefined ? `${f.aim.better === 'lower' ? '<' : f.aim.better === 'atMost' ? '≤' : '>'} ${f.aim.value} ${f.unit}` : '';
    const verdict = f.met === undefined ? '' : f.met ? 'met' : 'MISSED';
    const before = old.get(`${f.benchmark}\u0000${f.title}\u0000${f.name}`);
    const change = before !== undefined && Number.isFinite(before.median) && before.median !== 0 ? `was ${format(before.median)} (${(((f.median - before.median) / Math.abs(before.median)) * 100).toFixed(0)} %)` : '';
    lines.push(`  ${f.name.padEnd(52)} ${`${format(f.median)} ${f.unit}`.padStart(16)}  ${spread.padEnd(15)} ${aim.padEnd(16)} ${verdict.padEnd(6)} ${change}`.trimEnd());
  }
  const failed = summary.benchmarks.filter((b) => !b.ok);
  const missed = summary.figures.filter((f) => f.met === false);
  lines.push('', `${summary.figures.filter((f) => f.met === true).length} aims met, ${missed.length} missed${missed.length > 0 ? `: ${missed.map((f) => `${f.benchmark}: ${f.name.trim()}`).join('; ')}` : ''}`);
  if (failed.length > 0) lines.push(`benchmarks that failed: ${failed.map((b) => `${b.name} (${b.error ?? 'error'})`).join('; ')}`);
  lines.push('columns: figure, median across runs, min–max across runs, aim, verdict');
  return `${lines.join('\n')}\n`;
}

/** Runs `bench/<name>.ts` once; resolves with the tables it printed. */
async function runOnce(benchmark: Benchmark, figuresFile: string): Promise<Table[]> {
  await writeFile(figuresFile, '');
  const file = fileURLToPath(new URL(`./${benchmark.name}.ts`, import.meta.url));
  // The benchmark's own output goes to stderr: progress for the person watching, out of the way of the one table on stdout.
  const child = spawn(process.execPath, [file, ...benchmark.args], { stdio: ['ignore', process.stderr, process.stderr], env: { ...process.env, [figuresFileVariable]: figuresFile } });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c, signal) => resolve(signal !== null ? -1 : c));
  });
  if (code !== 0) throw new Error(`bench/${benchmark.name}.ts exited with ${code}`);
  const text = await readFile(figuresFile, 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Table);
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { runs: { type: 'string' }, only: { type: 'string' }, json: { type: 'string', default: 'bench-results.json' }, compare: { type: 'string' } } });
  const runs = values.runs !== undefined ? Number(values.runs) : undefined;
  if (runs !== undefined && (!Number.isInteger(runs) || runs < 1)) throw new Error(`--runs must be a whole number of at least 1, got ${JSON.stringify(values.runs)}`);
  const only = values.only?.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const unknown = (only ?? []).filter((n) => !suite.some((b) => b.name === n));
  if (unknown.length > 0) throw new Error(`--only: no benchmark named ${unknown.join(', ')}; the suite has ${suite.map((b) => b.name).join(', ')}`);
  const previous = values.compare !== undefined ? (JSON.parse(await readFile(values.compare, 'utf8')) as Summary) : undefined;
  const selected = suite.filter((b) => only === undefined || only.includes(b.name));

  const dir = await mkdtemp(join(tmpdir(), 'rollgate-bench-run-'));
  const benchmarks: Summary['benchmarks'][number][] = [];
  const figures: SummaryFigure[] = [];
  try {
    for (const [i, benchmark] of selected.entries()) {
      const times = runs ?? benchmark.runs;
      const tables: Table[][] = [];
      const start = performance.now();
      let error: string | undefined;
      for (let run = 1; run <= times && error === undefined; run++) {
        process.stderr.write(`\n[${i + 1}/${selected.length}] bench/${benchmark.name}.ts, run ${run} of ${times}: ${benchmark.about}\n`);
        try {
          tables.push(await runOnce(benchmark, join(dir, `${benchmark.name}-${run}.jsonl`)));
        } catch (err) {
          error = err instanceof Error ? err.message : String(err);
        }
      }
      benchmarks.push({ name: benchmark.name, runs: tables.length, seconds: Math.round((performance.now() - start) / 1000), ok: error === undefined, ...(error !== undefined ? { error } : {}) });
      figures.push(...summarise(benchmark.name, tables));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const summary: Summary = { date: new Date().toISOString(), commit: gitCommit(), machine: machine(), benchmarks, figures };
  await writeFile(values.json, `${JSON.stringify(summary, null, 2)}\n`);
  process.stdout.write(`\n${render(summary, previous)}figures written to ${values.json}\n`);
  return benchmarks.every((b) => b.ok) ? 0 : 1;
}

if (import.meta.main) {
  main().then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      process.stderr.write(`npm run bench: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 2;
    },
  );
}
