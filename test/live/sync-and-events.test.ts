/**
 * Initial sync and the event flow: start() resolves once every resource
 * has listed; creations, changes and deletions reach subscribers and the
 * store, in order, with their arrival time; cached objects are frozen;
 * a namespace-limited cache sees only its namespaces; bad options and
 * questions about unwatched resources get clear errors.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AppsV1Api } from '@kubernetes/client-node';
import type { LiveCache, LiveEvent } from '../../agent/live/index.ts';
import { createLiveCache, LiveCacheError, resources } from '../../agent/live/index.ts';
import { eventually } from '../helpers/sim.ts';
import type { LiveFixture } from './helpers.ts';
import { cacheOptions, pod, startLiveFixture, versions } from './helpers.ts';

describe('live cache: initial sync and events', () => {
  let f: LiveFixture;
  let cache: LiveCache;
  const events: LiveEvent[] = [];

  before(async () => {
    f = await startLiveFixture(['sync-a', 'sync-b']);
    await f.core.createNamespacedPod({ namespace: 'sync-a', body: pod('sync-a', 'before-1') });
    await f.core.createNamespacedPod({ namespace: 'sync-b', body: pod('sync-b', 'before-2') });
    // Small pages, so the initial list takes several requests.
    cache = createLiveCache(cacheOptions(f, [resources.pods, resources.statefulSets, resources.leases], { listPageSize: 1 }));
    cache.subscribe((e) => events.push(e));
  });
  after(async () => {
    await cache.stop();
    await f.close();
  });

  it('start() resolves with every resource listed, across pages, and objects carry apiVersion and kind', async () => {
    await cache.start();
    const health = cache.health();
    assert.equal(health.synced, true);
    assert.equal(health.server, f.sim.cluster().url);
    assert.deepEqual(
      health.resources.map((r) => [r.plural, r.synced, r.installed, r.relists, r.restarts]),
      [
        ['pods', true, true, 0, 0],
        ['statefulsets', true, true, 0, 0],
        ['leases', true, true, 0, 0],
      ],
    );
    const pods = cache.list(resources.pods);
    assert.deepEqual(pods.map((p) => p.metadata.name).sort(), ['before-1', 'before-2']);
    for (const p of pods) {
      assert.equal(p.apiVersion, 'v1');
      assert.equal(p.kind, 'Pod');
    }
    assert.deepEqual(cache.list(resources.pods, 'sync-a').map((p) => p.metadata.name), ['before-1']);
    assert.equal(cache.get(resources.pods, 'sync-b', 'before-2')?.metadata.namespace, 'sync-b');
    assert.equal(cache.get(resources.pods, 'sync-a', 'before-2'), undefined);
    assert.equal(f.requests.filter((r) => r.verb === 'list' && r.path.endsWith('/pods')).length, 2, 'paged list: one request per object (page size 1)');
    // The first list's events reach subscribers as ADDED, marked as coming from a list.
    assert.deepEqual(
      events.map((e) => `${e.type} ${e.object.metadata.name} ${e.synthetic}`).sort(),
      ['ADDED before-1 true', 'ADDED before-2 true'],
    );
    assert.equal(cache.start(), cache.start(), 'start() twice returns the same promise');
  });

  it('ADDED, MODIFIED and DELETED reach subscribers and the store, in order', async () => {
    events.length = 0;
    await f.core.createNamespacedPod({ namespace: 'sync-a', body: pod('sync-a', 'p1', { step: '1' }) });
    await f.core.patchNamespacedPod({ namespace: 'sync-a', name: 'p1', body: [{ op: 'replace', path: '/metadata/labels/step', value: '2' }] });
    await f.core.deleteNamespacedPod({ namespace: 'sync-a', name: 'p1', gracePeriodSeconds: 0 });
    await eventually(() => assert.equal(events.filter((e) => e.object.metadata.name === 'p1').at(-1)?.type, 'DELETED'));
    const seen = events.filter((e) => e.object.metadata.name === 'p1');
    assert.deepEqual(
      seen.map((e) => [e.type, e.object.metadata.labels?.['step'], e.previous?.metadata.labels?.['step'], e.synthetic]),
      [
        ['ADDED', '1', undefined, false],
        ['MODIFIED', '2', '1', false],
        ['DELETED', '2', undefined, false],
      ],
    );
    for (const e of seen) assert.equal(e.resource, resources.pods);
    assert.equal(cache.get(resources.pods, 'sync-a', 'p1'), undefined);
    assert.ok(seen.every((e, i) => i === 0 || e.receivedAt >= (seen[i - 1]?.receivedAt ?? 0)), 'arrival times in order');
  });

  it('keeps what a watch says: the store equals a direct LIST, and arrival times are recorded', async () => {
    const apps = f.kc.makeApiClient(AppsV1Api);
    const t0 = performance.timeOrigin + performance.now();
    await apps.createNamespacedStatefulSet({
      namespace: 'sync-b',
      body: { metadata: { name: 'db' }, spec: { serviceName: 'db', replicas: 3, selector: { matchLabels: { app: 'db' } }, template: { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'db', image: 'db:1' }] } } } },
    });
    const sts = await eventually(() => {
      const found = cache.get(resources.statefulSets, 'sync-b', 'db');
      assert.ok(found);
      return found;
    });
    assert.equal((sts['spec'] as { replicas: number }).replicas, 3);
    const arrived = cache.receivedAt(resources.statefulSets, 'sync-b', 'db');
    assert.ok(arrived !== undefined && arrived >= t0, `receivedAt ${arrived} after the write began ${t0}`);
    const direct = await f.core.listPodForAllNamespaces();
    assert.deepEqual(versions(cache.list(resources.pods)), versions(direct.items));
  });

  it('hands out frozen objects: a caller cannot change the cache by accident', () => {
    const p = cache.get(resources.pods, 'sync-a', 'before-1');
    assert.ok(p);
    assert.throws(() => {
      (p.metadata as { name: string }).name = 'renamed';
    }, TypeError);
    assert.equal(cache.get(resources.pods, 'sync-a', 'before-1'), p, 'the same object on every read, not a copy');
  });

  it('a listener that throws does not stop the others or the cache', async () => {
    const received: string[] = [];
    const offBad = cache.subscribe(() => {
      throw new Error('listener bug');
    });
    const offGood = cache.subscribe((e) => received.push(e.object.metadata.name));
    await f.core.createNamespacedPod({ namespace: 'sync-a', body: pod('sync-a', 'after-bad-listener') });
    await eventually(() => assert.ok(received.includes('after-bad-listener')));
    offBad();
    offGood();
    await f.core.createNamespacedPod({ namespace: 'sync-a', body: pod('sync-a', 'after-unsubscribe') });
    await eventually(() => assert.ok(cache.get(resources.pods, 'sync-a', 'after-unsubscribe')));
    assert.ok(!received.includes('after-unsubscribe'), 'an unsubscribed listener hears nothing more');
  });

  it('asking about a resource the cache does not watch is an error naming what it watches', () => {
    assert.throws(
      () => cache.get(resources.tidbClusters, 'sync-a', 'x'),
      (err: unknown) => err instanceof LiveCacheError && err.code === 'not-watched' && /does not watch pingcap.com\/v1alpha1\/tidbclusters \(it watches v1\/pods, apps\/v1\/statefulsets/.test(err.message),
    );
  });
});

describe('live cache: limited to namespaces', () => {
  let f: LiveFixture;
  let cache: LiveCache;
  before(async () => {
    f = await startLiveFixture(['ns-in', 'ns-out']);
    await f.core.createNamespacedPod({ namespace: 'ns-in', body: pod('ns-in', 'inside') });
    await f.core.createNamespacedPod({ namespace: 'ns-out', body: pod('ns-out', 'outside') });
    cache = createLiveCache(cacheOptions(f, [resources.pods], { namespaces: ['ns-in'] }));
    await cache.start();
  });
  after(async () => {
    await cache.stop();
    await f.close();
  });

  it('lists and watches only its namespaces, and says so when asked about another', async () => {
    assert.deepEqual(cache.list(resources.pods).map((p) => p.metadata.name), ['inside']);
    assert.ok(f.requests.every((r) => !r.path.endsWith('/api/v1/pods')), 'no cluster-wide request');
    await f.core.createNamespacedPod({ namespace: 'ns-out', body: pod('ns-out', 'outside-2') });
    await f.core.createNamespacedPod({ namespace: 'ns-in', body: pod('ns-in', 'inside-2') });
    await eventually(() => assert.deepEqual(cache.list(resources.pods).map((p) => p.metadata.name).sort(), ['inside', 'inside-2']));
    assert.deepEqual(cache.health().resources.map((r) => r.namespace), ['ns-in']);
    assert.throws(() => cache.list(resources.pods, 'ns-out'), /watches v1\/pods in namespaces ns-in only, not ns-out/);
  });
});

describe('live cache: options', () => {
  it('rejects bad options, naming every problem', async () => {
    const f = await startLiveFixture([]);
    try {
      assert.throws(
        () => createLiveCache({ kubeConfig: f.kc, resources: [], namespaces: [], watchTimeoutSeconds: 0, listPageSize: -1, backoff: { initialMs: 0, maxMs: 1, factor: 2, jitter: 0 } }),
        (err: unknown) =>
          err instanceof LiveCacheError &&
          err.code === 'invalid-options' &&
          /resources: list at least one resource/.test(err.message) &&
          /namespaces: list at least one namespace/.test(err.message) &&
          /watchTimeoutSeconds: must be 1 or more/.test(err.message) &&
          /listPageSize: must be a whole number/.test(err.message) &&
          /initialMs: must be a number above 0/.test(err.message),
      );
      assert.throws(() => createLiveCache({ kubeConfig: f.kc, resources: [resources.pods], namespaces: ['Bad_NS'] }), /namespaces: "Bad_NS" is not a namespace name/);
    } finally {
      await f.close();
    }
  });
});
