/**
 * Bad requests get the Status a real API server gives, never a crash and
 * never a change to stored state.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Simulation } from '../../sim/simulation.ts';
import { startSimulation } from '../../sim/simulation.ts';
import { raw } from '../helpers/raw-client.ts';

interface Status {
  kind: string;
  reason: string;
  code: number;
  message: string;
  details?: { causes?: { field?: string }[] };
}

const podBody = JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'ok' }, spec: { containers: [{ name: 'a', image: 'busybox' }] } });

describe('bad requests', () => {
  let sim: Simulation;
  let revisionBefore: number;
  before(async () => {
    sim = await startSimulation();
    await raw(sim, '/api/v1/namespaces/default/pods', { method: 'POST', body: podBody, contentType: 'application/json' });
    await raw(sim, '/apis/pingcap.com/v1alpha1/namespaces/default/tidbclusters', {
      method: 'POST',
      body: JSON.stringify({ apiVersion: 'pingcap.com/v1alpha1', kind: 'TidbCluster', metadata: { name: 'tc' }, spec: { version: 'v7.5.1' } }),
      contentType: 'application/json',
    });
    revisionBefore = sim.cluster().store.resourceVersion;
  });
  after(async () => {
    assert.equal(sim.cluster().store.resourceVersion, revisionBefore, 'no bad request changed stored state');
    await sim.close();
  });

  const cases: { name: string; path: string; req: Parameters<typeof raw>[2]; code: number; reason: string; message: RegExp | string; field?: string }[] = [
    { name: 'no token', path: '/api/v1/pods', req: { token: null }, code: 401, reason: 'Unauthorized', message: 'Unauthorized' },
    { name: 'wrong token', path: '/api/v1/pods', req: { token: 'nope' }, code: 401, reason: 'Unauthorized', message: 'Unauthorized' },
    { name: 'unknown resource', path: '/api/v1/namespaces/default/widgets', req: {}, code: 404, reason: 'NotFound', message: 'the server could not find the requested resource' },
    { name: 'unknown group', path: '/apis/nothing.io/v1/things', req: {}, code: 404, reason: 'NotFound', message: 'the server could not find the requested resource' },
    { name: 'missing object', path: '/apis/apps/v1/namespaces/default/statefulsets/nope', req: {}, code: 404, reason: 'NotFound', message: 'statefulsets.apps "nope" not found' },
    {
      name: 'malformed JSON',
      path: '/api/v1/namespaces/default/pods',
      req: { method: 'POST', body: '{"apiVersion": "v1", kind', contentType: 'application/json' },
      code: 400,
      reason: 'BadRequest',
      message: /^couldn't get version\/kind; json parse error: /,
    },
    {
      name: 'wrong content type',
      path: '/api/v1/namespaces/default/pods',
      req: { method: 'POST', body: podBody, contentType: 'text/plain' },
      code: 415,
      reason: 'UnsupportedMediaType',
      message: /^the body of the request was in an unknown format - accepted media types include: application\/json/,
    },
    {
      name: 'strategic merge patch on a custom resource',
      path: '/apis/pingcap.com/v1alpha1/namespaces/default/tidbclusters/tc',
      req: { method: 'PATCH', body: '{"spec":{"paused":true}}', contentType: 'application/strategic-merge-patch+json' },
      code: 415,
      reason: 'UnsupportedMediaType',
      message: 'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml',
    },
    {
      name: 'invalid name',
      path: '/api/v1/namespaces/default/pods',
      req: { method: 'POST', body: podBody.replace('"ok"', '"Not_Valid"'), contentType: 'application/json' },
      code: 422,
      reason: 'Invalid',
      message: /^Pod "Not_Valid" is invalid: metadata.name: Invalid value: "Not_Valid": a lowercase RFC 1123 subdomain/,
      field: 'metadata.name',
    },
    {
      name: 'missing name',
      path: '/api/v1/namespaces/default/pods',
      req: { method: 'POST', body: podBody.replace('"name":"ok"', '"labels":{}'), contentType: 'application/json' },
      code: 422,
      reason: 'Invalid',
      message: 'Pod "" is invalid: metadata.name: Required value: name or generateName is required',
      field: 'metadata.name',
    },
    {
      name: 'missing namespace',
      path: '/api/v1/namespaces/nowhere/pods',
      req: { method: 'POST', body: podBody, contentType: 'application/json' },
      code: 404,
      reason: 'NotFound',
      message: 'namespaces "nowhere" not found',
    },
    {
      name: 'namespace in body differs from URL',
      path: '/api/v1/namespaces/default/pods',
      req: { method: 'POST', body: podBody.replace('"name":"ok"', '"name":"ok2","namespace":"kube-system"'), contentType: 'application/json' },
      code: 400,
      reason: 'BadRequest',
      message: 'the namespace of the provided object does not match the namespace sent on the request',
    },
    {
      name: 'kind differs from the endpoint',
      path: '/api/v1/namespaces/default/configmaps',
      req: { method: 'POST', body: podBody, contentType: 'application/json' },
      code: 400,
      reason: 'BadRequest',
      message: /^the object provided is unrecognized \(must be of type ConfigMap\): Pod/,
    },
    { name: 'already exists', path: '/api/v1/namespaces/default/pods', req: { method: 'POST', body: podBody, contentType: 'application/json' }, code: 409, reason: 'AlreadyExists', message: 'pods "ok" already exists' },
    {
      name: 'pod without containers',
      path: '/api/v1/namespaces/default/pods',
      req: { method: 'POST', body: JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'empty' }, spec: {} }), contentType: 'application/json' },
      code: 422,
      reason: 'Invalid',
      message: 'Pod "empty" is invalid: spec.containers: Required value',
      field: 'spec.containers',
    },
    {
      name: 'JSON patch that is not a list',
      path: '/api/v1/namespaces/default/pods/ok',
      req: { method: 'PATCH', body: '{"metadata":{}}', contentType: 'application/json-patch+json' },
      code: 400,
      reason: 'BadRequest',
      message: 'error decoding patch: json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp',
    },
    {
      name: 'custom resource update without resourceVersion',
      path: '/apis/pingcap.com/v1alpha1/namespaces/default/tidbclusters/tc',
      req: { method: 'PUT', body: JSON.stringify({ apiVersion: 'pingcap.com/v1alpha1', kind: 'TidbCluster', metadata: { name: 'tc' }, spec: { version: 'v8.1.0' } }), contentType: 'application/json' },
      code: 422,
      reason: 'Invalid',
      message: 'TidbCluster.pingcap.com "tc" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update',
      field: 'metadata.resourceVersion',
    },
    {
      name: 'stale resourceVersion',
      path: '/api/v1/namespaces/default/pods/ok',
      req: { method: 'PUT', body: podBody.replace('"name":"ok"', '"name":"ok","resourceVersion":"1"'), contentType: 'application/json' },
      code: 409,
      reason: 'Conflict',
      message: 'Operation cannot be fulfilled on pods "ok": the object has been modified; please apply your changes to the latest version and try again',
    },
    {
      name: 'force on a non-apply patch',
      path: '/api/v1/namespaces/default/pods/ok?force=true',
      req: { method: 'PATCH', body: '{}', contentType: 'application/merge-patch+json' },
      code: 422,
      reason: 'Invalid',
      message: 'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch',
      field: 'force',
    },
    {
      name: 'apply without a field manager',
      path: '/api/v1/namespaces/default/pods/ok',
      req: { method: 'PATCH', body: podBody, contentType: 'application/apply-patch+yaml' },
      code: 422,
      reason: 'Invalid',
      message: 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
      field: 'fieldManager',
    },
    { name: 'unsupported field selector', path: '/api/v1/pods?fieldSelector=spec.hostname%3Dx', req: {}, code: 400, reason: 'BadRequest', message: 'field label not supported: spec.hostname' },
    { name: 'custom resource field selector', path: '/apis/pingcap.com/v1alpha1/tidbclusters?fieldSelector=spec.version%3Dx', req: {}, code: 400, reason: 'BadRequest', message: 'field label not supported: spec.version' },
    { name: 'malformed label selector', path: '/api/v1/pods?labelSelector=a%20in%20(b', req: {}, code: 400, reason: 'BadRequest', message: /^unable to parse requirement/ },
    {
      name: 'resourceVersionMatch on a watch without sendInitialEvents',
      path: '/api/v1/pods?watch=1&resourceVersionMatch=NotOlderThan&resourceVersion=1',
      req: {},
      code: 422,
      reason: 'Invalid',
      message: 'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided',
    },
    { name: 'resourceVersionMatch without resourceVersion', path: '/api/v1/pods?resourceVersionMatch=NotOlderThan', req: {}, code: 422, reason: 'Invalid', message: /resourceVersionMatch is forbidden unless resourceVersion is provided/ },
    { name: 'garbage continue token', path: '/api/v1/pods?limit=1&continue=%%%', req: {}, code: 400, reason: 'BadRequest', message: /^continue key is not valid/ },
    {
      name: 'oversized body',
      path: '/api/v1/namespaces/default/configmaps',
      req: { method: 'POST', body: Buffer.alloc(4 * 1024 * 1024, 0x61), contentType: 'application/json' },
      code: 413,
      reason: 'RequestEntityTooLarge',
      message: /^Request entity too large/,
    },
    { name: 'status of a kind without one', path: '/api/v1/namespaces/default/configmaps/x/status', req: {}, code: 404, reason: 'NotFound', message: 'the server could not find the requested resource' },
    { name: 'POST to an object URL', path: '/api/v1/namespaces/default/pods/ok', req: { method: 'POST', body: podBody, contentType: 'application/json' }, code: 405, reason: 'MethodNotAllowed', message: /does not allow this method/ },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const res = await raw(sim, c.path, c.req);
      assert.equal(res.status, c.code, res.text);
      const status = res.json<Status>();
      assert.equal(status.kind, 'Status');
      assert.equal(status.code, c.code);
      assert.equal(status.reason, c.reason);
      if (typeof c.message === 'string') assert.equal(status.message, c.message);
      else assert.match(status.message, c.message);
      if (c.field) assert.ok(status.details?.causes?.some((cause) => cause.field === c.field), JSON.stringify(status.details));
    });
  }

  it('the server still answers after every bad request', async () => {
    const res = await raw(sim, '/api/v1/namespaces/default/pods/ok');
    assert.equal(res.status, 200);
  });
});
