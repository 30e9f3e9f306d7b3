/**
 * Refused credentials: a bad token (401) or a user that may not list a
 * resource (403) fails start() with an error naming the cluster's server
 * URL and the resource, never the token, in the error or the logs; and the
 * cache is left stopped.
 */
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { createLiveCache, LiveCacheError, resources } from '../../agent/live/index.ts';
import { forbidden } from '../../sim/api/errors.ts';
import type { LiveFixture } from './helpers.ts';
import { memoryLogger, startLiveFixture, testBackoff } from './helpers.ts';

describe('live cache: refused credentials', () => {
  let f: LiveFixture;
  before(async () => {
    f = await startLiveFixture([], {
      beforeRequest: (_cluster, _req, url) => {
        if (url.pathname.endsWith('/leases')) throw forbidden({ group: 'coordination.k8s.io', resource: 'leases' }, '', 'User "system:serviceaccount:rollgate:agent" cannot list resource "leases" in API group "coordination.k8s.io" at the cluster scope');
      },
    });
  });
  after(async () => {
    await f.close();
  });

  it('a bad token: 401, a clear error with the server URL and no token in it or in the logs', async () => {
    const good = f.sim.cluster().token;
    const bad = 'not-the-token-0123456789abcdef';
    const kc = new KubeConfig();
    kc.loadFromString(f.sim.kubeconfig().replace(good, bad));
    const logs = memoryLogger();
    const cache = createLiveCache({ kubeConfig: kc, resources: [resources.pods, resources.statefulSets], backoff: testBackoff, logger: logs.logger });
    let caught: unknown;
    await cache.start().catch((err: unknown) => (caught = err));
    assert.ok(caught instanceof LiveCacheError, `got ${String(caught)}`);
    assert.equal(caught.code, 'unauthorized');
    const server = f.sim.cluster().url;
    assert.match(caught.message, new RegExp(`^cluster ${server.replace(/[.]/g, '\\.')}: listing (v1/pods|apps/v1/statefulsets) failed with 401 Unauthorized: the API server rejected the kubeconfig's credentials$`));
    const everything = `${inspect(caught, { depth: 10 })}\n${logs.text()}`;
    for (const token of [bad, good]) assert.ok(!everything.includes(token), 'no token in the error, its causes or the logs');
    assert.match(logs.text(), /first list refused/);
    // Left stopped: every loop ended before start() rejected, and waits are refused.
    assert.ok(cache.health().resources.every((r) => !r.watching && !r.synced));
    await assert.rejects(cache.waitFor(() => undefined, { description: 'x' }), /stopped/);
    await cache.stop();
  });

  it('a user that may not list a resource: 403, naming the resource and the reason', async () => {
    const cache = createLiveCache({ kubeConfig: f.kc, resources: [resources.pods, resources.leases], backoff: testBackoff });
    await assert.rejects(cache.start(), (err: unknown) => {
      assert.ok(err instanceof LiveCacheError);
      assert.equal(err.code, 'forbidden');
      assert.match(err.message, /^cluster https:\/\/127\.0\.0\.1:\d+\/clusters\/sim: listing coordination\.k8s\.io\/v1\/leases failed with 403 Forbidden: the kubeconfig's user may not list or watch it \(.*cannot list resource "leases"/);
      assert.ok(!err.message.includes(f.sim.cluster().token));
      return true;
    });
    await cache.stop();
  });
});
