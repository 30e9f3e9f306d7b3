/**
 * Resolving the policy of one target from the layers of `rollgate.yaml`:
 * rollgate's built-in defaults, then `defaults`, then the target's cluster,
 * then the `targets` entries whose selector matches it. A layer replaces each
 * field it sets (a `gates` list is replaced whole, never merged, as Helm
 * replaces lists), so the value in force is always one that is written
 * somewhere, and `origin` says where.
 *
 * `targets` entries have no precedence among themselves: two entries matching
 * the same target may not set the same field. Precedence by specificity is
 * the kind of rule people get wrong under pressure; a conflict is reported
 * with both positions instead.
 */
import { builtinPolicy } from './config.ts';
import { formatDuration } from './duration.ts';
import {
  tidbComponents,
  type ClusterConfig,
  type ComponentPolicy,
  type Gate,
  type Policy,
  type PolicyField,
  type PolicyLayer,
  type Position,
  type RepositoryConfig,
  type TargetKind,
  type TargetRule,
  type TidbComponent,
} from './types.ts';

/** The identity of a target: `cluster/namespace/kind/name`. */
export interface TargetKey {
  readonly cluster: string;
  readonly namespace: string;
  readonly kind: TargetKind;
  readonly name: string;
}

/** The id of a target, `cluster/namespace/kind/name`. */
export function targetId(key: TargetKey): string {
  return `${key.cluster}/${key.namespace}/${key.kind}/${key.name}`;
}

/** A `targets` entry ready for matching. */
export interface CompiledRule {
  readonly rule: TargetRule;
  /** Index in `targets`, for messages (`targets[2]`). */
  readonly index: number;
  readonly segments: readonly [string, string, string, string];
  /** True when no segment is `*`: matching is a lookup. */
  readonly exact: boolean;
}

/** Compiles the `targets` entries of a configuration. */
export function compileRules(config: RepositoryConfig): CompiledRule[] {
  return config.targets.map((rule, index) => {
    const segments = rule.selector.split('/') as unknown as [string, string, string, string];
    return { rule, index, segments, exact: !segments.includes('*') };
  });
}

/** Whether a compiled `targets` entry selects a target. */
export function ruleMatches(rule: CompiledRule, key: TargetKey): boolean {
  const [cluster, namespace, kind, name] = rule.segments;
  return (
    (cluster === '*' || cluster === key.cluster) &&
    (namespace === '*' || namespace === key.namespace) &&
    (kind === '*' || kind === key.kind) &&
    (name === '*' || name === key.name)
  );
}

/** Two `targets` entries that both set a field for the same target. */
export interface PolicyConflict {
  readonly field: string;
  readonly first: CompiledRule;
  readonly second: CompiledRule;
  /** Where `second` sets the field. */
  readonly position: Position;
}

/** A `dependsOn` reference resolved for one target. */
export interface ResolvedDependency {
  readonly id: string;
  readonly ref: string;
  readonly position: Position;
  readonly rule: CompiledRule;
}

/** A resolved policy, with what went wrong resolving it. */
export interface PolicyResolution {
  readonly policy: Policy;
  readonly conflicts: readonly PolicyConflict[];
  /** Explicit dependencies, resolved to ids but not yet checked to exist. */
  readonly dependencies: readonly ResolvedDependency[];
}

const fields: readonly PolicyField[] = ['suspend', 'progressDeadline', 'gates', 'downgrade', 'forceUpgrade', 'onFailure'];

/**
 * The policy of one target. `rules` are the entries that match it (in file
 * order), as from {@link ruleMatches}.
 */
