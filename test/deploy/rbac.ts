/**
 * A small, pure RBAC authorizer: the ClusterRoles, Roles and bindings of
 * deploy/ turned into what one service account may do, and a request
 * (kube-sim's `RequestAttributes`, what the API server authorizes) checked
 * against it with the rules of Kubernetes' RBAC authorizer
 * (k8s.io/kubernetes/pkg/apis/rbac/v1/evaluation_helpers.go: `VerbMatches`,
 * `APIGroupMatches`, `ResourceMatches`, `ResourceNameMatches`,
 * `NonResourceURLMatches`; a RoleBinding grants in its own namespace only,
 * non-resource URLs only through a ClusterRoleBinding).
 */
import type { RequestAttributes } from '../../sim/server/api-server.ts';

/** One rule of a Role or ClusterRole (rbac.authorization.k8s.io/v1 PolicyRule). */
export interface PolicyRule {
  readonly verbs: readonly string[];
  readonly apiGroups?: readonly string[];
  readonly resources?: readonly string[];
  readonly resourceNames?: readonly string[];
  readonly nonResourceURLs?: readonly string[];
}

/** A rule as granted to the subject: which role and binding, and where it applies. */
export interface Grant {
  /** `ClusterRole/rollgate`, `Role/rollgate/rollgate-leader-election`. */
  readonly role: string;
  /** `ClusterRoleBinding/rollgate`, `RoleBinding/rollgate/…`, or a cluster default's name. */
  readonly binding: string;
  /** Where the rule applies: a namespace, or undefined for every namespace and cluster-scoped requests. */
  readonly namespace: string | undefined;
  readonly rule: PolicyRule;
  /** Index of the rule in its role, for messages (`ClusterRole/rollgate rules[2]`). */
  readonly index: number;
  /** Defaults every authenticated user has (discovery); left out of the "every rule is used" check. */
  readonly clusterDefault: boolean;
}

/** What one subject may do. */
export interface Policy {
  readonly subject: ServiceAccountRef;
  readonly grants: readonly Grant[];
}

/** A service account. */
export interface ServiceAccountRef {
  readonly namespace: string;
  readonly name: string;
}

/**
 * What every authenticated user may read in a cluster with the default
 * bootstrap policy: the `system:discovery` and `system:public-info-viewer`
 * ClusterRoles bound to `system:authenticated`
 * (k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go).
 * client-node reads `/api/v1` and `/apis/<group>/<version>` to resolve a
 * kind to its resource before each write, and relies on these.
 */
export const clusterDefaults: readonly { readonly name: string; readonly rule: PolicyRule }[] = [
  { name: 'system:discovery', rule: { verbs: ['get'], nonResourceURLs: ['/api', '/api/*', '/apis', '/apis/*', '/healthz', '/livez', '/openapi', '/openapi/*', '/readyz', '/version', '/version/'] } },
  { name: 'system:public-info-viewer', rule: { verbs: ['get'], nonResourceURLs: ['/healthz', '/livez', '/readyz', '/version', '/version/'] } },
];

/** deploy/ RBAC that cannot be read or is broader than rollgate allows itself. */
export class RbacError extends Error {
  override readonly name = 'RbacError';
}

/** Object with its source location, as deploy/ documents carry it. */
export interface SourcedObject {
  readonly file: string;
  readonly line: number;
  readonly object: Record<string, unknown>;
}

function strings(value: unknown, where: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new RbacError(`${where}: must be a list of strings`);
  return value;
}

function rulesOf(doc: SourcedObject): PolicyRule[] {
  const rules = doc.object['rules'];
  const at = `${doc.file}:${doc.line}`;
  if (!Array.isArray(rules)) throw new RbacError(`${at}: ${String(doc.object['kind'])} has no rules list`);
  return rules.map((r: unknown, i) => {
    if (typeof r !== 'object' || r === null) throw new RbacError(`${at}: rules[${i}] is not a mapping`);
    const raw = r as Record<string, unknown>;
    const where = `${at}: rules[${i}]`;
    const verbs = strings(raw['verbs'], `${where}.verbs`);
    if (verbs === undefined || verbs.length === 0) throw new RbacError(`${where}: has no verbs`);
    const rule: PolicyRule = { verbs };
    const optional = (key: 'apiGroups' | 'resources' | 'resourceNames' | 'nonResourceURLs'): Partial<PolicyRule> => {
      const list = strings(raw[key], `${where}.${key}`);
      return list === undefined ? {} : { [key]: list };
    };
    return { ...rule, ...optional('apiGroups'), ...optional('resources'), ...optional('resourceNames'), ...optional('nonResourceURLs') };
  });
}

