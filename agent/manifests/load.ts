/**
 * Loading a repository: `rollgate.yaml`, then every YAML file in a cluster's
 * paths, into typed targets with positions and resolved policy, and every
 * problem in one pass.
 *
 * The work is split by what it depends on, so that {@link reload} redoes only
 * what a change touches:
 * 1. analysis of one file (read, parse, classify, schema-check its objects)
 *    depends on that file alone;
 * 2. assembly of one file (namespaces, policy, Helm rendering) depends on the
 *    file, `rollgate.yaml` and, for a HelmRelease, its values files;
 * 3. the cross-file checks (duplicate targets, `dependsOn`, cycles, entries
 *    that match nothing, conflicts) run over everything, but are map lookups.
 * A reload re-analyses the changed files (and symlinks to them), re-assembles
 * those and the HelmReleases whose values changed, and reruns step 3; a change
 * to `rollgate.yaml` re-assembles everything but re-reads nothing else.
 */
import { configFile, readConfig } from './config.ts';
import { chartImageProblem, mergeValues, renderTidbCluster, supportedChart, valuesPathOf } from './helm.ts';
import { imageTag } from './images.ts';
import { classify, kindNames, targetKinds } from './kinds.ts';
import { compilePattern, dirnameOf, isYamlName, joinReference, referenceProblem, type PathPattern } from './paths.ts';
import { compileRules, impossibleSoakMessage, impossibleSoaks, resolvePolicy, ruleMatches, targetId, type CompiledRule, type PolicyConflict, type ResolvedDependency } from './policy.ts';
import { readRepositoryFile, resolveRoot, walkRepository, type ReadResult } from './repo-fs.ts';
import { loadSchemas, type SchemaSet } from './schemas.ts';
import { didYouMean } from './suggest.ts';
import { formatPath, lazyLocate, parsePointer, parseYaml, typeName, type Locate, type PathSegment, type YamlDocument } from './yaml.ts';
import {
  defaultLimits,
  tidbComponents,
  type ClusterConfig,
  type HelmSource,
  type JsonValue,
  type KubeObject,
  type Limits,
  type Position,
  type Problem,
  type ProblemCode,
  type RepositoryConfig,
  type Resource,
  type Target,
  type TargetKind,
} from './types.ts';

/** Options of {@link loadRepository}. */
export interface LoadOptions {
  /** Overrides of {@link defaultLimits}. Limits are the caller's, never the repository's: a hostile repository must not raise its own. */
  readonly limits?: Partial<Limits>;
  /** Files read at once. Default 32. */
  readonly concurrency?: number;
}

/** Everything a load found. */
export interface LoadResult {
  /** The repository's real path. */
  readonly root: string;
  /** True when there are no problems. */
  readonly valid: boolean;
  /** Every problem, sorted by file, line and column. */
  readonly problems: readonly Problem[];
  /** `rollgate.yaml`, as far as it is valid; undefined when it is missing or unreadable. */
  readonly config: RepositoryConfig | undefined;
  /** Cluster names, in `rollgate.yaml` order. */
  readonly clusters: readonly string[];
  /** Targets, sorted by id. A target declared twice is listed once (its first declaration) and reported. */
  readonly targets: readonly Target[];
  /** Other objects in clusters' paths (Services, ConfigMaps, RBAC…), in file order. */
  readonly resources: readonly Resource[];
  /** State for {@link reload}; treat as opaque. */
  readonly snapshot: Snapshot;
}

// ---------------------------------------------------------------------------
// Per-file analysis: depends on the file's content only

interface TargetEntry {
  readonly type: 'target';
  readonly kind: TargetKind;
  readonly document: number;
  readonly object: KubeObject;
  readonly position: Position;
}

interface ValuesRef {
  readonly path: string;
  /** Where the reference is written (or the descriptor's `spec`, for the default). */
  readonly position: Position;
  readonly explicit: boolean;
}

interface HelmEntry {
  readonly type: 'helm';
  readonly document: number;
  readonly release: string;
  readonly namespace: string | undefined;
  readonly chart: HelmSource['chart'];
  readonly values: readonly ValuesRef[];
  readonly position: Position;
}

interface ResourceEntry {
  readonly type: 'resource';
  readonly document: number;
  readonly object: KubeObject;
  readonly namespaced: boolean;
  readonly position: Position;
}

type Entry = TargetEntry | HelmEntry | ResourceEntry;

interface Declared {
  readonly kind: TargetKind;
  readonly name: string;
  readonly namespace: string | undefined;
}

/** One file, read and checked on its own. */
interface Analysis {
  readonly path: string;
  /** The repository path the file was read from, when `path` is a symlink. */
  readonly target: string | undefined;
  readonly problems: readonly Problem[];
  readonly entries: readonly Entry[];
  /** Documents without apiVersion and kind: an error unless the file is a HelmRelease's values. */
  readonly unidentified: readonly Position[];
  /** Targets this file declares, valid or not: a broken manifest must not also make its selectors "match nothing". */
  readonly declared: readonly Declared[];
  /** Values files its HelmReleases name, valid or not. */
  readonly claims: readonly string[];
  readonly documents: readonly YamlDocument[];
  readonly locate: Locate;
}

interface Context {
  readonly root: string;
  readonly limits: Limits;
  readonly schemas: SchemaSet;
  readonly concurrency: number;
}

