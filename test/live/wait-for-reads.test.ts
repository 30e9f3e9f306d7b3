/**
 * waitFor runs a check again only on events that touch what the check read
 * through the cache: the objects it named (present or not), the
 * collections it listed. A check that read nothing runs on every event, as
 * before. With a hundred rollouts waiting, one event then costs one check,
 * not a hundred (bench/fleet.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LiveCache, LiveEvent } from '../../agent/live/index.ts';
import { createLiveCache, resources } from '../../agent/live/index.ts';
import type { LiveFixture } from './helpers.ts';
import { cacheOptions, pod, startLiveFixture } from './helpers.ts';

const ns = 'reads';
const other = 'reads-other';

describe('live cache: waitFor wakes on what its check read', () => {
  let f: LiveFixture;
  let cache: LiveCache;

  before(async () => {
    f = await startLiveFixture([ns, other]);
    cache = createLiveCache(cacheOptions(f, [resources.pods]));
    await cache.start();
  });
  after(async () => {
    await cache.stop();
    await f.close();
  });

  /** Resolves once the cache has applied an event of pod `namespace/name` (a subscriber runs before any wait). */
  const applied = (namespace: string, name: string, type: LiveEvent['type']): Promise<void> =>
    new Promise((resolve) => {
      const off = cache.subscribe((e) => {
        if (e.type !== type || e.object.metadata.namespace !== namespace || e.object.metadata.name !== name) return;
        off();
        resolve();
      });
    });

  const labelled = (namespace: string, name: string): Promise<unknown> => f.core.patchNamespacedPod({ namespace, name, body: [{ op: 'add', path: '/metadata/labels', value: { ready: 'yes' } }] });

  it('runs a check that named one pod only on that pod’s events, and on its creation', async () => {
    let checks = 0;
    const waiting = cache.waitFor(
      () => {
        checks++;
        const p = cache.get(resources.pods, ns, 'mine');
        return p?.metadata.labels?.['ready'] === 'yes' ? p.metadata.name : undefined;
      },
      { description: 'pod reads/mine ready', timeoutMs: 60_000 },
    );
    assert.equal(checks, 1, 'once at once');
    // Another pod's ADDED and MODIFIED, in the same namespace: not run.
    let seen = applied(ns, 'theirs', 'ADDED');
    await f.core.createNamespacedPod({ namespace: ns, body: pod(ns, 'theirs') });
    await seen;
    seen = applied(ns, 'theirs', 'MODIFIED');
    await labelled(ns, 'theirs');
    await seen;
    assert.equal(checks, 1, 'not run on another pod’s events');
    // The named pod appears (it was missing when first read), then becomes ready.
    seen = applied(ns, 'mine', 'ADDED');
    await f.core.createNamespacedPod({ namespace: ns, body: pod(ns, 'mine') });
    await seen;
    assert.equal(checks, 2, 'run when the pod it named is created');
    await labelled(ns, 'mine');
    assert.equal(await waiting, 'mine');
    assert.equal(checks, 3);
  });

  it('runs a check that listed a namespace on any pod of it, never on another namespace’s', async () => {
    let checks = 0;
    const waiting = cache.waitFor(
      () => {
        checks++;
        return cache.list(resources.pods, ns).some((p) => p.metadata.name === 'listed') ? true : undefined;
      },
      { description: 'a pod named listed in reads', timeoutMs: 60_000 },
    );
    const seen = applied(other, 'elsewhere', 'ADDED');
    await f.core.createNamespacedPod({ namespace: other, body: pod(other, 'elsewhere') });
    await seen;
    assert.equal(checks, 1, 'not run on a pod of another namespace');
    const near = applied(ns, 'neighbour', 'ADDED');
    await f.core.createNamespacedPod({ namespace: ns, body: pod(ns, 'neighbour') });
    await near;
    assert.equal(checks, 2, 'run on any pod of the namespace it listed');
    await f.core.createNamespacedPod({ namespace: ns, body: pod(ns, 'listed') });
    assert.equal(await waiting, true);
  });

  it('runs a check that listed every namespace on any pod', async () => {
    let checks = 0;
    const waiting = cache.waitFor(
      () => {
        checks++;
        return cache.list(resources.pods).some((p) => p.metadata.name === 'anywhere') ? true : undefined;
      },
      { description: 'a pod named anywhere', timeoutMs: 60_000 },
    );
    await f.core.createNamespacedPod({ namespace: other, body: pod(other, 'anywhere') });
    assert.equal(await waiting, true);
    assert.equal(checks, 2);
  });

  it('follows what the check read last: a check that reads a second pod once the first exists wakes on the second', async () => {
    let checks = 0;
    const waiting = cache.waitFor(
      () => {
        checks++;
        if (cache.get(resources.pods, ns, 'first') === undefined) return undefined;
        return cache.get(resources.pods, ns, 'second')?.metadata.labels?.['ready'] === 'yes' ? true : undefined;
      },
      { description: 'pods reads/first and reads/second', timeoutMs: 60_000 },
    );
    // The second pod exists before the first: its events do not wake a check that has not read it yet.
    let seen = applied(ns, 'second', 'ADDED');
    await f.core.createNamespacedPod({ namespace: ns, body: pod(ns, 'second') });
    await seen;
    assert.equal(checks, 1);
    seen = applied(ns, 'first', 'ADDED');
    await f.core.createNamespacedPod({ namespace: ns, body: pod(ns, 'first') });
    await seen;
    assert.equal(checks, 2);
    // Now it has read the second pod, so the second pod's change wakes it.
    await labelled(ns, 'second');
    assert.equal(await waiting, true);
    assert.equal(checks, 3);
  });

  it('runs a check that read nothing from the cache on every event', async () => {
    let checks = 0;
    let flag = false;
    const waiting = cache.waitFor(
      () => {
        checks++;
        return flag ? 'flag' : undefined;
      },
      { description: 'a flag outside the cache', timeoutMs: 60_000 },
    );
    const seen = applied(other, 'unrelated', 'ADDED');
    await f.core.createNamespacedPod({ namespace: other, body: pod(other, 'unrelated') });
    await seen;
    assert.equal(checks, 2, 'run on an event of an object it never read');
    flag = true;
    await f.core.createNamespacedPod({ namespace: other, body: pod(other, 'unrelated-2') });
    assert.equal(await waiting, 'flag');
  });

  it('wakes waits that read the same pod in the order they began', async () => {
    const order: string[] = [];
    const wait = (label: string): Promise<void> =>
      cache.waitFor(
        () => {
          const p = cache.get(resources.pods, ns, 'shared');
          if (p === undefined) return undefined;
          order.push(label);
          return true;
        },
        { description: `pod reads/shared (${label})`, timeoutMs: 60_000 },
      ).then(() => undefined);
    const waits = [wait('a'), wait('b'), wait('c')];
    await f.core.createNamespacedPod({ namespace: ns, body: pod(ns, 'shared') });
    await Promise.all(waits);
    assert.deepEqual(order, ['a', 'b', 'c']);
  });
});
