/**
 * kube-sim's request observer, which the RBAC check records the agent's
 * requests with: it sees every authenticated request of every cluster,
 * with its authorization attributes, even one that fails afterwards; it
 * does not see requests the API server would refuse before authorization.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiError } from '../../sim/api/errors.ts';
import type { ObservedRequest } from '../../sim/server/api-server.ts';
import { raw } from '../helpers/raw-client.ts';
import { startSimFixture, type SimFixture } from '../helpers/sim.ts';

describe('kube-sim: the request observer', () => {
  let f: SimFixture;
  const seen: ObservedRequest[] = [];
  before(async () => {
    f = await startSimFixture({
      clusters: ['one', 'two'],
      onRequest: (r) => void seen.push(r),
      beforeRequest: (_cluster, _req, url) => {
        if (url.searchParams.get('fail') === 'yes') throw new ApiError(503, 'ServiceUnavailable', 'injected', {});
      },
    });
  });
  after(async () => {
    await f.close();
  });

  it('records an authenticated request with its cluster, user agent and authorization attributes', async () => {
    seen.length = 0;
    const r = await raw(f.sim, '/api/v1/namespaces/default/configmaps', { method: 'POST', cluster: 'two', contentType: 'application/json', body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } }) });
    assert.equal(r.status, 201, r.text);
    assert.deepEqual(seen, [{ cluster: 'two', userAgent: '', resourceRequest: true, verb: 'create', path: '/api/v1/namespaces/default/configmaps', group: '', version: 'v1', resource: 'configmaps', subresource: '', namespace: 'default', name: '' }]);
  });

  it('records discovery as a non-resource request', async () => {
    seen.length = 0;
    assert.equal((await raw(f.sim, '/apis/apps/v1', { cluster: 'one' })).status, 200);
    assert.deepEqual(seen.map((r) => [r.cluster, r.resourceRequest, r.verb, r.path]), [['one', false, 'get', '/apis/apps/v1']]);
  });

  it('records a request that fails after authorization (here by fault injection)', async () => {
    seen.length = 0;
    const r = await raw(f.sim, '/api/v1/namespaces/default/pods?fail=yes', { cluster: 'one' });
    assert.equal(r.status, 503);
    assert.deepEqual(seen.map((s) => `${s.verb} ${s.resource} ${s.namespace}`), ['list pods default']);
  });

  it('does not record a request with a wrong token, no token or another cluster’s token (never authorized)', async () => {
    seen.length = 0;
    assert.equal((await raw(f.sim, '/api/v1/pods', { token: 'wrong' })).status, 401);
    assert.equal((await raw(f.sim, '/api/v1/pods', { token: null })).status, 401);
    assert.equal((await raw(f.sim, '/api/v1/pods', { cluster: 'one', token: f.sim.cluster('two').token })).status, 401);
    assert.deepEqual(seen, []);
  });
});
