/**
 * What every profile shares: the context it plans in, how gates and holds
 * are shown, how a version change is classified and warned about, and how
 * pods are read.
 */
import { formatDuration, imageTag, type Gate, type KubeObject, type Position, type Target } from '../../manifests/index.ts';
import type { ObjectDiff } from '../diff.ts';
import { pointerSegments } from '../diff.ts';
import type { ChangeKind, LiveState, PatchOperation, PlanChange, PlanGate, PlanStage, PlanWarning, StageHold } from '../types.ts';
import { podReady } from '../pods.ts';
import { compareVersions, parseVersion, skippedMajors } from '../versions-order.ts';
import { windowState } from '../window.ts';

/** Everything a profile plans from: the target, its live object, the diff between them, the cluster, and the time (for windows). */
export interface ProfileContext<T extends Target = Target> {
  readonly target: T;
  readonly live: KubeObject;
  readonly diff: ObjectDiff;
  readonly state: LiveState;
  /** ms since the epoch; only maintenance windows read it. */
  readonly now: number;
  /** All targets of the repository, for profiles that look at a neighbour (the Redis Enterprise operator). */
  readonly targets: readonly Target[];
}

/** What a profile adds to a target's plan. */
export interface ProfileResult {
  readonly changes: readonly PlanChange[];
  readonly stages: readonly PlanStage[];
  readonly warnings: readonly PlanWarning[];
  /** Set when the plan must not be carried out, with the sentence that says why and what to do. */
  readonly refusal?: string;
  /** Targets this one must wait for, beyond its policy. */
  readonly dependsOn?: readonly string[];
  /** Operations the profile adds to the diff: what an absent field means to the operator (`spec.paused` absent is false). */
  readonly patch?: readonly PatchOperation[];
}

type Obj = { readonly [key: string]: unknown };
/** True for a plain JSON object. */
export const isObj = (value: unknown): value is Obj => typeof value === 'object' && value !== null && !Array.isArray(value);
/** `value[key]` when `value` is an object. */
export const field = (value: unknown, key: string): unknown => (isObj(value) ? value[key] : undefined);

/** The repository part of an image reference (`pingcap/pd:v7.5.1` → `pingcap/pd`). */
export function imageRepository(image: string): string {
  const withoutDigest = image.split('@', 1)[0] ?? image;
  const tag = imageTag(image);
  return tag === undefined ? withoutDigest : withoutDigest.slice(0, withoutDigest.length - tag.length - 1);
}

/** A version as shown: the tag, or the whole reference when it has none. */
export function shownVersion(image: string): string {
  return imageTag(image) ?? image;
}

/** How moving from one image to another is classified: by tag order, or `image` when the tags do not order. */
export function imageChangeKind(from: string, to: string): ChangeKind {
  const order = compareVersions(shownVersion(from), shownVersion(to));
  if (order === undefined || order === 0) return 'image';
  return order < 0 ? 'upgrade' : 'downgrade';
}

