/**
 * A flaky API server: 5xx answers to lists and watches, Retry-After, and
 * watches cut every fifth of a second, all from kube-sim's fault
 * injection. The cache still converges on what the server holds.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LiveCache } from '../../agent/live/index.ts';
import { createLiveCache, resources } from '../../agent/live/index.ts';
import { admin } from '../sim/controllers/helpers.ts';
import { eventually } from '../helpers/sim.ts';
import type { LiveFixture } from './helpers.ts';
import { cacheOptions, pod, startLiveFixture, versions } from './helpers.ts';

const ns = 'faults';

describe('live cache: API faults', () => {
  let f: LiveFixture;
  let cache: LiveCache;

  before(async () => {
    f = await startLiveFixture([ns]);
    for (let i = 0; i < 20; i++) await f.core.createNamespacedPod({ namespace: ns, body: pod(ns, `seed-${i}`) });
    const set = await admin(f, 'faults', {
      method: 'PUT',
      body: {
        dropWatchesEverySeconds: 0.2,
        rules: [
          { verbs: ['list', 'watch'], resources: ['pods'], status: 500, rate: 0.1 },
          { verbs: ['list', 'watch'], resources: ['pods'], status: 503, rate: 0.05, retryAfterSeconds: 0 },
          { verbs: ['list', 'watch'], resources: ['pods'], status: 504, rate: 0.05 },
        ],
      },
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    cache = createLiveCache(cacheOptions(f, [resources.pods]));
    await cache.start();
  });
  after(async () => {
    await cache.stop();
    await f.close();
  });

  it('converges on the server state through 5xx answers and cut watches', async () => {
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 30; i++) writes.push(f.core.createNamespacedPod({ namespace: ns, body: pod(ns, `new-${i}`) }));
    await Promise.all(writes);
    for (let round = 0; round < 3; round++) {
      const restarts = cache.health().resources[0]?.restarts ?? 0;
      await Promise.all(
        Array.from({ length: 20 }, (_, i) => f.core.patchNamespacedPod({ namespace: ns, name: `seed-${i}`, body: [{ op: 'add', path: '/metadata/labels', value: { round: String(round) } }] })),
      );
      // A cut watch comes back between rounds, so resumes happen while changes are in flight.
      await eventually(() => assert.ok((cache.health().resources[0]?.restarts ?? 0) > restarts));
    }
    await Promise.all(Array.from({ length: 10 }, (_, i) => f.core.deleteNamespacedPod({ namespace: ns, name: `new-${i}`, gracePeriodSeconds: 0 })));

    // Watches are cut five times a second and each new one may fail: wait until some did.
    await eventually(async () => {
      const stats = (await admin(f, 'faults/stats')).body as { fired: number[] };
      assert.ok(stats.fired.reduce((a, b) => a + b, 0) >= 3, `faults fired: ${JSON.stringify(stats)}`);
    }, 30_000);
    await eventually(async () => {
      // The comparison LIST goes through the same faults; eventually() retries it.
      const direct = await f.core.listNamespacedPod({ namespace: ns });
      assert.deepEqual(versions(cache.list(resources.pods, ns)), versions(direct.items));
    }, 20_000);
    assert.equal(cache.list(resources.pods, ns).length, 40);
    assert.ok(cache.list(resources.pods, ns).filter((p) => p.metadata.name.startsWith('seed-')).every((p) => p.metadata.labels?.['round'] === '2'));

    const health = cache.health().resources[0];
    assert.ok((health?.restarts ?? 0) > 0, 'watches resumed');
    assert.match(health?.lastError?.message ?? '', /50[034]/, 'the injected errors show in health');
    assert.equal(health?.synced, true);
    assert.equal(health?.relists, 0, 'history was never compacted, so no cut needed a relist');
  });
});
