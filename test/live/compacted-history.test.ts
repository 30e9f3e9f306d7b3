/**
 * A watch that resumes from a resourceVersion the server has compacted
 * away gets 410 Gone (in the stream, or as the HTTP status); the cache
 * relists, turns the difference into DELETED/ADDED/MODIFIED events, and
 * ends up holding exactly what a direct LIST returns.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LiveCache, LiveEvent } from '../../agent/live/index.ts';
import { createLiveCache, resources } from '../../agent/live/index.ts';
import { ApiError } from '../../sim/api/errors.ts';
import { eventually } from '../helpers/sim.ts';
import type { LiveFixture } from './helpers.ts';
import { cacheOptions, pod, startLiveFixture, versions } from './helpers.ts';

const ns = 'compacted';

describe('live cache: compacted watch history (410 Gone)', () => {
  let f: LiveFixture;
  let cache: LiveCache;
  let goneAsStatus = 0;
  const events: LiveEvent[] = [];

  before(async () => {
    f = await startLiveFixture([ns], {
      // Five events of history: a client away for more writes than that must relist.
      historyLimit: 5,
      beforeRequest: (_cluster, req, url) => {
        if (goneAsStatus > 0 && url.searchParams.get('watch') === '1' && url.pathname.endsWith('/pods')) {
          goneAsStatus--;
          throw new ApiError(410, 'Expired', 'too old resource version: 1 (99)');
        }
      },
    });
    for (const name of ['a', 'b', 'c', 'd']) await f.core.createNamespacedPod({ namespace: ns, body: pod(ns, name) });
    cache = createLiveCache(cacheOptions(f, [resources.pods]));
    cache.subscribe((e) => events.push(e));
    await cache.start();
    await eventually(() => assert.equal(cache.health().resources[0]?.watching, true));
  });
  after(async () => {
    await cache.stop();
    await f.close();
  });

  it('relists on a 410 ERROR event and replays the difference as events', async () => {
    const uidOfD = cache.get(resources.pods, ns, 'd')?.metadata.uid;
    const listsBefore = f.requests.filter((r) => r.verb === 'list').length;
    const watchesBefore = f.requests.filter((r) => r.verb === 'watch').length;
    const hold = f.holdWatches('/api/v1/pods');
    try {
      assert.equal(f.sim.dropWatches(), 1);
      await eventually(() => assert.equal(f.requests.filter((r) => r.verb === 'watch').length, watchesBefore + 1));
      await f.core.createNamespacedPod({ namespace: ns, body: pod(ns, 'new') });
      await f.core.patchNamespacedPod({ namespace: ns, name: 'b', body: [{ op: 'add', path: '/metadata/labels', value: { changed: 'yes' } }] });
      await f.core.deleteNamespacedPod({ namespace: ns, name: 'c', gracePeriodSeconds: 0 });
      await f.core.deleteNamespacedPod({ namespace: ns, name: 'd', gracePeriodSeconds: 0 });
      await f.core.createNamespacedPod({ namespace: ns, body: pod(ns, 'd', { generation: 'second' }) });
      // Unwatched writes push the pods' changes out of the five-event history.
      for (let i = 0; i < 8; i++) await f.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: `filler-${i}` } } });
      events.length = 0;
    } finally {
      hold.open();
    }
    await eventually(() => assert.equal(cache.health().resources[0]?.relists, 1));
    await eventually(() => assert.equal(cache.health().resources[0]?.watching, true));

    assert.equal(f.requests.filter((r) => r.verb === 'list').length, listsBefore + 1, 'exactly one relist');
    const direct = await f.core.listNamespacedPod({ namespace: ns });
    assert.deepEqual(versions(cache.list(resources.pods, ns)), versions(direct.items));
    assert.notEqual(cache.get(resources.pods, ns, 'd')?.metadata.uid, uidOfD, 'the recreated pod replaced the old one');
    assert.deepEqual(
      events.map((e) => `${e.type} ${e.object.metadata.name}${e.object.metadata.labels?.['generation'] === 'second' ? ' (new uid)' : ''} ${e.synthetic}`),
      // Deletions first (the recreated pod's old self too), then the list's order, which is by name.
      ['DELETED c true', 'DELETED d true', 'MODIFIED b true', 'ADDED d (new uid) true', 'ADDED new true'],
    );
    const modified = events.find((e) => e.type === 'MODIFIED');
    assert.equal(modified?.previous?.metadata.labels?.['changed'], undefined, 'MODIFIED carries the state the cache held');
    assert.equal(cache.health().synced, true);
  });

  it('relists on a 410 HTTP status too, and a relist with nothing changed emits nothing', async () => {
    const relists = cache.health().resources[0]?.relists ?? 0;
    events.length = 0;
    goneAsStatus = 1;
    assert.equal(f.sim.dropWatches(), 1);
    await eventually(() => assert.equal(cache.health().resources[0]?.relists, relists + 1));
    await eventually(() => assert.equal(cache.health().resources[0]?.watching, true));
    assert.equal(goneAsStatus, 0);
    assert.deepEqual(events, []);
    assert.match(cache.health().resources[0]?.lastError?.message ?? '', /410 Expired: too old resource version/);
    // Still following changes after both relists.
    await f.core.createNamespacedPod({ namespace: ns, body: pod(ns, 'after-relists') });
    await eventually(() => assert.ok(cache.get(resources.pods, ns, 'after-relists')));
    const direct = await f.core.listNamespacedPod({ namespace: ns });
    assert.deepEqual(versions(cache.list(resources.pods, ns)), versions(direct.items));
  });
});
