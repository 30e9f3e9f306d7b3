/**
 * deploy/'s RBAC against what the agent really asks for: the agent's parts
 * run against kube-sim with its request observer on (agent-scenarios.ts),
 * then every request must be allowed by the ClusterRole, Role and bindings
 * of deploy/ (plus the discovery every authenticated user has), and every
 * permission deploy/ grants must be used by some request or be listed in
 * `unexercised` below with the reason it stays.
 *
 * The whole agent takes part too: `rollgate run --once` as a child process
 * against a kube-sim started with the observer (runOnceEveryKind), so what
 * the CLI's own wiring asks for (its kubeconfig, caches, writer, Events) is
 * checked, not only the parts driven in-process.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { ObservedRequest } from '../../sim/server/api-server.ts';
import { electLeader, rollOutEveryKind, runOnceEveryKind, type LeaderScenarioResult, type ProcessScenarioResult, type RolloutScenarioResult } from './agent-scenarios.ts';
import { readDeployDocuments } from './manifests.ts';
import { describeRequest, observeAgentRequests } from './observe.ts';
import { authorize, describePermission, permissionsOf, policyFor, rbacProblems, usesPermission, type Permission } from './rbac.ts';
import { deployDir } from './support.ts';

const documents = readDeployDocuments(deployDir);
const serviceAccount = documents.find((d) => d.object['kind'] === 'ServiceAccount');
const subjectMeta = (serviceAccount?.object['metadata'] ?? {}) as { name?: string; namespace?: string };
const subject = { name: subjectMeta.name ?? '', namespace: subjectMeta.namespace ?? '' };
const policy = policyFor(documents, subject);

/**
 * Permissions deploy/ grants that the scenarios do not exercise, each with
 * why it stays. Keep it empty when possible: an entry is a privilege no
 * test shows the agent needs.
 */
const unexercised: readonly { readonly role: string; readonly group: string; readonly resource: string; readonly verb: string; readonly reason: string }[] = [];