const meta = (o: Record<string, unknown>): { name: string; namespace: string | undefined } => {
  const m = (o['metadata'] ?? {}) as { name?: unknown; namespace?: unknown };
  return { name: typeof m.name === 'string' ? m.name : '', namespace: typeof m.namespace === 'string' ? m.namespace : undefined };
};

/**
 * The grants of one service account: every rule of every role a binding in
 * `documents` gives it, plus {@link clusterDefaults}.
 * @throws RbacError (with file:line) for a binding to a role that is not in `documents`, or a role without rules.
 */
export function policyFor(documents: readonly SourcedObject[], subject: ServiceAccountRef): Policy {
  const roles = new Map<string, SourcedObject>();
  for (const doc of documents) {
    const kind = doc.object['kind'];
    const { name, namespace } = meta(doc.object);
    if (kind === 'ClusterRole') roles.set(`ClusterRole/${name}`, doc);
    if (kind === 'Role') roles.set(`Role/${namespace ?? ''}/${name}`, doc);
  }
  const grants: Grant[] = clusterDefaults.map((d) => ({ role: `ClusterRole/${d.name}`, binding: `ClusterRoleBinding/${d.name} (system:authenticated)`, namespace: undefined, rule: d.rule, index: 0, clusterDefault: true }));
  for (const doc of documents) {
    const kind = doc.object['kind'];
    if (kind !== 'ClusterRoleBinding' && kind !== 'RoleBinding') continue;
    const { name, namespace } = meta(doc.object);
    const subjects = (doc.object['subjects'] ?? []) as { kind?: unknown; name?: unknown; namespace?: unknown }[];
    const bindingNamespace = kind === 'RoleBinding' ? namespace : undefined;
    // A ServiceAccount subject without a namespace means the binding's own namespace.
    if (!subjects.some((s) => s.kind === 'ServiceAccount' && s.name === subject.name && (s.namespace ?? bindingNamespace) === subject.namespace)) continue;
    const ref = (doc.object['roleRef'] ?? {}) as { kind?: unknown; name?: unknown };
    if (kind === 'ClusterRoleBinding' && ref.kind !== 'ClusterRole') throw new RbacError(`${doc.file}:${doc.line}: a ClusterRoleBinding can only refer to a ClusterRole`);
    const roleKey = ref.kind === 'ClusterRole' ? `ClusterRole/${String(ref.name)}` : `Role/${bindingNamespace ?? ''}/${String(ref.name)}`;
    const role = roles.get(roleKey);
    if (role === undefined) throw new RbacError(`${doc.file}:${doc.line}: ${kind} ${name} refers to ${roleKey}, which deploy/ does not define`);
    rulesOf(role).forEach((rule, index) => grants.push({ role: roleKey, binding: `${kind}/${bindingNamespace !== undefined ? `${bindingNamespace}/` : ''}${name}`, namespace: bindingNamespace, rule, index, clusterDefault: false }));
  }
  return { subject, grants };
}

const has = (list: readonly string[] | undefined, value: string): boolean => list !== undefined && (list.includes('*') || list.includes(value));

/** Whether one rule allows a request, as RBAC's `RuleAllows`. Scope (namespace) is the grant's business, not the rule's. */
export function ruleAllows(rule: PolicyRule, request: RequestAttributes): boolean {
  if (!has(rule.verbs, request.verb)) return false;
  if (!request.resourceRequest) {
    return (rule.nonResourceURLs ?? []).some((url) => url === '*' || url === request.path || (url.endsWith('*') && request.path.startsWith(url.slice(0, -1))));
  }
  if (!has(rule.apiGroups, request.group)) return false;
  const combined = request.subresource === '' ? request.resource : `${request.resource}/${request.subresource}`;
  const resourceMatches = (rule.resources ?? []).some((r) => r === '*' || r === combined || (request.subresource !== '' && r === `*/${request.subresource}`));
  if (!resourceMatches) return false;
  return rule.resourceNames === undefined || rule.resourceNames.length === 0 || rule.resourceNames.includes(request.name);
}

