/**
 * stop() leaves nothing running: no timer, no socket, no pending promise;
 * a process that used the cache exits on its own. Stopping or aborting
 * before the first sync rejects start() with its typed error.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createLiveCache, LiveCacheError, resources } from '../../agent/live/index.ts';
import { eventually, runCommand } from '../helpers/sim.ts';
import { admin } from '../sim/controllers/helpers.ts';
import type { LiveFixture } from './helpers.ts';
import { cacheOptions, pod, startLiveFixture } from './helpers.ts';

const ns = 'stop';

/**
 * Asserts that no kind of handle is more numerous than in `baseline`. Fewer
 * is fine: keep-alive sockets of the test's own client-node writes close on
 * their own time.
 */
function assertNoMoreThan(baseline: Record<string, number>): void {
  const now = activeResources();
  const extra = Object.entries(now).filter(([name, count]) => count > (baseline[name] ?? 0));
  assert.deepEqual(extra, [], `handles now ${JSON.stringify(now)}, before ${JSON.stringify(baseline)}`);
}

/** Counts of this process's active handles and requests by type (timers, sockets …). */
function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of process.getActiveResourcesInfo()) counts[name] = (counts[name] ?? 0) + 1;
  return counts;
}

describe('live cache: stop', () => {
  let f: LiveFixture;
  before(async () => {
    f = await startLiveFixture([ns], { bookmarkIntervalMs: 20 });
    await f.core.createNamespacedPod({ namespace: ns, body: pod(ns, 'p') });
  });
  after(async () => {
    await f.close();
  });

  it('after stop(), the process holds no handle (timer, socket) it did not hold before the cache started', async () => {
    const baseline = activeResources();
    const cache = createLiveCache(cacheOptions(f, [resources.pods, resources.statefulSets, resources.tidbClusters]));
    await cache.start();
    await eventually(() => assert.ok(cache.health().resources.every((r) => r.watching)));
    assert.notDeepEqual(activeResources(), baseline, 'watches hold sockets while running');
    const waiting = cache.waitFor(() => undefined, { description: 'forever', timeoutMs: 600_000 });
    await cache.stop();
    await assert.rejects(waiting, /stopped/);
    await eventually(() => assertNoMoreThan(baseline));
    await cache.stop(); // idempotent
  });

  it('stop() during backoff ends at once; a start() still waiting rejects with `stopped`', async () => {
    await admin(f, 'faults', { method: 'PUT', body: { rules: [{ verbs: ['list'], resources: ['statefulsets'], status: 503, retryAfterSeconds: 0 }] } });
    try {
      const baseline = activeResources();
      // Backoff of a whole minute: stop must not wait for it.
      const cache = createLiveCache(cacheOptions(f, [resources.pods, resources.statefulSets], { backoff: { initialMs: 60_000, maxMs: 60_000, factor: 1, jitter: 0 } }));
      const started = cache.start();
      await eventually(() => assert.equal(cache.health().resources.find((r) => r.plural === 'statefulsets')?.lastError?.status, 503));
      await cache.stop();
      await assert.rejects(started, (err: unknown) => err instanceof LiveCacheError && err.code === 'stopped' && /stopped before every resource listed/.test(err.message));
      await eventually(() => assertNoMoreThan(baseline));
    } finally {
      await admin(f, 'faults', { method: 'PUT', body: {} });
    }
  });

  it('start() aborted by its signal rejects with `aborted`, naming what had not listed and why, and stops the cache', async () => {
    await admin(f, 'faults', { method: 'PUT', body: { rules: [{ verbs: ['list'], resources: ['statefulsets'], status: 500, message: 'etcd leader changed' }] } });
    try {
      const controller = new AbortController();
      const cache = createLiveCache(cacheOptions(f, [resources.pods, resources.statefulSets]));
      const started = cache.start({ signal: controller.signal });
      await eventually(() => assert.ok(cache.health().resources.find((r) => r.plural === 'statefulsets')?.lastError));
      controller.abort();
      await assert.rejects(started, (err: unknown) => err instanceof LiveCacheError && err.code === 'aborted' && /before apps\/v1\/statefulsets listed \(last error: GET .*statefulsets\?limit=500: 500 InternalError: Internal error occurred: etcd leader changed\)/.test(err.message));
      await assert.rejects(cache.waitFor(() => undefined, { description: 'x' }), /stopped/);
    } finally {
      await admin(f, 'faults', { method: 'PUT', body: {} });
    }
  });

  it('start() after stop() rejects with `stopped`', async () => {
    const cache = createLiveCache(cacheOptions(f, [resources.pods]));
    await cache.stop();
    await assert.rejects(cache.start(), (err: unknown) => err instanceof LiveCacheError && err.code === 'stopped');
  });

  it('a process that used the cache exits by itself after stop()', async () => {
    const script = fileURLToPath(new URL('./support/stop-and-exit.ts', import.meta.url));
    const result = await runCommand(process.execPath, [script], { timeoutMs: 30_000 });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^stopped: waiting for never: the live cache of https:\/\/127\.0\.0\.1:\d+\/clusters\/sim was stopped\n$/);
  });
});
