/**
 * Table tests of the pure parts the RBAC check stands on: kube-sim's
 * `requestAttributes` (what the API server authorizes a request as) and
 * the RBAC matcher of rbac.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { requestAttributes, type RequestAttributes } from '../../sim/server/api-server.ts';
import { authorize, permissionsOf, policyFor, rbacProblems, RbacError, ruleAllows, usesPermission, type PolicyRule, type SourcedObject } from './rbac.ts';

const res = (verb: string, group: string, resource: string, namespace = '', name = '', subresource = ''): RequestAttributes => ({ resourceRequest: true, verb, path: '', group, version: 'v1', resource, subresource, namespace, name });
const nonRes = (path: string, verb = 'get'): RequestAttributes => ({ resourceRequest: false, verb, path, group: '', version: '', resource: '', subresource: '', namespace: '', name: '' });

describe('requestAttributes: what the API server authorizes a request as', () => {
  const cases: readonly { method: string; url: string; want: Partial<RequestAttributes> }[] = [
    { method: 'GET', url: '/api/v1/namespaces/db/pods', want: { resourceRequest: true, verb: 'list', group: '', version: 'v1', resource: 'pods', namespace: 'db', name: '' } },
    { method: 'GET', url: '/api/v1/pods?watch=true', want: { verb: 'watch', resource: 'pods', namespace: '' } },
    { method: 'GET', url: '/apis/apps/v1/deployments?watch=1&resourceVersion=5', want: { verb: 'watch', group: 'apps', resource: 'deployments' } },
    { method: 'GET', url: '/api/v1/watch/namespaces/db/pods/web-0', want: { verb: 'watch', resource: 'pods', namespace: 'db', name: 'web-0' } },
    { method: 'GET', url: '/api/v1/namespaces/db/pods?fieldSelector=metadata.name%3Dweb-0', want: { verb: 'list', name: 'web-0' } },
    { method: 'GET', url: '/api/v1/namespaces/db/pods?fieldSelector=status.phase%3DRunning', want: { verb: 'list', name: '' } },
    { method: 'GET', url: '/api/v1/namespaces/db/pods/web-0', want: { verb: 'get', name: 'web-0', subresource: '' } },
    { method: 'HEAD', url: '/api/v1/namespaces/db/pods/web-0', want: { verb: 'get' } },
    { method: 'GET', url: '/api/v1/namespaces/db/pods/web-0/log', want: { verb: 'get', subresource: 'log' } },
    { method: 'PATCH', url: '/apis/pingcap.com/v1alpha1/namespaces/db/tidbclusters/basic', want: { verb: 'patch', group: 'pingcap.com', version: 'v1alpha1', resource: 'tidbclusters', namespace: 'db', name: 'basic' } },
    { method: 'PUT', url: '/apis/apps/v1/namespaces/db/statefulsets/web/status', want: { verb: 'update', resource: 'statefulsets', subresource: 'status' } },
    { method: 'PUT', url: '/apis/apps/v1/namespaces/db/statefulsets/web/scale', want: { verb: 'update', subresource: 'scale' } },
    { method: 'POST', url: '/api/v1/namespaces/db/events', want: { verb: 'create', resource: 'events', namespace: 'db', name: '' } },
    { method: 'DELETE', url: '/api/v1/namespaces/db/pods/web-0', want: { verb: 'delete', name: 'web-0' } },
    { method: 'DELETE', url: '/api/v1/namespaces/db/pods', want: { verb: 'deletecollection', name: '' } },
    { method: 'GET', url: '/api/v1/namespaces/db', want: { verb: 'get', resource: 'namespaces', namespace: 'db', name: 'db' } },
    { method: 'GET', url: '/api/v1/namespaces', want: { verb: 'list', resource: 'namespaces', namespace: '' } },
    { method: 'PUT', url: '/api/v1/namespaces/db/finalize', want: { verb: 'update', resource: 'namespaces', namespace: 'db', name: 'db', subresource: 'finalize' } },
    { method: 'GET', url: '/apis/coordination.k8s.io/v1/namespaces/rollgate/leases/rollgate', want: { verb: 'get', group: 'coordination.k8s.io', resource: 'leases', namespace: 'rollgate', name: 'rollgate' } },
    { method: 'GET', url: '/api', want: { resourceRequest: false, verb: 'get', path: '/api' } },
    { method: 'GET', url: '/api/v1', want: { resourceRequest: false, path: '/api/v1' } },
    { method: 'GET', url: '/apis/apps', want: { resourceRequest: false } },
    { method: 'GET', url: '/apis/apps/v1', want: { resourceRequest: false, path: '/apis/apps/v1' } },
    { method: 'GET', url: '/version', want: { resourceRequest: false, path: '/version' } },
    { method: 'GET', url: '/openapi/v3/apis/apps/v1', want: { resourceRequest: false } },
    { method: 'POST', url: '/apis', want: { resourceRequest: false, verb: 'post' } },
  ];
  for (const c of cases) {
    it(`${c.method} ${c.url}`, () => {
      const url = new URL(c.url, 'https://sim.invalid');
      const got = requestAttributes(c.method, url.pathname, url.searchParams);
      assert.deepEqual({ ...got, ...c.want }, got);
      if (c.want.resourceRequest === false) assert.deepEqual([got.group, got.resource, got.namespace, got.name], ['', '', '', '']);
    });
  }
});

describe('ruleAllows: one PolicyRule against one request (RBAC evaluation_helpers.go)', () => {
  const cases: readonly { rule: PolicyRule; request: RequestAttributes; allowed: boolean; why: string }[] = [
    { rule: { verbs: ['get'], apiGroups: [''], resources: ['pods'] }, request: res('get', '', 'pods', 'db', 'a'), allowed: true, why: 'exact match' },
    { rule: { verbs: ['get'], apiGroups: [''], resources: ['pods'] }, request: res('list', '', 'pods', 'db'), allowed: false, why: 'verb' },
    { rule: { verbs: ['get'], apiGroups: [''], resources: ['pods'] }, request: res('get', 'apps', 'pods', 'db', 'a'), allowed: false, why: 'group' },
    { rule: { verbs: ['get'], apiGroups: [''], resources: ['pods'] }, request: res('get', '', 'pods', 'db', 'a', 'log'), allowed: false, why: 'a resource does not cover its subresources' },
    { rule: { verbs: ['get'], apiGroups: [''], resources: ['pods/log'] }, request: res('get', '', 'pods', 'db', 'a', 'log'), allowed: true, why: 'resource/subresource' },
    { rule: { verbs: ['update'], apiGroups: ['apps'], resources: ['*/scale'] }, request: res('update', 'apps', 'statefulsets', 'db', 'a', 'scale'), allowed: true, why: '*/subresource' },
    { rule: { verbs: ['update'], apiGroups: ['apps'], resources: ['*/scale'] }, request: res('update', 'apps', 'statefulsets', 'db', 'a'), allowed: false, why: '*/scale is not the resource' },
    { rule: { verbs: ['*'], apiGroups: ['*'], resources: ['*'] }, request: res('delete', 'x.io', 'things', 'db', 'a'), allowed: true, why: 'wildcards' },
    { rule: { verbs: ['get', 'update'], apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['rollgate'] }, request: res('update', 'coordination.k8s.io', 'leases', 'ns', 'rollgate'), allowed: true, why: 'named' },
    { rule: { verbs: ['get', 'update'], apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['rollgate'] }, request: res('update', 'coordination.k8s.io', 'leases', 'ns', 'other'), allowed: false, why: 'another name' },
    { rule: { verbs: ['create'], apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['rollgate'] }, request: res('create', 'coordination.k8s.io', 'leases', 'ns'), allowed: false, why: 'create has no name, so resourceNames never match it' },
    { rule: { verbs: ['list'], apiGroups: [''], resources: ['pods'], resourceNames: ['a'] }, request: res('list', '', 'pods', 'ns', 'a'), allowed: true, why: 'a list pinned to one name by field selector' },
    { rule: { verbs: ['get'], nonResourceURLs: ['/apis/*'] }, request: nonRes('/apis/apps/v1'), allowed: true, why: 'URL prefix' },
    { rule: { verbs: ['get'], nonResourceURLs: ['/version'] }, request: nonRes('/version/x'), allowed: false, why: 'exact URL' },
    { rule: { verbs: ['get'], nonResourceURLs: ['/apis/*'] }, request: nonRes('/apis/apps/v1', 'post'), allowed: false, why: 'non-resource verb' },
    { rule: { verbs: ['get'], apiGroups: [''], resources: ['pods'] }, request: nonRes('/api/v1'), allowed: false, why: 'a resource rule never covers a URL' },
    { rule: { verbs: ['get'], nonResourceURLs: ['*'] }, request: res('get', '', 'pods', 'db', 'a'), allowed: false, why: 'a URL rule never covers a resource' },
  ];
  for (const c of cases) {
    it(`${c.allowed ? 'allows' : 'denies'}: ${c.why}`, () => assert.equal(ruleAllows(c.rule, c.request), c.allowed));
  }
});

