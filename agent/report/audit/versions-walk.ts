/**
 * Desired versions through history: every commit of the tracked branch
 * whose diff touches a manifest path is loaded (once per distinct tree, and
 * incrementally: the work tree rewrites only the files that changed and
 * the loader re-reads only those), and each target's versions are compared
 * with its first parent's.
 *
 * A commit that touches no manifest path (a README, in-tree status files)
 * inherits its parent's state without being read.
 */
import { configFile, formatProblemLine, loadRepository, reload, type LoadResult, type RepositoryConfig, type StatusConfig } from '../../manifests/index.ts';
import { desiredVersions, type VersionMap } from '../../plan/versions.ts';
import { normalizeFolder } from '../git/status-file.ts';
import type { VersionChange } from './model.ts';
import { changedBetween, type AuditClone, type CommitTree, type HistoryCommit } from './repository.ts';

/** A target as the audit names it. */
export interface TargetInfo {
  readonly id: string;
  readonly cluster: string;
  readonly namespace: string;
  readonly kind: string;
  readonly name: string;
}

interface TargetState extends TargetInfo {
  /** Files the target is read from: its manifest, and a Helm release's values files. */
  readonly files: readonly string[];
}

/** What one loaded tree says, before anything is carried over from a parent. */
interface LoadedTree {
  readonly valid: boolean;
  readonly config: RepositoryConfig | undefined;
  readonly versions: ReadonlyMap<string, VersionMap>;
  readonly targets: ReadonlyMap<string, TargetState>;
  /** Problems as `file:line:col: message`, by file. */
  readonly problems: ReadonlyMap<string, readonly string[]>;
}

/** The desired state at a commit, as far as the audit needs it. */
interface State {
  readonly versions: ReadonlyMap<string, VersionMap>;
  readonly targets: ReadonlyMap<string, TargetState>;
  readonly problems: ReadonlySet<string>;
  readonly status: StatusConfig | undefined;
  readonly relevant: (file: string) => boolean;
}

/** A commit that changed a target's versions or broke its manifest. */
export interface TargetChange {
  readonly target: TargetInfo;
  readonly commit: HistoryCommit;
  readonly versions: readonly VersionChange[];
  readonly problems: readonly string[];
}

/** The outcome of {@link walkVersions}. */
export interface WalkResult {
  readonly changes: readonly TargetChange[];
  /** Problems new at a commit that concern no known target. */
  readonly repositoryProblems: readonly { readonly commit: HistoryCommit; readonly problems: readonly string[] }[];
  /** Every target seen at any commit, by id. */
  readonly targets: ReadonlyMap<string, TargetInfo>;
  /** Where status goes according to the branch's last commit (undefined: rollgate.yaml unreadable there). */
  readonly status: StatusConfig | undefined;
  /** Commits read from disk (the rest were skipped or shared a tree). */
  readonly loads: number;
}

/**
 * How each component's version moved from `before` to `after`, in the
 * order of `after` (then components that left); empty when nothing moved.
 */
export function diffVersions(before: VersionMap | undefined, after: VersionMap | undefined): VersionChange[] {
  const out: VersionChange[] = [];
  const b = before ?? {};
  const a = after ?? {};
  for (const [component, to] of Object.entries(a)) {
    const from = b[component];
    if (from !== to) out.push({ component, from: from ?? null, to });
  }
  for (const [component, from] of Object.entries(b)) if (!(component in a)) out.push({ component, from, to: null });
  return out;
}