/** Renders a JSON value for a change's from/to. */
export function shownValue(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * Warnings every profile gives about an image change of one component:
 * downgrade, skipped majors, enterprise images, tags that are not versions.
 */
export function imageChangeWarnings(target: Target, component: string, from: string, to: string, at: Position): PlanWarning[] {
  const warnings: PlanWarning[] = [];
  const fromTag = shownVersion(from);
  const toTag = shownVersion(to);
  const kind = imageChangeKind(from, to);
  if (kind === 'downgrade') {
    const allowed = target.policy.downgrade === 'allow';
    warnings.push({
      code: 'downgrade',
      component,
      position: at,
      message: allowed
        ? `${component} goes back from ${fromTag} to ${toTag}: a downgrade, allowed by policy (downgrade: allow); make sure ${fromTag} wrote no data ${toTag} cannot read`
        : `${component} goes back from ${fromTag} to ${toTag}: a downgrade, refused; set the version back to ${fromTag} or later, or allow it with \`downgrade: allow\` for this target in rollgate.yaml`,
    });
  }
  if (kind === 'upgrade') {
    const skipped = skippedMajors(fromTag, toTag);
    if (skipped.length > 0) {
      const prefix = fromTag.startsWith('v') ? 'v' : '';
      warnings.push({
        code: 'major-version-skip',
        component,
        position: at,
        message: `${component} jumps from ${fromTag} to ${toTag}, skipping major version${skipped.length > 1 ? 's' : ''} ${skipped.map((m) => `${prefix}${m}`).join(', ')}: check the upgrade path in the release notes, or upgrade through ${prefix}${skipped[0] ?? ''} first`,
      });
    }
  }
  if (parseVersion(toTag) === undefined) {
    warnings.push({
      code: 'unversioned-image',
      component,
      position: at,
      message: `${component}'s new image ${to} has no version tag rollgate can order, so it cannot tell an upgrade from a downgrade; pin a version such as ${imageRepository(to)}:v1.2.3`,
    });
  }
  const fromEnterprise = imageRepository(from).endsWith('-enterprise');
  const toEnterprise = imageRepository(to).endsWith('-enterprise');
  if (fromEnterprise !== toEnterprise) {
    warnings.push({
      code: 'enterprise-images',
      component,
      position: at,
      message: toEnterprise
        ? `${component} switches to the enterprise image ${imageRepository(to)}: check the image is licensed and pullable from every node before the rollout`
        : `${component} switches from the enterprise image ${imageRepository(from)} back to ${imageRepository(to)}: enterprise-only features stop working`,
    });
  }
  return warnings;
}

/** The built-in gates every stage passes, whatever the policy says: pods Ready and the workload's own status. */
const builtinGates: readonly Gate[] = [{ kind: 'podReady' }, { kind: 'rolloutStatus' }];

/** A policy's gates with the built-in ones first when the policy leaves them out. */
export function effectiveGates(gates: readonly Gate[]): Gate[] {
  const missing = builtinGates.filter((builtin) => !gates.some((g) => g.kind === builtin.kind));
  return [...missing, ...gates];
}

/** How a gate is shown in a plan. `rolloutStatus` names what the profile reads as done. */
export function planGate(gate: Gate, rolloutStatus: string): PlanGate {
  const position = gate.position;
  const withPosition = (summary: string): PlanGate => ({ kind: gate.kind, summary, ...(position !== undefined ? { position } : {}) });
  switch (gate.kind) {
    case 'podReady':
      return withPosition('pods Running and Ready');
    case 'rolloutStatus':
      return withPosition(rolloutStatus);
    case 'soak':
      return withPosition(`soak ${formatDuration(gate.duration)}`);
    case 'http': {
      const json = gate.expectJSON !== undefined ? ` with ${gate.expectJSON.path.join('.')} = ${JSON.stringify(gate.expectJSON.equals)}` : '';
      return withPosition(`GET ${gate.url} → ${gate.expectStatus}${json}`);
    }
    case 'approval':
      return withPosition(`approval (${approvalWays(gate).join(', or ')})`);
    case 'maintenanceWindow':
      return withPosition(`window "${gate.schedule}" for ${formatDuration(gate.duration)} (${gate.timeZone})`);
  }
}

function approvalWays(gate: Gate & { kind: 'approval' }): string[] {
  const ways: string[] = [];
  if (gate.comment) ways.push('a /rollgate approve comment on the pull request');
  if (gate.file !== undefined) ways.push(`a commit that changes ${gate.file}`);
  return ways;
}

const iso = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');

/** What holds a stage's first step: its approvals and maintenance windows, as of `now`. */
export function stageHolds(gates: readonly Gate[], now: number): StageHold[] {
  const holds: StageHold[] = [];
  for (const gate of gates) {
    if (gate.kind === 'approval') holds.push({ gate: 'approval', description: `waits for ${approvalWays(gate).join(', or ')}` });
    if (gate.kind === 'maintenanceWindow') {
      const state = windowState(gate, now);
      const schedule = `"${gate.schedule}" (${gate.timeZone}, ${formatDuration(gate.duration)})`;
      if (state.open) holds.push({ gate: 'maintenanceWindow', open: true, closesAt: iso(state.closesAt), description: `maintenance window ${schedule} open until ${iso(state.closesAt)}` });
      else if (state.opensAt !== undefined) holds.push({ gate: 'maintenanceWindow', open: false, opensAt: iso(state.opensAt), description: `waits for the maintenance window ${schedule} opening ${iso(state.opensAt)}` });
      else holds.push({ gate: 'maintenanceWindow', open: false, description: `waits for the maintenance window ${schedule}, which never opens within a year: check the schedule` });
    }
  }
  return holds;
}

/** A number field, or undefined. */
export function numberAt(value: unknown, ...path: string[]): number | undefined {
  let current = value;
  for (const key of path) current = field(current, key);
  return typeof current === 'number' && Number.isFinite(current) ? current : undefined;
}

/** The first path segment after `/spec` of a JSON pointer (`/spec/pd/replicas` → `pd`), or undefined. */
export function specField(pointer: string): { readonly top: string | undefined; readonly rest: readonly string[] } {
  const segments = pointerSegments(pointer);
  if (segments[0] !== 'spec') return { top: undefined, rest: segments };
  return { top: segments[1], rest: segments.slice(2) };
}

/**
 * Pods of a StatefulSet that will restart, highest ordinal first, from
 * `replicas - 1` down to `floor` (a partition), and those left alone. A pod
 * is left alone when `current(pod)` says it already runs what is desired;
 * ordinals that have no pod are left out (the controller creates them new).
 */
export function ordinalPods(state: LiveState, cluster: string, namespace: string, statefulSet: string, replicas: number, floor: number, current: (pod: KubeObject) => boolean): { pods: string[]; skipped: string[] } {
  const pods: string[] = [];
  const skipped: string[] = [];
  for (let ordinal = replicas - 1; ordinal >= 0; ordinal--) {
    const name = `${statefulSet}-${ordinal}`;
    const pod = state.pod(cluster, namespace, name);
    if (pod === undefined) continue;
    if (ordinal < floor || current(pod)) skipped.push(name);
    else pods.push(name);
  }
  return { pods, skipped };
}

/** A warning when some pods a stage restarts are not Running and Ready already: the rollout starts from an unhealthy state. */
export function unhealthyWarning(state: LiveState, target: Target, component: string, pods: readonly string[]): PlanWarning | undefined {
  const unready = pods.filter((name) => {
    const pod = state.pod(target.cluster, target.namespace, name);
    return pod !== undefined && !podReady(pod);
  });
  if (unready.length === 0) return undefined;
  return {
    code: 'unhealthy-before-start',
    component,
    position: target.position,
    message: `${unready.join(', ')} ${unready.length === 1 ? 'is' : 'are'} not Running and Ready before the rollout starts; the first gate waits for ${unready.length === 1 ? 'it' : 'them'} up to the progress deadline: fix ${unready.length === 1 ? 'it' : 'them'} first, or the rollout halts`,
  };
}

/** A patch operation as a change: drift when Git did not change the field, otherwise a restart or an in-place change. */
export function fieldChange(diff: ObjectDiff, op: { readonly op: string; readonly path: string; readonly value?: unknown }, live: unknown, restarts: boolean, component?: string): PlanChange {
  const from = shownValue(valueAtPointer(live, op.path));
  const to = op.op === 'remove' ? undefined : shownValue(op.value);
  return {
    kind: diff.drifted.has(op.path) ? 'drift' : restarts ? 'restart' : 'in-place',
    path: op.path,
    ...(component !== undefined ? { component } : {}),
    ...(from !== undefined ? { from } : {}),
    ...(to !== undefined ? { to } : {}),
    restarts,
  };
}

/** The value at a JSON pointer of any value, or undefined. */
export function valueAtPointer(value: unknown, pointer: string): unknown {
  let current = value;
  for (const segment of pointerSegments(pointer)) {
    if (Array.isArray(current)) current = current[Number(segment)];
    else if (isObj(current)) current = Object.prototype.hasOwnProperty.call(current, segment) ? current[segment] : undefined;
    else return undefined;
  }
  return current;
}

/** Drift warnings for the drifted changes of a target: one per field, saying what Git restores. */
export function driftWarnings(target: Target, changes: readonly PlanChange[]): PlanWarning[] {
  return changes
    .filter((c) => c.kind === 'drift')
    .map((c) => ({
      code: 'drift' as const,
      ...(c.component !== undefined ? { component: c.component } : {}),
      position: target.locate(c.path),
      message: `${c.path.slice(1).replace(/\//g, '.')} is ${c.from ?? 'absent'} in the cluster but ${c.to ?? 'absent'} in Git, and Git has not changed it since the last apply: someone changed the cluster by hand; rollgate restores Git's value${c.restarts ? ', which restarts pods' : ''}. Put the change in Git if it should stay`,
    }));
}
