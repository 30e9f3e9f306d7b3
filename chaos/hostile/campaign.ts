/**
 * The hostile input campaign (issue 10): every case of ./cases.ts through
 * validate, plan, `run --once` and the webhook receiver, counting crashes,
 * partial applies and messages without a location, which must all be 0.
 *
 * How each case runs
 * - Repository cases are materialised into a temporary directory and run
 *   through the loader (`loadRepository`), then `rollgate validate DIR` and
 *   `rollgate plan --repo DIR --kubeconfig K` through the CLI's own `main`
 *   in-process, against kube-sim (clusters `staging` and `prod`, holding the
 *   base repository's objects; one simulation per lane of three, which run
 *   cases side by side so that Git's waits overlap and every write is still
 *   traced to the one case whose lane saw it). Cases marked `spawn` also run both
 *   commands as `node agent/cli/main.ts` child processes (as uid 65534 for
 *   permission-denied files, which root reads regardless). Every case the
 *   loader refuses and Git can hold (no FIFOs, devices, empty folders or
 *   permission bits) is committed and run through `rollgate run --once
 *   --repo DIR` in-process, with kube-sim's `onRequest` observing writes.
 * - Delivery cases are written byte for byte on fresh connections to a
 *   `createWebhookReceiver` behind a real node:http server on loopback; one
 *   receiver serves the whole campaign, so each case also checks that the
 *   ones before it left it working.
 *
 * The rules, precisely
 * - Crash: a stage throws out of the function under test; the CLI's
 *   catch-all line (`rollgate <command>: error: …`, printed by main.ts for
 *   an exception no command expected) appears; an exit code outside the
 *   contract (validate 0/1, plan 0/1/3, run --once 0/1/3; a child killed by
 *   a signal or past its deadline); a stack-trace line (`    at …(`) in any
 *   output; a problem of code `internal`; an engine error surfacing as a
 *   message (`Maximum call stack size exceeded`, `Cannot read properties
 *   of`, `is not a function`, `Invalid array length`…), which means
 *   something ran out of stack or hit a bug and someone printed it as if
 *   it were a finding; an uncaught exception or unhandled rejection in this
 *   process while the case runs. For the receiver: any 5xx, no answer to a
 *   complete request within 10 s, or the server no longer answering a probe
 *   after the case.
 * - Partial apply: any create, update, patch or delete (Leases and Events
 *   excluded) that reaches kube-sim while `run --once` runs a repository the
 *   loader refused; or `run --once` not exiting 1 for it. For the receiver,
 *   the same failure is acting on refused input: `onEvent` called for a
 *   delivery that must not trigger it, or more than once for a replay.
 * - Message without a location. A problem is located when its `file` is a
 *   repository-relative path (not empty, not absolute, no `.` or `..`
 *   segment) that exists in the case's tree (`lstat`, so a symlink or FIFO
 *   counts), or is `rollgate.yaml` for a missing configuration; its line and
 *   column are whole numbers from 1; and, when the file is a regular file
 *   root can read, the line is at most its line count + 1. Every line
 *   `rollgate validate` prints on stdout (and `rollgate plan` for a refused
 *   repository) must be exactly `formatProblemLine` of one such problem of
 *   the loader, one terminal line each (no raw control characters, so a
 *   hostile file name or value cannot start a second, unlocated line), and
 *   stderr holds only the one summary line the contract names. Every
 *   error-level log line of `run --once` for a refused repository must be
 *   one of those problem lines. For the receiver: a refusal (any 4xx) must
 *   carry a JSON body with a non-empty `message`, except the 400 and 431
 *   that node:http itself sends for requests the cases mark `transport`.
 *
 * Expectation misses (validate accepting a case meant to be refused, a
 * valid delivery not passed on) are not among the three counts; they are
 * reported beside them so a reader can judge each.
 *
 * `node chaos/hostile/campaign.ts` prints the table and exits 1 when any
 * must-be-zero count is not 0.
 */
