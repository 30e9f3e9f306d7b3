/**
 * The status a rollout writes to Git, as pure functions: where a target's
 * file lives, what it holds, the commit message (subject, body, trailers)
 * of each transition, and how a commit or a set of changed files is
 * recognised as rollgate's own, so the source poller never reconciles on it.
 *
 * The file keeps the transitions of the rollout it describes (one source
 * and plan), so "was this transition written already?" is answered by
 * reading one file at the branch tip, after a restart too.
 */
import { parse, stringify } from 'yaml';
import type { StatusConfig } from '../../manifests/index.ts';
import type { RolloutPhase, RolloutTransition, StageProgress } from '../../rollout/reporter.ts';
import { sanitize } from './exec.ts';

/** Trailer names of status commits, in the order they are written. */
export const trailerNames = {
  target: 'Rollgate-Target',
  source: 'Rollgate-Source',
  plan: 'Rollgate-Plan',
  phase: 'Rollgate-Phase',
  stage: 'Rollgate-Stage',
  step: 'Rollgate-Step',
} as const;

/** Phases after which a rollout of a source does nothing more. */
export const terminalPhases: readonly RolloutPhase[] = ['Succeeded', 'Halted', 'Superseded', 'Refused'];

const phases: readonly RolloutPhase[] = ['Pending', 'Progressing', 'Waiting', 'Halted', 'Succeeded', 'Suspended', 'Superseded', 'Refused'];

/** Most transitions a status file keeps for its rollout (oldest dropped first). Default of {@link nextStatusDocument}. */
export const defaultHistoryLimit = 200;

/** A transition that cannot be written; `code` is stable. */
export class InvalidTransitionError extends Error {
  override readonly name = 'InvalidTransitionError';
  readonly code = 'invalid-transition';
}

// Kubernetes names, kinds and rollgate cluster names all fit; nothing that could climb out of a folder (`..`) or hide (`.x`).
const segment = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;

/** Throws {@link InvalidTransitionError} when a transition cannot become a file and a commit (a bad target id, an empty plan hash). */
export function checkTransition(t: RolloutTransition): void {
  const parts = t.target.split('/');
  if (parts.length !== 4 || parts.some((p) => !segment.test(p))) {
    throw new InvalidTransitionError(`target ${JSON.stringify(t.target)} is not cluster/namespace/kind/name of letters, digits, ".", "_" and "-"`);
  }
  const [cluster, namespace, kind, name] = parts;
  if (cluster !== t.cluster || namespace !== t.namespace || kind !== t.kind || name !== t.name) {
    throw new InvalidTransitionError(`target ${JSON.stringify(t.target)} does not match cluster ${t.cluster}, namespace ${t.namespace}, kind ${t.kind}, name ${t.name}`);
  }
  if (!phases.includes(t.phase)) throw new InvalidTransitionError(`${t.target}: unknown phase ${JSON.stringify(t.phase)}`);
  if (t.planHash === '' || /\s/.test(t.planHash)) throw new InvalidTransitionError(`${t.target}: plan hash ${JSON.stringify(t.planHash)} is empty or has spaces`);
  if (t.source !== undefined && !/^[0-9a-f]{7,64}$/.test(t.source)) throw new InvalidTransitionError(`${t.target}: source ${JSON.stringify(t.source)} is not a commit id`);
  if (t.stage !== undefined && (t.stage === '' || /[\r\n]/.test(t.stage))) throw new InvalidTransitionError(`${t.target}: stage ${JSON.stringify(t.stage)} is empty or spans lines`);
  if (t.step !== undefined && (!Number.isInteger(t.step) || t.step < 0)) throw new InvalidTransitionError(`${t.target}: step ${t.step} is not a 0-based index`);
  for (const [field, value] of [['at', t.at], ['startedAt', t.startedAt], ['finishedAt', t.finishedAt]] as const) {
    if (value !== undefined && Number.isNaN(Date.parse(value))) throw new InvalidTransitionError(`${t.target}: ${field} ${JSON.stringify(value)} is not an RFC 3339 time`);
  }
}

/** The identity of a transition: reporters write each key once. */
export function transitionKey(t: Pick<RolloutTransition, 'target' | 'source' | 'planHash' | 'phase' | 'stage' | 'step'>): string {
  return [t.target, t.source ?? '', t.planHash, t.phase, t.stage ?? '', t.step === undefined ? '' : String(t.step)].join('|');
}

/** Where a status file goes in the tree of the commit that holds it. */
export type StatusLocation = { readonly mode: 'branch' } | { readonly mode: 'inTree'; readonly path: string };

/** A repository path without leading, trailing or doubled slashes. */
export function normalizeFolder(path: string): string {
  return path.split('/').filter((p) => p !== '' && p !== '.').join('/');
}

