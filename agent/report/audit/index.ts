/**
 * `rollgate audit`'s logic: who changed which desired version when, and
 * what each rollout of those commits did, from a repository's history and
 * the status rollgate wrote to it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultStatusBranch, type StatusConfig } from '../../manifests/index.ts';
import { displayRemote } from '../git/exec.ts';
import type { StatusLocation } from '../git/status-file.ts';
import { signatureStatus, type AuditChange, type AuditReport, type AuditRollout, type AuditTarget } from './model.ts';
import { cloneForAudit, commitTree, findBranchRef, readHistory, readSignatures, resolveBranch } from './repository.ts';
import { readRollouts, readStatusCommits } from './rollouts.ts';
import { walkVersions, type TargetInfo } from './versions-walk.ts';

export { AuditError, type AuditErrorCode } from './repository.ts';
export { formatAuditTable, formatDate, formatVersionChanges } from './format.ts';
export { diffVersions, literalPrefix, manifestRelevance } from './versions-walk.ts';
export {
  signatureStatus,
  type AuditAuthor,
  type AuditChange,
  type AuditHalt,
  type AuditProblemCommit,
  type AuditReport,
  type AuditRollout,
  type AuditTarget,
  type SignatureStatus,
  type VersionChange,
} from './model.ts';

/** Options of {@link runAudit}. */
export interface AuditOptions {
  /** A local directory (a work tree or a bare repository) or a URL. */
  readonly repo: string;
  /** The tracked branch. Default: the one the repository's HEAD names, else `main`. */
  readonly branch?: string;
  /** What a relative `repo` is resolved against. */
  readonly cwd: string;
  /** git's environment: `PATH`, `HOME`, credentials, `GNUPGHOME` for signature checks. */
  readonly env: NodeJS.ProcessEnv;
  /** Where the temporary clone goes (removed afterwards). Default: the OS temporary directory. */
  readonly tempDir?: string;
}

/** How much work an audit did. */
export interface AuditStats {
  /** Commits of the branch. */
  readonly commits: number;
  /** Commits whose files were read (the others touched no manifest path or shared a tree). */
  readonly loads: number;
  /** Status commits read. */
  readonly statusCommits: number;
}

function targetInfo(id: string): TargetInfo {
  const [cluster = '', namespace = '', kind = '', name = ''] = id.split('/');
  return { id, cluster, namespace, kind, name };
}

/**
 * Audits a repository. Throws {@link AuditError} when it is not a
 * repository, cannot be cloned or has no such branch; an invalid manifest
 * at some commit is reported in the result, not thrown.
 */
export async function runAudit(options: AuditOptions): Promise<{ report: AuditReport; stats: AuditStats }> {
  const dir = await mkdtemp(join(options.tempDir ?? tmpdir(), 'rollgate-audit-'));
  try {
    const clone = await cloneForAudit(options.repo, options.cwd, dir, options.env);
    const { branch, head } = await resolveBranch(clone, options.repo, options.branch);
    const commits = await readHistory(clone, `refs/heads/${branch}`);
    const walk = await walkVersions(clone, commits, await commitTree(clone, join(dir, 'tree')));

    const status: StatusConfig = walk.status ?? { mode: 'branch', branch: defaultStatusBranch };
    const location: StatusLocation = status.mode === 'branch' ? { mode: 'branch' } : { mode: 'inTree', path: status.path };
    const statusRef = status.mode === 'branch' ? await findBranchRef(clone, status.branch) : `refs/heads/${branch}`;
    const statusExists = statusRef !== undefined;
    const statusCommits = statusRef !== undefined ? await readStatusCommits(clone, statusRef) : [];
    const rollouts = await readRollouts(clone, statusCommits, location);

    const signatures = await readSignatures(clone, [...new Set(walk.changes.map((c) => c.commit.sha))]);
    const ids = [...new Set([...walk.targets.keys(), ...rollouts.keys()])].sort();
    const targets: AuditTarget[] = ids.map((id) => {
      const info = walk.targets.get(id) ?? targetInfo(id);
      const list: readonly AuditRollout[] = rollouts.get(id) ?? [];
      const changes: AuditChange[] = walk.changes
        .filter((c) => c.target.id === id)
        .map((c) => {
          const signature = signatures.get(c.commit.sha);
          return {
            commit: c.commit.sha,
            author: { name: c.commit.authorName, email: c.commit.authorEmail },
            date: c.commit.date,
            signature: { status: signatureStatus(signature?.code ?? 'N'), code: signature?.code ?? 'N', signer: signature?.signer ?? null },
            versions: c.versions,
            problems: c.problems,
            rollout: list.find((r) => r.source === c.commit.sha) ?? null,
          };
        });
      return { id, cluster: info.cluster, namespace: info.namespace, kind: info.kind, name: info.name, changes, rollouts: list };
    });
    const report: AuditReport = {
      repository: displayRemote(options.repo),
      branch,
      head,
      status: status.mode === 'branch' ? { mode: 'branch', branch: status.branch, found: statusExists } : { mode: 'inTree', path: status.path, found: statusCommits.length > 0 },
      targets,
      problems: walk.repositoryProblems.map((p) => ({ commit: p.commit.sha, author: { name: p.commit.authorName, email: p.commit.authorEmail }, date: p.commit.date, problems: p.problems })),
    };
    return { report, stats: { commits: commits.length, loads: walk.loads, statusCommits: statusCommits.length } };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