import { execFile, spawn } from 'node:child_process';
import { chmod, lstat, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { main } from '../../agent/cli/main.ts';
import { formatProblemLine, loadRepository, type LoadResult, type Problem } from '../../agent/manifests/index.ts';
import { createWebhookReceiver, type ForgeEvent } from '../../agent/webhook/index.ts';
import { startSimulation, type Simulation } from '../../sim/simulation.ts';
import { baseRepository, deliveryCases, repositoryCases, type DeliveryCase, type FileSpec, type RawRequest, type RepositoryCase } from './cases.ts';

/** What {@link runHostileCampaign} found. */
export interface HostileCampaignResult {
  /** Repository and delivery cases run. */
  cases: number;
  crashes: number;
  partialApplies: number;
  unlocated: number;
  /** `<case>: <rule> (<detail>)` for every case that crashed, partially applied or gave a message without a location. */
  failures: readonly string[];
}

type Finding = 'crash' | 'partial' | 'unlocated';

interface CaseReport {
  readonly name: string;
  readonly group: string;
  /** `refused`/`accepted` for repositories (by the loader), the HTTP statuses for deliveries. */
  readonly outcome: string;
  readonly findings: readonly { readonly kind: Finding; readonly detail: string }[];
  readonly misses: readonly string[];
  readonly ms: number;
}

interface Detailed {
  readonly reports: readonly CaseReport[];
  readonly stageMs: Readonly<Record<string, number>>;
}

const checkout = fileURLToPath(new URL('../../', import.meta.url));
const cliMain = join(checkout, 'agent/cli/main.ts');
const nobody = 65534;
const laneCount = 3;
const writeVerbs = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);
const stackLine = /^\s+at .+[:(]/m;
const catchAll = /^rollgate \w+: error: /m;
// What V8 says when code, not content, is at fault; none of it belongs in a message about a repository.
const engineError = /maximum call stack size exceeded|cannot read properties of (undefined|null)|is not a function\b|is not iterable|invalid array length|invalid string length|heap out of memory|cannot convert undefined or null|(undefined|null) is not an object/i;
// Raw C0 controls (tab aside), DEL and C1 controls: each would end or rewrite the line in a terminal or a log.
// eslint-disable-next-line no-control-regex -- control characters are exactly what this looks for
const rawControl = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029]/u;

/**
 * Runs every hostile case through validate, plan, the agent and the
 * webhook receiver; see the module comment for the rules. Takes about a
 * minute; writes only under a temporary directory it removes.
 *
 * @param options.log - Called with one line per case as it finishes. Default: nothing.
 */
export async function runHostileCampaign(options?: { readonly log?: (line: string) => void }): Promise<{ cases: number; crashes: number; partialApplies: number; unlocated: number; failures: readonly string[] }> {
  return summarise((await runDetailed(options?.log ?? (() => undefined))).reports);
}

function summarise(reports: readonly CaseReport[]): HostileCampaignResult {
  const count = (kind: Finding): number => reports.filter((r) => r.findings.some((f) => f.kind === kind)).length;
  const failures = reports.flatMap((r) => r.findings.map((f) => `${r.name}: ${f.kind} (${f.detail})`));
  return { cases: reports.length, crashes: count('crash'), partialApplies: count('partial'), unlocated: count('unlocated'), failures };
}

/** Catches what escapes every handler while a case runs, so it is counted against that case rather than ending the campaign. */
function escapeCatcher(): { take: () => string[]; stop: () => void } {
  let caught: string[] = [];
  const onError = (err: unknown): void => {
    caught.push(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
  };
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onError);
  return {
    take: () => {
      const out = caught;
      caught = [];
      return out;
    },
    stop: () => {
      process.off('uncaughtException', onError);
      process.off('unhandledRejection', onError);
    },
  };
}

