/**
 * The fault campaign's model: scenarios, what one run of a scenario
 * reports, the per-scenario row of the table, and the verdict. Pure apart
 * from {@link runCampaign}, which runs the scenarios one after another (a
 * run starts processes and servers; two at once would only measure the
 * machine).
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { seededRandom } from '../sim/random.ts';

/** What one run of a scenario found. */
export interface RunResult {
  /** The target reached the desired version, every pod Ready, the rollout Succeeded. */
  readonly completed: boolean;
  /** Why not, when not. */
  readonly failure?: string;
  /** `pod@image` of pods restarted more than once toward the same image. */
  readonly repeatedRestarts: readonly string[];
  /** Transitions with no status commit. */
  readonly statusLost: readonly string[];
  /** Transitions with more than one status commit. */
  readonly statusDuplicated: readonly string[];
  /** Status commits no progress record implies (informational). */
  readonly statusUnexpected: readonly string[];
  /** Sticky comments written more than once (forge scenario); undefined when the scenario has no forge. */
  readonly commentsDuplicated?: number;
  /** Longest wall-clock gap with no progress while progress was possible, in ms. */
  readonly longestStallMs: number;
  /** What the run did (`killed 7 times`, `error rate 0.12`), for the JSON file. */
  readonly notes: readonly string[];
  /** Where the run's logs are kept (failed runs only). */
  readonly logs?: string;
}

/** What a scenario's run is given. */
export interface RunContext {
  /** The run's own seed, derived from the campaign's. */
  readonly seed: number;
  /** 0-based index of this run, and how many runs the scenario makes. */
  readonly index: number;
  readonly runs: number;
  /** A fresh directory for this run. */
  readonly dir: string;
  /** Progress lines for people (stderr). */
  log(message: string): void;
}

/** One scenario. */
export interface Scenario {
  /** Short, stable: the table's row and `--only` use it. */
  readonly name: string;
  readonly description: string;
  /** Runs when `--runs` is not given. */
  readonly defaultRuns: number;
  run(context: RunContext): Promise<RunResult>;
}

/** One row of the table. */
export interface ScenarioRow {
  readonly scenario: string;
  readonly runs: number;
  readonly completed: number;
  readonly podsRestartedTwice: number;
  readonly statusLost: number;
  readonly statusDuplicated: number;
  /** null: the scenario has no forge. */
  readonly commentsDuplicated: number | null;
  /** ms; null when no run measured one. */
  readonly longestStallMs: number | null;
  readonly results: readonly RunResult[];
}

/** The hostile-input campaign's counts (chaos/hostile/campaign.ts). */
export interface HostileCounts {
  readonly cases: number;
  readonly crashes: number;
  readonly partialApplies: number;
  readonly unlocated: number;
  /** What failed, case by case, when the hostile campaign says. */
  readonly failures?: readonly string[];
}

/** The hostile-input row: its counts, or why it did not run. */
export type HostileRow = { readonly status: 'ran'; readonly counts: HostileCounts } | { readonly status: 'missing' | 'failed'; readonly message: string };

/** The whole campaign's result, as written to the JSON file. */
export interface CampaignResult {
  readonly seed: number;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly rows: readonly ScenarioRow[];
  readonly hostile?: HostileRow;
  /** Every reason the campaign fails; empty when it passes. */
  readonly failures: readonly string[];
}

/** Sums the runs of one scenario into its row. */
export function summarise(scenario: string, results: readonly RunResult[]): ScenarioRow {
  const stalls = results.map((r) => r.longestStallMs).filter((ms) => Number.isFinite(ms));
  const comments = results.map((r) => r.commentsDuplicated).filter((n) => n !== undefined);
  return {
    scenario,
    runs: results.length,
    completed: results.filter((r) => r.completed).length,
    podsRestartedTwice: results.reduce((n, r) => n + r.repeatedRestarts.length, 0),
    statusLost: results.reduce((n, r) => n + r.statusLost.length, 0),
    statusDuplicated: results.reduce((n, r) => n + r.statusDuplicated.length, 0),
    commentsDuplicated: comments.length === 0 ? null : comments.reduce((a, b) => a + b, 0),
    longestStallMs: stalls.length === 0 ? null : Math.max(...stalls),
    results,
  };
}

/** Every reason the campaign fails: a run that did not complete, or a must-be-zero count that is not. */
export function verdict(rows: readonly ScenarioRow[], hostile?: HostileRow): string[] {
  const out: string[] = [];
  for (const row of rows) {
    if (row.completed < row.runs) out.push(`${row.scenario}: ${row.runs - row.completed} of ${row.runs} runs did not complete correctly`);
    if (row.podsRestartedTwice > 0) out.push(`${row.scenario}: ${row.podsRestartedTwice} pods restarted more than once`);
    if (row.statusLost > 0) out.push(`${row.scenario}: ${row.statusLost} status commits lost`);
    if (row.statusDuplicated > 0) out.push(`${row.scenario}: ${row.statusDuplicated} status commits duplicated`);
    if ((row.commentsDuplicated ?? 0) > 0) out.push(`${row.scenario}: ${row.commentsDuplicated ?? 0} comments duplicated`);
  }
  if (hostile?.status === 'failed') out.push(`hostile-input: ${hostile.message}`);
  if (hostile?.status === 'ran') {
    const c = hostile.counts;
    if (c.crashes > 0) out.push(`hostile-input: ${c.crashes} crashes`);
    if (c.partialApplies > 0) out.push(`hostile-input: ${c.partialApplies} partial applies`);
    if (c.unlocated > 0) out.push(`hostile-input: ${c.unlocated} messages without a location`);
  }
  return out;
}

