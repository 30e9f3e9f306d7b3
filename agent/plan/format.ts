/**
 * A plan for people and machines: text for terminals, markdown for
 * pull-request comments (warnings first, one table per target, the raw patch
 * folded away), and JSON as the CLI contract specifies. All three are pure
 * functions of the plan, so the same plan prints the same bytes.
 */
import { formatDuration, type Position } from '../manifests/index.ts';
import type { Plan, PlanStage, PlanWarning, TargetPlan } from './types.ts';

/** The output formats of `rollgate plan`. */
export const planFormats = ['text', 'markdown', 'json'] as const;
/** One of {@link planFormats}. */
export type PlanFormat = (typeof planFormats)[number];

const where = (p: Position): string => `${p.file}:${p.line}:${p.column}`;
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

function versionText(stage: PlanStage): string {
  if (stage.from === undefined || stage.to === undefined) return 'configuration';
  return stage.from === stage.to ? `${stage.to} (configuration)` : `${stage.from} → ${stage.to}`;
}

/** One line summing up the plan. */
export function planHeadline(plan: Plan): string {
  const { summary } = plan;
  if (summary.changed === 0) return `No changes: the clusters match Git (${plural(summary.targets, 'target')}).`;
  const parts = [`${plural(summary.changed, 'target')} to change`, `${plural(summary.restarts, 'pod restart')}`];
  if (summary.refused > 0) parts.push(`${summary.refused} refused`);
  return `Plan: ${parts.join(', ')}; ${plural(summary.targets - summary.changed, 'target')} unchanged.`;
}

function actionText(target: TargetPlan): string {
  switch (target.action) {
    case 'none':
      return 'no change';
    case 'create':
      return 'create';
    case 'update':
      return target.stages.length === 0 ? 'update in place (no restarts)' : `update: ${plural(target.stages.length, 'stage')}, ${plural(target.stages.reduce((n, s) => n + s.pods.length, 0), 'pod restart')}`;
    case 'refused':
      return 'REFUSED, nothing is changed';
    case 'suspended':
      return 'suspended';
  }
}

function warningLine(w: PlanWarning): string {
  return `${w.code}${w.component !== undefined ? ` (${w.component})` : ''}: ${w.message}${w.position !== undefined ? ` [${where(w.position)}]` : ''}`;
}

/** The plan for a terminal. */
export function planText(plan: Plan): string {
  const lines: string[] = [planHeadline(plan)];
  for (const target of plan.targets) {
    lines.push('', `${target.id}: ${actionText(target)}  (${where(target.position)})`);
    if (target.refusal !== undefined) lines.push(`  refused: ${target.refusal}`);
    if (target.dependsOn.length > 0) lines.push(`  after: ${target.dependsOn.join(', ')}`);
    for (const w of target.warnings) lines.push(`  ! ${warningLine(w)}`);
    target.stages.forEach((stage, i) => {
      lines.push(`  stage ${i + 1}: ${stage.component}  ${versionText(stage)}  [${stage.drive}, ${stage.workload.kind} ${stage.workload.name}]`);
      lines.push(`    pods:  ${stage.pods.join(', ')}${stage.skipped.length > 0 ? `  (left alone: ${stage.skipped.join(', ')})` : ''}`);
      lines.push(`    gates: ${stage.gates.map((g) => g.summary).join('; ')}; deadline ${formatDuration(stage.progressDeadline)}`);
      for (const hold of stage.holds) lines.push(`    holds: ${hold.description}`);
      if (stage.reasons.length > 0) lines.push(`    why:   ${stage.reasons.join('; ')}`);
    });
    const inPlace = target.changes.filter((c) => !c.restarts);
    if (inPlace.length > 0) lines.push(`  in place: ${inPlace.map((c) => c.path).join(', ')}`);
  }
  return `${lines.join('\n')}\n`;
}

// Markdown table cells: no pipes or newlines may break the row.
const cell = (text: string): string => text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
const code = (text: string): string => `\`${text.replace(/`/g, "'")}\``;

/** The plan as a pull-request comment: warnings first, a stage table per target, the patch folded away. */
export function planMarkdown(plan: Plan): string {
  const out: string[] = [`### rollgate plan`, '', planHeadline(plan)];
  if (plan.source !== undefined) out.push('', `Desired state: ${code(plan.source)}`);
  const warned = plan.targets.filter((t) => t.warnings.length > 0 || t.refusal !== undefined);
  if (warned.length > 0) {
    out.push('', '#### Warnings', '');
    for (const target of warned) {
      if (target.refusal !== undefined) out.push(`- :no_entry: **${code(target.id)} refused**: ${target.refusal}`);
      for (const w of target.warnings) out.push(`- :warning: ${code(target.id)} **${w.code}**${w.component !== undefined ? ` (${w.component})` : ''}: ${w.message}${w.position !== undefined ? ` (${code(where(w.position))})` : ''}`);
    }
  }
  for (const target of plan.targets) {
    out.push('', `#### ${code(target.id)}: ${actionText(target)}`, '');
    if (target.dependsOn.length > 0) out.push(`Starts after ${target.dependsOn.map(code).join(', ')}.`, '');
    if (target.stages.length > 0) {
      out.push('| # | stage | from → to | pods (restart order) | gates |', '|---|---|---|---|---|');
      target.stages.forEach((stage, i) => {
        const gates = [...stage.holds.map((h) => `**${h.description}**`), ...stage.gates.map((g) => g.summary)];
        out.push(`| ${i + 1} | ${cell(stage.component)} | ${cell(versionText(stage))} | ${stage.pods.map(code).map(cell).join(', ')} | ${cell(gates.join('; '))} |`);
      });
    } else if (target.action === 'create') {
      out.push(`Created from ${code(where(target.position))}; no pod restarts.`);
    } else if (target.action !== 'none') {
      out.push('No pod restarts.');
    }
    if (target.patch.length > 0) {
      out.push('', `<details><summary>Patch (${plural(target.patch.length, 'operation')})</summary>`, '', '```json', JSON.stringify(target.patch, null, 2), '```', '', '</details>');
    }
  }
  return `${out.join('\n')}\n`;
}

/** The plan as JSON: the plan object itself, two-space indented. */
export function planJson(plan: Plan): string {
  return `${JSON.stringify(plan, null, 2)}\n`;
}

/** The plan in one of {@link planFormats}. */
export function formatPlan(plan: Plan, format: PlanFormat): string {
  return format === 'json' ? planJson(plan) : format === 'markdown' ? planMarkdown(plan) : planText(plan);
}