async function runDetailed(log: (line: string) => void): Promise<Detailed> {
  const root = await mkdtemp(join(tmpdir(), 'rollgate-hostile-'));
  // Child processes run as nobody for the permission cases; they must reach the repositories.
  await chmod(root, 0o755);
  const escapes = escapeCatcher();
  const stageMs: Record<string, number> = {};
  const timed = async <T>(stage: string, work: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await work();
    } finally {
      stageMs[stage] = (stageMs[stage] ?? 0) + (performance.now() - started);
    }
  };
  // Three lanes, each with its own kube-sim, so that the agent's Git work in one overlaps the others' without mixing up whose writes are whose.
  const lanes: Stage[] = [];
  const sims: Simulation[] = [];
  const reports: CaseReport[] = [];
  try {
    for (let i = 0; i < laneCount; i++) {
      let writes: string[] = [];
      const sim = await startSimulation({
        clusters: ['staging', 'prod'],
        onRequest: (r) => {
          if (writeVerbs.has(r.verb) && r.resource !== 'leases' && r.resource !== 'events') writes.push(`${r.cluster} ${r.verb} ${r.resource}${r.namespace !== '' ? ` -n ${r.namespace}` : ''} ${r.name}`.trim());
        },
      });
      sims.push(sim);
      const kubeconfig = join(root, `kubeconfig-${i}`);
      await sim.writeKubeconfig(kubeconfig);
      // Readable to the child processes that run as nobody.
      await chmod(kubeconfig, 0o644);
      await loadBase(sim, join(root, `base-${i}`));
      const takeWrites = (): string[] => {
        const taken = writes;
        writes = [];
        return taken;
      };
      lanes.push({ sim, kubeconfig, root, timed, takeWrites, lane: i });
    }
    await controlRun(lanes[0] as Stage);

    const queue = repositoryCases();
    const inFlight = new Set<string>();
    const work = async (stage: Stage): Promise<void> => {
      for (let testCase = queue.shift(); testCase !== undefined; testCase = queue.shift()) {
        const started = performance.now();
        inFlight.add(testCase.name);
        const report = await runRepositoryCase(testCase, stage).catch((err: unknown) => ({ outcome: 'aborted', findings: [{ kind: 'crash' as const, detail: `campaign step threw: ${describe(err)}` }], misses: [] }));
        // An escaped error names no case: it counts against every case running when it was caught.
        const escaped = escapes.take();
        const findings = [...report.findings, ...escaped.map((e) => ({ kind: 'crash' as const, detail: `escaped while ${[...inFlight].join(' and ')} ran: ${e}` }))];
        inFlight.delete(testCase.name);
        reports.push({ name: testCase.name, group: testCase.group, outcome: report.outcome, findings, misses: report.misses, ms: performance.now() - started });
        log(line(reports.at(-1) as CaseReport));
      }
    };
    await Promise.all(lanes.map(work));
    await timed('receiver', async () => {
      for (const report of await runDeliveries(deliveryCases(), escapes)) {
        reports.push(report);
        log(line(report));
      }
    });
  } finally {
    escapes.stop();
    for (const sim of sims) await sim.close();
    await rm(root, { recursive: true, force: true }).catch(() => undefined);
  }
  return { reports, stageMs };
}

function line(report: CaseReport): string {
  const findings = report.findings.map((f) => `${f.kind}: ${f.detail}`);
  const misses = report.misses.map((m) => `miss: ${m}`);
  return `${report.name} [${report.group}] ${report.outcome} ${Math.round(report.ms)}ms${[...findings, ...misses].length > 0 ? ` — ${[...findings, ...misses].join('; ')}` : ''}`;
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

// ---------------------------------------------------------------------------
// Repositories

interface Stage {
  readonly lane: number;
  readonly sim: Simulation;
  readonly kubeconfig: string;
  readonly root: string;
  readonly timed: <T>(stage: string, work: () => Promise<T>) => Promise<T>;
  readonly takeWrites: () => string[];
}

async function materialize(files: Readonly<Record<string, FileSpec>>, dir: string): Promise<void> {
  for (const [path, content] of Object.entries(baseRepository)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  for (const [path, spec] of Object.entries(files)) {
    const abs = join(dir, path);
    await mkdir(dirname(abs), { recursive: true });
    // Whatever the base has at this path goes first: a symlink, FIFO or folder cannot be made over a file.
    if (typeof spec !== 'string' && !(spec instanceof Uint8Array) && !(spec !== null && 'directory' in spec)) await rm(abs, { recursive: true, force: true });
    if (spec === null) continue;
    if (typeof spec === 'string' || spec instanceof Uint8Array) await writeFile(abs, spec);
    else if ('symlink' in spec) await symlink(spec.symlink, abs);
    else if ('fifo' in spec) await run('mkfifo', [abs]);
    else if ('device' in spec) await run('mknod', [abs, 'c', '1', '3']);
    else if ('directory' in spec) {
      await mkdir(abs, { recursive: true });
      if (spec.mode !== undefined) await chmod(abs, spec.mode);
    } else if ('generate' in spec) await writeFile(abs, spec.generate());
    else {
      await writeFile(abs, spec.content);
      await chmod(abs, spec.mode);
    }
  }
}

/** Whether Git can hold the case as it is on disk: no special files, empty folders or permission bits. */
function gitable(testCase: RepositoryCase): boolean {
  return Object.values(testCase.files).every((spec) => spec === null || typeof spec === 'string' || spec instanceof Uint8Array || 'symlink' in spec || 'generate' in spec);
}

function run(file: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, [...args], { cwd: options.cwd, env: options.env ?? process.env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => (err ? reject(new Error(`${file} ${args.join(' ')}: ${stderr.trim() || err.message}`)) : resolve(stdout)));
  });
}

const gitEnv = (home: string): NodeJS.ProcessEnv => ({
  PATH: process.env['PATH'] ?? '/usr/bin:/bin',
  HOME: home,
  LANG: 'C',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_TERMINAL_PROMPT: '0',
  GIT_AUTHOR_NAME: 'Hostile Campaign',
  GIT_AUTHOR_EMAIL: 'campaign@example.com',
  GIT_COMMITTER_NAME: 'Hostile Campaign',
  GIT_COMMITTER_EMAIL: 'campaign@example.com',
});

