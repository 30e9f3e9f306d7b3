/**
 * waitFor: resolves at once when the condition already holds, resolves on
 * the event that makes it hold, and otherwise rejects with a WaitError
 * (`timeout`, `aborted`, `stopped`) that names what was awaited. It
 * evaluates its check only now and after events, never on a timer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LiveCache, LiveClock } from '../../agent/live/index.ts';
import { createLiveCache, resources, systemClock, WaitError } from '../../agent/live/index.ts';
import type { LiveFixture } from './helpers.ts';
import { cacheOptions, pod, startLiveFixture } from './helpers.ts';

const ns = 'wait';

function isWaitError(code: WaitError['code'], description: RegExp): (err: unknown) => boolean {
  return (err) => err instanceof WaitError && err.code === code && description.test(err.message);
}

describe('live cache: waitFor', () => {
  let f: LiveFixture;
  let cache: LiveCache;
  // The timeouts the cache arms, so a test can fire one without waiting for it.
  const timers: { delayMs: number; fire: () => void; cancelled: boolean }[] = [];
  const clock: LiveClock = {
    now: () => systemClock.now(),
    setTimeout: (callback, delayMs) => {
      const cancelReal = systemClock.setTimeout(callback, delayMs);
      const timer = { delayMs, fire: callback, cancelled: false };
      timers.push(timer);
      return () => {
        timer.cancelled = true;
        cancelReal();
      };
    },
  };

  before(async () => {
    f = await startLiveFixture([ns]);
    await f.core.createNamespacedPod({ namespace: ns, body: pod(ns, 'there') });
    cache = createLiveCache(cacheOptions(f, [resources.pods], { clock }));
    await cache.start();
  });
  after(async () => {
    await cache.stop();
    await f.close();
  });

  it('resolves at once when the condition already holds', async () => {
    const found = await cache.waitFor(() => cache.get(resources.pods, ns, 'there'), { description: 'pod wait/there' });
    assert.equal(found.metadata.name, 'there');
  });

  it('resolves on the event that makes the condition hold, checking only after events', async () => {
    let checks = 0;
    const waiting = cache.waitFor(
      () => {
        checks++;
        const p = cache.get(resources.pods, ns, 'later');
        return p?.metadata.labels?.['ready'] === 'yes' ? p : undefined;
      },
      { description: 'pod wait/later ready', timeoutMs: 60_000 },
    );
    await f.core.createNamespacedPod({ namespace: ns, body: pod(ns, 'later') });
    await f.core.patchNamespacedPod({ namespace: ns, name: 'later', body: [{ op: 'add', path: '/metadata/labels', value: { ready: 'yes' } }] });
    const found = await waiting;
    assert.equal(found.metadata.labels?.['ready'], 'yes');
    // Once now, once per event (ADDED, MODIFIED); bookmarks are not events.
    assert.equal(checks, 3);
    assert.ok(timers.filter((t) => t.delayMs === 60_000).every((t) => t.cancelled), 'the timeout is cancelled once resolved');
  });

  it('rejects with a timeout error naming the description', async () => {
    const waiting = cache.waitFor(() => cache.get(resources.pods, ns, 'never'), { description: 'pod wait/never', timeoutMs: 5000 });
    // Fire the armed timeout now rather than wait five seconds.
    timers.find((t) => t.delayMs === 5000 && !t.cancelled)?.fire();
    await assert.rejects(waiting, isWaitError('timeout', /^timed out after 5000 ms waiting for pod wait\/never$/));
  });

  it('a real timer times out too', async () => {
    await assert.rejects(cache.waitFor(() => undefined, { description: 'nothing', timeoutMs: 20 }), isWaitError('timeout', /waiting for nothing/));
  });

  it('rejects with an aborted error when its signal aborts, before or during the wait', async () => {
    const controller = new AbortController();
    const waiting = cache.waitFor(() => undefined, { description: 'pod wait/aborted', signal: controller.signal });
    controller.abort();
    await assert.rejects(waiting, isWaitError('aborted', /waiting for pod wait\/aborted was aborted/));
    await assert.rejects(cache.waitFor(() => 'x', { description: 'already aborted', signal: AbortSignal.abort() }), isWaitError('aborted', /already aborted/));
  });

  it('passes on what the check throws', async () => {
    await assert.rejects(
      cache.waitFor(
        () => {
          throw new Error('check bug');
        },
        { description: 'a broken check' },
      ),
      /check bug/,
    );
  });

  it('rejects pending waits with a stopped error when the cache stops, and refuses new ones', async () => {
    const waiting = cache.waitFor(() => undefined, { description: 'pod wait/forever' });
    await cache.stop();
    await assert.rejects(waiting, isWaitError('stopped', /waiting for pod wait\/forever: the live cache of https:\/\/127\.0\.0\.1:\d+\/clusters\/sim was stopped/));
    await assert.rejects(cache.waitFor(() => undefined, { description: 'after stop' }), isWaitError('stopped', /after stop/));
    assert.deepEqual(timers.filter((t) => !t.cancelled), [], 'every timer the cache armed (waits, watch deadlines, backoffs) is cancelled');
  });
});
