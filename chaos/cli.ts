/**
 * `npm run chaos [-- --seed N] [--runs N] [--only a,b] [--json FILE] [--keep DIR] [--no-hostile]`:
 * runs the fault campaign, prints one table (scenario × counts), writes
 * the JSON file, and exits 1 when a run did not complete correctly or a
 * must-be-zero count is not zero (2 on a usage error).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { formatTable, runCampaign, type HostileCounts, type HostileRow, type Scenario } from './campaign.ts';
import { scenarios } from './scenarios/index.ts';

/** What `main` reads and writes, so tests can run it in-process. */
export interface ChaosIO {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly cwd: string;
}

/** Parsed flags. */
export interface ChaosFlags {
  readonly seed: number;
  /** undefined: each scenario's default. */
  readonly runs: number | undefined;
  /** Scenario names; undefined: all. */
  readonly only: readonly string[] | undefined;
  readonly json: string;
  /** Where runs keep files, passed runs' too; undefined: a fresh temporary directory, where only failed runs' files stay. */
  readonly keep: string | undefined;
  readonly hostile: boolean;
}

/** A bad command line; the message says what to write instead. */
export class ChaosUsageError extends Error {
  override readonly name = 'ChaosUsageError';
  readonly code = 'usage';
}

const usage = 'usage: npm run chaos -- [--seed N] [--runs N] [--only NAME,NAME] [--json FILE] [--keep DIR] [--no-hostile]';

/**
 * Parses the command line. `--seed` defaults to 1 (a campaign is
 * reproducible unless asked otherwise), `--json` to `chaos-results.json`
 * in `cwd`. Throws {@link ChaosUsageError}.
 */
export function parseFlags(argv: readonly string[], cwd: string, known: readonly string[]): ChaosFlags {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { seed: { type: 'string' }, runs: { type: 'string' }, only: { type: 'string' }, json: { type: 'string' }, keep: { type: 'string' }, 'no-hostile': { type: 'boolean', default: false } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new ChaosUsageError(`${err instanceof Error ? err.message : String(err)}\n${usage}`);
  }
  const whole = (name: string, text: string | undefined, min: number): number | undefined => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min) throw new ChaosUsageError(`--${name} ${JSON.stringify(text)}: give a whole number of at least ${min}\n${usage}`);
    return n;
  };
  const only = values.only?.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const unknown = (only ?? []).filter((name) => !known.includes(name));
  if (unknown.length > 0) throw new ChaosUsageError(`--only: no scenario ${unknown.map((n) => JSON.stringify(n)).join(', ')}; the scenarios are ${known.join(', ')}`);
  return {
    seed: whole('seed', values.seed, 0) ?? 1,
    runs: whole('runs', values.runs, 1),
    only,
    json: resolve(cwd, values.json ?? 'chaos-results.json'),
    keep: values.keep === undefined ? undefined : resolve(cwd, values.keep),
    hostile: !values['no-hostile'],
  };
}

/** The hostile-input campaign's entry point, as chaos/hostile/campaign.ts exports it. */
type HostileCampaign = (options?: { readonly log?: (line: string) => void }) => Promise<HostileCounts>;

/** Where the hostile-input campaign lives (another engineer's folder). */
export const hostileModule = new URL('./hostile/campaign.ts', import.meta.url);

/**
 * Runs `runHostileCampaign` of `module` (default chaos/hostile/campaign.ts),
 * or says that the module is not there yet (`missing`: not a failure) or
 * could not run (`failed`: a failure). Loaded when called, so the campaign
 * runs without it.
 */
export async function runHostile(module: URL = hostileModule, log?: (line: string) => void): Promise<HostileRow> {
  let loaded: { runHostileCampaign?: HostileCampaign };
  try {
    loaded = (await import(module.href)) as { runHostileCampaign?: HostileCampaign };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && String((err as Error).message).includes(module.pathname)) return { status: 'missing', message: `${module.pathname} is not there yet` };
    return { status: 'failed', message: `${module.pathname} did not load: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (typeof loaded.runHostileCampaign !== 'function') return { status: 'failed', message: `${module.pathname} exports no runHostileCampaign()` };
  try {
    return { status: 'ran', counts: await loaded.runHostileCampaign(log !== undefined ? { log } : undefined) };
  } catch (err) {
    return { status: 'failed', message: `runHostileCampaign() threw: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/** Runs the campaign; returns the exit code. */
export async function main(argv: readonly string[], io: ChaosIO, available: readonly Scenario[] = scenarios()): Promise<number> {
  let flags: ChaosFlags;
  try {
    flags = parseFlags(argv, io.cwd, available.map((s) => s.name));
  } catch (err) {
    if (err instanceof ChaosUsageError) {
      io.stderr.write(`chaos: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const chosen = flags.only === undefined ? available : available.filter((s) => flags.only?.includes(s.name));
  const dir = flags.keep ?? (await mkdtemp(resolve(tmpdir(), 'rollgate-chaos-')));
  io.stderr.write(`chaos: seed ${flags.seed}, ${chosen.length} scenario${chosen.length === 1 ? '' : 's'}, files under ${dir}\n`);
  const result = await runCampaign({
    scenarios: chosen,
    seed: flags.seed,
    ...(flags.runs !== undefined ? { runs: flags.runs } : {}),
    dir,
    keepPassed: flags.keep !== undefined,
    ...(flags.hostile ? { hostile: () => runHostile(hostileModule, (line) => io.stderr.write(`hostile: ${line}\n`)) } : {}),
    log: (message) => io.stderr.write(`${message}\n`),
  });
  io.stdout.write(formatTable(result));
  // Runs that passed left nothing behind; a temporary directory with no failed run in it goes too.
  if (flags.keep === undefined && result.rows.every((r) => r.results.every((x) => x.logs === undefined))) await rm(dir, { recursive: true, force: true });
  await writeFile(flags.json, `${JSON.stringify(result, null, 2)}\n`);
  io.stderr.write(`chaos: results in ${flags.json}\n`);
  return result.failures.length === 0 ? 0 : 1;
}