/** The folder a cluster path names before its first wildcard: `prod` for `prod`, `clusters` for `clusters/*\/db`, `` for `**`. */
export function literalPrefix(path: string): string {
  const out: string[] = [];
  for (const part of normalizeFolder(path).split('/')) {
    if (/[*?[{]/.test(part)) break;
    out.push(part);
  }
  return out.join('/');
}

/**
 * Which changed files can change the desired state: `rollgate.yaml`,
 * anything under a cluster's paths (up to their first wildcard), and the
 * values files of Helm releases; never the in-tree status folder. Without
 * a readable `rollgate.yaml`, every file but the status folder counts.
 */
export function manifestRelevance(config: RepositoryConfig | undefined, targets: Iterable<TargetState>, status: StatusConfig | undefined): (file: string) => boolean {
  const statusFolder = status?.mode === 'inTree' ? normalizeFolder(status.path) : '';
  const inStatus = (file: string): boolean => statusFolder !== '' && file.startsWith(`${statusFolder}/`);
  if (config === undefined) return (file) => !inStatus(file);
  const prefixes = config.clusters.flatMap((c) => c.paths).map(literalPrefix);
  const named = new Set<string>([configFile]);
  for (const target of targets) for (const file of target.files) named.add(file);
  return (file) => {
    if (inStatus(file)) return false;
    if (named.has(file)) return true;
    return prefixes.some((p) => p === '' || file === p || file.startsWith(`${p}/`));
  };
}

function fromResult(result: LoadResult): LoadedTree {
  const versions = new Map<string, VersionMap>();
  const targets = new Map<string, TargetState>();
  for (const t of result.targets) {
    versions.set(t.id, desiredVersions(t));
    const files = [t.position.file, ...(t.source.type === 'helm' ? t.source.valuesFiles : [])];
    targets.set(t.id, { id: t.id, cluster: t.cluster, namespace: t.namespace, kind: t.kind, name: t.name, files });
  }
  const problems = new Map<string, string[]>();
  for (const p of result.problems) {
    const list = problems.get(p.file) ?? [];
    list.push(formatProblemLine(p));
    problems.set(p.file, list);
  }
  return { valid: result.valid, config: result.config, versions, targets, problems };
}

function stateOf(loaded: LoadedTree, parent: State | undefined): State {
  const versions = new Map(loaded.versions);
  const targets = new Map(loaded.targets);
  // An invalid commit hides the targets it broke; they keep their last versions, so the commit that fixes them is compared with the last valid state.
  if (!loaded.valid && parent !== undefined) {
    for (const [id, v] of parent.versions) {
      if (versions.has(id)) continue;
      versions.set(id, v);
      const target = parent.targets.get(id);
      if (target !== undefined) targets.set(id, target);
    }
  }
  const status = loaded.config?.status ?? parent?.status;
  return { versions, targets, problems: new Set([...loaded.problems.values()].flat()), status, relevant: manifestRelevance(loaded.config, targets.values(), status) };
}

/** Loads commits into one directory, incrementally. */
function loader(clone: AuditClone, tree: CommitTree): (commit: HistoryCommit) => Promise<LoadResult> {
  let last: LoadResult | undefined;
  return async (commit) => {
    const current = tree.commit();
    const changed = current === undefined ? undefined : current === commit.parents[0] ? commit.files : await changedBetween(clone, current, commit.sha);
    await tree.moveTo(commit.sha);
    if (last !== undefined && changed !== undefined) {
      try {
        last = await reload(last, changed);
        return last;
      } catch {
        // A path reload refuses (it names something outside the repository's rules): read everything instead.
      }
    }
    last = await loadRepository(tree.dir);
    return last;
  };
}

/** Walks `commits` (parents first, as {@link readHistory} lists them) and collects each target's version changes. */
export async function walkVersions(clone: AuditClone, commits: readonly HistoryCommit[], tree: CommitTree): Promise<WalkResult> {
  const load = loader(clone, tree);
  const states = new Map<string, State>();
  const byTree = new Map<string, LoadedTree>();
  const changes: TargetChange[] = [];
  const repositoryProblems: { commit: HistoryCommit; problems: string[] }[] = [];
  const targets = new Map<string, TargetInfo>();
  let loads = 0;
  let last: State | undefined;

  for (const commit of commits) {
    const parents = commit.parents.map((p) => states.get(p));
    const parent = parents[0];
    if (parent !== undefined && !commit.files.some(parent.relevant)) {
      states.set(commit.sha, parent);
      last = parent;
      continue;
    }
    let loaded = byTree.get(commit.tree);
    if (loaded === undefined) {
      loaded = fromResult(await load(commit));
      loads++;
      byTree.set(commit.tree, loaded);
    }
    const state = stateOf(loaded, parent);
    states.set(commit.sha, state);
    last = state;

    const fresh = (lines: readonly string[]): string[] => lines.filter((l) => !(parent?.problems.has(l) ?? false));
    const attributed = new Set<string>();
    const ids = new Set([...(parent?.versions.keys() ?? []), ...state.versions.keys()]);
    for (const id of [...ids].sort()) {
      const info = state.targets.get(id) ?? parent?.targets.get(id);
      if (info === undefined) continue;
      let versions = diffVersions(parent?.versions.get(id), state.versions.get(id));
      // A merge reports only what it introduced itself: a version some other parent already had came from that branch, reported at its own commit.
      const others = parents.slice(1);
      if (others.length > 0) versions = versions.filter((v) => !others.some((o) => o !== undefined && (o.versions.get(id)?.[v.component] ?? null) === v.to));
      const problems: string[] = [];
      for (const file of info.files) {
        for (const line of fresh(loaded.problems.get(file) ?? [])) {
          problems.push(line);
          attributed.add(line);
        }
      }
      if (versions.length === 0 && problems.length === 0) continue;
      targets.set(id, { id: info.id, cluster: info.cluster, namespace: info.namespace, kind: info.kind, name: info.name });
      changes.push({ target: targets.get(id) ?? info, commit, versions, problems });
    }
    const rest = fresh([...loaded.problems.values()].flat()).filter((l) => !attributed.has(l));
    if (rest.length > 0) repositoryProblems.push({ commit, problems: rest });
  }
  for (const [id, info] of last?.targets ?? []) if (!targets.has(id)) targets.set(id, { id, cluster: info.cluster, namespace: info.namespace, kind: info.kind, name: info.name });
  return { changes, repositoryProblems, targets, status: last?.status, loads };
}