const doc = (object: Record<string, unknown>, line = 1, file = 'x.yaml'): SourcedObject => ({ file, line, object });
const sa = { kind: 'ServiceAccount', name: 'agent', namespace: 'home' };
const fixture: SourcedObject[] = [
  doc({ kind: 'ClusterRole', metadata: { name: 'workloads' }, rules: [{ apiGroups: ['apps'], resources: ['statefulsets'], verbs: ['list', 'patch'] }] }),
  doc({ kind: 'ClusterRoleBinding', metadata: { name: 'workloads' }, roleRef: { kind: 'ClusterRole', name: 'workloads' }, subjects: [sa] }),
  doc({ kind: 'Role', metadata: { name: 'lease', namespace: 'home' }, rules: [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get'] }] }),
  doc({ kind: 'RoleBinding', metadata: { name: 'lease', namespace: 'home' }, roleRef: { kind: 'Role', name: 'lease' }, subjects: [{ kind: 'ServiceAccount', name: 'agent' }] }),
  doc({ kind: 'ClusterRole', metadata: { name: 'reader' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }, { nonResourceURLs: ['/metrics'], verbs: ['get'] }] }),
  doc({ kind: 'RoleBinding', metadata: { name: 'reader', namespace: 'apps' }, roleRef: { kind: 'ClusterRole', name: 'reader' }, subjects: [sa] }),
  doc({ kind: 'ClusterRole', metadata: { name: 'other' }, rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }] }),
  doc({ kind: 'ClusterRoleBinding', metadata: { name: 'other' }, roleRef: { kind: 'ClusterRole', name: 'other' }, subjects: [{ kind: 'ServiceAccount', name: 'someone-else', namespace: 'home' }] }),
];