describe('RBAC: deploy/ against the requests the agent makes', () => {
  let requests: readonly ObservedRequest[] = [];
  let rollout: RolloutScenarioResult;
  let leader: LeaderScenarioResult;
  let process: ProcessScenarioResult;

  before(async () => {
    const observed = await observeAgentRequests(async (observer) => ({ rollout: await rollOutEveryKind(observer), leader: await electLeader(observer, subject.namespace), process: await runOnceEveryKind(observer) }));
    requests = observed.requests;
    ({ rollout, leader, process } = observed.result);
  });

  it('the rollgate run --once process did what it says: every kind rolled, rolled back or created, with a write of each kind from the process itself', (t) => {
    t.diagnostic(`requests of the process: ${process.requests.join(', ')}`);
    const expected = Object.fromEntries(
      ['db/TidbCluster/basic', 'analytics/TidbCluster/analytics', 'redis/Deployment/redis-enterprise-operator', 'redis/RedisEnterpriseCluster/rec', 'redis/RedisEnterpriseCluster/rec-new', 'apps/StatefulSet/web', 'apps/Deployment/api', 'fresh/TidbCluster/newdb', 'fresh/StatefulSet/cache', 'fresh/Deployment/worker'].map((id) => [`sim/${id}`, 'succeeded']),
    );
    assert.deepEqual(process.outcomes, { ...expected, 'sim/apps/StatefulSet/queue': 'halted' }, process.logTail);
    assert.equal(process.exitCode, 3, 'a halted rollout (the rolled-back queue) exits 3');
    for (const write of ['patch pingcap.com/tidbclusters', 'create pingcap.com/tidbclusters', 'patch app.redislabs.com/redisenterpriseclusters', 'create app.redislabs.com/redisenterpriseclusters', 'patch apps/statefulsets', 'create apps/statefulsets', 'patch apps/deployments', 'create apps/deployments', 'delete core/pods', 'create core/events']) {
      assert.ok(process.requests.includes(write), `the process made no ${write}: ${process.requests.join(', ')}`);
    }
    const denied = [...new Set(requests.filter((r) => r.userAgent.endsWith(`(${process.identity})`) && authorize(policy, r) === undefined).map(describeRequest))];
    assert.deepEqual(denied, [], 'requests of the process that deploy/ does not allow');
  });

  it('the scenarios did what they say: every target rolled, was rolled back or was created, Events were recorded, a pod deleted, a leader elected and released', () => {
    const expected = Object.fromEntries(
      ['db/TidbCluster/basic', 'redis/Deployment/redis-enterprise-operator', 'redis/RedisEnterpriseCluster/rec', 'redis/RedisEnterpriseCluster/rec-new', 'apps/StatefulSet/web', 'fresh/TidbCluster/newdb', 'fresh/StatefulSet/cache', 'fresh/Deployment/api'].map((id) => [`sim/${id}`, 'succeeded']),
    );
    assert.deepEqual(Object.fromEntries(rollout.outcomes), { ...expected, 'sim/apps/StatefulSet/queue': 'halted' }, rollout.halts.join('\n'));
    assert.equal(rollout.halts.length, 1);
    assert.match(rollout.halts[0] ?? '', /^sim\/apps\/StatefulSet\/queue: .*rolled back to the previous pod template/);
    assert.ok(rollout.transitions > 0);
    assert.equal(rollout.events, rollout.transitions, 'one Event per transition reached the API server');
    assert.deepEqual(rollout.reporterWarnings, []);
    assert.equal(rollout.podDeletes, 1, 'the broken pod was deleted');
    assert.ok(leader.events.includes('started-leading') && leader.events.includes('renewed'), leader.events.join(', '));
    assert.equal(leader.holderAfterRelease, '');
  });

  it('every request is allowed by deploy/ (and the discovery every authenticated user may read)', () => {
    assert.ok(requests.length > 0);
    const denied = [...new Set(requests.filter((r) => authorize(policy, r) === undefined).map(describeRequest))];
    assert.deepEqual(denied, [], `requests deploy/ does not allow the service account ${subject.namespace}/${subject.name}`);
  });

  it('every permission deploy/ grants is used by some request, or listed in `unexercised` with a reason', () => {
    const used = (p: Permission): boolean => requests.some((r) => usesPermission(p, r));
    const allowed = (p: Permission): boolean => unexercised.some((u) => u.role === p.grant.role && u.group === p.group && u.resource === p.resource && u.verb === p.verb);
    const permissions = permissionsOf(policy);
    assert.ok(permissions.length > 0);
    assert.deepEqual(permissions.filter((p) => !used(p) && !allowed(p)).map(describePermission), [], 'granted but never used: remove them, or say in `unexercised` why they stay');
    // An entry for a permission that is used, or no longer granted, is stale.
    const stale = unexercised.filter((u) => !permissions.some((p) => u.role === p.grant.role && u.group === p.group && u.resource === p.resource && u.verb === p.verb && !used(p)));
    assert.deepEqual(stale, []);
    for (const u of unexercised) assert.ok(u.reason.length > 20, `a real reason for ${u.verb} ${u.resource}`);
  });

  it('the agent reads targets and pods by list and watch only, and writes by merge patch (no get, no update, except on its Lease)', () => {
    const verbs = (resource: string): string[] => [...new Set(requests.filter((r) => r.resourceRequest && r.resource === resource).map((r) => r.verb))].sort();
    assert.deepEqual(verbs('tidbclusters'), ['create', 'list', 'patch', 'watch']);
    assert.deepEqual(verbs('redisenterpriseclusters'), ['create', 'list', 'patch', 'watch']);
    assert.deepEqual(verbs('statefulsets'), ['create', 'list', 'patch', 'watch']);
    assert.deepEqual(verbs('deployments'), ['create', 'list', 'patch', 'watch']);
    assert.deepEqual(verbs('pods'), ['delete', 'list', 'watch']);
    assert.deepEqual(verbs('events'), ['create']);
    assert.deepEqual(verbs('leases'), ['create', 'get', 'update']);
    assert.ok(requests.filter((r) => r.resource === 'leases').every((r) => r.namespace === subject.namespace), 'Leases only in the agent’s namespace');
  });
});

describe('RBAC: deploy/ holds itself to least privilege', () => {
  it('no wildcard, no escalating verb, no built-in admin role, no Secrets, no RBAC objects', () => {
    assert.deepEqual(rbacProblems(documents), []);
  });

  it('binds its roles to the agent’s service account only', () => {
    for (const d of documents.filter((doc) => doc.object['kind'] === 'ClusterRoleBinding' || doc.object['kind'] === 'RoleBinding')) {
      assert.deepEqual(d.object['subjects'], [{ kind: 'ServiceAccount', name: subject.name, namespace: subject.namespace }], `${d.file}:${d.line}`);
    }
  });

  it('gives Leases in the agent’s namespace only, through a Role', () => {
    const leaseGrants = policy.grants.filter((g) => (g.rule.resources ?? []).includes('leases'));
    assert.ok(leaseGrants.length > 0);
    for (const g of leaseGrants) assert.equal(g.namespace, subject.namespace, `${g.role} via ${g.binding}`);
  });
});
