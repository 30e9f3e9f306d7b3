/**
 * The pure parts of the cache: the relist diff, the error → next step
 * mapping, URL sanitising, resource paths and the checks of a resource list.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LiveRequestError, nextStep, sanitizeUrl } from '../../agent/live/errors.ts';
import type { LiveObject } from '../../agent/live/index.ts';
import { objectKey, resources } from '../../agent/live/index.ts';
import { collectionPath, resourceProblems } from '../../agent/live/resources.ts';
import { deepFreeze, diffSnapshot, keyOf } from '../../agent/live/snapshot.ts';

function obj(name: string, resourceVersion: string, uid = `uid-${name}`): LiveObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'ns', resourceVersion, uid } };
}

function snapshot(...objects: LiveObject[]): Map<string, LiveObject> {
  return new Map(objects.map((o) => [keyOf(o), o]));
}

describe('diffSnapshot', () => {
  const table: { name: string; before: LiveObject[]; after: LiveObject[]; want: string[] }[] = [
    { name: 'nothing to nothing', before: [], after: [], want: [] },
    { name: 'same versions: no events', before: [obj('a', '1'), obj('b', '2')], after: [obj('a', '1'), obj('b', '2')], want: [] },
    { name: 'new object: ADDED', before: [obj('a', '1')], after: [obj('a', '1'), obj('b', '5')], want: ['ADDED b@5'] },
    { name: 'gone object: DELETED with its last cached state', before: [obj('a', '1'), obj('b', '2')], after: [obj('a', '1')], want: ['DELETED b@2'] },
    { name: 'new resourceVersion: MODIFIED', before: [obj('a', '1')], after: [obj('a', '7')], want: ['MODIFIED a@7 (was 1)'] },
    { name: 'recreated under the same name: DELETED then ADDED', before: [obj('a', '1', 'old')], after: [obj('a', '9', 'new')], want: ['DELETED a@1', 'ADDED a@9'] },
    {
      name: 'deletions come first, then additions and changes in list order',
      before: [obj('a', '1'), obj('b', '2'), obj('c', '3')],
      after: [obj('d', '10'), obj('c', '11'), obj('a', '1')],
      want: ['DELETED b@2', 'ADDED d@10', 'MODIFIED c@11 (was 3)'],
    },
    { name: 'everything deleted (a CRD removed)', before: [obj('a', '1'), obj('b', '2')], after: [], want: ['DELETED a@1', 'DELETED b@2'] },
  ];
  for (const row of table)
    it(row.name, () => {
      const got = diffSnapshot(snapshot(...row.before), snapshot(...row.after)).map(
        (c) => `${c.type} ${c.object.metadata.name}@${c.object.metadata.resourceVersion ?? ''}${c.previous ? ` (was ${c.previous.metadata.resourceVersion ?? ''})` : ''}`,
      );
      assert.deepEqual(got, row.want);
    });
});

describe('deepFreeze', () => {
  it('freezes nested objects and arrays, and returns the same value', () => {
    const value = { metadata: { name: 'a', labels: { x: '1' } }, spec: { containers: [{ name: 'c' }] } };
    assert.equal(deepFreeze(value), value);
    assert.throws(() => {
      (value.spec.containers[0] as { name: string }).name = 'changed';
    }, TypeError);
    assert.throws(() => {
      value.spec.containers.push({ name: 'more' });
    }, TypeError);
    assert.ok(Object.isFrozen(value.metadata.labels));
  });
});

describe('nextStep', () => {
  const status = (code: number) => new LiveRequestError('status', 'GET https://h/api/v1/pods', `${code}`, { status: code });
  const table: { name: string; error: unknown; want: ReturnType<typeof nextStep> }[] = [
    { name: '410 Gone relists', error: status(410), want: 'relist' },
    { name: '404 means not installed', error: status(404), want: 'not-installed' },
    { name: '401 is denied', error: status(401), want: 'denied' },
    { name: '403 is denied', error: status(403), want: 'denied' },
    { name: '500 retries', error: status(500), want: 'retry' },
    { name: '429 retries', error: status(429), want: 'retry' },
    { name: 'a network error retries', error: new LiveRequestError('network', 'GET x', 'ECONNRESET'), want: 'retry' },
    { name: 'a deadline retries', error: new LiveRequestError('deadline', 'GET x', 'late'), want: 'retry' },
    { name: 'a bad response retries', error: new LiveRequestError('bad-response', 'GET x', 'not JSON', { status: 410 }), want: 'retry' },
    { name: 'anything else retries', error: new TypeError('boom'), want: 'retry' },
  ];
  for (const row of table) it(row.name, () => assert.equal(nextStep(row.error), row.want));
});

describe('sanitizeUrl', () => {
  it('drops a user name and password from a URL', () => {
    assert.equal(sanitizeUrl('https://admin:s3cret@k8s.example:6443/api'), 'https://k8s.example:6443/api');
    assert.equal(sanitizeUrl('not a url'), '(unparseable URL)');
  });
});

describe('resource paths and keys', () => {
  it('builds core and group paths, in a namespace or across all', () => {
    assert.equal(collectionPath(resources.pods, undefined), '/api/v1/pods');
    assert.equal(collectionPath(resources.pods, 'prod'), '/api/v1/namespaces/prod/pods');
    assert.equal(collectionPath(resources.tidbClusters, 'db'), '/apis/pingcap.com/v1alpha1/namespaces/db/tidbclusters');
    assert.equal(collectionPath({ group: '', version: 'v1', plural: 'nodes', kind: 'Node', namespaced: false }, 'ignored'), '/api/v1/nodes');
    assert.equal(objectKey(resources.statefulSets, 'prod', 'tikv'), 'apps/v1/statefulsets/prod/tikv');
    assert.equal(objectKey({ group: '', version: 'v1', plural: 'nodes', kind: 'Node', namespaced: false }, undefined, 'n1'), 'v1/nodes/n1');
  });

  it('names every problem of a resource list', () => {
    assert.deepEqual(resourceProblems(Object.values(resources)), []);
    const problems = resourceProblems([
      { group: 'Apps!', version: '1', plural: 'Pods', kind: 'pod', namespaced: true },
      resources.pods,
      { ...resources.pods, version: 'v2' },
    ]);
    assert.deepEqual(problems, [
      'resources[0].group: must be \'\' or a DNS name, got "Apps!"',
      'resources[0].version: must look like v1 or v1alpha1, got "1"',
      'resources[0].plural: must be a lower-case resource name, got "Pods"',
      'resources[0].kind: must be a kind such as StatefulSet, got "pod"',
      'resources[2]: v2/pods is listed twice',
    ]);
  });
});
