/**
 * Approval sources that do not need a forge: a file in the repository, and
 * the union of several sources (the file and a pull-request comment both
 * approve a gate written `approval: {comment: true, file: …}`).
 */
import type { ApprovalSource } from './gates.ts';

/** A file approval: the revision's own changes say whether it is approved. */
export interface FileApprovals extends ApprovalSource {
  /**
   * Records what revision `source` changed since the last applied one
   * (repository-relative paths), or `'all'` when that is unknown (a first
   * load, a restart without a change set): then no file approves it,
   * because an approval file that merely exists was written for an older
   * revision.
   */
  setRevision(source: string, changedFiles: readonly string[] | 'all'): void;
}

/** How many revisions' change sets are remembered: rollouts pick up a new revision at their next step boundary. */
const rememberedRevisions = 16;

/**
 * An approval gate `approval: {file: approvals/prod-tidb}` passes for a
 * revision whose commits (since the last applied revision) add or change
 * that file, or a file under it when it names a folder.
 */
export function createFileApprovals(): FileApprovals {
  const changes = new Map<string, readonly string[] | 'all'>();
  const listeners = new Set<() => void>();
  return {
    setRevision(source, changedFiles) {
      changes.delete(source);
      changes.set(source, changedFiles);
      while (changes.size > rememberedRevisions) changes.delete(changes.keys().next().value as string);
      for (const listener of [...listeners]) listener();
    },
    isApproved({ source, gate }) {
      const changed = changes.get(source);
      const file = gate.file?.replace(/\/+$/, '');
      if (file === undefined || changed === undefined || changed === 'all') return Promise.resolve(false);
      return Promise.resolve(changed.some((path) => path === file || path.startsWith(`${file}/`)));
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** Approved when any source approves; held when any source holds; changes when any changes. */
export function anyApproval(...sources: readonly ApprovalSource[]): ApprovalSource {
  return {
    async isApproved(request) {
      for (const source of sources) if (await source.isApproved(request)) return true;
      return false;
    },
    async isHeld(request) {
      for (const source of sources) if ((await source.isHeld?.(request)) === true) return true;
      return false;
    },
    onChange(listener) {
      const offs = sources.map((source) => source.onChange(listener));
      return () => offs.forEach((off) => off());
    },
  };
}
