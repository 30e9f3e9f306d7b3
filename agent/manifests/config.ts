/**
 * `rollgate.yaml`: the schema says what may be written; this module checks
 * what a schema cannot (cron expressions, time zones, durations, references,
 * names that must exist, cycles, fields that contradict each other) and
 * builds the typed {@link RepositoryConfig}. It reports every problem it can
 * find and keeps whatever parts are valid, so one run shows all of them.
 */
import cron from 'node-cron';
import { parseDuration } from './duration.ts';
import { targetKinds } from './kinds.ts';
import { isValidBranchName, normalizeReference, referenceProblem } from './paths.ts';
import type { SchemaSet } from './schemas.ts';
import { didYouMean } from './suggest.ts';
import { formatPath, type Locate, type ParsedYaml, type PathSegment } from './yaml.ts';
import {
  tidbComponents,
  type ClusterConfig,
  type DowngradePolicy,
  type FailurePolicy,
  type ForceUpgradePolicy,
  type Gate,
  type JsonValue,
  type PolicyLayer,
  type Position,
  type Problem,
  type ProblemCode,
  type RepositoryConfig,
  type StatusConfig,
  type TargetRule,
  type TidbComponent,
} from './types.ts';

/** The file name of the configuration, at the repository root. */
export const configFile = 'rollgate.yaml';

/** Defaults that apply when `rollgate.yaml` does not say otherwise. */
export const builtinPolicy = {
  suspend: false,
  /** 10 minutes, like a Deployment's progressDeadlineSeconds and Argo Rollouts' default. */
  progressDeadline: 600_000,
  gates: [{ kind: 'podReady' }, { kind: 'rolloutStatus' }] as readonly Gate[],
  downgrade: 'deny' as DowngradePolicy,
  forceUpgrade: 'never' as ForceUpgradePolicy,
  onFailure: 'halt' as FailurePolicy,
} as const;

/** Default status branch. */
export const defaultStatusBranch = 'rollgate/status';
/** Default in-tree status folder. */
export const defaultStatusPath = '.rollgate/status';
/** Default timeout of one HTTP gate request, in ms. */
export const defaultHttpTimeout = 5_000;

type Obj = { readonly [key: string]: JsonValue };

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

class Checker {
  readonly problems: Problem[] = [];
  private readonly file: string;
  private readonly locate: Locate;
  private readonly errorPaths: string[] = [];

  constructor(file: string, locate: Locate) {
    this.file = file;
    this.locate = locate;
  }

  at(path: readonly PathSegment[], part: 'key' | 'value' = 'value'): Position {
    const lc = this.locate(0, path, part);
    return { file: this.file, line: lc.line, column: lc.column };
  }

  report(path: readonly PathSegment[], code: ProblemCode, message: string, part: 'key' | 'value' = 'value'): void {
    const where = formatPath(path);
    this.problems.push({ ...this.at(path, part), code, message: where === '' ? message : `${where}: ${message}` });
  }

  /** Records a schema error, so semantic checks of the same field stay quiet. */
  schemaError(path: readonly PathSegment[], part: 'key' | 'value', message: string): void {
    this.errorPaths.push(JSON.stringify(path).slice(0, -1));
    this.report(path, 'schema', message, part);
  }

  /** Whether a schema error was reported at or below `path`'s ancestors (the value cannot be trusted). */
  broken(path: readonly PathSegment[]): boolean {
    const own = JSON.stringify(path).slice(0, -1);
    return this.errorPaths.some((p) => own === p || own.startsWith(`${p},`) || p.startsWith(`${own},`));
  }
}

function duration(c: Checker, value: unknown, path: readonly PathSegment[], positive: boolean): number | undefined {
  if (typeof value !== 'string' || c.broken(path)) return undefined;
  const ms = parseDuration(value);
  if (ms === undefined) {
    c.report(path, 'bad-duration', `${JSON.stringify(value)} is not a duration; write a whole number and a unit, like 30s, 10m, 2h or 1h30m`);
    return undefined;
  }
  if (positive && ms === 0) {
    c.report(path, 'bad-duration', 'must be longer than 0s');
    return undefined;
  }
  return ms;
}

const cronFieldNames: Record<string, string> = {
  second: 'second',
  minute: 'minute',
  hour: 'hour',
  dayOfMonth: 'day of month',
  month: 'month',
  dayOfWeek: 'day of week',
};