/** Loads the base repository's objects into kube-sim, so the base plans as "no changes" and `run --once` of it writes nothing. */
async function loadBase(sim: Simulation, dir: string): Promise<void> {
  await materialize({}, dir);
  const base = await loadRepository(dir);
  if (!base.valid) throw new Error(`the campaign's base repository is invalid: ${base.problems.map((p) => formatProblemLine(p)).join('; ')}`);
  for (const cluster of base.clusters) {
    const objects = [...base.resources.filter((r) => r.cluster === cluster).map((r) => r.object), ...base.targets.filter((t) => t.cluster === cluster).map((t) => t.object)];
    const report = sim.load(cluster, objects);
    if (report.errors.length > 0) throw new Error(`kube-sim refused the base objects: ${report.errors.join('; ')}`);
  }
}

interface Captured {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function collector(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  return {
    stream: new Writable({
      write(chunk: Buffer | string, _encoding, callback) {
        chunks.push(String(chunk));
        callback();
      },
    }),
    text: () => chunks.join(''),
  };
}

/** Runs `rollgate <args>` through the CLI's `main` in this process; past `deadlineMs` it is asked to stop and reported as hung. */
async function inProcess(args: readonly string[], env: NodeJS.ProcessEnv, cwd: string, deadlineMs: number): Promise<Captured & { hung: boolean }> {
  const out = collector();
  const err = collector();
  let stop = (): void => undefined;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    stop();
  }, deadlineMs);
  try {
    const code = await main(args, { stdout: out.stream, stderr: err.stream, env, cwd, stopped });
    return { code, stdout: out.text(), stderr: err.text(), hung };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `node agent/cli/main.ts <args>` as a child process (as `uid` when given), never blocking this process's event loop: kube-sim is served from it. */
function spawned(args: readonly string[], cwd: string, uid: number | undefined, deadlineMs: number): Promise<Captured & { signal: string | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliMain, ...args], {
      cwd,
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: cwd, LANG: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(uid !== undefined ? { uid, gid: uid } : {}),
      timeout: deadlineMs,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', (err) => resolve({ code: -1, stdout, stderr: `${stderr}${describe(err)}`, signal: null }));
    child.once('close', (code, signal) => resolve({ code: code ?? -1, stdout, stderr, signal }));
  });
}

function lines(text: string): string[] {
  return text === '' ? [] : text.replace(/\n$/, '').split('\n');
}

/** Checks one problem against the location rule; returns why it is unlocated, or undefined. `lineCounts` caches each file's line count. */
async function unlocatedBecause(problem: Problem, dir: string, lineCounts: Map<string, Promise<number | undefined>>): Promise<string | undefined> {
  const { file, line: row, column } = problem;
  if (typeof file !== 'string' || file === '' || file.startsWith('/') || file.split('/').some((s) => s === '' || s === '.' || s === '..')) return `file ${JSON.stringify(file)} is not a repository path`;
  if (!Number.isInteger(row) || row < 1 || !Number.isInteger(column) || column < 1) return `position ${row}:${column} of ${file}`;
  const info = await lstat(join(dir, file)).catch(() => undefined);
  if (info === undefined) return file === 'rollgate.yaml' && problem.code === 'config-missing' ? undefined : `${file} does not exist`;
  if (info.isFile()) {
    let counted = lineCounts.get(file);
    if (counted === undefined) {
      counted = readFile(join(dir, file)).then(
        (text) => text.reduce((n, byte) => (byte === 0x0a ? n + 1 : n), 1),
        () => undefined,
      );
      lineCounts.set(file, counted);
    }
    const count = await counted;
    if (count !== undefined && row > count + 1) return `line ${row} is past the end of ${file} (${count} lines)`;
  }
  return undefined;
}

interface RepoReport {
  outcome: string;
  findings: { kind: Finding; detail: string }[];
  misses: string[];
}

/** The checks every command's output gets: exit code in the contract, no stack trace, no catch-all line, no engine error. */
function crashChecks(what: string, result: Captured & { hung?: boolean; signal?: string | null }, codes: readonly number[], findings: RepoReport['findings']): void {
  if (result.hung === true) findings.push({ kind: 'crash', detail: `${what} did not finish before its deadline` });
  if (result.signal !== undefined && result.signal !== null) findings.push({ kind: 'crash', detail: `${what} killed by ${result.signal}` });
  if (!codes.includes(result.code)) findings.push({ kind: 'crash', detail: `${what} exited ${result.code}: ${firstLine(result.stderr)}` });
  const output = result.stdout + result.stderr;
  if (stackLine.test(output)) findings.push({ kind: 'crash', detail: `${what} printed a stack trace` });
  if (catchAll.test(result.stderr)) findings.push({ kind: 'crash', detail: `${what}: ${firstLine(catchAll.exec(result.stderr) ? result.stderr.slice(result.stderr.search(catchAll)) : '')}` });
  if (engineError.test(output)) findings.push({ kind: 'crash', detail: `${what} printed an engine error: ${firstLine(output.slice(Math.max(0, output.search(engineError) - 80)))}` });
}

