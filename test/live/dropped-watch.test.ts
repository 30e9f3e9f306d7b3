/**
 * A dropped watch resumes from the last resourceVersion the cache saw
 * (a bookmark's included) without a relist, and the events written while
 * it was away arrive as ordinary watch events.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LiveCache, LiveEvent } from '../../agent/live/index.ts';
import { createLiveCache, resources } from '../../agent/live/index.ts';
import { admin } from '../sim/controllers/helpers.ts';
import { eventually } from '../helpers/sim.ts';
import type { LiveFixture } from './helpers.ts';
import { cacheOptions, pod, startLiveFixture, versions } from './helpers.ts';

const ns = 'dropped';

describe('live cache: dropped watches', () => {
  let f: LiveFixture;
  let cache: LiveCache;
  const events: LiveEvent[] = [];

  before(async () => {
    f = await startLiveFixture([ns], { bookmarkIntervalMs: 50 });
    for (const name of ['keep', 'change', 'remove']) await f.core.createNamespacedPod({ namespace: ns, body: pod(ns, name) });
    cache = createLiveCache(cacheOptions(f, [resources.pods]));
    cache.subscribe((e) => events.push(e));
    await cache.start();
    await eventually(() => assert.equal(cache.health().resources[0]?.watching, true));
  });
  after(async () => {
    await cache.stop();
    await f.close();
  });

  it('resumes from the last resourceVersion without a relist; missed changes arrive as watch events', async () => {
    const rvBefore = cache.health().resources[0]?.resourceVersion;
    assert.ok(rvBefore);
    const listsBefore = f.requests.filter((r) => r.verb === 'list').length;
    const watchesBefore = f.requests.filter((r) => r.verb === 'watch').length;
    events.length = 0;

    // Hold the cache's next watch at the server while the cluster changes.
    const hold = f.holdWatches('/api/v1/pods');
    const dropped = await admin(f, 'drop-watches', { method: 'POST' });
    assert.ok((dropped.body as { dropped: number }).dropped >= 1);
    await eventually(() => assert.equal(f.requests.filter((r) => r.verb === 'watch').length, watchesBefore + 1));
    const resumed = f.requests.filter((r) => r.verb === 'watch').at(-1);
    // While the watch is held nothing can move the cache's version: the request carried exactly it.
    assert.equal(resumed?.resourceVersion, cache.health().resources[0]?.resourceVersion);
    try {
      await f.core.createNamespacedPod({ namespace: ns, body: pod(ns, 'added-while-away') });
      await f.core.patchNamespacedPod({ namespace: ns, name: 'change', body: [{ op: 'add', path: '/metadata/labels', value: { v: '2' } }] });
      await f.core.deleteNamespacedPod({ namespace: ns, name: 'remove', gracePeriodSeconds: 0 });
    } finally {
      hold.open();
    }

    await eventually(() => assert.equal(cache.get(resources.pods, ns, 'remove'), undefined));
    assert.ok(resumed);
    // Bookmarks may have moved the version on before the drop; never back, and never to a fresh start.
    assert.ok(Number(resumed.resourceVersion) >= Number(rvBefore), `re-watch from ${resumed.resourceVersion}, last seen ${rvBefore}`);
    assert.equal(f.requests.filter((r) => r.verb === 'list').length, listsBefore, 'no relist');
    assert.deepEqual(
      events.map((e) => `${e.type} ${e.object.metadata.name} ${e.synthetic}`),
      ['ADDED added-while-away false', 'MODIFIED change false', 'DELETED remove false'],
    );
    const direct = await f.core.listNamespacedPod({ namespace: ns });
    assert.deepEqual(versions(cache.list(resources.pods, ns)), versions(direct.items));
    const health = cache.health().resources[0];
    assert.equal(health?.relists, 0);
    assert.ok((health?.restarts ?? 0) >= 1);
    assert.equal(health?.synced, true);
  });

  it('a bookmark moves the resume point past writes to other resources', async () => {
    // A ConfigMap is not watched, but it advances the cluster's resourceVersion, which pod bookmarks then carry.
    const cm = await f.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'bump' }, data: { a: '1' } } });
    const bumped = Number(cm.metadata?.resourceVersion);
    await eventually(() => assert.ok(Number(cache.health().resources[0]?.resourceVersion) >= bumped, 'bookmark seen'));
    const watchesBefore = f.requests.filter((r) => r.verb === 'watch').length;
    assert.equal(f.sim.dropWatches(), 1);
    await eventually(() => assert.equal(f.requests.filter((r) => r.verb === 'watch').length, watchesBefore + 1));
    const resumed = f.requests.filter((r) => r.verb === 'watch').at(-1);
    assert.ok(Number(resumed?.resourceVersion) >= bumped, `re-watch from ${resumed?.resourceVersion}, bookmark at ${bumped}`);
    assert.equal(cache.health().resources[0]?.relists, 0);
  });
});
