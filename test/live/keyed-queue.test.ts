/**
 * createKeyedQueue: duplicates merge while queued, a running key never runs
 * twice at once and gets exactly one more run when enqueued mid-run,
 * concurrency bounds the keys in flight, errors go to onError, drain and
 * stop settle.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { createKeyedQueue } from '../../agent/live/index.ts';

/** A handler whose runs the test finishes one by one. */
function controlledHandler() {
  const runs: { key: string; signal: AbortSignal; finish: (err?: Error) => void }[] = [];
  const active = new Map<string, number>();
  let maxActiveTotal = 0;
  let overlapped = false;
  const handler = (key: string, signal: AbortSignal): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      active.set(key, (active.get(key) ?? 0) + 1);
      if ((active.get(key) ?? 0) > 1) overlapped = true;
      maxActiveTotal = Math.max(maxActiveTotal, [...active.values()].reduce((a, b) => a + b, 0));
      runs.push({
        key,
        signal,
        finish: (err) => {
          active.set(key, (active.get(key) ?? 1) - 1);
          if (err) reject(err);
          else resolve();
        },
      });
    });
  return { handler, runs, maxActive: () => maxActiveTotal, overlapped: () => overlapped };
}

/** Failures no test expects; the queue swallows what onError throws, so they are collected and checked. */
const unexpectedErrors: unknown[] = [];
const unexpected = (_key: string, err: unknown): void => {
  unexpectedErrors.push(err);
};

/** Lets queued microtasks (handler starts, settlements) run. */
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('keyed queue', () => {
  afterEach(() => {
    assert.deepEqual(unexpectedErrors.splice(0), []);
  });

  it('merges duplicate keys while they wait', async () => {
    const h = controlledHandler();
    const q = createKeyedQueue({ concurrency: 1, handler: h.handler, onError: unexpected });
    q.enqueue('a');
    q.enqueue('b');
    q.enqueue('b');
    q.enqueue('b');
    await tick();
    assert.deepEqual(q.stats(), { queued: 1, running: 1, rerun: 0 });
    h.runs[0]?.finish();
    await tick();
    h.runs[1]?.finish();
    await q.drain();
    assert.deepEqual(
      h.runs.map((r) => r.key),
      ['a', 'b'],
    );
  });

  it('never runs a key twice at once; enqueues during a run give exactly one more run after it', async () => {
    const h = controlledHandler();
    const q = createKeyedQueue({ concurrency: 4, handler: h.handler, onError: unexpected });
    q.enqueue('pod-1');
    await tick();
    assert.equal(h.runs.length, 1);
    q.enqueue('pod-1');
    q.enqueue('pod-1');
    q.enqueue('pod-1');
    await tick();
    assert.equal(h.runs.length, 1, 'the second run waits for the first');
    assert.deepEqual(q.stats(), { queued: 0, running: 1, rerun: 1 });
    h.runs[0]?.finish();
    await tick();
    assert.equal(h.runs.length, 2, 'exactly one more run');
    h.runs[1]?.finish();
    await q.drain();
    assert.equal(h.runs.length, 2);
    assert.equal(h.overlapped(), false);
  });

  it('runs at most `concurrency` keys at once, in the order they were enqueued', async () => {
    const h = controlledHandler();
    const q = createKeyedQueue({ concurrency: 2, handler: h.handler, onError: unexpected });
    for (const k of ['a', 'b', 'c', 'd', 'e']) q.enqueue(k);
    await tick();
    assert.deepEqual(
      h.runs.map((r) => r.key),
      ['a', 'b'],
    );
    h.runs[1]?.finish();
    await tick();
    h.runs[0]?.finish();
    await tick();
    assert.deepEqual(
      h.runs.map((r) => r.key),
      ['a', 'b', 'c', 'd'],
    );
    for (const r of h.runs.slice(2)) r.finish();
    await tick();
    h.runs[4]?.finish();
    await q.drain();
    assert.deepEqual(
      h.runs.map((r) => r.key),
      ['a', 'b', 'c', 'd', 'e'],
    );
    assert.equal(h.maxActive(), 2);
  });

  it('under a storm of enqueues, every key runs, none overlaps itself, and the bound holds', async () => {
    const active = new Map<string, boolean>();
    let inFlight = 0;
    let maxInFlight = 0;
    const handled: string[] = [];
    const q = createKeyedQueue({
      concurrency: 3,
      onError: unexpected,
      handler: async (key) => {
        assert.equal(active.get(key), undefined, `${key} is already running`);
        active.set(key, true);
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setImmediate(r));
        handled.push(key);
        inFlight--;
        active.delete(key);
      },
    });
    for (let round = 0; round < 50; round++) {
      for (let k = 0; k < 10; k++) q.enqueue(`key-${(round * 7 + k) % 10}`);
      if (round % 5 === 0) await tick();
    }
    await q.drain();
    assert.ok(maxInFlight <= 3, `max in flight ${maxInFlight}`);
    assert.deepEqual([...new Set(handled)].sort(), Array.from({ length: 10 }, (_, i) => `key-${i}`).sort());
    assert.deepEqual(q.stats(), { queued: 0, running: 0, rerun: 0 });
  });

  it('reports a failed handler to onError and carries on with the next key', async () => {
    const errors: [string, unknown][] = [];
    const handled: string[] = [];
    const q = createKeyedQueue({
      handler: async (key) => {
        if (key === 'bad') throw new Error('patch refused');
        handled.push(key);
      },
      onError: (key, err) => errors.push([key, err]),
    });
    q.enqueue('bad');
    q.enqueue('good');
    await q.drain();
    assert.deepEqual(handled, ['good']);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.[0], 'bad');
    assert.match(String(errors[0]?.[1]), /patch refused/);
  });

  it('survives a throwing onError and a synchronously throwing handler', async () => {
    const handled: string[] = [];
    const q = createKeyedQueue({
      handler: (key) => {
        if (key === 'sync-throw') throw new Error('sync');
        handled.push(key);
        return Promise.resolve();
      },
      onError: () => {
        throw new Error('onError itself failed');
      },
    });
    q.enqueue('sync-throw');
    q.enqueue('next');
    await q.drain();
    assert.deepEqual(handled, ['next']);
  });

  it('drain resolves at once when idle', async () => {
    const q = createKeyedQueue({ handler: async () => undefined, onError: () => undefined });
    await q.drain();
    assert.deepEqual(q.stats(), { queued: 0, running: 0, rerun: 0 });
  });

  it('stop aborts running handlers, forgets queued keys and refuses new ones', async () => {
    const h = controlledHandler();
    const q = createKeyedQueue({ concurrency: 1, handler: h.handler, onError: () => undefined });
    q.enqueue('a');
    q.enqueue('b');
    await tick();
    q.enqueue('a'); // a rerun that stop must forget too
    const running = h.runs[0];
    assert.ok(running);
    running.signal.addEventListener('abort', () => running.finish(new Error('aborted')));
    await q.stop();
    assert.equal(running.signal.aborted, true);
    assert.equal(q.enqueue('c'), false);
    await q.drain();
    assert.deepEqual(
      h.runs.map((r) => r.key),
      ['a'],
    );
    assert.deepEqual(q.stats(), { queued: 0, running: 0, rerun: 0 });
  });

  it('rejects a concurrency that is not a whole number of 1 or more', () => {
    for (const concurrency of [0, -1, 1.5, Number.NaN])
      assert.throws(() => createKeyedQueue({ concurrency, handler: async () => undefined, onError: () => undefined }), /concurrency must be a whole number, 1 or more/);
  });
});