const seconds = (ms: number | null): string => (ms === null ? '-' : `${(ms / 1000).toFixed(1)} s`);

/** The table people read: one line per scenario, then the hostile-input row and the verdict. */
export function formatTable(result: Pick<CampaignResult, 'rows' | 'hostile' | 'failures' | 'seed'>): string {
  const header = ['scenario', 'runs', 'completed', 'pods restarted >1', 'status lost', 'status dup', 'comments dup', 'longest stall'];
  const body = result.rows.map((r) => [r.scenario, String(r.runs), String(r.completed), String(r.podsRestartedTwice), String(r.statusLost), String(r.statusDuplicated), r.commentsDuplicated === null ? '-' : String(r.commentsDuplicated), seconds(r.longestStallMs)]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  const lines = [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)];
  const hostile = result.hostile;
  if (hostile !== undefined) {
    lines.push('');
    if (hostile.status === 'ran') {
      const c = hostile.counts;
      lines.push(`hostile-input: ${c.cases} cases, ${c.crashes} crashes, ${c.partialApplies} partial applies, ${c.unlocated} messages without a location`);
    } else {
      lines.push(`hostile-input: ${hostile.status}: ${hostile.message}`);
    }
  }
  lines.push('', `seed ${result.seed}: ${result.failures.length === 0 ? 'PASS' : `FAIL\n  ${result.failures.join('\n  ')}`}`);
  return `${lines.join('\n')}\n`;
}

/** Options of {@link runCampaign}. */
export interface CampaignOptions {
  readonly scenarios: readonly Scenario[];
  readonly seed: number;
  /** Runs per scenario; default each scenario's own. */
  readonly runs?: number;
  /** Where runs keep their files; failed runs' logs stay there. */
  readonly dir: string;
  /** Keep the files of runs that passed too. Default false. */
  readonly keepPassed?: boolean;
  /** The hostile-input campaign, when it is to run. */
  readonly hostile?: () => Promise<HostileRow>;
  log(message: string): void;
}

/**
 * Runs every scenario `runs` times, one run at a time, each with its own
 * seed drawn from the campaign's (so `--seed` reproduces the whole
 * campaign and each run's seed is in the JSON file). A run that throws is
 * a run that did not complete.
 */
export async function runCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const started = Date.now();
  const seeds = seededRandom(options.seed);
  const rows: ScenarioRow[] = [];
  for (const scenario of options.scenarios) {
    const runs = options.runs ?? scenario.defaultRuns;
    const results: RunResult[] = [];
    for (let index = 0; index < runs; index++) {
      const seed = seeds.int(2 ** 31);
      const dir = join(options.dir, `${scenario.name}-${index + 1}-${seed}`);
      await mkdir(dir, { recursive: true });
      const runStarted = Date.now();
      options.log(`${scenario.name} run ${index + 1}/${runs} (seed ${seed})`);
      let result: RunResult;
      try {
        result = await scenario.run({ seed, index, runs, dir, log: (message) => options.log(`  ${message}`) });
      } catch (err) {
        result = { completed: false, failure: err instanceof Error ? (err.stack ?? err.message) : String(err), repeatedRestarts: [], statusLost: [], statusDuplicated: [], statusUnexpected: [], longestStallMs: Number.NaN, notes: [] };
      }
      const failed = !result.completed || result.repeatedRestarts.length + result.statusLost.length + result.statusDuplicated.length + (result.commentsDuplicated ?? 0) > 0;
      if (failed) result = { ...result, logs: dir };
      else if (options.keepPassed !== true) await rm(dir, { recursive: true, force: true });
      options.log(`  ${failed ? 'FAILED' : 'ok'} in ${((Date.now() - runStarted) / 1000).toFixed(1)} s${result.failure !== undefined ? `: ${result.failure.split('\n')[0] ?? ''}` : ''}${result.notes.length > 0 ? ` (${result.notes.join('; ')})` : ''}`);
      results.push({ ...result, notes: [`seed ${seed}`, ...result.notes] });
    }
    rows.push(summarise(scenario.name, results));
  }
  const hostile = options.hostile === undefined ? undefined : await options.hostile();
  return { seed: options.seed, startedAt: new Date(started).toISOString(), durationMs: Date.now() - started, rows, ...(hostile !== undefined ? { hostile } : {}), failures: verdict(rows, hostile) };
}
