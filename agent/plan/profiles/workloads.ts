/**
 * Generic workloads. A StatefulSet rollgate owns is partition-driven: the
 * partition goes up to `replicas`, the new template is written, and the
 * partition comes down one ordinal at a time, each pod Running, Ready and
 * past its gates before the next (an `OnDelete` StatefulSet has its pods
 * deleted one at a time instead). A Deployment rolls natively, gated as a
 * whole.
 */
import type { KubeObject, Target } from '../../manifests/index.ts';
import { containerImages, templateImages } from '../versions.ts';
import type { PlanChange, PlanStage, PlanWarning } from '../types.ts';
import {
  driftWarnings,
  effectiveGates,
  field,
  fieldChange,
  imageChangeKind,
  imageChangeWarnings,
  isObj,
  numberAt,
  ordinalPods,
  planGate,
  shownVersion,
  specField,
  stageHolds,
  unhealthyWarning,
  type ProfileContext,
  type ProfileResult,
} from './common.ts';
import { podReady } from '../pods.ts';

type StatefulSetTarget = Target & { readonly kind: 'StatefulSet' };
type DeploymentTarget = Target & { readonly kind: 'Deployment' };
type WorkloadTarget = StatefulSetTarget | DeploymentTarget;

// Fields the API server refuses to change in place (apps/v1 validation).
const immutable: Readonly<Record<WorkloadTarget['kind'], ReadonlySet<string>>> = {
  StatefulSet: new Set(['selector', 'serviceName', 'volumeClaimTemplates', 'podManagementPolicy']),
  Deployment: new Set(['selector']),
};

/** The image changes of a workload's template, per container, as changes and warnings. */
function imageChanges(target: WorkloadTarget, live: KubeObject): { changes: PlanChange[]; warnings: PlanWarning[]; reasons: string[]; first?: { from: string; to: string } } {
  const before = templateImages(live);
  const after = templateImages(target.object);
  const changes: PlanChange[] = [];
  const warnings: PlanWarning[] = [];
  const reasons: string[] = [];
  let first: { from: string; to: string } | undefined;
  for (const [container, to] of Object.entries(after)) {
    const from = before[container];
    if (from === undefined || from === to) continue;
    first ??= { from, to };
    const kind = imageChangeKind(from, to);
    changes.push({ kind, path: `/spec/template/containers/${container}`, component: container, from: shownVersion(from), to: shownVersion(to), restarts: true });
    reasons.push(shownVersion(from) === shownVersion(to) ? `${container} image ${from} → ${to}` : `${container} ${shownVersion(from)} → ${shownVersion(to)}`);
    warnings.push(...imageChangeWarnings(target, container, from, to, target.locate(containerImagePointer(target, container))));
  }
  return { changes, warnings, reasons, ...(first !== undefined ? { first } : {}) };
}

function containerImagePointer(target: WorkloadTarget, container: string): string {
  for (const list of ['initContainers', 'containers'] as const) {
    const index = (target.object.spec.template.spec[list] ?? []).findIndex((c) => c.name === container);
    if (index >= 0) return `/spec/template/spec/${list}/${index}/image`;
  }
  return '/spec/template';
}

/** True for an operation on a container's image field (counted by {@link imageChanges}). */
function isImageField(pointer: string): boolean {
  return /^\/spec\/template\/spec\/(?:init)?[cC]ontainers\/\d+\/image$/.test(pointer);
}