/** Why a maintenance-window schedule is not acceptable, or undefined. Five fields or a macro, checked by node-cron. */
export function cronProblem(expression: string): string | undefined {
  const trimmed = expression.trim();
  const fields = trimmed.split(/\s+/);
  if (!trimmed.startsWith('@') && fields.length !== 5) {
    return `${JSON.stringify(expression)} has ${fields.length} fields; write 5 (minute hour day-of-month month day-of-week), e.g. "0 2 * * 1-5", or a macro such as @daily`;
  }
  if (cron.validate(trimmed)) return undefined;
  const detail = cron.validateDetailed(trimmed).errors[0];
  if (detail === undefined || detail.field === 'expression' || detail.value === undefined) return `${JSON.stringify(expression)} is not a valid cron expression`;
  return `${JSON.stringify(expression)} is not a valid cron expression: ${detail.value} is not a valid ${cronFieldNames[detail.field] ?? detail.field}`;
}

/** Whether `zone` is a time zone this runtime knows (IANA names such as Europe/Berlin, or UTC). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const placeholders = ['namespace', 'name', 'pod'];

function httpUrlProblem(url: string): string | undefined {
  for (const match of url.matchAll(/\{([^}]*)\}/g)) {
    if (!placeholders.includes(match[1] as string)) return `unknown placeholder {${match[1] as string}}; use {namespace}, {name} or {pod}`;
  }
  let parsed: URL;
  try {
    parsed = new URL(url.replace(/\{(namespace|name|pod)\}/g, 'x'));
  } catch {
    return `${JSON.stringify(url)} is not a valid URL`;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return 'must be an http:// or https:// URL';
  // Gate URLs end up in status commits and PR comments (CVE-2021-23135: credentials leaked through messages).
  if (parsed.username !== '' || parsed.password !== '') return 'must not contain credentials: gate URLs are written to status commits and pull-request comments';
  return undefined;
}

function gates(c: Checker, value: unknown, path: readonly PathSegment[]): Gate[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: Gate[] = [];
  value.forEach((item: unknown, i) => {
    const here = [...path, i];
    if (!isObj(item) || c.broken(here)) return;
    const [kind] = Object.keys(item);
    const body = item[kind as string];
    const bodyPath = [...here, kind as string];
    const position = c.at(here);
    if (!isObj(body)) return;
    switch (kind) {
      case 'podReady':
      case 'rolloutStatus':
        out.push({ kind, position });
        return;
      case 'soak': {
        const ms = duration(c, body.duration, [...bodyPath, 'duration'], true);
        if (ms !== undefined) out.push({ kind: 'soak', duration: ms, position });
        return;
      }
      case 'http': {
        const url = body.url;
        if (typeof url !== 'string') return;
        const problem = c.broken([...bodyPath, 'url']) ? undefined : httpUrlProblem(url);
        if (problem !== undefined) {
          c.report([...bodyPath, 'url'], 'invalid-value', problem);
          return;
        }
        const timeout = body.timeout === undefined ? defaultHttpTimeout : duration(c, body.timeout, [...bodyPath, 'timeout'], true);
        if (timeout === undefined) return;
        let expectJSON: { path: (string | number)[]; equals: string | number | boolean | null } | undefined;
        const json = body.expectJSON;
        if (isObj(json) && typeof json.path === 'string') {
          const segments = json.path.split('.');
          if (segments.some((s) => s === '')) {
            c.report([...bodyPath, 'expectJSON', 'path'], 'invalid-value', `${JSON.stringify(json.path)} is not a field path; write keys and indexes separated by dots, like status.health or members.0.ok`);
            return;
          }
          const equals = json.equals;
          if (equals === undefined || (typeof equals === 'object' && equals !== null)) return;
          expectJSON = { path: segments.map((s) => (/^(0|[1-9]\d*)$/.test(s) ? Number(s) : s)), equals };
        }
        const expectStatus = typeof body.expectStatus === 'number' ? body.expectStatus : 200;
        out.push(expectJSON === undefined ? { kind: 'http', url, expectStatus, timeout, position } : { kind: 'http', url, expectStatus, expectJSON, timeout, position });
        return;
      }
      case 'approval': {
        const comment = body.comment === true;
        const file = body.file;
        if (file === undefined && !comment) {
          c.report(bodyPath, 'invalid-value', 'an approval needs "comment: true", a "file", or both', 'key');
          return;
        }
        if (typeof file === 'string') {
          const problem = referenceProblem(file);
          if (problem !== undefined) {
            c.report([...bodyPath, 'file'], 'bad-reference', `${JSON.stringify(file)} ${problem}`);
            return;
          }
          out.push({ kind: 'approval', comment, file: normalizeReference(file), position });
          return;
        }
        out.push({ kind: 'approval', comment, position });
        return;
      }
      case 'maintenanceWindow': {
        const schedule = body.schedule;
        const zone = body.timeZone ?? 'UTC';
        let ok = true;
        if (typeof schedule === 'string' && !c.broken([...bodyPath, 'schedule'])) {
          const problem = cronProblem(schedule);
          if (problem !== undefined) {
            c.report([...bodyPath, 'schedule'], 'bad-cron', problem);
            ok = false;
          }
        }
        if (typeof zone === 'string' && !isTimeZone(zone)) {
          c.report([...bodyPath, 'timeZone'], 'bad-time-zone', `unknown time zone ${JSON.stringify(zone)}; use an IANA name such as Europe/Berlin, or UTC`);
          ok = false;
        }
        const ms = duration(c, body.duration, [...bodyPath, 'duration'], true);
        if (ok && ms !== undefined && typeof schedule === 'string' && typeof zone === 'string') {
          out.push({ kind: 'maintenanceWindow', schedule: schedule.trim(), duration: ms, timeZone: zone, position });
        }
        return;
      }
      default:
        return;
    }
  });
  return out;
}

function policyLayer(c: Checker, value: unknown, path: readonly PathSegment[]): PolicyLayer {
  if (!isObj(value)) return {};
  const layer: {
    -readonly [K in keyof PolicyLayer]: PolicyLayer[K];
  } = {};
  const key = (name: string): Position => c.at([...path, name], 'key');
  if (typeof value.suspend === 'boolean') layer.suspend = { value: value.suspend, position: key('suspend') };
  const deadline = duration(c, value.progressDeadline, [...path, 'progressDeadline'], true);
  if (deadline !== undefined) layer.progressDeadline = { value: deadline, position: key('progressDeadline') };
  if (Array.isArray(value.gates)) {
    // Gates with errors are left out (and reported); the others are still checked, so one run shows every problem.
    const list = gates(c, value.gates, [...path, 'gates']);
    if (list !== undefined) layer.gates = { value: list, position: key('gates') };
  }
  if (value.downgrade === 'deny' || value.downgrade === 'allow') layer.downgrade = { value: value.downgrade, position: key('downgrade') };
  if (value.forceUpgrade === 'never' || value.forceUpgrade === 'whenPDUnavailable') layer.forceUpgrade = { value: value.forceUpgrade, position: key('forceUpgrade') };
  if (value.onFailure === 'halt' || value.onFailure === 'rollback') layer.onFailure = { value: value.onFailure, position: key('onFailure') };
  if (isObj(value.components)) {
    const components: Partial<Record<TidbComponent, NonNullable<PolicyLayer['components']>[TidbComponent]>> = {};
    for (const name of tidbComponents) {
      const entry = value.components[name];
      if (!isObj(entry)) continue;
      const here = [...path, 'components', name];
      const result: { extraGates?: { value: readonly Gate[]; position: Position }; progressDeadline?: { value: number; position: Position } } = {};
      if (Array.isArray(entry.extraGates)) {
        const list = gates(c, entry.extraGates, [...here, 'extraGates']);
        if (list !== undefined) result.extraGates = { value: list, position: c.at([...here, 'extraGates'], 'key') };
      }
      const ms = duration(c, entry.progressDeadline, [...here, 'progressDeadline'], true);
      if (ms !== undefined) result.progressDeadline = { value: ms, position: c.at([...here, 'progressDeadline'], 'key') };
      components[name] = result;
    }
    layer.components = components;
  }
  return layer;
}

function findCycle(graph: ReadonlyMap<string, readonly string[]>): string[] | undefined {
  // Depth-first with an explicit stack: a chain of 20,000 clusters fits in rollgate.yaml's size limit, not in the call stack.
  const state = new Map<string, 'open' | 'done'>();
  for (const start of graph.keys()) {
    if (state.has(start)) continue;
    const path: { node: string; next: number }[] = [{ node: start, next: 0 }];
    state.set(start, 'open');
    while (path.length > 0) {
      const frame = path[path.length - 1] as { node: string; next: number };
      const edges = graph.get(frame.node) ?? [];
      if (frame.next >= edges.length) {
        state.set(frame.node, 'done');
        path.pop();
        continue;
      }
      const next = edges[frame.next++] as string;
      const s = state.get(next);
      if (s === 'open') {
        const nodes = path.map((f) => f.node);
        return [...nodes.slice(nodes.indexOf(next)), next];
      }
      if (s === undefined) {
        state.set(next, 'open');
        path.push({ node: next, next: 0 });
      }
    }
  }
  return undefined;
}

/** The result of reading `rollgate.yaml`: the configuration (whatever parts of it are valid) and its problems. */
export interface ConfigResult {
  readonly config: RepositoryConfig | undefined;
  readonly problems: readonly Problem[];
}

