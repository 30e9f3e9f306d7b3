/**
 * The audit as people read it in a terminal: one block per target, one row
 * per commit that changed its versions (and per rollout of another commit),
 * columns aligned within the block, halts and problems on the lines below
 * their row.
 */
import { formatDuration } from '../../manifests/index.ts';
import type { AuditChange, AuditReport, AuditRollout, AuditTarget, SignatureStatus, VersionChange } from './model.ts';

const headers = ['COMMIT', 'DATE', 'AUTHOR', 'SIGNED', 'CHANGE', 'ROLLOUT', 'STARTED', 'DURATION'] as const;

/** `2024-05-01 10:00:00Z`: UTC, so rows written in different offsets compare by eye. Unparsable text is shown as it is. */
export function formatDate(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
}

/** `pd,tikv,tidb: v7.5.1 → v7.5.2`; components that moved alike share one group; `(none)` for absent. */
export function formatVersionChanges(changes: readonly VersionChange[]): string {
  const groups = new Map<string, string[]>();
  for (const c of changes) {
    const key = `${c.from ?? '(none)'} → ${c.to ?? '(none)'}`;
    groups.set(key, [...(groups.get(key) ?? []), c.component]);
  }
  return [...groups].map(([move, components]) => `${components.join(',')}: ${move}`).join('; ');
}

function signed(status: SignatureStatus): string {
  if (status === 'good') return 'yes';
  if (status === 'none') return 'no';
  return status;
}

function shortSha(sha: string | null): string {
  return sha === null ? '(local)' : sha.slice(0, 7);
}

function rolloutCells(rollout: AuditRollout | null): [string, string, string] {
  if (rollout === null) return ['-', '', ''];
  return [rollout.outcome, formatDate(rollout.startedAt), rollout.durationSeconds === null ? 'running' : formatDuration(rollout.durationSeconds * 1000)];
}

function haltLines(rollout: AuditRollout | null): string[] {
  if (rollout === null) return [];
  return rollout.halts.map((h) => {
    const where = h.stage === null ? '' : ` in ${h.stage}${h.step === null ? '' : ` step ${h.step + 1}`}`;
    const why = [h.code, h.message].filter((p) => p !== null && p !== '').join(': ');
    return `halted ${formatDate(h.at)}${where}${why === '' ? '' : `: ${why}`}`;
  });
}

interface Row {
  readonly cells: readonly string[];
  readonly notes: readonly string[];
}

function changeRow(change: AuditChange): Row {
  const what = change.versions.length > 0 ? formatVersionChanges(change.versions) : 'invalid manifest';
  return {
    cells: [shortSha(change.commit), formatDate(change.date), `${change.author.name} <${change.author.email}>`, signed(change.signature.status), what, ...rolloutCells(change.rollout)],
    notes: [...change.problems.map((p) => `invalid: ${p}`), ...haltLines(change.rollout)],
  };
}

function table(rows: readonly Row[], indent: string): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r.cells[i] ?? '').length)));
  const line = (cells: readonly string[]): string => `${indent}${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')}`.trimEnd();
  const noteIndent = `${indent}${' '.repeat((widths[0] ?? 0) + 2)}`;
  const out = [line(headers)];
  for (const row of rows) {
    out.push(line(row.cells));
    for (const note of row.notes) out.push(`${noteIndent}${note}`);
  }
  return out;
}

function targetBlock(target: AuditTarget): string[] {
  const rows: Row[] = target.changes.map(changeRow);
  const shown = new Set(target.changes.map((c) => c.rollout).filter((r) => r !== null));
  for (const rollout of target.rollouts) {
    if (shown.has(rollout)) continue;
    rows.push({ cells: [shortSha(rollout.source), '', '', '', '(no version change)', ...rolloutCells(rollout)], notes: haltLines(rollout) });
  }
  return [target.id, ...table(rows, '  ')];
}

/** The audit as a table for terminals. */
export function formatAuditTable(report: AuditReport): string {
  const status = report.status.mode === 'branch' ? `branch ${report.status.branch}` : `in-tree ${report.status.path}`;
  const out = [`${report.repository}: branch ${report.branch} at ${report.head.slice(0, 7)}; status from ${status}${report.status.found ? '' : ' (none written yet)'}`];
  if (report.targets.length === 0) out.push('', `no targets in the history of ${report.branch}`);
  for (const target of report.targets) out.push('', ...targetBlock(target));
  if (report.problems.length > 0) {
    out.push('', 'repository problems');
    for (const p of report.problems) {
      out.push(`  ${shortSha(p.commit)}  ${formatDate(p.date)}  ${p.author.name} <${p.author.email}>`);
      for (const line of p.problems) out.push(`           invalid: ${line}`);
    }
  }
  return out.join('\n') + '\n';
}