export function resolvePolicy(config: RepositoryConfig, cluster: ClusterConfig, key: TargetKey, rules: readonly CompiledRule[]): PolicyResolution {
  const isTidb = key.kind === 'TidbCluster';
  const values: { -readonly [F in PolicyField]: Policy[F] } = {
    suspend: builtinPolicy.suspend,
    progressDeadline: builtinPolicy.progressDeadline,
    gates: builtinPolicy.gates,
    downgrade: builtinPolicy.downgrade,
    forceUpgrade: builtinPolicy.forceUpgrade,
    onFailure: builtinPolicy.onFailure,
  };
  const origin: Partial<Record<PolicyField, Position>> = {};
  const conflicts: PolicyConflict[] = [];
  const apply = (layer: PolicyLayer): void => {
    for (const field of fields) {
      const set = layer[field];
      if (set === undefined) continue;
      (values as Record<PolicyField, unknown>)[field] = set.value;
      origin[field] = set.position;
    }
  };
  apply(config.defaults);
  apply(cluster.policy);
  for (const field of fields) {
    let setter: CompiledRule | undefined;
    for (const rule of rules) {
      const set = rule.rule.policy[field];
      if (set === undefined) continue;
      if (setter !== undefined) {
        conflicts.push({ field, first: setter, second: rule, position: set.position });
        continue;
      }
      setter = rule;
      (values as Record<PolicyField, unknown>)[field] = set.value;
      origin[field] = set.position;
    }
  }
  if (!isTidb) {
    // force-upgrade is TiDB Operator's annotation; a default set for TidbClusters means nothing here.
    values.forceUpgrade = 'never';
    delete origin.forceUpgrade;
  }

  const components: Partial<Record<TidbComponent, ComponentPolicy>> = {};
  if (isTidb) {
    for (const component of tidbComponents) {
      let extra: { value: readonly Gate[]; position: Position } | undefined;
      let deadline: { value: number; position: Position } | undefined;
      for (const layer of [config.defaults, cluster.policy]) {
        const own = layer.components?.[component];
        if (own?.extraGates !== undefined) extra = own.extraGates;
        if (own?.progressDeadline !== undefined) deadline = own.progressDeadline;
      }
      let extraSetter: CompiledRule | undefined;
      let deadlineSetter: CompiledRule | undefined;
      for (const rule of rules) {
        const own = rule.rule.policy.components?.[component];
        if (own?.extraGates !== undefined) {
          if (extraSetter !== undefined) conflicts.push({ field: `components.${component}.extraGates`, first: extraSetter, second: rule, position: own.extraGates.position });
          else {
            extraSetter = rule;
            extra = own.extraGates;
          }
        }
        if (own?.progressDeadline !== undefined) {
          if (deadlineSetter !== undefined) {
            conflicts.push({ field: `components.${component}.progressDeadline`, first: deadlineSetter, second: rule, position: own.progressDeadline.position });
          } else {
            deadlineSetter = rule;
            deadline = own.progressDeadline;
          }
        }
      }
      if (extra === undefined && deadline === undefined) continue;
      components[component] = {
        // Added, not replacing: a window for the TiDB servers must not drop the health checks every step has.
        gates: [...values.gates, ...(extra?.value ?? [])],
        progressDeadline: deadline?.value ?? values.progressDeadline,
        origin: { ...(extra === undefined ? {} : { extraGates: extra.position }), ...(deadline === undefined ? {} : { progressDeadline: deadline.position }) },
      };
    }
  }

  const dependencies: ResolvedDependency[] = [];
  const self = targetId(key);
  for (const rule of rules) {
    for (const dep of rule.rule.dependsOn) {
      const parts = dep.ref.split('/');
      const id = parts.length === 3 ? `${key.cluster}/${dep.ref}` : dep.ref;
      // A wildcard entry naturally matches the target it points at ("everything in prod waits for the operator").
      if (id === self && !rule.exact) continue;
      if (!dependencies.some((d) => d.id === id)) dependencies.push({ id, ref: dep.ref, position: dep.position, rule });
    }
  }

  const policy: Policy = {
    ...values,
    dependsOn: dependencies.map((d) => d.id),
    afterClusters: cluster.dependsOn,
    components,
    origin,
  };
  return { policy, conflicts, dependencies };
}

/** The gates and deadline for the steps of one TidbCluster component under a policy. */
export function componentPolicy(policy: Policy, component: TidbComponent): { readonly gates: readonly Gate[]; readonly progressDeadline: number } {
  const own = policy.components[component];
  return own ?? { gates: policy.gates, progressDeadline: policy.progressDeadline };
}

/** A soak gate that can never pass because it is not shorter than the deadline it runs under. */
export interface ImpossibleSoak {
  readonly gate: Gate & { readonly kind: 'soak' };
  readonly deadline: number;
  /** Where the deadline is set; undefined for rollgate's default. */
  readonly deadlineAt: Position | undefined;
}

/** Soak gates of a policy (and its components) that are not shorter than their progress deadline. */
export function impossibleSoaks(policy: Policy): ImpossibleSoak[] {
  const out: ImpossibleSoak[] = [];
  const check = (gates: readonly Gate[], deadline: number, deadlineAt: Position | undefined): void => {
    for (const gate of gates) {
      if (gate.kind === 'soak' && gate.duration >= deadline) out.push({ gate, deadline, deadlineAt });
    }
  };
  check(policy.gates, policy.progressDeadline, policy.origin.progressDeadline);
  for (const own of Object.values(policy.components)) {
    check(own.gates, own.progressDeadline, own.origin.progressDeadline ?? policy.origin.progressDeadline);
  }
  return out;
}

/** The message for an {@link ImpossibleSoak}. */
export function impossibleSoakMessage(soak: ImpossibleSoak): string {
  const where = soak.deadlineAt === undefined ? "rollgate's default" : `set at ${soak.deadlineAt.file}:${soak.deadlineAt.line}:${soak.deadlineAt.column}`;
  return `a soak of ${formatDuration(soak.gate.duration)} can never pass within the progress deadline of ${formatDuration(soak.deadline)} (${where}); shorten the soak or raise progressDeadline`;
}
