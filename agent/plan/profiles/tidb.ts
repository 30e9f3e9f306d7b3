/**
 * The TiDB profile: a TidbCluster (written as a manifest, or rendered from
 * pingcap/tidb-cluster Helm values) moves one component at a time in TiDB
 * Operator's order, PD → TiProxy → TiFlash → TiKV → Pump → TiDB → TiCDC.
 * rollgate writes one component's version, the operator restarts that
 * component's pods from the highest ordinal down, and the next component
 * starts once the operator reports it Normal and rollgate's gates pass.
 */
import { componentPolicy, type Target, type TidbComponent } from '../../manifests/index.ts';
import { tidbClusterComponents, tidbComponentImage } from '../versions.ts';
import type { PatchOperation, PlanChange, PlanStage, PlanWarning } from '../types.ts';
import {
  effectiveGates,
  field,
  fieldChange,
  imageChangeKind,
  imageChangeWarnings,
  numberAt,
  ordinalPods,
  planGate,
  shownVersion,
  specField,
  stageHolds,
  unhealthyWarning,
  driftWarnings,
  type ProfileContext,
  type ProfileResult,
} from './common.ts';
import { podContainerImage } from '../pods.ts';

/** The annotation that lets TiDB Operator upgrade PD while PD is unavailable. */
export const forceUpgradeAnnotation = 'tidb.pingcap.com/force-upgrade';

type TidbTarget = Target & { readonly kind: 'TidbCluster' };

/** The highly available minimum of each component (the rolling-update guide: PD×3, TiKV×3, TiDB×2), and what a restart costs below it. */
const haMinimum: Readonly<Partial<Record<TidbComponent, { readonly label: string; readonly replicas: number; readonly impact: string }>>> = {
  pd: { label: 'PD', replicas: 3, impact: 'while a PD pod restarts, PD may lose its quorum and the whole cluster stops serving requests' },
  tikv: { label: 'TiKV', replicas: 3, impact: 'while a TiKV pod restarts, Regions it holds may lose their majority and become unavailable' },
  tidb: { label: 'TiDB', replicas: 2, impact: 'rolling a single TiDB server drops every client connection and the cluster serves no SQL until it is back' },
};

// Cluster-wide fields that change no pod: operator behaviour, reclaim policies, the paused switch.
const inPlaceClusterFields = new Set(['paused', 'pvReclaimPolicy', 'enablePVReclaim', 'configUpdateStrategy', 'enableDynamicConfiguration', 'discovery', 'helper', 'recoveryMode', 'acrossK8s', 'cluster', 'startScriptVersion']);
// Component fields that change no pod: scaling, failover and eviction settings, the Service.
const inPlaceComponentFields = new Set(['replicas', 'maxFailoverCount', 'evictLeaderTimeout', 'waitLeaderTransferBackTimeout', 'service', 'storageClassName', 'requests/storage', 'suspendAction', 'scalePolicy', 'failover']);
// Fields that make the component's image; a change to them is a version change, read through the image.
const imageFields = new Set(['version', 'baseImage', 'image']);

