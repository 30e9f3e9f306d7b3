/**
 * The rollout as a pull-request comment and a commit status: pure
 * functions of the latest transition of each target rolled out from one
 * merge commit, so the same transitions render the same bytes (and the
 * comment is not edited when a transition is reported twice).
 *
 * Status of the merge commit (`rollgate/rollout`), over its targets:
 * - `failure` when any target is Halted or Refused: a person must act;
 * - else `error` when any was Superseded: a newer revision replaced this one before it
 *   finished, so this commit's rollout neither succeeded nor failed (GitLab shows `failed`);
 * - else `pending` while any is Pending, Progressing, Waiting or Suspended (it resumes when Git unsuspends it);
 * - else `success`: every target Succeeded.
 */
import type { RolloutPhase, RolloutTransition, StageProgress } from '../../rollout/reporter.ts';
import type { CommitState } from './provider.ts';

/** The neutral status a phase gives its merge commit. */
export function phaseState(phase: RolloutPhase): CommitState {
  switch (phase) {
    case 'Halted':
    case 'Refused':
      return 'failure';
    case 'Superseded':
      return 'error';
    case 'Succeeded':
      return 'success';
    case 'Pending':
    case 'Progressing':
    case 'Waiting':
    case 'Suspended':
      return 'pending';
  }
}

const severity: Record<CommitState, number> = { success: 0, pending: 1, error: 2, failure: 3 };

/** The status of a merge commit and its one-line description, from the latest transition of each of its targets. */
export function rolloutStatus(transitions: readonly RolloutTransition[]): { readonly state: CommitState; readonly description: string } {
  const sorted = [...transitions].sort((a, b) => a.target.localeCompare(b.target));
  let state: CommitState = 'success';
  for (const t of sorted) if (severity[phaseState(t.phase)] > severity[state]) state = phaseState(t.phase);
  const worst = sorted.find((t) => phaseState(t.phase) === state);
  const counts = (phase: RolloutPhase): number => sorted.filter((t) => t.phase === phase).length;
  const n = sorted.length;
  switch (state) {
    case 'success':
      return { state, description: `Rolled out: ${n} target${n === 1 ? '' : 's'} match Git` };
    case 'failure':
      return { state, description: `${worst?.phase ?? 'Halted'}: ${worst?.target ?? ''}${worst?.error !== undefined ? ` (${worst.error.code})` : ''}` };
    case 'error':
      return { state, description: `Superseded by a newer revision: ${worst?.target ?? ''}` };
    case 'pending': {
      const waiting = sorted.find((t) => t.phase === 'Waiting');
      if (waiting !== undefined) return { state, description: `Waiting: ${waiting.target} for ${waiting.waitingFor?.gate ?? 'a gate'}` };
      return { state, description: `Rolling out: ${counts('Succeeded')}/${n} target${n === 1 ? '' : 's'} done` };
    }
  }
}

const cell = (text: string): string => text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
const code = (text: string): string => `\`${text.replace(/`/g, "'")}\``;

const stateIcon: Record<StageProgress['state'], string> = {
  pending: ':white_circle: pending',
  running: ':arrows_counterclockwise: running',
  waiting: ':hourglass: waiting',
  done: ':white_check_mark: done',
  halted: ':stop_sign: halted',
};

const phaseIcon: Record<RolloutPhase, string> = {
  Pending: ':white_circle:',
  Progressing: ':arrows_counterclockwise:',
  Waiting: ':hourglass:',
  Halted: ':stop_sign:',
  Succeeded: ':white_check_mark:',
  Suspended: ':pause_button:',
  Superseded: ':fast_forward:',
  Refused: ':no_entry:',
};

function versions(stage: StageProgress): string {
  if (stage.from === undefined && stage.to === undefined) return 'configuration';
  if (stage.from === stage.to) return `${stage.to ?? ''} (configuration)`;
  return `${stage.from ?? '?'} → ${stage.to ?? '?'}`;
}

/** What a person can do about a waiting rollout, by what it waits for. */
function waitingHint(gate: string, target: string): string {
  if (gate === 'approval') return `Comment \`/rollgate approve ${target}\` (or \`/rollgate approve\` for every target) to let it go on; only people with write permission can.`;
  if (gate === 'hold') return 'Comment `/rollgate resume` to let it go on.';
  if (gate === 'maintenanceWindow') return 'It starts by itself when the window opens.';
  return '';
}

function targetSection(t: RolloutTransition): string[] {
  const out = [`#### ${phaseIcon[t.phase]} ${code(t.target)}: ${t.phase}`, ''];
  if (t.stages.length > 0) {
    out.push('| component | from → to | pods | state |', '|---|---|---|---|');
    for (const s of t.stages) out.push(`| ${cell(s.component)} | ${cell(versions(s))} | ${s.podsDone}/${s.podsTotal} | ${stateIcon[s.state]} |`);
    out.push('');
  }
  if (t.phase === 'Halted' || t.phase === 'Refused') {
    out.push(`> **${t.phase}**${t.error !== undefined ? ` (${code(t.error.code)}): ${cell(t.error.message)}` : ''}`, '>', `> What to do: ${cell(t.message)}`, '');
  } else if (t.phase === 'Waiting' && t.waitingFor !== undefined) {
    const until = t.waitingFor.until !== undefined ? ` until ${t.waitingFor.until}` : '';
    const hint = waitingHint(t.waitingFor.gate, t.target);
    out.push(`> **Waiting** for ${cell(t.waitingFor.description)}${until}.${hint !== '' ? ` ${hint}` : ''}`, '');
  } else {
    out.push(cell(t.message), '');
  }
  out.push(`<sub>Started ${t.startedAt}${t.finishedAt !== undefined ? `, finished ${t.finishedAt}` : ''}; last change ${t.at}.</sub>`);
  return out;
}

/** The rollout comment for merge commit `source`: a headline, then one section per target with its stage table, halts with reason and what to do, waits with what for. */
export function rolloutMarkdown(source: string, transitions: readonly RolloutTransition[]): string {
  const sorted = [...transitions].sort((a, b) => a.target.localeCompare(b.target));
  const status = rolloutStatus(sorted);
  const out = ['### rollgate rollout', '', `Merge commit ${code(source.slice(0, 12))}: **${status.state}**: ${cell(status.description)}.`];
  for (const t of sorted) out.push('', ...targetSection(t));
  return `${out.join('\n')}\n`;
}
