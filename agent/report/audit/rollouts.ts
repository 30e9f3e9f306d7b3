/**
 * Rollouts as the status commits tell them: each status commit's trailers
 * say which target, source and phase; the status file at the last commit of
 * each rollout (one source and plan) holds its start, finish and every
 * transition with its errors.
 */
import type { RolloutPhase } from '../../rollout/reporter.ts';
import { readBlobs } from '../git/exec.ts';
import { parseStatusDocument, statusFilePath, statusTrailers, terminalPhases, type StatusDocument, type StatusLocation, type StatusTrailers } from '../git/status-file.ts';
import type { AuditHalt, AuditRollout } from './model.ts';
import type { AuditClone } from './repository.ts';

/** One status commit. */
export interface StatusCommit {
  readonly sha: string;
  /** Author date: when the transition happened. */
  readonly date: string;
  readonly trailers: StatusTrailers;
}

/** The status commits reachable from `ref`, oldest first; other commits (in-tree, the user's) are left out. */
export async function readStatusCommits(clone: AuditClone, ref: string): Promise<StatusCommit[]> {
  const text = await clone.git(['log', '--topo-order', '--reverse', '--grep=^Rollgate-Target: ', '--format=%x1e%H%x1f%aI%x1f%B', ref, '--']);
  const out: StatusCommit[] = [];
  for (const record of text.split('\x1e')) {
    if (record.trim() === '') continue;
    const [sha = '', date = '', body = ''] = record.split('\x1f');
    const trailers = statusTrailers(body);
    if (trailers !== undefined) out.push({ sha, date: date.trim(), trailers });
  }
  return out;
}

interface Segment {
  readonly target: string;
  readonly source: string | undefined;
  readonly commits: StatusCommit[];
}

function seconds(from: string, to: string): number | null {
  const ms = Date.parse(to) - Date.parse(from);
  return Number.isNaN(ms) ? null : Math.max(0, Math.round(ms / 1000));
}

/** Builds one rollout from its segments (one per plan hash, oldest first) and the status file at each segment's last commit. */
export function rolloutOf(segments: readonly Segment[], documents: readonly (StatusDocument | undefined)[]): AuditRollout {
  const first = segments[0]?.commits[0];
  const lastSegment = segments[segments.length - 1];
  const lastCommit = lastSegment?.commits[lastSegment.commits.length - 1];
  const lastDocument = documents[documents.length - 1];
  const outcome: RolloutPhase = lastCommit?.trailers.phase ?? 'Pending';
  const startedAt = documents.find((d) => d !== undefined && d.startedAt !== '')?.startedAt ?? first?.date ?? '';
  const terminal = terminalPhases.includes(outcome);
  const finishedAt = terminal ? (lastDocument?.finishedAt ?? lastCommit?.date ?? null) : null;
  const halts: AuditHalt[] = [];
  const seen = new Set<string>();
  segments.forEach((segment, i) => {
    const document = documents[i];
    if (document !== undefined) {
      for (const t of document.transitions) {
        if (t.phase !== 'Halted') continue;
        const key = `${t.at}|${t.stage ?? ''}|${t.step ?? ''}`;
        if (seen.has(key)) continue;
        seen.add(key);
        halts.push({ at: t.at, stage: t.stage ?? null, step: t.step ?? null, code: t.error?.code ?? null, message: t.error?.message ?? t.message });
      }
      return;
    }
    // No readable file (written by someone else): the commits still say when it halted, not why.
    for (const c of segment.commits) {
      if (c.trailers.phase === 'Halted') halts.push({ at: c.date, stage: c.trailers.stage ?? null, step: c.trailers.step ?? null, code: null, message: '' });
    }
  });
  return {
    source: segments[0]?.source ?? null,
    startedAt,
    finishedAt,
    durationSeconds: finishedAt === null ? null : seconds(startedAt, finishedAt),
    outcome,
    transitions: segments.reduce((n, s) => n + s.commits.length, 0),
    halts,
  };
}

/** Every rollout in `commits`, by target id, in the order they started. */
export async function readRollouts(clone: AuditClone, commits: readonly StatusCommit[], location: StatusLocation): Promise<Map<string, AuditRollout[]>> {
  // target → source → plan → segment, in first-seen order.
  const rollouts = new Map<string, Map<string, Map<string, Segment>>>();
  for (const c of commits) {
    const { target, source, planHash } = c.trailers;
    const bySource = rollouts.get(target) ?? new Map<string, Map<string, Segment>>();
    rollouts.set(target, bySource);
    const byPlan = bySource.get(source ?? '') ?? new Map<string, Segment>();
    bySource.set(source ?? '', byPlan);
    const segment = byPlan.get(planHash ?? '') ?? { target, source, commits: [] };
    byPlan.set(planHash ?? '', segment);
    segment.commits.push(c);
  }
  const names: string[] = [];
  for (const bySource of rollouts.values()) {
    for (const byPlan of bySource.values()) {
      for (const segment of byPlan.values()) {
        const last = segment.commits[segment.commits.length - 1];
        if (last !== undefined) names.push(`${last.sha}:${statusFilePath(segment.target, location)}`);
      }
    }
  }
  const texts = await readBlobs(names, clone.options);
  const out = new Map<string, AuditRollout[]>();
  for (const [target, bySource] of rollouts) {
    const list: AuditRollout[] = [];
    for (const byPlan of bySource.values()) {
      const segments = [...byPlan.values()];
      const documents = segments.map((s) => {
        const last = s.commits[s.commits.length - 1];
        const text = last === undefined ? undefined : texts.get(`${last.sha}:${statusFilePath(s.target, location)}`);
        return text === undefined ? undefined : parseStatusDocument(text);
      });
      list.push(rolloutOf(segments, documents));
    }
    out.set(target, list);
  }
  return out;
}
