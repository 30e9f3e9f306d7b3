/**
 * Watch lifetimes: each watch asks the server for a `timeoutSeconds` in
 * [t, 2t); a watch the server ends on time is resumed without an error,
 * and one still open well past it is cut by the cache and resumed, both
 * from the kept resourceVersion without a relist.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LiveClock } from '../../agent/live/index.ts';
import { createLiveCache, resources, systemClock } from '../../agent/live/index.ts';
import { eventually } from '../helpers/sim.ts';
import type { LiveFixture } from './helpers.ts';
import { cacheOptions, pod, startLiveFixture } from './helpers.ts';

const ns = 'timeouts';

describe('live cache: watch timeouts', () => {
  let f: LiveFixture;
  before(async () => {
    f = await startLiveFixture([ns]);
    await f.core.createNamespacedPod({ namespace: ns, body: pod(ns, 'p') });
  });
  after(async () => {
    await f.close();
  });

  it('asks for a server-side timeout in [t, 2t) and resumes cleanly when the server ends the watch', async () => {
    const cache = createLiveCache(cacheOptions(f, [resources.pods], { watchTimeoutSeconds: 1, random: () => 0.5 }));
    try {
      await cache.start();
      await eventually(() => assert.ok((cache.health().resources[0]?.restarts ?? 0) >= 1), 10_000);
      // The restart is counted before the next watch request reaches the server.
      const watches = await eventually(() => {
        const seen = f.requests.filter((r) => r.verb === 'watch');
        assert.ok(seen.length >= 2);
        return seen;
      }, 10_000);
      assert.ok(watches.every((w) => w.timeoutSeconds === '1'));
      assert.equal(cache.health().resources[0]?.relists, 0);
      assert.equal(cache.health().resources[0]?.lastError, undefined, 'a watch the server ends on time is no error');
      await f.core.createNamespacedPod({ namespace: ns, body: pod(ns, 'after-timeout') });
      await eventually(() => assert.ok(cache.get(resources.pods, ns, 'after-timeout')));
    } finally {
      await cache.stop();
    }
  });

  it('cuts a watch still open 30 s past its timeoutSeconds and resumes it from the kept resourceVersion', async () => {
    const deadlines: (() => void)[] = [];
    const clock: LiveClock = {
      now: () => systemClock.now(),
      setTimeout: (callback, delayMs) => {
        // The watch deadline (timeoutSeconds × 1000 + 30 s) is fired by the test; every other timer is real.
        if (delayMs >= 300_000) {
          deadlines.push(callback);
          return () => undefined;
        }
        return systemClock.setTimeout(callback, delayMs);
      },
    };
    const cache = createLiveCache(cacheOptions(f, [resources.pods], { clock, watchTimeoutSeconds: 300, random: () => 0 }));
    try {
      await cache.start();
      await eventually(() => assert.equal(cache.health().resources[0]?.watching, true));
      const rv = cache.health().resources[0]?.resourceVersion;
      const lists = f.requests.filter((r) => r.verb === 'list').length;
      assert.equal(deadlines.length, 1);
      deadlines[0]?.();
      await eventually(() => assert.equal(cache.health().resources[0]?.restarts, 1));
      await eventually(() => assert.equal(cache.health().resources[0]?.watching, true));
      assert.match(cache.health().resources[0]?.lastError?.message ?? '', /the watch was still open 30 s after its timeoutSeconds=300/);
      const resumed = f.requests.filter((r) => r.verb === 'watch').at(-1);
      assert.equal(resumed?.resourceVersion, rv);
      assert.equal(resumed?.timeoutSeconds, '300');
      assert.equal(f.requests.filter((r) => r.verb === 'list').length, lists, 'no relist');
    } finally {
      await cache.stop();
    }
  });
});