/**
 * The path of a target's status file: `<cluster>/<namespace>/<kind>/<name>.yaml`
 * at the root of the status branch, or under the in-tree folder.
 */
export function statusFilePath(target: string, location: StatusLocation): string {
  const file = `${target}.yaml`;
  if (location.mode === 'branch') return file;
  const folder = normalizeFolder(location.path);
  return folder === '' ? file : `${folder}/${file}`;
}

/** The target id a status file path names, or undefined when the path is not a status file. */
export function targetOfStatusPath(path: string, location: StatusLocation): string | undefined {
  let rest = path;
  if (location.mode === 'inTree') {
    const folder = normalizeFolder(location.path);
    if (folder !== '') {
      if (!path.startsWith(`${folder}/`)) return undefined;
      rest = path.slice(folder.length + 1);
    }
  }
  if (!rest.endsWith('.yaml')) return undefined;
  const parts = rest.slice(0, -'.yaml'.length).split('/');
  return parts.length === 4 && parts.every((p) => segment.test(p)) ? parts.join('/') : undefined;
}

// ---------------------------------------------------------------------------
// The status file

/** One transition as a status file records it. */
export interface RecordedTransition {
  /** RFC 3339. */
  readonly at: string;
  readonly phase: RolloutPhase;
  readonly stage?: string;
  readonly step?: number;
  readonly message: string;
  readonly error?: { readonly code: string; readonly message: string };
}

/** The content of a target's status file (`kind: RolloutStatus`). */
export interface StatusDocument {
  readonly apiVersion: 'rollgate.dev/v1alpha1';
  readonly kind: 'RolloutStatus';
  readonly target: { readonly id: string; readonly cluster: string; readonly namespace: string; readonly kind: string; readonly name: string };
  /** The desired-state commit; null for a local directory. */
  readonly source: string | null;
  readonly planHash: string;
  readonly phase: RolloutPhase;
  readonly stage?: string;
  /** 0-based. */
  readonly step?: number;
  /** RFC 3339. */
  readonly startedAt: string;
  /** RFC 3339. */
  readonly finishedAt?: string;
  /** RFC 3339: the last transition. */
  readonly updatedAt: string;
  readonly message: string;
  /** The last error of this rollout; kept after it moves on, so a reader sees why it stopped before. */
  readonly lastError?: { readonly code: string; readonly message: string; readonly at: string };
  readonly waitingFor?: { readonly gate: string; readonly description: string; readonly until?: string };
  readonly stages: readonly StageProgress[];
  /** This rollout's transitions, oldest first, at most {@link defaultHistoryLimit}. */
  readonly transitions: readonly RecordedTransition[];
}

type Obj = { readonly [key: string]: unknown };
const isObj = (value: unknown): value is Obj => typeof value === 'object' && value !== null && !Array.isArray(value);
const optStr = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const optInt = (value: unknown): number | undefined => (typeof value === 'number' && Number.isInteger(value) ? value : undefined);
const isPhase = (value: unknown): value is RolloutPhase => typeof value === 'string' && (phases as readonly string[]).includes(value);

function parseError(value: unknown): { code: string; message: string } | undefined {
  if (!isObj(value) || typeof value['code'] !== 'string' || typeof value['message'] !== 'string') return undefined;
  return { code: value['code'], message: value['message'] };
}

function withDefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/**
 * Reads a status file. Returns undefined when the text is not a status
 * document (edited by hand, written by another version): the caller then
 * writes a fresh one rather than trusting it.
 */
export function parseStatusDocument(text: string): StatusDocument | undefined {
  let value: unknown;
  try {
    value = parse(text, { maxAliasCount: 0 });
  } catch {
    return undefined;
  }
  if (!isObj(value) || value['kind'] !== 'RolloutStatus') return undefined;
  const target = value['target'];
  if (!isObj(target) || typeof target['id'] !== 'string') return undefined;
  const planHash = value['planHash'];
  const phase = value['phase'];
  if (typeof planHash !== 'string' || !isPhase(phase)) return undefined;
  const source = value['source'];
  if (source !== null && typeof source !== 'string') return undefined;
  const transitions: RecordedTransition[] = [];
  if (Array.isArray(value['transitions'])) {
    for (const entry of value['transitions'] as unknown[]) {
      if (!isObj(entry) || !isPhase(entry['phase']) || typeof entry['at'] !== 'string') continue;
      transitions.push(
        withDefined({ at: entry['at'], phase: entry['phase'], stage: optStr(entry['stage']), step: optInt(entry['step']), message: optStr(entry['message']) ?? '', error: parseError(entry['error']) }),
      );
    }
  }
  const lastError = isObj(value['lastError']) ? parseError(value['lastError']) : undefined;
  const waiting = value['waitingFor'];
  const stages = Array.isArray(value['stages']) ? (value['stages'] as unknown[]).filter(isObj).map((s) => s as unknown as StageProgress) : [];
  return withDefined({
    apiVersion: 'rollgate.dev/v1alpha1' as const,
    kind: 'RolloutStatus' as const,
    target: {
      id: target['id'],
      cluster: optStr(target['cluster']) ?? '',
      namespace: optStr(target['namespace']) ?? '',
      kind: optStr(target['kind']) ?? '',
      name: optStr(target['name']) ?? '',
    },
    source,
    planHash,
    phase,
    stage: optStr(value['stage']),
    step: optInt(value['step']),
    startedAt: optStr(value['startedAt']) ?? '',
    finishedAt: optStr(value['finishedAt']),
    updatedAt: optStr(value['updatedAt']) ?? '',
    message: optStr(value['message']) ?? '',
    lastError: lastError && isObj(value['lastError']) ? { ...lastError, at: optStr(value['lastError']['at']) ?? '' } : undefined,
    waitingFor:
      isObj(waiting) && typeof waiting['gate'] === 'string' && typeof waiting['description'] === 'string'
        ? withDefined({ gate: waiting['gate'], description: waiting['description'], until: optStr(waiting['until']) })
        : undefined,
    stages,
    transitions,
  });
}

