/**
 * The API server semantics clients rely on (reference §3): resourceVersion
 * and no-op writes, generation rules, status subresources, graceful
 * deletion, finalizers, garbage collection, watches, and separate clusters.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Simulation } from '../../sim/simulation.ts';
import { startSimulation } from '../../sim/simulation.ts';
import { eventually } from '../helpers/sim.ts';
import type { RawRequest } from '../helpers/raw-client.ts';
import { raw, watchEvents } from '../helpers/raw-client.ts';

type Obj = { metadata: { name: string; resourceVersion: string; generation?: number; deletionTimestamp?: string; uid: string; labels?: Record<string, string> }; spec?: Record<string, unknown>; status?: Record<string, unknown> };

const json = (body: unknown): RawRequest => ({ body: JSON.stringify(body), contentType: 'application/json' });
const merge = (body: unknown): RawRequest => ({ method: 'PATCH', body: JSON.stringify(body), contentType: 'application/merge-patch+json' });

function statefulSet(name: string): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name },
    spec: { serviceName: name, replicas: 1, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'busybox:1' }] } } },
  };
}

describe('API semantics', () => {
  let sim: Simulation;
  before(async () => {
    sim = await startSimulation({ clusters: ['staging', 'prod'], timeScale: 1000, historyLimit: 50, bookmarkIntervalMs: 50 });
  });
  after(async () => {
    await sim.close();
  });
  const sts = '/apis/apps/v1/namespaces/default/statefulsets';

  it('a no-op write keeps the resourceVersion and emits no event', async () => {
    const created = (await raw(sim, sts, { method: 'POST', ...json(statefulSet('noop')) })).json<Obj>();
    const before = sim.cluster().store.resourceVersion;
    const same = (await raw(sim, `${sts}/noop`, merge({ spec: { replicas: 1 } }))).json<Obj>();
    assert.equal(same.metadata.resourceVersion, created.metadata.resourceVersion);
    assert.equal(sim.cluster().store.resourceVersion, before);
  });

  it('generation moves only with spec for built-ins, and with anything outside metadata for custom resources', async () => {
    await raw(sim, sts, { method: 'POST', ...json(statefulSet('gen')) });
    const labelled = (await raw(sim, `${sts}/gen`, merge({ metadata: { labels: { a: 'b' } } }))).json<Obj>();
    assert.equal(labelled.metadata.generation, 1);
    const scaled = (await raw(sim, `${sts}/gen`, merge({ spec: { replicas: 2 } }))).json<Obj>();
    assert.equal(scaled.metadata.generation, 2);
    const tcPath = '/apis/pingcap.com/v1alpha1/namespaces/default/tidbclusters';
    const tc = (await raw(sim, tcPath, { method: 'POST', ...json({ apiVersion: 'pingcap.com/v1alpha1', kind: 'TidbCluster', metadata: { name: 'g' }, spec: { version: 'v1' } }) })).json<Obj>();
    assert.equal(tc.metadata.generation, 1);
    const annotated = (await raw(sim, `${tcPath}/g`, merge({ metadata: { annotations: { x: 'y' } } }))).json<Obj>();
    assert.equal(annotated.metadata.generation, 1);
    const statusIgnored = (await raw(sim, `${tcPath}/g`, merge({ status: { phase: 'x' } }))).json<Obj>();
    assert.equal(statusIgnored.status, undefined, 'the main endpoint ignores status');
    assert.equal(statusIgnored.metadata.generation, 1);
    const withStatus = (await raw(sim, `${tcPath}/g/status`, merge({ status: { phase: 'x' } }))).json<Obj>();
    assert.deepEqual(withStatus.status, { phase: 'x' });
    assert.equal(withStatus.metadata.generation, 1, 'status writes never bump generation');
    const specChange = (await raw(sim, `${tcPath}/g`, merge({ spec: { version: 'v2' } }))).json<Obj>();
    assert.equal(specChange.metadata.generation, 2);
  });

  it('a StatefulSet update of a forbidden spec field fails with the real message', async () => {
    await raw(sim, sts, { method: 'POST', ...json(statefulSet('immutable')) });
    const res = await raw(sim, `${sts}/immutable`, merge({ spec: { serviceName: 'other' } }));
    assert.equal(res.status, 422);
    assert.match(res.json<{ message: string }>().message, /spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden$/);
  });

  it('a scheduled pod terminates gracefully: deletionTimestamp first, removal after the grace period', async () => {
    const pods = '/api/v1/namespaces/default/pods';
    await raw(sim, pods, { method: 'POST', ...json({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'graceful' }, spec: { nodeName: 'node-1', terminationGracePeriodSeconds: 20, containers: [{ name: 'c', image: 'busybox:1' }] } }) });
    const deleted = (await raw(sim, `${pods}/graceful`, { method: 'DELETE' })).json<Obj>();
    assert.ok(deleted.metadata.deletionTimestamp);
    assert.equal((await raw(sim, `${pods}/graceful`)).status, 200, 'still there while terminating');
    await eventually(async () => assert.equal((await raw(sim, `${pods}/graceful`)).status, 404));
    await raw(sim, pods, { method: 'POST', ...json({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'unscheduled' }, spec: { containers: [{ name: 'c', image: 'busybox:1' }] } }) });
    await raw(sim, `${pods}/unscheduled`, { method: 'DELETE' });
    assert.equal((await raw(sim, `${pods}/unscheduled`)).status, 404, 'an unscheduled pod goes at once');
  });

  it('finalizers hold a deletion until they are removed', async () => {
    const cms = '/api/v1/namespaces/default/configmaps';
    await raw(sim, cms, { method: 'POST', ...json({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'held', finalizers: ['example.com/hold'] } }) });
    const deleting = (await raw(sim, `${cms}/held`, { method: 'DELETE' })).json<Obj>();
    assert.ok(deleting.metadata.deletionTimestamp);
    assert.equal((await raw(sim, `${cms}/held`)).status, 200);
    await raw(sim, `${cms}/held`, { method: 'PATCH', body: '[{"op":"remove","path":"/metadata/finalizers"}]', contentType: 'application/json-patch+json' });
    assert.equal((await raw(sim, `${cms}/held`)).status, 404);
  });

  it('deleting an owner garbage-collects its dependents', async () => {
    const owner = (await raw(sim, sts, { method: 'POST', ...json(statefulSet('owner')) })).json<Obj>();
    const pods = '/api/v1/namespaces/default/pods';
    await raw(sim, pods, {
      method: 'POST',
      ...json({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'owner-0', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'owner', uid: owner.metadata.uid, controller: true }] }, spec: { containers: [{ name: 'c', image: 'busybox:1' }] } }),
    });
    await raw(sim, `${sts}/owner`, { method: 'DELETE' });
    await eventually(async () => assert.equal((await raw(sim, `${pods}/owner-0`)).status, 404));
  });

  it('a watch from a resourceVersion sees only later events, and a selector change shows as DELETED', async () => {
    const cms = '/api/v1/namespaces/default/configmaps';
    const first = (await raw(sim, cms, { method: 'POST', ...json({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'w1', labels: { watch: 'me' } } }) })).json<Obj>();
    const watching = raw(sim, `${cms}?watch=1&labelSelector=watch%3Dme&resourceVersion=${first.metadata.resourceVersion}`, { readForMs: 300 });
    await new Promise((r) => setTimeout(r, 50));
    await raw(sim, cms, { method: 'POST', ...json({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'w2', labels: { watch: 'me' } } }) });
    await raw(sim, `${cms}/w1`, merge({ metadata: { labels: { watch: null } } }));
    const events = watchEvents((await watching).text);
    assert.deepEqual(events.map((e) => `${e.type} ${(e.object['metadata'] as { name: string }).name}`), ['ADDED w2', 'DELETED w1']);
  });

  it('a watch from a compacted resourceVersion gets an ERROR event with 410 inside a 200 stream', async () => {
    const cms = '/api/v1/namespaces/default/configmaps';
    for (let i = 0; i < 60; i++) await raw(sim, cms, { method: 'POST', ...json({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `fill-${i}` } }) });
    const res = await raw(sim, `${cms}?watch=1&resourceVersion=2`);
    assert.equal(res.status, 200);
    const [event, ...rest] = watchEvents(res.text);
    assert.equal(rest.length, 0);
    assert.equal(event?.type, 'ERROR');
    assert.equal(event?.object['code'], 410);
    assert.equal(event?.object['reason'], 'Expired');
    assert.match(String(event?.object['message']), /^too old resource version: 2 \(\d+\)$/);
  });

  it('sendInitialEvents streams the list, then the initial-events-end bookmark; bookmarks follow; timeoutSeconds ends it', async () => {
    const res = await raw(sim, '/apis/apps/v1/namespaces/default/statefulsets?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1');
    const events = watchEvents(res.text);
    const end = events.findIndex((e) => e.type === 'BOOKMARK');
    assert.ok(end > 0);
    assert.ok(events.slice(0, end).every((e) => e.type === 'ADDED'));
    const bookmark = events[end]?.object as { kind: string; metadata: { annotations?: Record<string, string>; resourceVersion: string } };
    assert.equal(bookmark.kind, 'StatefulSet');
    assert.equal(bookmark.metadata.annotations?.['k8s.io/initial-events-end'], 'true');
    assert.ok(events.slice(end + 1).some((e) => e.type === 'BOOKMARK'), 'periodic bookmarks when asked');
  });

  it('clusters are separate: objects, resourceVersions and tokens', async () => {
    const cms = '/api/v1/namespaces/default/configmaps';
    await raw(sim, cms, { method: 'POST', cluster: 'prod', ...json({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'only-in-prod' } }) });
    assert.equal((await raw(sim, `${cms}/only-in-prod`, { cluster: 'prod' })).status, 200);
    assert.equal((await raw(sim, `${cms}/only-in-prod`, { cluster: 'staging' })).status, 404);
    const stagingToken = sim.cluster('staging').token;
    assert.equal((await raw(sim, `${cms}/only-in-prod`, { cluster: 'prod', token: stagingToken })).status, 401);
    assert.match(sim.kubeconfig(), /name: staging[\s\S]*name: prod/);
  });

  it('deleting a namespace terminates it and everything in it', async () => {
    await raw(sim, '/api/v1/namespaces', { method: 'POST', ...json({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'doomed' } }) });
    // A finalizer on its content keeps the namespace Terminating until the test lets it go.
    await raw(sim, '/api/v1/namespaces/doomed/configmaps', { method: 'POST', ...json({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', finalizers: ['example.com/hold'] } }) });
    const terminating = (await raw(sim, '/api/v1/namespaces/doomed', { method: 'DELETE' })).json<Obj>();
    assert.equal(terminating.status?.['phase'], 'Terminating');
    const refused = await raw(sim, '/api/v1/namespaces/doomed/configmaps', { method: 'POST', ...json({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'late' } }) });
    assert.equal(refused.status, 403);
    assert.equal(refused.json<{ message: string }>().message, 'configmaps "late" is forbidden: unable to create new content in namespace doomed because it is being terminated');
    await eventually(async () => assert.ok((await raw(sim, '/api/v1/namespaces/doomed/configmaps/c')).json<Obj>().metadata.deletionTimestamp));
    await raw(sim, '/api/v1/namespaces/doomed/configmaps/c', { method: 'PATCH', body: '[{"op":"remove","path":"/metadata/finalizers"}]', contentType: 'application/json-patch+json' });
    await eventually(async () => assert.equal((await raw(sim, '/api/v1/namespaces/doomed')).status, 404));
    assert.equal((await raw(sim, '/api/v1/namespaces/doomed/configmaps/c')).status, 404);
  });
});