/**
 * Checks and types the parsed `rollgate.yaml`. `parsed` must come from
 * `parseYaml`; its own problems are not repeated here.
 */
export function readConfig(parsed: ParsedYaml, schemas: SchemaSet, file: string = configFile): ConfigResult {
  const c = new Checker(file, parsed.locate);
  const documents = parsed.documents.filter((d) => d.value !== undefined);
  const second = documents[1];
  if (second !== undefined) {
    c.problems.push({ file, ...second.start, code: 'schema', message: `${file} must hold one YAML document, not ${documents.length}` });
  }
  const value = parsed.documents[0]?.value;
  if (value === undefined) {
    if (parsed.problems.length === 0) c.problems.push({ file, line: 1, column: 1, code: 'schema', message: `${file} is empty; it needs apiVersion, kind and clusters` });
    return { config: undefined, problems: c.problems };
  }
  for (const error of schemas.validate('config', value)) c.schemaError(error.path, error.part, error.message);
  if (!isObj(value)) return { config: undefined, problems: c.problems };

  // Clusters
  const clusters: ClusterConfig[] = [];
  const clusterAt = new Map<string, Position>();
  const rawClusters = Array.isArray(value.clusters) ? value.clusters : [];
  rawClusters.forEach((raw: unknown, i) => {
    const path = ['clusters', i];
    if (!isObj(raw) || typeof raw.name !== 'string' || c.broken([...path, 'name'])) return;
    const name = raw.name;
    const first = clusterAt.get(name);
    if (first !== undefined) {
      c.report([...path, 'name'], 'duplicate-cluster', `cluster ${JSON.stringify(name)} is already defined at ${file}:${first.line}:${first.column}`);
      return;
    }
    clusterAt.set(name, c.at([...path, 'name']));
    const paths: string[] = [];
    const pathPositions: Position[] = [];
    (Array.isArray(raw.paths) ? raw.paths : []).forEach((p: unknown, k) => {
      if (typeof p !== 'string' || c.broken([...path, 'paths', k])) return;
      const problem = referenceProblem(p);
      if (problem !== undefined) c.report([...path, 'paths', k], 'bad-reference', `${JSON.stringify(p)} ${problem}`);
      else {
        paths.push(p);
        pathPositions.push(c.at([...path, 'paths', k]));
      }
    });
    clusters.push({
      name,
      paths,
      pathPositions,
      namespace: typeof raw.namespace === 'string' && !c.broken([...path, 'namespace']) ? raw.namespace : 'default',
      dependsOn: Array.isArray(raw.dependsOn) ? raw.dependsOn.filter((d): d is string => typeof d === 'string') : [],
      policy: policyLayer(c, raw, path),
      position: c.at(path),
    });
  });
  // Cluster dependencies: names must exist, and there must be no cycle.
  const clusterNames = clusters.map((cl) => cl.name);
  // A set for the lookups: rollgate.yaml may name thousands of clusters, and a list's includes made them quadratic.
  const knownClusters = new Set(clusterNames);
  const clusterGraph = new Map<string, string[]>();
  rawClusters.forEach((raw: unknown, i) => {
    if (!isObj(raw) || typeof raw.name !== 'string' || !knownClusters.has(raw.name) || !Array.isArray(raw.dependsOn)) return;
    const deps: string[] = [];
    raw.dependsOn.forEach((d: unknown, k) => {
      if (typeof d !== 'string') return;
      const here = ['clusters', i, 'dependsOn', k];
      if (d === raw.name) c.report(here, 'dependency-cycle', `cluster ${JSON.stringify(d)} cannot depend on itself`);
      else if (!knownClusters.has(d)) c.report(here, 'unknown-cluster', `unknown cluster ${JSON.stringify(d)}${didYouMean(d, clusterNames)}`);
      else deps.push(d);
    });
    if (!clusterGraph.has(raw.name)) clusterGraph.set(raw.name, deps);
  });
  const cycle = findCycle(clusterGraph);
  if (cycle !== undefined) {
    const from = cycle[cycle.length - 2] as string;
    const to = cycle[cycle.length - 1] as string;
    const index = rawClusters.findIndex((r: unknown) => isObj(r) && r.name === from);
    const raw = rawClusters[index] as Obj;
    const k = (raw.dependsOn as string[]).indexOf(to);
    c.report(['clusters', index, 'dependsOn', k], 'dependency-cycle', `dependency cycle: ${cycle.join(' -> ')}`);
  }
  const finalClusters = clusters.map((cl) => ({ ...cl, dependsOn: cl.dependsOn.filter((d) => d !== cl.name && knownClusters.has(d)) }));

  // Targets entries
  const rules: TargetRule[] = [];
  (Array.isArray(value.targets) ? value.targets : []).forEach((raw: unknown, i) => {
    const path = ['targets', i];
    if (!isObj(raw) || typeof raw.target !== 'string' || c.broken([...path, 'target'])) return;
    const [cluster, , kind] = raw.target.split('/') as [string, string, string, string];
    let ok = true;
    if (cluster !== '*' && !knownClusters.has(cluster)) {
      c.report([...path, 'target'], 'unknown-cluster', `unknown cluster ${JSON.stringify(cluster)}${didYouMean(cluster, clusterNames)}`);
      ok = false;
    }
    if (kind !== '*' && !(targetKinds as readonly string[]).includes(kind)) {
      const hint = kind === 'HelmRelease' ? '; a Helm release of pingcap/tidb-cluster is selected as the TidbCluster it renders' : didYouMean(kind, targetKinds);
      c.report([...path, 'target'], 'unknown-kind', `${JSON.stringify(kind)} is not a kind rollgate rolls out${hint}; use ${targetKinds.join(', ')} or *`);
      ok = false;
    }
    const policy = policyLayer(c, raw, path);
    if (kind !== '*' && kind !== 'TidbCluster' && ok) {
      if (policy.forceUpgrade !== undefined) c.report([...path, 'forceUpgrade'], 'conflicting-policy', `applies only to TidbCluster targets, not ${kind}`, 'key');
      if (policy.components !== undefined) c.report([...path, 'components'], 'conflicting-policy', `apply only to TidbCluster targets, not ${kind}`, 'key');
    }
    const dependsOn: { ref: string; position: Position }[] = [];
    (Array.isArray(raw.dependsOn) ? raw.dependsOn : []).forEach((d: unknown, k) => {
      if (typeof d === 'string' && !c.broken([...path, 'dependsOn', k])) dependsOn.push({ ref: d, position: c.at([...path, 'dependsOn', k]) });
    });
    if (ok) rules.push({ selector: raw.target, selectorPosition: c.at([...path, 'target']), dependsOn, policy, position: c.at(path) });
  });

  // Exclude
  const exclude: string[] = [];
  (Array.isArray(value.exclude) ? value.exclude : []).forEach((p: unknown, k) => {
    if (typeof p !== 'string' || c.broken(['exclude', k])) return;
    const problem = referenceProblem(p);
    if (problem !== undefined) c.report(['exclude', k], 'bad-reference', `${JSON.stringify(p)} ${problem}`);
    else exclude.push(p);
  });

  // Status
  let status: StatusConfig = { mode: 'branch', branch: defaultStatusBranch };
  if (isObj(value.status) && !c.broken(['status'])) {
    const s = value.status;
    const mode = s.mode === 'inTree' ? 'inTree' : 'branch';
    if (mode === 'branch' && s.path !== undefined) c.report(['status', 'path'], 'conflicting-policy', 'applies only with mode inTree; with mode branch, status goes to status.branch', 'key');
    if (mode === 'inTree' && s.branch !== undefined) c.report(['status', 'branch'], 'conflicting-policy', 'applies only with mode branch; with mode inTree, status goes to status.path', 'key');
    if (mode === 'branch') {
      const branch = typeof s.branch === 'string' ? s.branch : defaultStatusBranch;
      if (!isValidBranchName(branch)) c.report(['status', 'branch'], 'invalid-value', `${JSON.stringify(branch)} is not a valid branch name`);
      status = { mode, branch };
    } else {
      const path = typeof s.path === 'string' ? s.path : defaultStatusPath;
      const problem = referenceProblem(path);
      if (problem !== undefined) c.report(['status', 'path'], 'bad-reference', `${JSON.stringify(path)} ${problem}`);
      status = { mode, path: problem === undefined ? normalizeReference(path) : defaultStatusPath };
    }
  }

  const config: RepositoryConfig = {
    apiVersion: 'rollgate.dev/v1alpha1',
    kind: 'Config',
    clusters: finalClusters,
    defaults: policyLayer(c, value.defaults, ['defaults']),
    targets: rules,
    exclude,
    status,
  };
  return { config, problems: c.problems };
}
