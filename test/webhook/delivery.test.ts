/**
 * What happens after a delivery is accepted: repeats dropped, the answer
 * sent before the callback runs, failing or slow callbacks contained,
 * back-pressure when the queue is full, the repository filter, shutdown,
 * and options refused up front.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createWebhookReceiver, WebhookOptionsError, type ForgeEvent } from '../../agent/webhook/index.ts';
import { memoryLogger } from '../helpers/memory-logger.ts';
import { eventually } from '../helpers/sim.ts';
import { fixture, newDeliveryId, postGitHub, postGitLab, setField, startReceiver } from './helpers.ts';

/** A promise to hold a callback on, released by the test. */
function gate(): { wait: Promise<void>; release: () => void } {
  let release = (): void => undefined;
  const wait = new Promise<void>((resolve) => (release = resolve));
  return { wait, release };
}

describe('deliveries', () => {
  it('passes a repeated delivery id on once, answering the repeat 200', async () => {
    const f = await startReceiver();
    try {
      const deliveryId = newDeliveryId('dup');
      const first = await postGitHub(f.base, { event: 'push', body: fixture('github/push'), deliveryId });
      assert.equal(first.status, 202);
      const second = await postGitHub(f.base, { event: 'push', body: fixture('github/push'), deliveryId });
      assert.equal(second.status, 200);
      assert.deepEqual(await second.json(), { message: 'delivery already accepted', deliveryId });
      // The same id from the other forge is another delivery.
      const gitlab = await postGitLab(f.base, { event: 'Push Hook', body: fixture('gitlab/push'), eventUuid: deliveryId });
      assert.equal(gitlab.status, 202);
      await f.receiver.idle();
      assert.deepEqual(
        f.events.map((e) => [e.forge, e.deliveryId]),
        [
          ['github', deliveryId],
          ['gitlab', deliveryId],
        ],
      );
    } finally {
      await f.close();
    }
  });

  it('forgets the least recently seen id past the dedupe window', async () => {
    const f = await startReceiver({ dedupeWindow: 2 });
    try {
      const post = async (id: string) => (await postGitHub(f.base, { event: 'push', body: fixture('github/push'), deliveryId: id })).status;
      assert.equal(await post('a'), 202);
      assert.equal(await post('b'), 202);
      assert.equal(await post('a'), 200); // a is now the most recent
      assert.equal(await post('c'), 202); // b forgotten
      assert.equal(await post('b'), 202);
      assert.equal(await post('c'), 200);
      assert.equal(f.receiver.stats().remembered, 2);
      await f.receiver.idle();
      assert.deepEqual(
        f.events.map((e) => e.deliveryId),
        ['a', 'b', 'c', 'b'],
      );
    } finally {
      await f.close();
    }
  });

  it('answers 202 before the callback finishes, and a slow callback does not hold up others', async () => {
    const hold = gate();
    const started: string[] = [];
    const finished: string[] = [];
    const f = await startReceiver({
      onEvent: async (event) => {
        started.push(event.deliveryId);
        if (event.deliveryId === 'slow') await hold.wait;
        finished.push(event.deliveryId);
      },
    });
    try {
      const slow = await postGitHub(f.base, { event: 'push', body: fixture('github/push'), deliveryId: 'slow' });
      assert.equal(slow.status, 202);
      const fast = await postGitHub(f.base, { event: 'push', body: fixture('github/push'), deliveryId: 'fast' });
      assert.equal(fast.status, 202);
      await eventually(() => assert.deepEqual(finished, ['fast']));
      assert.deepEqual(started, ['slow', 'fast']);
      assert.deepEqual(f.receiver.stats(), { running: 1, queued: 0, remembered: 2 });
      hold.release();
      await f.receiver.idle();
      assert.deepEqual(finished, ['fast', 'slow']);
    } finally {
      hold.release();
      await f.close();
    }
  });

  it('logs a throwing or rejecting callback, keeps the 202, and goes on serving', async () => {
    const seen: string[] = [];
    const f = await startReceiver({
      onEvent: (event: ForgeEvent) => {
        if (event.deliveryId === 'throws') throw new Error('callback exploded');
        if (event.deliveryId === 'rejects') return Promise.reject(new Error('callback rejected'));
        seen.push(event.deliveryId);
        return undefined;
      },
    });
    try {
      for (const id of ['throws', 'rejects', 'fine']) {
        const res = await postGitHub(f.base, { event: 'push', body: fixture('github/push'), deliveryId: id });
        assert.equal(res.status, 202, id);
      }
      await f.receiver.idle();
      assert.deepEqual(seen, ['fine']);
      const failures = f.logs.lines().filter((l) => l.msg === 'webhook event handler failed');
      assert.deepEqual(
        failures.map((l) => [l.level, l.deliveryId, (l.err as { message: string }).message, l.repository]),
        [
          [50, 'throws', 'callback exploded', 'acme/clusters'],
          [50, 'rejects', 'callback rejected', 'acme/clusters'],
        ],
      );
    } finally {
      await f.close();
    }
  });

  it('answers 503 with Retry-After when the queue is full, and does not remember the refused delivery', async () => {
    const hold = gate();
    const order: string[] = [];
    const f = await startReceiver({
      concurrency: 1,
      maxQueued: 1,
      onEvent: async (event) => {
        order.push(event.deliveryId);
        await hold.wait;
      },
    });
    try {
      const post = (id: string) => postGitHub(f.base, { event: 'push', body: fixture('github/push'), deliveryId: id });
      assert.equal((await post('d1')).status, 202); // running
      assert.equal((await post('d2')).status, 202); // queued
      const busy = await post('d3');
      assert.equal(busy.status, 503);
      assert.equal(busy.headers.get('retry-after'), '10');
      assert.deepEqual(f.receiver.stats(), { running: 1, queued: 1, remembered: 2 });
      hold.release();
      await f.receiver.idle();
      // The forge's redelivery of the refused one is accepted.
      assert.equal((await post('d3')).status, 202);
      await f.receiver.idle();
      assert.deepEqual(order, ['d1', 'd2', 'd3']);
    } finally {
      hold.release();
      await f.close();
    }
  });

  it('passes on only the repositories it follows, compared case-insensitively', async () => {
    const f = await startReceiver({ repositories: ['ACME/Clusters', 'platform/gitops/clusters'] });
    try {
      assert.equal((await postGitHub(f.base, { event: 'push', body: fixture('github/push'), deliveryId: 'followed' })).status, 202);
      const other = setField(fixture('github/push'), 'repository.full_name', 'acme/website');
      assert.equal((await postGitHub(f.base, { event: 'push', body: other, deliveryId: 'not-followed' })).status, 204);
      assert.equal((await postGitLab(f.base, { event: 'Push Hook', body: fixture('gitlab/push'), eventUuid: 'gl-followed' })).status, 202);
      await f.receiver.idle();
      assert.deepEqual(
        f.events.map((e) => e.deliveryId),
        ['followed', 'gl-followed'],
      );
    } finally {
      await f.close();
    }
  });

  it('answers 404 for a forge that is not configured', async () => {
    const f = await startReceiver({ gitlab: undefined });
    try {
      const res = await postGitLab(f.base, { event: 'Push Hook', body: fixture('gitlab/push') });
      assert.equal(res.status, 404);
      assert.deepEqual(await res.json(), { message: 'GitLab webhooks are not enabled on this agent' });
    } finally {
      await f.close();
    }
  });

  it('refuses deliveries with 503 once closed, after the running callbacks settle', async () => {
    const hold = gate();
    let done = false;
    const f = await startReceiver({
      onEvent: async () => {
        await hold.wait;
        done = true;
      },
    });
    try {
      assert.equal((await postGitHub(f.base, { event: 'push', body: fixture('github/push') })).status, 202);
      const closing = f.receiver.close();
      const refused = await postGitHub(f.base, { event: 'push', body: fixture('github/push') });
      assert.equal(refused.status, 503);
      assert.equal(done, false);
      hold.release();
      await closing;
      assert.equal(done, true);
    } finally {
      hold.release();
      await f.close();
    }
  });

  it('refuses options that cannot work, naming the option', () => {
    const base = { logger: memoryLogger().logger, onEvent: () => undefined };
    const cases: [Parameters<typeof createWebhookReceiver>[0], RegExp][] = [
      [{ ...base, github: { secret: '' } }, /github\.secret must be a non-empty string/],
      [{ ...base, gitlab: { token: '' } }, /gitlab\.token must be a non-empty string/],
      [{ ...base, maxBodyBytes: 0 }, /maxBodyBytes must be a whole number of 1 or more, got 0/],
      [{ ...base, dedupeWindow: 1.5 }, /dedupeWindow must be a whole number/],
      [{ ...base, concurrency: -1 }, /concurrency must be a whole number/],
      [{ ...base, repositories: ['acme/clusters', ' '] }, /repositories\[1\] must be a non-empty repository path/],
    ];
    for (const [options, message] of cases) {
      assert.throws(
        () => createWebhookReceiver(options),
        (err: unknown) => err instanceof WebhookOptionsError && err.code === 'invalid-options' && message.test(err.message),
        String(message),
      );
    }
  });
});