/** The first grant that allows `request`, or undefined when RBAC denies it. */
export function authorize(policy: Policy, request: RequestAttributes): Grant | undefined {
  return policy.grants.find((g) => {
    // A namespaced grant (RoleBinding) covers requests in its namespace only, and never non-resource URLs.
    if (g.namespace !== undefined && (!request.resourceRequest || request.namespace !== g.namespace)) return false;
    return ruleAllows(g.rule, request);
  });
}

/** One (apiGroup, resource, verb) a grant gives, the unit of the "every permission is used" check. */
export interface Permission {
  readonly grant: Grant;
  readonly group: string;
  readonly resource: string;
  readonly verb: string;
}

/** `ClusterRole/rollgate rules[0]: create pingcap.com/tidbclusters (all namespaces)`, for messages. */
export function describePermission(p: Permission): string {
  return `${p.grant.role} rules[${p.grant.index}]: ${p.verb} ${p.group === '' ? 'core' : p.group}/${p.resource} (${p.grant.namespace === undefined ? 'all namespaces' : `namespace ${p.grant.namespace}`})`;
}

/** Every permission of the policy's own (not default) resource rules, one per group × resource × verb. */
export function permissionsOf(policy: Policy): Permission[] {
  return policy.grants
    .filter((g) => !g.clusterDefault && g.rule.nonResourceURLs === undefined)
    .flatMap((grant) => (grant.rule.apiGroups ?? []).flatMap((group) => (grant.rule.resources ?? []).flatMap((resource) => grant.rule.verbs.map((verb) => ({ grant, group, resource, verb })))));
}

/** Whether a request is one that `permission` (and nothing broader) accounts for. */
export function usesPermission(permission: Permission, request: RequestAttributes): boolean {
  if (!request.resourceRequest) return false;
  if (permission.grant.namespace !== undefined && request.namespace !== permission.grant.namespace) return false;
  return ruleAllows({ verbs: [permission.verb], apiGroups: [permission.group], resources: [permission.resource], ...(permission.grant.rule.resourceNames !== undefined ? { resourceNames: permission.grant.rule.resourceNames } : {}) }, request);
}

/** Verbs that let a subject give itself more than it has. */
const escalatingVerbs = ['escalate', 'bind', 'impersonate'];

/**
 * Problems of deploy/'s RBAC as rollgate holds itself to it: no wildcard
 * anywhere, no escalating verbs, no binding to cluster-admin (or admin,
 * edit), no access to Secrets or to RBAC itself. One message per problem,
 * naming file and line.
 */
export function rbacProblems(documents: readonly SourcedObject[]): string[] {
  const problems: string[] = [];
  for (const doc of documents) {
    const kind = doc.object['kind'];
    const at = `${doc.file}:${doc.line}: ${String(kind)} ${meta(doc.object).name}`;
    if (kind === 'ClusterRole' || kind === 'Role') {
      if (doc.object['aggregationRule'] !== undefined) problems.push(`${at}: an aggregated role grants whatever other roles add to it`);
      let rules: PolicyRule[];
      try {
        rules = rulesOf(doc);
      } catch (err) {
        problems.push(err instanceof Error ? err.message : String(err));
        continue;
      }
      rules.forEach((rule, i) => {
        for (const [field, list] of Object.entries(rule) as [string, readonly string[]][]) {
          if (list.some((v) => v.includes('*'))) problems.push(`${at}: rules[${i}].${field} has a wildcard`);
        }
        for (const verb of rule.verbs) if (escalatingVerbs.includes(verb)) problems.push(`${at}: rules[${i}] grants ${verb}`);
        if ((rule.resources ?? []).some((r) => r === 'secrets' || r.startsWith('secrets/'))) problems.push(`${at}: rules[${i}] grants access to Secrets`);
        if ((rule.apiGroups ?? []).includes('rbac.authorization.k8s.io')) problems.push(`${at}: rules[${i}] grants access to RBAC objects`);
      });
    }
    if (kind === 'ClusterRoleBinding' || kind === 'RoleBinding') {
      const ref = (doc.object['roleRef'] ?? {}) as { name?: unknown };
      if (ref.name === 'cluster-admin' || ref.name === 'admin' || ref.name === 'edit') problems.push(`${at}: binds the built-in ${String(ref.name)} role`);
    }
  }
  return problems;
}