function isObj(value: unknown): value is { readonly [key: string]: JsonValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function problem(file: string, at: { line: number; column: number }, code: ProblemCode, message: string): Problem {
  return { file, line: at.line, column: at.column, code, message };
}

function prefixed(path: readonly PathSegment[], message: string): string {
  const where = formatPath(path);
  return where === '' ? message : `${where}: ${message}`;
}

/** The largest value of a Kubernetes `int32` field; the API server refuses more, so a rollout would fail at its first write. */
const int32Max = 2_147_483_647;

/** The `int32` counts of each target kind that rollgate reads (replicas, nodes, partition), as paths into the object. */
function int32Paths(kind: TargetKind, spec: { readonly [key: string]: JsonValue }): PathSegment[][] {
  switch (kind) {
    case 'StatefulSet':
      return [['spec', 'replicas'], ['spec', 'minReadySeconds'], ['spec', 'updateStrategy', 'rollingUpdate', 'partition']];
    case 'Deployment':
      return [['spec', 'replicas'], ['spec', 'minReadySeconds'], ['spec', 'progressDeadlineSeconds']];
    case 'RedisEnterpriseCluster':
      return [['spec', 'nodes']];
    case 'TidbCluster':
      return tidbComponents.filter((c) => isObj(spec[c])).map((c) => ['spec', c, 'replicas']);
  }
}

function valueAt(root: JsonValue, path: readonly PathSegment[]): JsonValue | undefined {
  let node: JsonValue | undefined = root;
  for (const segment of path) node = isObj(node) && typeof segment === 'string' && Object.hasOwn(node, segment) ? node[segment] : undefined;
  return node;
}

/** Checks of a target object that its schema cannot express. */
function targetChecks(kind: TargetKind, object: { readonly [key: string]: JsonValue }): { path: PathSegment[]; part: 'key' | 'value'; message: string }[] {
  const out: { path: PathSegment[]; part: 'key' | 'value'; message: string }[] = [];
  const spec = isObj(object.spec) ? object.spec : {};
  for (const path of int32Paths(kind, spec)) {
    const value = valueAt(object, path);
    if (typeof value === 'number' && value > int32Max) {
      out.push({ path, part: 'value', message: `must be at most ${int32Max}: Kubernetes stores it as a 32-bit integer and refuses ${value}` });
    }
  }
  if (kind === 'TidbCluster') {
    const version = typeof spec.version === 'string' ? spec.version : undefined;
    for (const component of tidbComponents) {
      const own = spec[component];
      if (!isObj(own)) continue;
      const ownVersion = typeof own.version === 'string' ? own.version : undefined;
      if (ownVersion !== undefined || version !== undefined) continue;
      // Without a version the operator uses `image` as written; the version is then its tag.
      if (typeof own.image === 'string') {
        if (imageTag(own.image) === undefined) {
          out.push({ path: ['spec', component, 'image'], part: 'value', message: `${JSON.stringify(own.image)} has no tag, and neither spec.version nor spec.${component}.version is set; rollgate cannot tell the version` });
        }
        continue;
      }
      out.push({ path: ['spec', component], part: 'key', message: `no version: set spec.version, spec.${component}.version or spec.${component}.image` });
    }
  } else if (kind === 'RedisEnterpriseCluster') {
    const upgrade = spec.upgradeSpec;
    if (isObj(upgrade) && upgrade.autoUpgradeRedisEnterprise === true) {
      out.push({
        path: ['spec', 'upgradeSpec', 'autoUpgradeRedisEnterprise'],
        part: 'value',
        message: 'true lets the operator upgrade the cluster by itself after an operator upgrade, outside rollgate\'s gates; set it to false and let rollgate move versionTag',
      });
    }
  }
  return out;
}

function analyzeText(path: string, text: string, target: string | undefined, ctx: Context): Analysis {
  const parsed = parseYaml(text, ctx.limits);
  const problems: Problem[] = parsed.problems.map((p) => ({ file: path, ...p }));
  const entries: Entry[] = [];
  const unidentified: Position[] = [];
  const declared: Declared[] = [];
  const claims: string[] = [];
  const at = (document: number, p: readonly PathSegment[], part: 'key' | 'value' = 'value'): Position => ({ file: path, ...parsed.locate(document, p, part) });
  const report = (document: number, p: readonly PathSegment[], code: ProblemCode, message: string, part: 'key' | 'value' = 'value'): void => {
    problems.push({ ...at(document, p, part), code, message: prefixed(p, message) });
  };
  for (const doc of parsed.documents) {
    const value = doc.value;
    if (value === undefined) continue;
    const start: Position = { file: path, ...doc.start };
    if (!isObj(value)) {
      problems.push(problem(path, doc.start, 'not-an-object', `a document here must be a Kubernetes object (a mapping), not ${typeName(value)}`));
      continue;
    }
    const { apiVersion, kind } = value;
    if (apiVersion === undefined && kind === undefined) {
      unidentified.push(start);
      continue;
    }
    if (typeof apiVersion !== 'string' || typeof kind !== 'string') {
      for (const [field, v] of [['apiVersion', apiVersion], ['kind', kind]] as const) {
        if (v === undefined) report(doc.index, [], 'schema', `missing required field "${field}"`, 'key');
        else if (typeof v !== 'string') report(doc.index, [field], 'schema', `must be a string, not ${typeName(v)}`);
      }
      continue;
    }
    const klass = classify(apiVersion, kind);
    const metadata = isObj(value.metadata) ? value.metadata : {};
    const declaredNamespace = typeof metadata.namespace === 'string' ? metadata.namespace : undefined;
    if ((klass.class === 'target' || klass.class === 'helmRelease') && typeof metadata.name === 'string') {
      declared.push({ kind: klass.class === 'target' ? klass.kind : 'TidbCluster', name: metadata.name, namespace: declaredNamespace });
    }
    if (klass.class === 'helmRelease') claims.push(...claimedValues(path, value));
    switch (klass.class) {
      case 'target': {
        const errors = ctx.schemas.validate(klass.schema, value);
        for (const e of errors) report(doc.index, e.path, 'schema', e.message, e.part);
        if (errors.length > 0) break;
        const checks = targetChecks(klass.kind, value);
        for (const c of checks) report(doc.index, c.path, 'invalid-value', c.message, c.part);
        if (checks.length > 0) break;
        // Checked against its kind's schema above, which requires apiVersion, kind and metadata.name.
        entries.push({ type: 'target', kind: klass.kind, document: doc.index, object: value as unknown as KubeObject, position: start });
        break;
      }
      case 'helmRelease': {
        const errors = ctx.schemas.validate('helmrelease', value);
        for (const e of errors) report(doc.index, e.path, 'schema', e.message, e.part);
        if (errors.length > 0) break;
        // The schema guarantees the shapes below.
        const spec = value.spec as { readonly [key: string]: JsonValue };
        const chart = spec.chart as { readonly [key: string]: string };
        const dir = dirnameOf(path);
        const refs: ValuesRef[] = [];
        let ok = true;
        if (Array.isArray(spec.valuesFiles)) {
          spec.valuesFiles.forEach((ref: JsonValue, i) => {
            const p = ['spec', 'valuesFiles', i];
            const why = referenceProblem(ref as string);
            if (why !== undefined) {
              report(doc.index, p, 'bad-reference', `${JSON.stringify(ref)} ${why}`);
              ok = false;
            } else if (!isYamlName(ref as string)) {
              report(doc.index, p, 'bad-reference', `${JSON.stringify(ref)} is not a .yaml or .yml file`);
              ok = false;
            } else refs.push({ path: joinReference(dir, ref as string), position: at(doc.index, p), explicit: true });
          });
        } else {
          refs.push({ path: joinReference(dir, 'values.yaml'), position: at(doc.index, ['spec'], 'key'), explicit: false });
        }
        if (!ok) break;
        entries.push({
          type: 'helm',
          document: doc.index,
          release: metadata.name as string,
          namespace: typeof metadata.namespace === 'string' ? metadata.namespace : undefined,
          chart: { name: chart.name as string, repository: chart.repository as string, version: chart.version as string },
          values: refs,
          position: start,
        });
        break;
      }
      case 'config':
        report(doc.index, ['kind'], 'config-misplaced', `a rollgate Config belongs in ${configFile} at the repository root, not in a cluster's paths`);
        break;
      case 'resource': {
        if (!isObj(value.metadata)) {
          const missing = value.metadata === undefined;
          report(doc.index, missing ? [] : ['metadata'], 'schema', missing ? 'missing required field "metadata"' : `must be a mapping, not ${typeName(value.metadata)}`, missing ? 'key' : 'value');
          break;
        }
        if (typeof metadata.name !== 'string' || metadata.name === '') {
          report(doc.index, metadata.name === undefined ? ['metadata'] : ['metadata', 'name'], 'schema', metadata.name === undefined ? 'missing required field "name"' : 'must be a non-empty string', metadata.name === undefined ? 'key' : 'value');
          break;
        }
        entries.push({ type: 'resource', document: doc.index, object: value as unknown as KubeObject, namespaced: klass.namespaced, position: start });
        break;
      }
      case 'wrongApiVersion':
        report(doc.index, ['apiVersion'], 'api-version', `${kind} is served as ${klass.expected}, not ${apiVersion}`);
        break;
      case 'list':
        report(doc.index, ['kind'], 'unknown-kind', `${kind} is not supported; write each object as its own YAML document, separated by ---`);
        break;
      case 'unknown':
        report(
          doc.index,
          ['kind'],
          'unknown-kind',
          `unknown kind ${JSON.stringify(kind)} (apiVersion ${apiVersion})${didYouMean(kind, kindNames())}; rollgate rolls out ${targetKinds.join(', ')} and Helm releases, and accepts common Kubernetes kinds beside them; move other files out of the cluster's paths or list them under exclude`,
        );
        break;
    }
  }
  return { path, target, problems, entries, unidentified, declared, claims, documents: parsed.documents, locate: lazyLocate(text, ctx.limits.maxDocumentsPerFile, ctx.limits.maxDepth) };
}

/** The values files a HelmRelease document names, as far as they can be read, whether or not the document is valid. */
function claimedValues(path: string, value: { readonly [key: string]: JsonValue }): string[] {
  const spec = isObj(value.spec) ? value.spec : {};
  const refs = Array.isArray(spec.valuesFiles) ? spec.valuesFiles : ['values.yaml'];
  return refs.filter((r): r is string => typeof r === 'string' && referenceProblem(r) === undefined).map((r) => joinReference(dirnameOf(path), r));
}

function failedRead(path: string, read: ReadResult & { kind: 'problem' }): Analysis {
  return { path, target: read.target, problems: [read.problem], entries: [], unidentified: [], declared: [], claims: [], documents: [], locate: () => ({ line: 1, column: 1 }) };
}

/** Real paths of parent folders, shared by the files of one load or reload (and never longer: folders change). */
type ParentCache = Map<string, Promise<string | undefined>>;

async function analyzeFile(path: string, ctx: Context, parents: ParentCache): Promise<Analysis | undefined> {
  const read = await readRepositoryFile(ctx.root, path, ctx.limits.maxFileBytes, parents);
  if (read.kind === 'missing') return undefined;
  if (read.kind === 'problem') return failedRead(path, read);
  try {
    return analyzeText(path, read.text, read.target, ctx);
  } catch (err) {
    // Content must never make the loader throw; if it does, it is our bug, reported as such (the property tests look for it).
    const message = err instanceof Error ? err.message : String(err);
    return failedRead(path, { kind: 'problem', problem: problem(path, { line: 1, column: 1 }, 'internal', `internal error while reading this file: ${message}`), target: read.target });
  }
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

// ---------------------------------------------------------------------------
// Assembly: one file with the configuration (and values files)

interface AssembledTarget {
  readonly target: Target;
  readonly conflicts: readonly PolicyConflict[];
  readonly dependencies: readonly ResolvedDependency[];
}

interface Assembly {
  readonly targets: readonly AssembledTarget[];
  readonly resources: readonly Resource[];
  readonly problems: readonly Problem[];
  /** Values files this file's HelmReleases read. */
  readonly valuesFiles: readonly string[];
  /** Ids of every target the file declares, valid or not. */
  readonly declaredIds: readonly string[];
}

interface Scope {
  readonly clusters: readonly { readonly config: ClusterConfig; readonly patterns: readonly PathPattern[] }[];
  readonly exclude: readonly PathPattern[];
  readonly rules: readonly CompiledRule[];
}

function buildScope(config: RepositoryConfig | undefined): Scope {
  if (config === undefined) return { clusters: [], exclude: [], rules: [] };
  const exclude = config.exclude.map(compilePattern);
  if (config.status.mode === 'inTree') exclude.push(compilePattern(config.status.path));
  return {
    clusters: config.clusters.map((c) => ({ config: c, patterns: c.paths.map(compilePattern) })),
    exclude,
    rules: compileRules(config),
  };
}

function skips(scope: Scope, path: string): boolean {
  return path === configFile || scope.exclude.some((p) => p.covers(path));
}

function clustersOf(scope: Scope, path: string): ClusterConfig[] {
  return scope.clusters.filter((c) => c.patterns.some((p) => p.covers(path))).map((c) => c.config);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function withNamespace(object: KubeObject, namespace: string): KubeObject {
  return { ...object, metadata: { ...object.metadata, namespace } };
}

function makeTarget(
  kind: TargetKind,
  object: KubeObject,
  key: { cluster: ClusterConfig; namespace: string; name: string },
  position: Position,
  locate: (pointer: string) => Position,
  source: Target['source'],
  config: RepositoryConfig,
  scope: Scope,
): AssembledTarget {
  const k = { cluster: key.cluster.name, namespace: key.namespace, kind, name: key.name };
  const rules = scope.rules.filter((r) => ruleMatches(r, k));
  const resolution = resolvePolicy(config, key.cluster, k, rules);
  // The union is keyed on kind; the object was checked against that kind's schema.
  const target = {
    id: targetId(k),
    kind,
    cluster: k.cluster,
    namespace: k.namespace,
    name: k.name,
    position,
    policy: resolution.policy,
    object: deepFreeze(object),
    source,
    locate,
  } as Target;
  return { target, conflicts: resolution.conflicts, dependencies: resolution.dependencies };
}

function assembleHelm(
  entry: HelmEntry,
  analysis: Analysis,
  cluster: ClusterConfig,
  values: ReadonlyMap<string, Analysis>,
  config: RepositoryConfig,
  scope: Scope,
  schemas: SchemaSet,
): { target?: AssembledTarget; problems: Problem[] } {
  const problems: Problem[] = [];
  if (entry.chart.name !== supportedChart) return { problems };
  const files: { path: string; analysis: Analysis; value: { readonly [key: string]: JsonValue } }[] = [];
  for (const ref of entry.values) {
    const own = values.get(ref.path);
    if (own === undefined) {
      problems.push({
        ...ref.position,
        code: 'helm',
        message: ref.explicit ? `spec.valuesFiles: ${ref.path} does not exist` : `no values file: ${ref.path} does not exist; add it or set spec.valuesFiles`,
      });
      continue;
    }
    // Unreadable or broken values files report their own problems.
    if (own.problems.length > 0) continue;
    const documents = own.documents.filter((d) => d.value !== undefined);
    const second = documents[1];
    if (second !== undefined) problems.push(problem(ref.path, second.start, 'helm', 'a Helm values file holds one YAML document'));
    const value = documents[0]?.value ?? {};
    if (!isObj(value)) {
      problems.push(problem(ref.path, documents[0]?.start ?? { line: 1, column: 1 }, 'helm', `Helm values must be a mapping, not ${typeName(value)}`));
      continue;
    }
    files.push({ path: ref.path, analysis: own, value });
  }
  if (files.length !== entry.values.length || problems.length > 0) return { problems };
  const merged = mergeValues(files.map((f) => f.value));
  // The values document is the first non-empty one (a file may start with `---`).
  const index = (file: (typeof files)[number]): number => Math.max(0, file.analysis.documents.findIndex((d) => d.value !== undefined));
  // A merged path is reported in the last values file that writes it, else where most of it is written.
  const locateValues = (path: readonly PathSegment[], part: 'key' | 'value'): Position => {
    let best: { file: (typeof files)[number]; depth: number } | undefined;
    for (const file of files) {
      let node: JsonValue | undefined = file.value;
      let depth = 0;
      for (const segment of path) {
        if (isObj(node) && typeof segment === 'string' && Object.hasOwn(node, segment)) node = node[segment];
        else if (Array.isArray(node) && typeof segment === 'number' && segment < node.length) node = node[segment] as JsonValue;
        else break;
        depth += 1;
      }
      if (best === undefined || depth >= best.depth) best = { file, depth };
    }
    const chosen = best as { file: (typeof files)[number]; depth: number };
    return { file: chosen.file.path, ...chosen.file.analysis.locate(index(chosen.file), path, part) };
  };
  const errors = schemas.validate('tidb-cluster-values', merged);
  for (const e of errors) problems.push({ ...locateValues(e.path, e.part), code: 'schema', message: prefixed(e.path, e.message) });
  if (errors.length === 0) {
    for (const component of ['pd', 'tikv', 'tidb'] as const) {
      const image = (merged[component] as { readonly image: string }).image;
      const why = chartImageProblem(image);
      if (why !== undefined) problems.push({ ...locateValues([component, 'image'], 'value'), code: 'invalid-value', message: `${component}.image: ${why}` });
    }
  }
  if (problems.length > 0) return { problems };
  const namespace = entry.namespace ?? cluster.namespace;
  const source: HelmSource = {
    type: 'helm',
    release: entry.release,
    namespace,
    chart: entry.chart,
    valuesFiles: files.map((f) => f.path),
    values: deepFreeze(merged),
  };
  const object = renderTidbCluster(source, merged);
  const descriptorLocate = (path: readonly PathSegment[]): Position => ({ file: analysis.path, ...analysis.locate(entry.document, path, 'value') });
  const locate = (pointer: string): Position => {
    const path = parsePointer(pointer);
    const inValues = valuesPathOf(path, merged);
    if (inValues !== undefined) {
      const found = files.findLast((f) => {
        let node: JsonValue | undefined = f.value;
        for (const s of inValues) node = isObj(node) && typeof s === 'string' ? node[s] : undefined;
        return node !== undefined;
      });
      if (found !== undefined) return { file: found.path, ...found.analysis.locate(index(found), inValues, 'value') };
    }
    if (path[0] === 'metadata' && (path[1] === 'name' || path[1] === 'namespace')) return descriptorLocate(['metadata', path[1]]);
    return entry.position;
  };
  const target = makeTarget('TidbCluster', object, { cluster, namespace, name: object.metadata.name }, entry.position, locate, source, config, scope);
  return { target, problems };
}

function assemble(analysis: Analysis, scope: Scope, config: RepositoryConfig, values: ReadonlyMap<string, Analysis>, schemas: SchemaSet): Assembly {
  const problems: Problem[] = [];
  const targets: AssembledTarget[] = [];
  const resources: Resource[] = [];
  const valuesFiles: string[] = [];
  const owners = clustersOf(scope, analysis.path);
  if (owners.length > 1) {
    const names = owners.map((c) => `${c.name} (${configFile}:${c.position.line}:${c.position.column})`);
    problems.push(problem(analysis.path, { line: 1, column: 1 }, 'cluster-overlap', `this file is in the paths of more than one cluster: ${names.join(' and ')}; a file belongs to one cluster`));
    return { targets, resources, problems, valuesFiles, declaredIds: [] };
  }
  const cluster = owners[0];
  if (cluster === undefined) return { targets, resources, problems, valuesFiles, declaredIds: [] };
  const declaredIds = analysis.declared.map((d) => targetId({ cluster: cluster.name, namespace: d.namespace ?? cluster.namespace, kind: d.kind, name: d.name }));
  for (const entry of analysis.entries) {
    if (entry.type === 'target') {
      const namespace = entry.object.metadata.namespace ?? cluster.namespace;
      const object = withNamespace(entry.object, namespace);
      const locate = (pointer: string): Position => ({ file: analysis.path, ...analysis.locate(entry.document, parsePointer(pointer), 'value') });
      targets.push(makeTarget(entry.kind, object, { cluster, namespace, name: entry.object.metadata.name }, entry.position, locate, { type: 'manifest', document: entry.document }, config, scope));
    } else if (entry.type === 'resource') {
      const namespace = entry.namespaced ? (entry.object.metadata.namespace ?? cluster.namespace) : undefined;
      const object = namespace === undefined ? entry.object : withNamespace(entry.object, namespace);
      resources.push({ cluster: cluster.name, namespace, object: deepFreeze(object), position: entry.position });
    } else {
      valuesFiles.push(...entry.values.map((v) => v.path));
      const helm = assembleHelm(entry, analysis, cluster, values, config, scope, schemas);
      problems.push(...helm.problems);
      if (helm.target !== undefined) targets.push(helm.target);
    }
  }
  return { targets, resources, problems, valuesFiles, declaredIds };
}

// ---------------------------------------------------------------------------
// State and the cross-file checks

/** What {@link reload} needs from a previous load. */
export interface Snapshot {
  /** @internal */ readonly ctx: Context;
  /** @internal */ readonly config: RepositoryConfig | undefined;
  /** @internal */ readonly configProblems: readonly Problem[];
  /** @internal Manifest files (in clusters' paths), by path. */ readonly analyses: ReadonlyMap<string, Analysis>;
  /** @internal Values files outside clusters' paths, by path. */ readonly valuesOnly: ReadonlyMap<string, Analysis>;
  /** @internal */ readonly assemblies: ReadonlyMap<string, Assembly>;
  /** @internal Problems met walking, by the path they are about. */ readonly walkProblems: ReadonlyMap<string, readonly Problem[]>;
}

function resolveLimits(options: LoadOptions): Limits {
  return { ...defaultLimits, ...options.limits };
}

function wantsOf(scope: Scope): (path: string) => boolean {
  return (path) => !skips(scope, path) && scope.clusters.some((c) => c.patterns.some((p) => p.covers(path)));
}

function groupByPath(problems: readonly Problem[]): Map<string, Problem[]> {
  const out = new Map<string, Problem[]>();
  for (const p of problems) {
    const list = out.get(p.file) ?? [];
    list.push(p);
    out.set(p.file, list);
  }
  return out;
}

function compareProblems(a: Problem, b: Problem): number {
  return a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.column - b.column || (a.message < b.message ? -1 : a.message > b.message ? 1 : 0);
}

function valuesAnalysesOf(snapshot: Pick<Snapshot, 'analyses' | 'valuesOnly'>): Map<string, Analysis> {
  const out = new Map(snapshot.valuesOnly);
  for (const [path, analysis] of snapshot.analyses) out.set(path, analysis);
  return out;
}

/** Reads the values files HelmReleases refer to that are not manifests themselves. */
async function readValuesOnly(
  ctx: Context,
  parents: ParentCache,
  analyses: ReadonlyMap<string, Analysis>,
  previous: ReadonlyMap<string, Analysis>,
  dirty: ReadonlySet<string>,
): Promise<Map<string, Analysis>> {
  const wanted = new Set<string>();
  for (const analysis of analyses.values()) {
    for (const entry of analysis.entries) if (entry.type === 'helm') for (const ref of entry.values) if (!analyses.has(ref.path)) wanted.add(ref.path);
  }
  const out = new Map<string, Analysis>();
  const toRead: string[] = [];
  for (const path of wanted) {
    const kept = previous.get(path);
    if (kept !== undefined && !dirty.has(path)) out.set(path, kept);
    else toRead.push(path);
  }
  const read = await mapLimit(toRead, ctx.concurrency, (path) => analyzeFile(path, ctx, parents));
  read.forEach((analysis, i) => {
    if (analysis !== undefined) out.set(toRead[i] as string, analysis);
  });
  return out;
}

function finish(snapshot: Snapshot): LoadResult {
  const { config, analyses, assemblies } = snapshot;
  const problems: Problem[] = [...snapshot.configProblems];
  for (const list of snapshot.walkProblems.values()) problems.push(...list);
  // A values file's own read and YAML problems count once, whether or not it is also in a cluster's paths.
  for (const analysis of snapshot.valuesOnly.values()) problems.push(...analysis.problems);
  const usedAsValues = new Set<string>();
  for (const analysis of analyses.values()) for (const v of analysis.claims) usedAsValues.add(v);
  const declaredIds = new Set<string>();
  for (const assembly of assemblies.values()) {
    for (const id of assembly.declaredIds) declaredIds.add(id);
    // A Helm release may be named by clusterName rather than its release name.
    for (const assembled of assembly.targets) declaredIds.add(assembled.target.id);
  }
  const paths = [...analyses.keys()].sort();
  const targets = new Map<string, AssembledTarget>();
  const resources: Resource[] = [];
  for (const path of paths) {
    const analysis = analyses.get(path) as Analysis;
    problems.push(...analysis.problems);
    if (!usedAsValues.has(path)) {
      for (const at of analysis.unidentified) {
        const hint = /(^|\/)values[^/]*\.ya?ml$/.test(path) ? '; if these are Helm values, add a rollgate.dev/v1alpha1 HelmRelease next to them' : '';
        problems.push({ ...at, code: 'not-an-object', message: `not a Kubernetes object: apiVersion and kind are missing${hint}` });
      }
    }
    const assembly = assemblies.get(path);
    if (assembly === undefined) continue;
    problems.push(...assembly.problems);
    resources.push(...assembly.resources);
    for (const assembled of assembly.targets) {
      const first = targets.get(assembled.target.id);
      if (first !== undefined) {
        const p = first.target.position;
        problems.push({ ...assembled.target.position, code: 'duplicate-target', message: `duplicate target ${assembled.target.id}: already declared at ${p.file}:${p.line}:${p.column}` });
        continue;
      }
      targets.set(assembled.target.id, assembled);
    }
  }

  if (config !== undefined) {
    const scope = buildScope(config);
    const truncated = problems.some((p) => p.code === 'too-many-files');
    // Cluster paths that match nothing are almost always typos (unless reading stopped early).
    for (const cluster of truncated ? [] : scope.clusters) {
      cluster.patterns.forEach((pattern, k) => {
        if (paths.some((p) => pattern.covers(p))) return;
        const at = cluster.config.pathPositions[k] ?? cluster.config.position;
        problems.push({ ...at, code: 'unmatched-paths', message: `${JSON.stringify(pattern.pattern)} matches no YAML file of cluster ${cluster.config.name}` });
      });
    }
    // targets entries that select nothing, also usually typos. Targets declared in broken files count: their file's problems say what is wrong.
    const ids = [...declaredIds];
    const sameCluster = (id: string): string[] => ids.filter((other) => other.split('/', 1)[0] === id.split('/', 1)[0]);
    for (const rule of scope.rules) {
      const matched = rule.exact ? declaredIds.has(rule.rule.selector) : ids.some((id) => ruleMatches(rule, keyOfId(id)));
      if (!matched) {
        const hint = rule.exact ? didYouMean(rule.rule.selector, sameCluster(rule.rule.selector)) : '';
        problems.push({ ...rule.rule.selectorPosition, code: 'unmatched-selector', message: `targets[${rule.index}].target: ${rule.rule.selector} matches no target${hint}` });
      }
    }
    // Conflicts, missing dependencies and impossible soaks, each reported once however many targets share it.
    const seen = new Set<string>();
    const once = (key: string, p: Problem): void => {
      if (seen.has(key)) return;
      seen.add(key);
      problems.push(p);
    };
    const conflictCounts = new Map<string, { conflict: PolicyConflict; ids: string[] }>();
    for (const assembled of targets.values()) {
      for (const conflict of assembled.conflicts) {
        const key = `${conflict.field}|${conflict.first.index}|${conflict.second.index}`;
        const entry = conflictCounts.get(key) ?? { conflict, ids: [] };
        entry.ids.push(assembled.target.id);
        conflictCounts.set(key, entry);
      }
      for (const dep of assembled.dependencies) {
        if (dep.id === assembled.target.id) {
          once(`self|${dep.position.line}|${dep.position.column}`, { ...dep.position, code: 'dependency-cycle', message: `targets[${dep.rule.index}].dependsOn: ${assembled.target.id} cannot depend on itself` });
        } else if (!declaredIds.has(dep.id)) {
          once(`dep|${dep.position.line}|${dep.position.column}|${dep.id}`, {
            ...dep.position,
            code: 'unknown-target',
            message: `targets[${dep.rule.index}].dependsOn: no target ${dep.id}${didYouMean(dep.id, sameCluster(dep.id))}`,
          });
        }
      }
      for (const soak of impossibleSoaks(assembled.target.policy)) {
        const at = soak.gate.position;
        if (at === undefined) continue;
        once(`soak|${at.line}|${at.column}|${soak.deadline}`, { ...at, code: 'conflicting-policy', message: impossibleSoakMessage(soak) });
      }
    }
    for (const { conflict, ids: affected } of conflictCounts.values()) {
      const first = conflict.first.rule.position;
      const more = affected.length > 1 ? ` (and ${affected.length - 1} more)` : '';
      problems.push({
        ...conflict.position,
        code: 'conflicting-policy',
        message: `targets[${conflict.second.index}] and targets[${conflict.first.index}] (${configFile}:${first.line}:${first.column}) both set ${conflict.field} for ${affected[0] as string}${more}; set it in one entry only`,
      });
    }
    const cycle = findTargetCycle(targets, config);
    if (cycle !== undefined) problems.push({ ...cycle.position, code: 'dependency-cycle', message: `dependency cycle: ${cycle.path.join(' -> ')}` });
  }

  problems.sort(compareProblems);
  const unique = problems.filter((p, i) => i === 0 || compareProblems(p, problems[i - 1] as Problem) !== 0 || p.code !== (problems[i - 1] as Problem).code);
  const sortedTargets = [...targets.values()].map((a) => a.target).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return {
    root: snapshot.ctx.root,
    valid: unique.length === 0,
    problems: unique,
    config,
    clusters: config?.clusters.map((c) => c.name) ?? [],
    targets: sortedTargets,
    resources,
    snapshot,
  };
}

function keyOfId(id: string): { cluster: string; namespace: string; kind: TargetKind; name: string } {
  const [cluster, namespace, kind, name] = id.split('/') as [string, string, TargetKind, string];
  return { cluster, namespace, kind, name };
}

/**
 * A cycle through explicit target dependencies and cluster order, if any,
 * reported at the `dependsOn` entry written last among those forming it.
 * Cluster order becomes two nodes per cluster ("may start", "all done"), so
 * the graph stays linear in the number of targets. A cycle of clusters alone
 * is reported by the configuration checks, so cluster order is left out then.
 */
function findTargetCycle(targets: ReadonlyMap<string, AssembledTarget>, config: RepositoryConfig): { path: string[]; position: Position } | undefined {
  const edges = new Map<string, { to: string; position: Position | undefined }[]>();
  const add = (from: string, to: string, position: Position | undefined): void => {
    const list = edges.get(from) ?? [];
    list.push({ to, position });
    edges.set(from, list);
  };
  const clusterGraph = new Map(config.clusters.map((c) => [c.name, c.dependsOn] as const));
  const clusterOrder = !hasCycle(clusterGraph);
  if (clusterOrder) {
    for (const cluster of config.clusters) for (const dep of cluster.dependsOn) add(`cluster:${cluster.name}`, `cluster-done:${dep}`, undefined);
  }
  for (const [id, assembled] of targets) {
    const t = assembled.target;
    if (clusterOrder) {
      add(`cluster-done:${t.cluster}`, id, undefined);
      add(id, `cluster:${t.cluster}`, undefined);
    }
    for (const dep of assembled.dependencies) if (targets.has(dep.id) && dep.id !== id) add(id, dep.id, dep.position);
  }
  // Iterative depth-first search: thousands of targets must not overflow the stack.
  const state = new Map<string, 1 | 2>();
  for (const startNode of [...edges.keys()].sort()) {
    if (state.has(startNode)) continue;
    const stack: { node: string; next: number }[] = [{ node: startNode, next: 0 }];
    state.set(startNode, 1);
    while (stack.length > 0) {
      const frame = stack[stack.length - 1] as { node: string; next: number };
      const out = edges.get(frame.node) ?? [];
      if (frame.next >= out.length) {
        state.set(frame.node, 2);
        stack.pop();
        continue;
      }
      const edge = out[frame.next++] as { to: string; position: Position | undefined };
      const s = state.get(edge.to);
      if (s === undefined) {
        state.set(edge.to, 1);
        stack.push({ node: edge.to, next: 0 });
      } else if (s === 1) {
        const nodes = stack.map((f) => f.node);
        const loop = nodes.slice(nodes.indexOf(edge.to));
        return describeCycle(loop, edges);
      }
    }
  }
  return undefined;
}

function hasCycle(graph: ReadonlyMap<string, readonly string[]>): boolean {
  // Iterative, like findTargetCycle: a long chain of clusters must not overflow the stack.
  const state = new Map<string, 1 | 2>();
  for (const start of graph.keys()) {
    if (state.has(start)) continue;
    const stack: { node: string; next: number }[] = [{ node: start, next: 0 }];
    state.set(start, 1);
    while (stack.length > 0) {
      const frame = stack[stack.length - 1] as { node: string; next: number };
      const out = graph.get(frame.node) ?? [];
      if (frame.next >= out.length) {
        state.set(frame.node, 2);
        stack.pop();
        continue;
      }
      const next = out[frame.next++] as string;
      const s = state.get(next);
      if (s === 1) return true;
      if (s === undefined) {
        state.set(next, 1);
        stack.push({ node: next, next: 0 });
      }
    }
  }
  return false;
}

function comparePositions(a: Position, b: Position): number {
  return a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.column - b.column;
}

/** Names a cycle by its targets, starting at the one whose `dependsOn` entry (written last) closes it. */
function describeCycle(loop: readonly string[], edges: ReadonlyMap<string, readonly { to: string; position: Position | undefined }[]>): { path: string[]; position: Position } | undefined {
  let closing: { index: number; position: Position } | undefined;
  for (let i = 0; i < loop.length; i++) {
    const from = loop[i] as string;
    const to = loop[(i + 1) % loop.length] as string;
    const position = edges.get(from)?.find((e) => e.to === to)?.position;
    if (position !== undefined && (closing === undefined || comparePositions(position, closing.position) > 0)) closing = { index: i, position };
  }
  if (closing === undefined) return undefined;
  const rotated = [...loop.slice(closing.index), ...loop.slice(0, closing.index)].filter((n) => !n.startsWith('cluster'));
  return { path: [...rotated, rotated[0] as string], position: closing.position };
}

// ---------------------------------------------------------------------------
// Public entry points

async function readConfigFile(ctx: Context): Promise<{ config: RepositoryConfig | undefined; problems: Problem[] }> {
  const read = await readRepositoryFile(ctx.root, configFile, ctx.limits.maxFileBytes);
  if (read.kind === 'missing') {
    return {
      config: undefined,
      problems: [problem(configFile, { line: 1, column: 1 }, 'config-missing', `${configFile} not found at the repository root; it says which paths go to which cluster (see examples-repo/README.md)`)],
    };
  }
  if (read.kind === 'problem') return { config: undefined, problems: [read.problem] };
  const parsed = parseYaml(read.text, ctx.limits);
  const problems: Problem[] = parsed.problems.map((p) => ({ file: configFile, ...p }));
  const result = readConfig(parsed, ctx.schemas);
  return { config: result.config, problems: [...problems, ...result.problems] };
}

async function coldLoad(ctx: Context, reuse: ReadonlyMap<string, Analysis>, dirty: ReadonlySet<string>, reuseValues: ReadonlyMap<string, Analysis>): Promise<LoadResult> {
  const parents = new Map<string, Promise<string | undefined>>();
  const { config, problems: configProblems } = await readConfigFile(ctx);
  const scope = buildScope(config);
  const walk = await walkRepository(ctx.root, {
    bases: scope.clusters.flatMap((c) => c.patterns.map((p) => p.base)),
    wants: wantsOf(scope),
    skips: (path) => skips(scope, path),
    maxFiles: ctx.limits.maxFiles,
  });
  const analyses = new Map<string, Analysis>();
  const toRead: string[] = [];
  for (const path of walk.files) {
    const kept = reuse.get(path);
    if (kept !== undefined && !dirty.has(path) && (kept.target === undefined || !dirty.has(kept.target))) analyses.set(path, kept);
    else toRead.push(path);
  }
  const read = await mapLimit(toRead, ctx.concurrency, (path) => analyzeFile(path, ctx, parents));
  read.forEach((analysis, i) => {
    if (analysis !== undefined) analyses.set(toRead[i] as string, analysis);
  });
  const valuesOnly = await readValuesOnly(ctx, parents, analyses, reuseValues, dirty);
  const assemblies = new Map<string, Assembly>();
  if (config !== undefined) {
    const values = valuesAnalysesOf({ analyses, valuesOnly });
    for (const [path, analysis] of analyses) assemblies.set(path, assemble(analysis, scope, config, values, ctx.schemas));
  }
  return finish({ ctx, config, configProblems, analyses, valuesOnly, assemblies, walkProblems: groupByPath(walk.problems) });
}

/**
 * Loads a repository: reads `rollgate.yaml` and every YAML file in its
 * clusters' paths, and returns the targets, other resources and every
 * problem found. Never throws for anything in the repository; throws
 * `RepositoryRootError` only when `dir` is not a readable directory.
 */
export async function loadRepository(dir: string, options: LoadOptions = {}): Promise<LoadResult> {
  const root = await resolveRoot(dir);
  const ctx: Context = {
    root,
    limits: resolveLimits(options),
    schemas: await loadSchemas(),
    concurrency: options.concurrency ?? 32,
  };
  return coldLoad(ctx, new Map(), new Set(), new Map());
}

/**
 * Loads a repository again after some files changed, reading only those.
 * `changedPaths` are repository-relative paths with `/` separators, as `git
 * diff --name-only` prints them between the two revisions (both sides of a
 * rename, and deleted files, included). Unchanged targets keep their
 * identity (the same objects as in `previous`), so a planner can skip them.
 * `root` is where the new revision is checked out, when it is not where
 * `previous` was read from (the agent checks each commit out into its own
 * immutable snapshot); files outside `changedPaths` must be the same there.
 */
export async function reload(previous: LoadResult, changedPaths: Iterable<string>, root: string = previous.root): Promise<LoadResult> {
  const state = previous.snapshot;
  const ctx = root === state.ctx.root ? state.ctx : { ...state.ctx, root: await resolveRoot(root) };
  const parents = new Map<string, Promise<string | undefined>>();
  const changed = new Set<string>();
  for (const raw of changedPaths) {
    const why = referenceProblem(raw);
    if (why !== undefined) throw new TypeError(`changed path ${JSON.stringify(raw)} ${why}`);
    changed.add(joinReference('', raw));
  }
  // Symlinks read through a changed file changed too.
  for (const analysis of state.analyses.values()) if (analysis.target !== undefined && changed.has(analysis.target)) changed.add(analysis.path);
  if (changed.has(configFile)) return coldLoad(ctx, state.analyses, changed, state.valuesOnly);

  const config = state.config;
  const scope = buildScope(config);
  const analyses = new Map(state.analyses);
  const walkProblems = new Map(state.walkProblems);
  const toRead = new Set<string>();
  for (const path of changed) {
    analyses.delete(path);
    walkProblems.delete(path);
    if (skips(scope, path)) continue;
    // Walking just this path finds what it is now: a file, a folder of files, a symlink, or nothing.
    const walk = await walkRepository(ctx.root, { bases: [path], wants: wantsOf(scope), skips: (p) => skips(scope, p), maxFiles: ctx.limits.maxFiles });
    for (const p of walk.problems) walkProblems.set(p.file, [...(walkProblems.get(p.file) ?? []).filter((q) => q.code !== p.code), p]);
    for (const file of walk.files) toRead.add(file);
  }
  const list = [...toRead];
  const read = await mapLimit(list, ctx.concurrency, (path) => analyzeFile(path, ctx, parents));
  read.forEach((analysis, i) => {
    if (analysis !== undefined) analyses.set(list[i] as string, analysis);
  });
  if (analyses.size > ctx.limits.maxFiles) {
    const last = [...analyses.keys()].sort().at(-1) as string;
    walkProblems.set(last, [problem(last, { line: 1, column: 1 }, 'too-many-files', `more than ${ctx.limits.maxFiles} YAML files; rollgate reads at most ${ctx.limits.maxFiles} per repository`)]);
  }
  const valuesOnly = await readValuesOnly(ctx, parents, analyses, state.valuesOnly, changed);
  const assemblies = new Map<string, Assembly>();
  if (config !== undefined) {
    const values = valuesAnalysesOf({ analyses, valuesOnly });
    for (const [path, analysis] of analyses) {
      const kept = state.assemblies.get(path);
      const stale = kept === undefined || changed.has(path) || kept.valuesFiles.some((v) => changed.has(v));
      assemblies.set(path, stale ? assemble(analysis, scope, config, values, ctx.schemas) : kept);
    }
  }
  return finish({ ...state, ctx, analyses, valuesOnly, assemblies, walkProblems });
}