/** Changes of a workload's spec besides images: template changes restart pods, the rest does not; immutable fields refuse the plan. */
function fieldChanges(ctx: ProfileContext<WorkloadTarget>): { changes: PlanChange[]; reasons: string[]; immutableFields: string[] } {
  const changes: PlanChange[] = [];
  const reasons: string[] = [];
  const immutableFields: string[] = [];
  for (const op of ctx.diff.patch) {
    if (isImageField(op.path)) continue;
    const { top } = specField(op.path);
    const restarts = top === 'template';
    changes.push(fieldChange(ctx.diff, op, ctx.live, restarts, restarts ? ctx.target.name : undefined));
    if (restarts) reasons.push(op.path.slice(1).replace(/\//g, '.'));
    if (top !== undefined && immutable[ctx.target.kind].has(top) && !immutableFields.includes(top)) immutableFields.push(top);
  }
  return { changes, reasons, immutableFields };
}

function refusalForImmutable(target: WorkloadTarget, fields: readonly string[]): string {
  const names = fields.map((f) => `spec.${f}`).join(', ');
  return `${names} of a ${target.kind} cannot change in place (the API server rejects it): recreate ${target.name} by hand (\`kubectl delete ${target.kind.toLowerCase()} ${target.name} -n ${target.namespace} --cascade=orphan\`, then let rollgate create it), or revert ${names} in Git`;
}

/** Containers of a pod template without a readiness probe. */
function containersWithoutProbe(target: StatefulSetTarget): string[] {
  return target.object.spec.template.spec.containers.filter((c) => !isObj(c['readinessProbe'])).map((c) => c.name);
}

/** A warning when a StatefulSet's containers have no readiness probe (Ready then only means started). */
export function readinessProbeWarning(target: StatefulSetTarget): PlanWarning | undefined {
  const missing = containersWithoutProbe(target);
  if (missing.length === 0) return undefined;
  return {
    code: 'no-readiness-probe',
    position: target.locate('/spec/template/spec/containers'),
    message: `container${missing.length === 1 ? '' : 's'} ${missing.join(', ')} of ${target.name} ha${missing.length === 1 ? 's' : 've'} no readinessProbe, so a pod counts as Ready as soon as it starts and the podReady gate proves little: add a readinessProbe, or an http gate that checks each pod`,
  };
}

/** The generic StatefulSet profile's plan for a StatefulSet that exists. */
export function planStatefulSet(ctx: ProfileContext<StatefulSetTarget>): ProfileResult {
  const { target, live, state } = ctx;
  const images = imageChanges(target, live);
  const fields = fieldChanges(ctx);
  const changes = [...images.changes, ...fields.changes];
  const warnings = [...images.warnings, ...driftWarnings(target, changes)];
  const reasons = [...images.reasons, ...fields.reasons];
  const refusal = fields.immutableFields.length > 0 ? refusalForImmutable(target, fields.immutableFields) : undefined;
  if (refusal !== undefined) warnings.push({ code: 'immutable-field', position: target.locate(`/spec/${fields.immutableFields[0] ?? ''}`), message: refusal });

  // A rollout left half-way (partition above its floor, revisions differing) still has pods to move even when the template matches Git.
  const status = field(live, 'status');
  const updateRevision = field(status, 'updateRevision');
  const inProgress = reasons.length === 0 && typeof updateRevision === 'string' && field(status, 'currentRevision') !== updateRevision;
  const stages: PlanStage[] = [];
  if (reasons.length > 0 || inProgress) {
    const liveReplicas = numberAt(live, 'spec', 'replicas') ?? 1;
    const replicas = Math.min(liveReplicas, target.object.spec.replicas ?? liveReplicas);
    const floor = target.object.spec.updateStrategy?.rollingUpdate?.partition ?? 0;
    const onlyImages = fields.reasons.length === 0;
    const desiredImages = templateImages(target.object);
    const current = (pod: KubeObject): boolean => {
      if (inProgress) return field(pod.metadata.labels, 'controller-revision-hash') === updateRevision;
      if (!onlyImages) return false;
      const running = containerImages(isObj(pod['spec']) ? pod['spec'] : {});
      return Object.entries(desiredImages).every(([name, image]) => running[name] === image);
    };
    const { pods, skipped } = ordinalPods(state, target.cluster, target.namespace, target.name, replicas, floor, current);
    if (pods.length > 0) {
      const gates = effectiveGates(target.policy.gates);
      const onDelete = target.object.spec.updateStrategy?.type === 'OnDelete';
      stages.push({
        component: target.name,
        ...(images.first !== undefined ? { from: shownVersion(images.first.from), to: shownVersion(images.first.to) } : {}),
        drive: onDelete ? 'on-delete' : 'partition',
        workload: { kind: 'StatefulSet', name: target.name },
        pods,
        skipped,
        reasons: inProgress ? ['a rollout left in progress (pods below the update revision)'] : reasons,
        steps: pods.map((pod) => ({ pods: [pod] })),
        gates: gates.map((g) => planGate(g, 'StatefulSet rolled out (as kubectl rollout status judges)')),
        progressDeadline: target.policy.progressDeadline,
        holds: stageHolds(gates, ctx.now),
      });
      const unhealthy = unhealthyWarning(state, target, target.name, pods);
      if (unhealthy !== undefined) warnings.push(unhealthy);
      const probe = readinessProbeWarning(target);
      if (probe !== undefined) warnings.push(probe);
    }
  }
  return { changes, stages, warnings, ...(refusal !== undefined ? { refusal } : {}) };
}

/** Pods a Deployment's selector matches, that are not being deleted, by name. */
function deploymentPods(ctx: ProfileContext<DeploymentTarget>): KubeObject[] {
  const matchLabels = field(field(ctx.live['spec'], 'selector'), 'matchLabels');
  if (!isObj(matchLabels) || Object.keys(matchLabels).length === 0) return [];
  return ctx.state
    .pods(ctx.target.cluster, ctx.target.namespace)
    .filter((pod) => pod.metadata['deletionTimestamp'] === undefined && Object.entries(matchLabels).every(([k, v]) => pod.metadata.labels?.[k] === v))
    .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
}

/** The Deployment profile's plan for a Deployment that exists. */
export function planDeployment(ctx: ProfileContext<DeploymentTarget>): ProfileResult {
  const { target, live } = ctx;
  const images = imageChanges(target, live);
  const fields = fieldChanges(ctx);
  const changes = [...images.changes, ...fields.changes];
  const warnings = [...images.warnings, ...driftWarnings(target, changes)];
  const reasons = [...images.reasons, ...fields.reasons];
  const refusal = fields.immutableFields.length > 0 ? refusalForImmutable(target, fields.immutableFields) : undefined;
  if (refusal !== undefined) warnings.push({ code: 'immutable-field', position: target.locate('/spec/selector'), message: refusal });
  const stages: PlanStage[] = [];
  if (reasons.length > 0) {
    const pods = deploymentPods(ctx).map((p) => p.metadata.name);
    const gates = effectiveGates(target.policy.gates);
    stages.push({
      component: target.name,
      ...(images.first !== undefined ? { from: shownVersion(images.first.from), to: shownVersion(images.first.to) } : {}),
      drive: 'native',
      workload: { kind: 'Deployment', name: target.name },
      pods,
      skipped: [],
      reasons,
      // The Deployment controller replaces its pods itself (its strategy decides how many at once); rollgate gates the whole.
      steps: [{ pods }],
      gates: gates.map((g) => planGate(g, 'Deployment rolled out and Available')),
      progressDeadline: target.policy.progressDeadline,
      holds: stageHolds(gates, ctx.now),
    });
    const unready = deploymentPods(ctx).filter((p) => !podReady(p)).map((p) => p.metadata.name);
    const unhealthy = unhealthyWarning(ctx.state, target, target.name, unready);
    if (unhealthy !== undefined) warnings.push(unhealthy);
  }
  return { changes, stages, warnings, ...(refusal !== undefined ? { refusal } : {}) };
}