/** The TiDB profile's plan for one TidbCluster that exists in the cluster. */
export function planTidbCluster(ctx: ProfileContext<TidbTarget>): ProfileResult {
  const { target, live, diff, state } = ctx;
  const desired = target.object;
  const components = tidbClusterComponents(desired);
  const changes: PlanChange[] = [];
  const warnings: PlanWarning[] = [];
  const restartingComponents = new Map<TidbComponent, string[]>();
  const addReason = (component: TidbComponent, reason: string): void => {
    const reasons = restartingComponents.get(component) ?? [];
    if (!reasons.includes(reason)) reasons.push(reason);
    restartingComponents.set(component, reasons);
  };

  // Versions: compare the images the operator would render, so `spec.version`, a component `version`, `baseImage` and the deprecated `image` all count.
  const images = new Map<TidbComponent, { from: string; to: string }>();
  for (const component of components) {
    const from = tidbComponentImage(live, component);
    const to = tidbComponentImage(desired, component);
    if (from === undefined || to === undefined || from === to) continue;
    images.set(component, { from, to });
    const kind = imageChangeKind(from, to);
    changes.push({ kind, path: `/spec/${component}`, component, from: shownVersion(from), to: shownVersion(to), restarts: true });
    addReason(component, kind === 'image' && shownVersion(from) === shownVersion(to) ? `image ${from} → ${to}` : `version ${shownVersion(from)} → ${shownVersion(to)}`);
    warnings.push(...imageChangeWarnings(target, component, from, to, target.locate(versionPointer(target, component))));
  }

  for (const op of diff.patch) {
    const { top, rest } = specField(op.path);
    if (top === undefined) {
      changes.push(fieldChange(diff, op, live, false));
      continue;
    }
    if (top === 'version') continue;
    if ((components as readonly string[]).includes(top)) {
      const component = top as TidbComponent;
      if (rest[0] !== undefined && imageFields.has(rest[0])) continue;
      const restarts = rest.length > 0 && !inPlaceComponentFields.has(rest[0] ?? '') && !inPlaceComponentFields.has(rest.slice(0, 2).join('/'));
      changes.push(fieldChange(diff, op, live, restarts, component));
      if (restarts) addReason(component, op.path.slice(1).replace(/\//g, '.'));
      continue;
    }
    const restarts = !inPlaceClusterFields.has(top);
    changes.push(fieldChange(diff, op, live, restarts));
    // A cluster-wide field (timezone, TLS, scheduling defaults) reaches every component's pods.
    if (restarts) for (const component of components) addReason(component, op.path.slice(1).replace(/\//g, '.'));
  }
  warnings.push(...driftWarnings(target, changes));

  // What an absent field means to the operator, which the diff (comparing only what Git writes) cannot see.
  const patch: PatchOperation[] = [];
  const pdUnavailable = field(field(live['status'], 'pd'), 'synced') === false;
  const forceUpgradeSet = live.metadata.annotations?.[forceUpgradeAnnotation] === 'true';
  if (forceUpgradeSet && !pdUnavailable) {
    if (target.policy.forceUpgrade === 'whenPDUnavailable' && desired.metadata.annotations?.[forceUpgradeAnnotation] === undefined) {
      const op = { op: 'remove', path: `/metadata/annotations/${forceUpgradeAnnotation.replace(/~/g, '~0').replace(/\//g, '~1')}` } as const;
      patch.push(op);
      changes.push({ kind: 'in-place', path: op.path, from: 'true', restarts: false });
    }
    warnings.push({
      code: 'stale-force-upgrade',
      component: 'pd',
      position: target.position,
      message:
        target.policy.forceUpgrade === 'whenPDUnavailable'
          ? `${forceUpgradeAnnotation}=true is still set although PD is healthy; rollgate removes it before its next step, because while it stays, any PD outage during a template change makes TiDB Operator restart every PD pod at once`
          : `${forceUpgradeAnnotation}=true is still set although PD is healthy: while it stays, any PD outage during a template change makes TiDB Operator restart every PD pod at once; remove it with \`kubectl annotate tc ${target.name} -n ${target.namespace} ${forceUpgradeAnnotation}-\``,
    });
  }
  if (field(live['spec'], 'paused') === true && desired.spec.paused !== true) {
    if (desired.spec.paused === undefined) {
      patch.push({ op: 'replace', path: '/spec/paused', value: false });
      changes.push({ kind: 'in-place', path: '/spec/paused', from: 'true', to: 'false', restarts: false });
    }
    warnings.push({
      code: 'paused',
      position: target.position,
      message: `the TidbCluster is paused in the cluster (spec.paused: true), perhaps by a halted rollout; this plan unpauses it and TiDB Operator resumes whatever it had left to do before rollgate's first stage`,
    });
  }
  if (desired.spec.paused === true && restartingComponents.size > 0) {
    warnings.push({
      code: 'paused',
      position: target.locate('/spec/paused'),
      message: `Git pauses the TidbCluster (spec.paused: true), so TiDB Operator restarts no pod and the stages below cannot finish; remove spec.paused to let them run`,
    });
  }

  const stages: PlanStage[] = [];
  for (const component of components) {
    const reasons = restartingComponents.get(component);
    if (reasons === undefined) continue;
    const statefulSet = `${target.name}-${component}`;
    const liveSts = state.object(target.cluster, 'StatefulSet', target.namespace, statefulSet);
    const desiredReplicas = numberAt(desired.spec[component], 'replicas');
    const liveReplicas = numberAt(liveSts, 'spec', 'replicas') ?? numberAt(field(live['spec'], component), 'replicas') ?? 0;
    // Pods beyond the desired count are removed by scaling, not restarted.
    const replicas = Math.min(liveReplicas, desiredReplicas ?? liveReplicas);
    const image = images.get(component);
    const onlyImage = reasons.every((r) => r.startsWith('version ') || r.startsWith('image '));
    const { pods, skipped } = ordinalPods(state, target.cluster, target.namespace, statefulSet, replicas, 0, (pod) => onlyImage && image !== undefined && podContainerImage(pod, component) === image.to);
    if (pods.length === 0) continue;
    const policy = componentPolicy(target.policy, component);
    const gates = effectiveGates(policy.gates);
    const force = component === 'pd' && pdUnavailable && target.policy.forceUpgrade === 'whenPDUnavailable';
    const version = (image !== undefined ? { from: shownVersion(image.from), to: shownVersion(image.to) } : currentVersion(live, component)) ?? {};
    stages.push({
      component,
      ...version,
      drive: force ? 'force' : 'operator',
      workload: { kind: 'StatefulSet', name: statefulSet },
      pods,
      skipped,
      reasons,
      // The operator walks the pods itself; rollgate's gates hold the next component.
      steps: [{ pods }],
      gates: gates.map((g) => planGate(g, `TidbCluster status: ${component} Normal, StatefulSet updated, members healthy`)),
      progressDeadline: policy.progressDeadline,
      holds: stageHolds(gates, ctx.now),
    });
    const unhealthy = unhealthyWarning(state, target, component, pods);
    if (unhealthy !== undefined) warnings.push(unhealthy);
    const minimum = haMinimum[component];
    const count = desiredReplicas ?? liveReplicas;
    if (minimum !== undefined && count < minimum.replicas) {
      warnings.push({
        code: 'small-topology',
        component,
        position: target.locate(`/spec/${component}/replicas`),
        message: `${component} runs ${count} replica${count === 1 ? '' : 's'}, below the highly available ${minimum.label}×${minimum.replicas}: ${minimum.impact}; scale ${component} to ${minimum.replicas} before upgrading, or accept the outage`,
      });
    }
    if (component === 'tidb' && !gates.some((g) => g.kind === 'maintenanceWindow')) {
      warnings.push({
        code: 'tidb-client-connections',
        component,
        position: target.locate('/spec/tidb'),
        message: `restarting TiDB servers closes their client connections, and clients that cannot retry stale connections see failed requests: make clients retry, or add a maintenanceWindow gate under components.tidb.extraGates for this target in rollgate.yaml so TiDB restarts in idle time`,
      });
    }
    if (component === 'pd' && pdUnavailable) {
      warnings.push({
        code: 'pd-unavailable',
        component,
        position: target.position,
        message: force
          ? `PD is unavailable (status.pd.synced is false), so TiDB Operator cannot upgrade it gracefully; policy allows a forced upgrade: rollgate sets ${forceUpgradeAnnotation}=true, the operator restarts every PD pod at once, and rollgate removes the annotation as soon as PD is healthy`
          : `PD is unavailable (status.pd.synced is false), so TiDB Operator will not upgrade it and this rollout will halt at its deadline: repair PD, or allow \`forceUpgrade: whenPDUnavailable\` for this target in rollgate.yaml`,
      });
    }
  }
  return { changes, stages, warnings, patch };
}

/** Where the version of a component is written: its own `version`, `baseImage` or `image`, else `spec.version`. */
function versionPointer(target: TidbTarget, component: TidbComponent): string {
  const own = target.object.spec[component];
  if (typeof own?.version === 'string') return `/spec/${component}/version`;
  if (typeof own?.baseImage !== 'string' && typeof own?.image === 'string') return `/spec/${component}/image`;
  if (typeof target.object.spec.version === 'string') return '/spec/version';
  return `/spec/${component}/baseImage`;
}

function currentVersion(live: ProfileContext['live'], component: TidbComponent): { from: string; to: string } | undefined {
  const image = tidbComponentImage(live, component);
  return image === undefined ? undefined : { from: shownVersion(image), to: shownVersion(image) };
}

/** Warnings about a TidbCluster that does not exist yet: nothing restarts, but a small topology is worth knowing before the first upgrade. */
export function tidbCreateWarnings(target: TidbTarget): PlanWarning[] {
  const warnings: PlanWarning[] = [];
  for (const component of tidbClusterComponents(target.object)) {
    const minimum = haMinimum[component];
    const count = numberAt(target.object.spec[component], 'replicas');
    if (minimum === undefined || count === undefined || count >= minimum.replicas) continue;
    warnings.push({
      code: 'small-topology',
      component,
      position: target.locate(`/spec/${component}/replicas`),
      message: `${component} will run ${count} replica${count === 1 ? '' : 's'}, below the highly available ${minimum.label}×${minimum.replicas}: on every later upgrade, ${minimum.impact}; scale ${component} to ${minimum.replicas}`,
    });
  }
  return warnings;
}