function firstLine(text: string): string {
  const first = text.trim().split('\n', 1)[0] ?? '';
  return first.length > 200 ? `${first.slice(0, 200)}…` : first;
}

/** Checks that printed problem lines are exactly the loader's located problems, one terminal line each. */
function problemLineChecks(what: string, printed: readonly string[], expected: readonly string[], findings: RepoReport['findings']): void {
  const wanted = new Set(expected);
  for (const text of printed) {
    if (rawControl.test(text)) findings.push({ kind: 'unlocated', detail: `${what} printed a raw control character: ${JSON.stringify(text.slice(0, 120))}` });
    else if (!wanted.has(text)) findings.push({ kind: 'unlocated', detail: `${what} printed a line that is not a located problem: ${JSON.stringify(text.slice(0, 160))}` });
  }
  if (printed.length !== expected.length) findings.push({ kind: 'unlocated', detail: `${what} printed ${printed.length} lines for ${expected.length} problems` });
}

async function runRepositoryCase(testCase: RepositoryCase, stage: Stage): Promise<RepoReport> {
  const dir = join(stage.root, 'repos', testCase.name.replace(/[^a-z0-9-]/gi, '_'));
  await mkdir(dir, { recursive: true });
  await chmod(join(stage.root, 'repos'), 0o755);
  await chmod(dir, 0o755);
  await materialize(testCase.files, dir);
  const findings: RepoReport['findings'] = [];
  const misses: string[] = [];

  // The loader.
  let loaded: LoadResult | undefined;
  try {
    loaded = await stage.timed('loader', () => loadRepository(dir));
  } catch (err) {
    findings.push({ kind: 'crash', detail: `loadRepository threw ${describe(err)}` });
  }
  const problemLines: string[] = [];
  const lineCounts = new Map<string, Promise<number | undefined>>();
  if (loaded !== undefined) {
    for (const p of loaded.problems) {
      if (p.code === 'internal') findings.push({ kind: 'crash', detail: `internal problem: ${formatProblemLine(p)}` });
      else if (engineError.test(p.message)) findings.push({ kind: 'crash', detail: `engine error as a problem: ${formatProblemLine(p).slice(0, 200)}` });
      const why = await unlocatedBecause(p, dir, lineCounts);
      if (why !== undefined) findings.push({ kind: 'unlocated', detail: `loader: ${why}` });
      problemLines.push(formatProblemLine(p));
    }
  }
  const refused = loaded === undefined || !loaded.valid;
  const runsAsNobody = testCase.spawn === 'nobody';
  if (!runsAsNobody && (testCase.expect === 'invalid') !== refused) misses.push(`validate ${refused ? 'refused' : 'accepted'} it (expected ${testCase.expect})`);

  // validate, in-process.
  const validate = await stage.timed('validate', () => inProcess(['validate', dir], {}, stage.root, 60_000));
  crashChecks('validate', validate, [0, 1], findings);
  if (loaded !== undefined) {
    problemLineChecks('validate', lines(validate.stdout), problemLines.map((l) => `${dir}/${l}`), findings);
    const summary = lines(validate.stderr);
    if (summary.length !== 1) findings.push({ kind: 'unlocated', detail: `validate wrote ${summary.length} lines to stderr, the contract says one summary: ${JSON.stringify(validate.stderr.slice(0, 160))}` });
    if (validate.code !== (refused ? 1 : 0)) findings.push({ kind: 'crash', detail: `validate exited ${validate.code} for a repository the loader ${refused ? 'refused' : 'accepted'}` });
  }

  // plan, in-process.
  const plan = await stage.timed('plan', () => inProcess(['plan', '--repo', dir, '--kubeconfig', stage.kubeconfig], {}, stage.root, 60_000));
  crashChecks('plan', plan, [0, 1, 3], findings);
  if (loaded !== undefined && refused) {
    problemLineChecks('plan', lines(plan.stdout), problemLines, findings);
    if (plan.code !== 1) findings.push({ kind: 'partial', detail: `plan exited ${plan.code} for a refused repository` });
  }

  // The representative subset, as a user runs it.
  if (testCase.spawn !== undefined) {
    const uid = runsAsNobody ? nobody : undefined;
    const child = await stage.timed('spawned', () => spawned(['validate', dir], stage.root, uid, 60_000));
    crashChecks(`spawned validate${runsAsNobody ? ' as nobody' : ''}`, child, [0, 1], findings);
    for (const text of lines(child.stdout)) {
      if (rawControl.test(text) || !/^.+:\d+:\d+: ./.test(text)) findings.push({ kind: 'unlocated', detail: `spawned validate printed ${JSON.stringify(text.slice(0, 160))}` });
    }
    if (!runsAsNobody) problemLineChecks('spawned validate', lines(child.stdout), problemLines.map((l) => `${dir}/${l}`), findings);
    if (runsAsNobody && (testCase.expect === 'invalid') !== (child.code === 1)) misses.push(`validate as nobody exited ${child.code} (expected ${testCase.expect})`);
    const childPlan = await stage.timed('spawned', () => spawned(['plan', '--repo', dir, '--kubeconfig', stage.kubeconfig], stage.root, uid, 60_000));
    crashChecks(`spawned plan${runsAsNobody ? ' as nobody' : ''}`, childPlan, [0, 1, 3], findings);
  }

  // run --once of a refused repository writes nothing.
  if (refused && gitable(testCase)) {
    const env = gitEnv(join(stage.root, 'home'));
    await stage.timed('git', async () => {
      await run('git', ['init', '--quiet', '--initial-branch=main', dir], { env });
      await run('git', ['-C', dir, 'add', '--all'], { env });
      await run('git', ['-C', dir, 'commit', '--quiet', '--no-verify', '-m', testCase.name], { env });
    });
    const dataDir = join(stage.root, 'data', testCase.name.replace(/[^a-z0-9-]/gi, '_'));
    stage.takeWrites();
    const once = await stage.timed('run --once', () =>
      inProcess(['run', '--once', '--repo', dir, '--kubeconfig', stage.kubeconfig], { ...env, ROLLGATE_DATA_DIR: dataDir, ROLLGATE_LISTEN: '', ROLLGATE_LOG_LEVEL: 'info' }, stage.root, 60_000),
    );
    const written = stage.takeWrites();
    crashChecks('run --once', once, [0, 1, 3], findings);
    if (written.length > 0) findings.push({ kind: 'partial', detail: `run --once wrote to the cluster for a refused repository: ${written.slice(0, 3).join(', ')}` });
    if (once.code !== 1) findings.push({ kind: 'partial', detail: `run --once exited ${once.code} for a refused repository` });
    const wanted = new Set(problemLines);
    for (const record of logRecords(once.stderr)) {
      if (record.level < 50) continue;
      if (record.msg === 'reconcile failed' || record.msg === 'the executor failed') findings.push({ kind: 'crash', detail: `run --once logged "${record.msg}": ${JSON.stringify(record.err ?? '').slice(0, 160)}` });
      else if (!wanted.has(record.msg)) findings.push({ kind: 'unlocated', detail: `run --once logged an error that is not a located problem: ${JSON.stringify(record.msg.slice(0, 160))}` });
    }
  }
  await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  return { outcome: refused ? 'refused' : 'accepted', findings, misses };
}