describe('authorize: grants of one service account, with their scope', () => {
  const policy = policyFor(fixture, { namespace: 'home', name: 'agent' });
  const cases: readonly { request: RequestAttributes; allowedBy: string | undefined; why: string }[] = [
    { request: res('list', 'apps', 'statefulsets'), allowedBy: 'ClusterRole/workloads', why: 'a ClusterRoleBinding grants across all namespaces' },
    { request: res('patch', 'apps', 'statefulsets', 'db', 'web'), allowedBy: 'ClusterRole/workloads', why: 'and in every namespace' },
    { request: res('get', 'coordination.k8s.io', 'leases', 'home', 'rollgate'), allowedBy: 'Role/home/lease', why: 'a RoleBinding in its namespace (subject namespace defaults to the binding’s)' },
    { request: res('get', 'coordination.k8s.io', 'leases', 'default', 'rollgate'), allowedBy: undefined, why: 'but not in another namespace' },
    { request: res('get', '', 'pods', 'apps', 'a'), allowedBy: 'ClusterRole/reader', why: 'a RoleBinding to a ClusterRole grants in the binding’s namespace' },
    { request: res('get', '', 'pods', 'db', 'a'), allowedBy: undefined, why: 'and nowhere else' },
    { request: nonRes('/metrics'), allowedBy: undefined, why: 'non-resource URLs only through a ClusterRoleBinding' },
    { request: nonRes('/apis/apps/v1'), allowedBy: 'ClusterRole/system:discovery', why: 'discovery is every authenticated user’s' },
    { request: res('get', '', 'secrets', 'home', 'a'), allowedBy: undefined, why: 'another subject’s binding grants this one nothing' },
  ];
  for (const c of cases) {
    it(`${c.allowedBy === undefined ? 'denies' : 'allows'}: ${c.why}`, () => assert.equal(authorize(policy, c.request)?.role, c.allowedBy));
  }

  it('expands its own resource rules into permissions, and knows which request uses which', () => {
    const permissions = permissionsOf(policy);
    assert.deepEqual(permissions.map((p) => `${p.grant.role} ${p.verb} ${p.group}/${p.resource} ${p.grant.namespace ?? '*'}`), ['ClusterRole/workloads list apps/statefulsets *', 'ClusterRole/workloads patch apps/statefulsets *', 'Role/home/lease get coordination.k8s.io/leases home', 'ClusterRole/reader get /pods apps']);
    const lease = permissions[2];
    assert.ok(lease);
    assert.equal(usesPermission(lease, res('get', 'coordination.k8s.io', 'leases', 'home', 'x')), true);
    assert.equal(usesPermission(lease, res('get', 'coordination.k8s.io', 'leases', 'elsewhere', 'x')), false);
  });

  it('a binding to a role deploy/ does not define is an error naming file and line', () => {
    assert.throws(() => policyFor([doc({ kind: 'ClusterRoleBinding', metadata: { name: 'b' }, roleRef: { kind: 'ClusterRole', name: 'missing' }, subjects: [sa] }, 7, 'crb.yaml')], { namespace: 'home', name: 'agent' }), (err: unknown) => err instanceof RbacError && err.message.startsWith('crb.yaml:7: ClusterRoleBinding b refers to ClusterRole/missing'));
    assert.throws(() => policyFor([doc({ kind: 'ClusterRole', metadata: { name: 'r' }, rules: [{ resources: ['pods'] }] }, 3, 'cr.yaml'), doc({ kind: 'ClusterRoleBinding', metadata: { name: 'b' }, roleRef: { kind: 'ClusterRole', name: 'r' }, subjects: [sa] })], { namespace: 'home', name: 'agent' }), /cr\.yaml:3: rules\[0\]: has no verbs/);
  });
});