/** Why {@link nextStatusDocument} writes nothing. */
export type SkipReason = 'duplicate' | 'stale';

/**
 * The status file after a transition, given the file before it (undefined
 * when there is none or it is unreadable).
 *
 * - `duplicate`: the file's rollout (same source and plan) already records
 *   this transition (same phase, stage and step): a replay after a restart.
 * - `stale`: the file describes another rollout that moved later than this
 *   transition happened: writing it would put an old rollout back.
 *
 * A new rollout (another source or plan hash) starts a new transition list.
 */
export function nextStatusDocument(
  previous: StatusDocument | undefined,
  t: RolloutTransition,
  historyLimit = defaultHistoryLimit,
): { readonly skip: SkipReason } | { readonly skip?: undefined; readonly document: StatusDocument } {
  const sameRollout = previous !== undefined && previous.target.id === t.target && previous.source === (t.source ?? null) && previous.planHash === t.planHash;
  if (sameRollout && previous.transitions.some((r) => r.phase === t.phase && r.stage === t.stage && r.step === t.step)) return { skip: 'duplicate' };
  if (previous !== undefined && !sameRollout && previous.target.id === t.target && Date.parse(previous.updatedAt) > Date.parse(t.at)) return { skip: 'stale' };
  const clean = (text: string): string => sanitize(text);
  const error = t.error === undefined ? undefined : { code: t.error.code, message: clean(t.error.message) };
  const recorded: RecordedTransition = withDefined({ at: t.at, phase: t.phase, stage: t.stage, step: t.step, message: clean(t.message), error });
  const history = [...(sameRollout ? previous.transitions : []), recorded].slice(-Math.max(1, historyLimit));
  const lastError = error !== undefined ? { ...error, at: t.at } : sameRollout ? previous.lastError : undefined;
  const document: StatusDocument = withDefined({
    apiVersion: 'rollgate.dev/v1alpha1' as const,
    kind: 'RolloutStatus' as const,
    target: { id: t.target, cluster: t.cluster, namespace: t.namespace, kind: t.kind, name: t.name },
    source: t.source ?? null,
    planHash: t.planHash,
    phase: t.phase,
    stage: t.stage,
    step: t.step,
    startedAt: t.startedAt,
    finishedAt: t.finishedAt,
    updatedAt: t.at,
    message: clean(t.message),
    lastError,
    waitingFor: t.waitingFor === undefined ? undefined : withDefined({ gate: t.waitingFor.gate, description: clean(t.waitingFor.description), until: t.waitingFor.until }),
    stages: t.stages.map((s) => withDefined({ ...s })),
    transitions: history,
  });
  return { document };
}

/** The text of a status file. */
export function renderStatusDocument(document: StatusDocument): string {
  return `# Status of ${document.target.id}, written by rollgate: edits are overwritten.\n${stringify(document, { lineWidth: 0 })}`;
}

// ---------------------------------------------------------------------------
// Commit messages

const oneLine = (text: string): string => text.replace(/\s*[\r\n]+\s*/g, ' ').trim();

/** `step 2/3`: 1-based, out of the stage's pods when known. */
function stepLabel(t: Pick<RolloutTransition, 'stage' | 'step' | 'stages'>): string | undefined {
  if (t.step === undefined) return undefined;
  const total = t.stages.find((s) => s.component === t.stage)?.podsTotal;
  return total !== undefined && total > 0 ? `${t.step + 1}/${total}` : String(t.step + 1);
}

