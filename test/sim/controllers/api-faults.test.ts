/**
 * API fault injection through the admin endpoint, while the simulation
 * runs: 429 with Retry-After, 5xx at a seeded rate (the same seed gives the
 * same failures), forced 409 Conflicts, added latency in simulated time,
 * dropped watches; the admin endpoint itself needs the cluster's token.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiException, CoreV1Api } from '@kubernetes/client-node';
import type { SimFixture } from '../../helpers/sim.ts';
import { eventually, startSimFixture } from '../../helpers/sim.ts';
import { raw } from '../../helpers/raw-client.ts';
import type { ControllerFixture } from './helpers.ts';
import { admin, startControllerFixture, watchPods } from './helpers.ts';

const ns = 'faults';

describe('API faults', () => {
  let f: ControllerFixture;
  before(async () => {
    f = await startControllerFixture({ seed: 42 });
    await f.ok(['create', 'ns', ns]);
  });
  after(async () => {
    await f.close();
  });

  it('the admin endpoint needs the cluster token', async () => {
    const none = await admin(f, 'faults', { token: null });
    assert.equal(none.status, 401);
    assert.deepEqual(none.body, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
    assert.equal((await admin(f, 'faults', { token: 'wrong' })).status, 401);
    assert.equal((await admin(f, 'faults')).status, 200);
    assert.equal((await admin(f, 'nothing-here')).status, 404);
  });

  it('rejects an invalid configuration with every problem listed, and keeps the old one', async () => {
    const r = await admin(f, 'faults', { method: 'PUT', body: { rules: [{ verbs: ['fly'], status: 418, rate: 2 }], extra: 1 } });
    assert.equal(r.status, 422);
    const body = r.body as { message: string; details: { causes: { message: string }[] } };
    assert.deepEqual(body.details.causes.map((c) => c.message), [
      'extra: unknown field (known: latencyMs, latencyJitterMs, dropWatchesEverySeconds, rules)',
      'rules[0].status: must be one of 409, 429, 500, 503, 504',
      'rules[0].verbs: must list verbs from get, list, watch, create, update, patch, delete, deletecollection or \'*\'',
      'rules[0].rate: must be a number from 0 to 1',
    ]);
    assert.deepEqual((await admin(f, 'faults')).body, {});
  });

  it('429 with Retry-After for the matching verb and resource only', async () => {
    await admin(f, 'faults', { method: 'PUT', body: { rules: [{ verbs: ['list'], resources: ['configmaps'], status: 429, retryAfterSeconds: 3, times: 1 }] } });
    const limited = await raw(f.sim, `/api/v1/namespaces/${ns}/configmaps`);
    assert.equal(limited.status, 429);
    assert.equal(limited.headers['retry-after'], '3');
    assert.equal(limited.json<{ reason: string }>().reason, 'TooManyRequests');
    assert.equal((await raw(f.sim, `/api/v1/namespaces/${ns}/configmaps`)).status, 200, 'times: 1 fires once');
    assert.equal((await raw(f.sim, `/api/v1/namespaces/${ns}/secrets`)).status, 200);
    assert.deepEqual((await admin(f, 'faults/stats')).body, { fired: [1], watchesDropped: 0 });
  });

  it('forced 409 Conflict on updates; kubectl reports it as a real server would', async () => {
    await f.ok(['create', 'configmap', 'c1', '-n', ns, '--from-literal=a=b']);
    await admin(f, 'faults', { method: 'PUT', body: { rules: [{ verbs: ['patch', 'update'], resources: ['configmaps'], namespaces: [ns], status: 409 }] } });
    const r = await f.kubectl(['label', 'configmap', 'c1', '-n', ns, 'x=y']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Error from server \(Conflict\): .*Operation cannot be fulfilled on configmaps "c1": the object has been modified; please apply your changes to the latest version and try again/);
    await admin(f, 'faults', { method: 'PUT', body: {} });
    assert.equal((await f.kubectl(['label', 'configmap', 'c1', '-n', ns, 'x=y'])).code, 0);
  });

  it('5xx at a rate: the same seed fails the same requests', async () => {
    const run = async (fx: SimFixture): Promise<number[]> => {
      await admin(fx, 'faults', { method: 'PUT', body: { rules: [{ verbs: ['get', 'list'], resources: ['namespaces'], status: 503, rate: 0.5 }] } });
      const codes: number[] = [];
      for (let i = 0; i < 30; i++) codes.push((await raw(fx.sim, '/api/v1/namespaces')).status);
      return codes;
    };
    const other = await startSimFixture({ seed: 42 });
    try {
      const a = await run(f);
      const b = await run(other);
      assert.deepEqual(a, b);
      assert.ok(a.includes(503) && a.includes(200), a.join(','));
      const third = await startSimFixture({ seed: 43 });
      try {
        assert.notDeepEqual(await run(third), a);
      } finally {
        await third.close();
      }
    } finally {
      await other.close();
      await admin(f, 'faults', { method: 'PUT', body: {} });
    }
  });

  it('client-node sees the injected 500 as an ApiException', async () => {
    await admin(f, 'faults', { method: 'PUT', body: { rules: [{ verbs: ['get'], resources: ['pods'], status: 500, message: 'etcdserver: leader changed' }] } });
    try {
      await f.kc.makeApiClient(CoreV1Api).readNamespacedPod({ namespace: ns, name: 'any' });
      assert.fail('expected a 500');
    } catch (err) {
      assert.ok(err instanceof ApiException);
      assert.equal(err.code, 500);
      assert.match(String(err.body), /Internal error occurred: etcdserver: leader changed/);
    } finally {
      await admin(f, 'faults', { method: 'PUT', body: {} });
    }
  });

  it('latency is added in simulated time', async () => {
    await admin(f, 'faults', { method: 'PUT', body: { latencyMs: 20_000 } });
    const before = f.sim.clock.now();
    assert.equal((await raw(f.sim, '/api/v1/namespaces')).status, 200);
    const waited = f.sim.clock.now() - before;
    assert.ok(waited >= 20_000, `waited ${waited} simulated ms`);
    await admin(f, 'faults', { method: 'PUT', body: {} });
  });

  it('watches are dropped every N seconds, and on demand', async () => {
    const watch = await watchPods(f.kc, ns);
    try {
      await admin(f, 'faults', { method: 'PUT', body: { dropWatchesEverySeconds: 30 } });
      await eventually(async () => assert.ok(((await admin(f, 'faults/stats')).body as { watchesDropped: number }).watchesDropped >= 1));
      await admin(f, 'faults', { method: 'PUT', body: {} });
      const dropped = await admin(f, 'drop-watches', { method: 'POST' });
      assert.equal(dropped.status, 200);
      assert.equal(typeof (dropped.body as { dropped: number }).dropped, 'number');
    } finally {
      watch.stop();
    }
  });

  it('the event record is readable over HTTP, filtered', async () => {
    const r = await admin(f, `events?namespace=${ns}&kind=ConfigMap&type=ClientWrite`);
    assert.equal(r.status, 200);
    const body = r.body as { lastSeq: number; items: { type: string; name: string; verb: string; actor: string }[] };
    assert.ok(body.lastSeq > 0);
    assert.deepEqual(body.items.map((e) => `${e.verb} ${e.name} ${e.actor}`), ['create c1 client', 'update c1 client']);
    const later = await admin(f, `events?since=${body.lastSeq}`);
    assert.deepEqual((later.body as { items: unknown[] }).items, []);
  });
});