interface LogRecord {
  readonly level: number;
  readonly msg: string;
  readonly err?: unknown;
}

function logRecords(text: string): LogRecord[] {
  const out: LogRecord[] = [];
  for (const raw of lines(text)) {
    try {
      const parsed = JSON.parse(raw) as { level?: unknown; msg?: unknown; err?: unknown };
      out.push({ level: typeof parsed.level === 'number' ? parsed.level : 0, msg: typeof parsed.msg === 'string' ? parsed.msg : '', err: parsed.err });
    } catch {
      // Not a log record: the catch-all and stack-trace checks see it.
      out.push({ level: 50, msg: raw });
    }
  }
  return out;
}

/**
 * The base repository, unchanged, through plan and `run --once`: it must
 * plan without errors and leave the cluster alone, or the campaign's own
 * set-up is wrong and its counts mean nothing.
 */
async function controlRun(stage: Stage): Promise<void> {
  const dir = join(stage.root, 'control');
  await materialize({}, dir);
  const env = gitEnv(join(stage.root, 'home'));
  await run('git', ['init', '--quiet', '--initial-branch=main', dir], { env });
  await run('git', ['-C', dir, 'add', '--all'], { env });
  await run('git', ['-C', dir, 'commit', '--quiet', '-m', 'base'], { env });
  const plan = await inProcess(['plan', '--repo', dir, '--kubeconfig', stage.kubeconfig], {}, stage.root, 60_000);
  if (plan.code !== 0) throw new Error(`control: plan of the base repository exited ${plan.code}: ${plan.stderr}${plan.stdout}`);
  stage.takeWrites();
  const once = await inProcess(['run', '--once', '--repo', dir, '--kubeconfig', stage.kubeconfig], { ...env, ROLLGATE_DATA_DIR: join(stage.root, 'data', 'control'), ROLLGATE_LISTEN: '' }, stage.root, 120_000);
  if (once.code !== 0 || once.hung) throw new Error(`control: run --once of the base repository exited ${once.code}: ${once.stderr.slice(-2000)}`);
}