describe('rbacProblems: what deploy/ must never grant', () => {
  const cases: readonly { object: Record<string, unknown>; problem: RegExp }[] = [
    { object: { kind: 'ClusterRole', metadata: { name: 'r' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['*'] }] }, problem: /rules\[0\]\.verbs has a wildcard/ },
    { object: { kind: 'Role', metadata: { name: 'r' }, rules: [{ apiGroups: ['*'], resources: ['pods'], verbs: ['get'] }] }, problem: /rules\[0\]\.apiGroups has a wildcard/ },
    { object: { kind: 'ClusterRole', metadata: { name: 'r' }, rules: [{ apiGroups: ['apps'], resources: ['*/scale'], verbs: ['get'] }] }, problem: /rules\[0\]\.resources has a wildcard/ },
    { object: { kind: 'ClusterRole', metadata: { name: 'r' }, rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }] }, problem: /grants access to Secrets/ },
    { object: { kind: 'ClusterRole', metadata: { name: 'r' }, rules: [{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles'], verbs: ['escalate'] }] }, problem: /grants escalate/ },
    { object: { kind: 'ClusterRole', metadata: { name: 'r' }, aggregationRule: {}, rules: [] }, problem: /aggregated role/ },
    { object: { kind: 'ClusterRoleBinding', metadata: { name: 'b' }, roleRef: { kind: 'ClusterRole', name: 'cluster-admin' } }, problem: /binds the built-in cluster-admin role/ },
  ];
  for (const c of cases) {
    it(String(c.problem), () => {
      const problems = rbacProblems([doc(c.object, 4, 'rbac.yaml')]);
      assert.ok(problems.some((p) => c.problem.test(p) && p.startsWith('rbac.yaml:4: ')), problems.join('\n'));
    });
  }

  it('finds nothing in a least-privilege role', () => {
    assert.deepEqual(rbacProblems(fixture.slice(0, 4)), []);
  });
});