/**
 * The commit message of a transition:
 *
 * ```
 * staging/tidb/TidbCluster/tidb: Progressing tikv (step 2/3)
 *
 * Restarting tikv-1.
 *
 * Rollgate-Target: staging/tidb/TidbCluster/tidb
 * Rollgate-Source: 3f2a…
 * Rollgate-Plan: 9c1e…
 * Rollgate-Phase: Progressing
 * Rollgate-Stage: tikv
 * Rollgate-Step: 2/3
 * ```
 *
 * `Rollgate-Step` is 1-based like the subject; `Rollgate-Source` is left
 * out for a local directory, `Rollgate-Stage` and `Rollgate-Step` when the
 * transition has none.
 */
export function commitMessage(t: RolloutTransition): string {
  const step = stepLabel(t);
  const subject = `${t.target}: ${t.phase}${t.stage !== undefined ? ` ${oneLine(t.stage)}` : ''}${step !== undefined ? ` (step ${step})` : ''}`;
  const body: string[] = [];
  if (t.message.trim() !== '') body.push(sanitize(t.message.trim()));
  if (t.error !== undefined) body.push(`Error ${oneLine(t.error.code)}: ${sanitize(t.error.message.trim())}`);
  if (t.waitingFor !== undefined) body.push(`Waiting for ${oneLine(t.waitingFor.gate)}: ${sanitize(oneLine(t.waitingFor.description))}${t.waitingFor.until !== undefined ? ` (until ${t.waitingFor.until})` : ''}`);
  const trailers = [`${trailerNames.target}: ${t.target}`];
  if (t.source !== undefined) trailers.push(`${trailerNames.source}: ${t.source}`);
  trailers.push(`${trailerNames.plan}: ${t.planHash}`, `${trailerNames.phase}: ${t.phase}`);
  if (t.stage !== undefined) trailers.push(`${trailerNames.stage}: ${oneLine(t.stage)}`);
  if (step !== undefined) trailers.push(`${trailerNames.step}: ${step}`);
  return [subject, ...body, trailers.join('\n')].join('\n\n') + '\n';
}

/** One `Key: value` line of a commit's trailer block. */
export interface Trailer {
  readonly key: string;
  readonly value: string;
}

/** The trailers of a commit message: the lines of its last paragraph, when every line there is `Key: value`. */
export function parseTrailers(message: string): Trailer[] {
  const paragraphs = message.replace(/\r\n/g, '\n').trim().split(/\n[ \t]*\n/);
  if (paragraphs.length < 2) return [];
  const last = paragraphs[paragraphs.length - 1] ?? '';
  const out: Trailer[] = [];
  for (const line of last.split('\n')) {
    const match = /^([A-Za-z0-9][A-Za-z0-9-]*):[ \t]*(.*?)\s*$/.exec(line);
    if (!match) return [];
    out.push({ key: match[1] ?? '', value: match[2] ?? '' });
  }
  return out;
}

/** What a status commit's trailers say. */
export interface StatusTrailers {
  readonly target: string;
  readonly source: string | undefined;
  readonly planHash: string | undefined;
  readonly phase: RolloutPhase;
  readonly stage: string | undefined;
  /** 0-based, like {@link RolloutTransition.step}. */
  readonly step: number | undefined;
}

/** The trailers of a status commit, or undefined when the message is not one (no `Rollgate-Target` and known `Rollgate-Phase`). */
export function statusTrailers(message: string): StatusTrailers | undefined {
  const trailers = parseTrailers(message);
  const get = (name: string): string | undefined => trailers.find((t) => t.key.toLowerCase() === name.toLowerCase())?.value;
  const target = get(trailerNames.target);
  const phase = get(trailerNames.phase);
  if (target === undefined || target === '' || !isPhase(phase)) return undefined;
  const step = get(trailerNames.step);
  const stepNumber = step === undefined ? undefined : Number.parseInt(step, 10);
  return {
    target,
    source: get(trailerNames.source),
    planHash: get(trailerNames.plan),
    phase,
    stage: get(trailerNames.stage),
    step: stepNumber === undefined || Number.isNaN(stepNumber) ? undefined : stepNumber - 1,
  };
}

/** True when a commit message is a rollgate status commit (it carries `Rollgate-Target` and `Rollgate-Phase` trailers). */
export function isStatusCommit(message: string): boolean {
  return statusTrailers(message) !== undefined;
}

/**
 * True when every changed file is a status file rollgate writes in-tree
 * (under `status.path` with `mode: inTree`), so the agent skips the
 * reconcile those files would otherwise start. False for an empty list
 * (nothing says the change is rollgate's) and always false with
 * `mode: branch`, whose status never reaches the tracked branch.
 */
export function changedOnlyStatus(changedFiles: readonly string[], status: StatusConfig): boolean {
  if (status.mode !== 'inTree' || changedFiles.length === 0) return false;
  const folder = normalizeFolder(status.path);
  if (folder === '') return false;
  return changedFiles.every((file) => normalizeFolder(file).startsWith(`${folder}/`));
}