// ---------------------------------------------------------------------------
// Deliveries

const secrets = { githubSecret: 'campaign-github-secret-3b9f', gitlabToken: 'campaign-gitlab-token-8c21' } as const;

interface Answer {
  readonly status: number;
  readonly body: string;
  /** The answer came from node:http itself (no JSON), not from the receiver. */
  readonly raw: string;
  readonly closedWithoutAnswer: boolean;
  readonly timedOut: boolean;
}

/** Writes one request byte for byte and reads the answer until the server closes the connection. */
function exchange(port: number, request: RawRequest): Promise<Answer> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let timedOut = false;
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', () => undefined);
    socket.setTimeout(10_000, () => {
      timedOut = true;
      socket.destroy();
    });
    socket.on('close', () => {
      const raw = Buffer.concat(chunks).toString('latin1');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);
      const split = raw.indexOf('\r\n\r\n');
      resolve({ status, body: split < 0 ? '' : Buffer.from(raw.slice(split + 4), 'latin1').toString('utf8'), raw, closedWithoutAnswer: status === 0 && !timedOut, timedOut });
    });
    const framing = request.framing ?? 'length';
    const head = [`${request.method ?? 'POST'} ${request.path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
    for (const [name, value] of request.headers) head.push(`${name}: ${value}`);
    if (framing === 'length') head.push(`Content-Length: ${request.body.length}`);
    else if (typeof framing === 'number') head.push(`Content-Length: ${framing}`);
    else if (framing === 'chunked') head.push('Transfer-Encoding: chunked');
    let body: Buffer = Buffer.from(request.body);
    if (framing === 'chunked') {
      const parts: Buffer[] = [];
      for (let at = 0; at < body.length; at += 64) {
        const piece = body.subarray(at, at + 64);
        parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
      }
      parts.push(Buffer.from('0\r\n\r\n'));
      body = Buffer.concat(parts);
    }
    if (request.truncateAt !== undefined) body = body.subarray(0, request.truncateAt);
    socket.write(Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'utf8'), body]));
    if (request.truncateAt !== undefined) socket.end();
  });
}

async function runDeliveries(cases: readonly DeliveryCase[], escapes: { take: () => string[] }): Promise<CaseReport[]> {
  const events: ForgeEvent[] = [];
  const logger = pino({ level: 'debug' }, new Writable({ write: (_c, _e, callback) => callback() }));
  const receiver = createWebhookReceiver({ github: { secret: secrets.githubSecret }, gitlab: { token: secrets.gitlabToken }, logger, onEvent: (e) => void events.push(e) });
  const server: Server = createServer((req, res) => {
    if (req.url === '/github') return receiver.github(req, res);
    if (req.url === '/gitlab') return receiver.gitlab(req, res);
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the receiver has no port');
  const port = address.port;
  const reports: CaseReport[] = [];
  try {
    // Control: a plain signed push is passed on, so a refusal counted below is the receiver's, not the harness's.
    const before = events.length;
    const control = await exchange(port, deliveryControl());
    await receiver.idle();
    if (control.status !== 202 || events.length !== before + 1) throw new Error(`control: a valid signed push got ${control.status} and ${events.length - before} events`);

    for (const testCase of cases) {
      const started = performance.now();
      const findings: { kind: Finding; detail: string }[] = [];
      const misses: string[] = [];
      const eventsBefore = events.length;
      const answers: Answer[] = [];
      const requests = testCase.requests(secrets);
      for (const request of requests) {
        const answer = await exchange(port, request);
        answers.push(answer);
        const complete = request.truncateAt === undefined;
        if (answer.status >= 500) findings.push({ kind: 'crash', detail: `answered ${answer.status}: ${firstLine(answer.body)}` });
        if (answer.timedOut && complete) findings.push({ kind: 'crash', detail: 'no answer within 10 s' });
        if (answer.closedWithoutAnswer && complete && request.transport !== true) findings.push({ kind: 'crash', detail: 'connection closed without an answer' });
        if (answer.status >= 400 && answer.status < 500) {
          const fromNode = request.transport === true && (answer.status === 400 || answer.status === 431) && !/content-type: application\/json/i.test(answer.raw);
          if (!fromNode && !hasMessage(answer.body)) findings.push({ kind: 'unlocated', detail: `${answer.status} without a message: ${JSON.stringify(answer.body.slice(0, 120))}` });
        }
      }
      await receiver.idle();
      const passedOn = events.length - eventsBefore;
      const allowed = testCase.expect === 'accept-once' || testCase.expect === 'at-most-once' ? 1 : 0;
      if (passedOn > allowed) findings.push({ kind: 'partial', detail: `onEvent called ${passedOn} times (at most ${allowed} allowed)` });
      const first = answers[0];
      if (testCase.expect === 'refuse' && (first === undefined || first.status < 400 || first.status >= 500)) misses.push(`expected a 4xx, got ${first?.status ?? 'nothing'}`);
      if (testCase.expect === 'ignore' && first !== undefined && first.status !== 204 && first.status !== 200) misses.push(`expected 200 or 204, got ${first.status}`);
      if (testCase.expect === 'accept-once' && (first?.status !== 202 || passedOn !== 1)) misses.push(`expected 202 and one event, got ${first?.status ?? 'nothing'} and ${passedOn}`);
      // The server must still answer after whatever the case did.
      const probe = await exchange(port, { method: 'GET', path: '/github', headers: [], body: new Uint8Array(0), framing: 'none' });
      if (probe.status !== 405) findings.push({ kind: 'crash', detail: `the receiver stopped answering (probe got ${probe.status || 'nothing'})` });
      for (const e of escapes.take()) findings.push({ kind: 'crash', detail: `escaped: ${e}` });
      reports.push({ name: testCase.name, group: `webhook-${testCase.forge}`, outcome: answers.map((a) => a.status || 'none').join(','), findings, misses, ms: performance.now() - started });
    }
  } finally {
    await receiver.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return reports;
}

function hasMessage(body: string): boolean {
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    return typeof parsed.message === 'string' && parsed.message.trim() !== '';
  } catch {
    return false;
  }
}

function deliveryControl(): RawRequest {
  const [request] = deliveryCases()
    .find((c) => c.name === 'gh-no-content-type')
    ?.requests(secrets) ?? [];
  if (request === undefined) throw new Error('control delivery missing');
  return { ...request, headers: [...request.headers, ['Content-Type', 'application/json']] };
}

// ---------------------------------------------------------------------------
// The runnable entry

function table(detailed: Detailed): string {
  const { reports, stageMs } = detailed;
  const groups = [...new Set(reports.map((r) => r.group))];
  const rows = groups.map((group) => {
    const of = reports.filter((r) => r.group === group);
    const has = (kind: Finding): number => of.filter((r) => r.findings.some((f) => f.kind === kind)).length;
    const refused = of.filter((r) => r.outcome === 'refused').length;
    return [group, String(of.length), group.startsWith('webhook') ? '-' : String(refused), String(has('crash')), String(has('partial')), String(has('unlocated')), String(of.filter((r) => r.misses.length > 0).length)];
  });
  const total = summarise(reports);
  rows.push(['total', String(total.cases), '', String(total.crashes), String(total.partialApplies), String(total.unlocated), String(reports.filter((r) => r.misses.length > 0).length)]);
  const header = ['group', 'cases', 'refused', 'crashes', 'partial applies', 'unlocated', 'expectation misses'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const format = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  const out = ['', 'hostile input campaign', format(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(0, -1).map(format), widths.map((w) => '-'.repeat(w)).join('  '), format(rows.at(-1) ?? [])];
  out.push('', `time per stage (s): ${Object.entries(stageMs).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)}`).join(', ')}`);
  if (total.failures.length > 0) out.push('', 'must-be-zero findings:', ...total.failures.map((f) => `  ${f}`));
  const misses = reports.flatMap((r) => r.misses.map((m) => `  ${r.name}: ${m}`));
  if (misses.length > 0) out.push('', 'expectation misses (judge each):', ...misses);
  return `${out.join('\n')}\n`;
}

if (import.meta.main) {
  const started = performance.now();
  const detailed = await runDetailed((text) => process.stderr.write(`${text}\n`));
  process.stdout.write(table(detailed));
  process.stdout.write(`${detailed.reports.length} cases in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  const total = summarise(detailed.reports);
  process.exitCode = total.crashes + total.partialApplies + total.unlocated > 0 ? 1 : 0;
}
