import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PatchError } from '../../../sim/patch/errors.ts';
import type { Json } from '../../../sim/patch/json.ts';
import { mergePatch } from '../../../sim/patch/merge-patch.ts';

const statefulSet = {
  apiVersion: 'apps/v1',
  kind: 'StatefulSet',
  metadata: { name: 'web', namespace: 'default', labels: { app: 'web' }, annotations: { team: 'db' } },
  spec: {
    replicas: 3,
    updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } },
    template: { spec: { containers: [{ name: 'app', image: 'nginx:1.25' }, { name: 'sidecar', image: 'busybox' }] } },
  },
};

void describe('mergePatch', () => {
  // RFC 7386 appendix A, as evanphx/json-patch applies it.
  const rfc: { original: Json; patch: Json; want: Json }[] = [
    { original: { a: 'b' }, patch: { a: 'c' }, want: { a: 'c' } },
    { original: { a: 'b' }, patch: { b: 'c' }, want: { a: 'b', b: 'c' } },
    { original: { a: 'b' }, patch: { a: null }, want: {} },
    { original: { a: 'b', b: 'c' }, patch: { a: null }, want: { b: 'c' } },
    { original: { a: ['b'] }, patch: { a: 'c' }, want: { a: 'c' } },
    { original: { a: 'c' }, patch: { a: ['b'] }, want: { a: ['b'] } },
    { original: { a: { b: 'c' } }, patch: { a: { b: 'd', c: null } }, want: { a: { b: 'd' } } },
    { original: { a: [{ b: 'c' }] }, patch: { a: [1] }, want: { a: [1] } },
    { original: { e: null }, patch: { a: 1 }, want: { e: null, a: 1 } },
    { original: {}, patch: { a: { bb: { ccc: null } } }, want: { a: { bb: {} } } },
  ];
  rfc.forEach((c, i) => {
    void it(`RFC 7386 example ${i + 1}`, () => assert.deepEqual(mergePatch(c.original, c.patch), c.want));
  });

  const k8s: { name: string; patch: Json; check: (out: typeof statefulSet) => void }[] = [
    {
      // kubectl annotate sends a JSON merge patch of the annotations.
      name: 'kubectl annotate adds an annotation',
      patch: { metadata: { annotations: { 'rollgate.io/paused': 'true' } } },
      check: (out) => assert.deepEqual(out.metadata.annotations, { team: 'db', 'rollgate.io/paused': 'true' }),
    },
    {
      name: 'kubectl annotate team- removes it with null',
      patch: { metadata: { annotations: { team: null } } },
      check: (out) => assert.deepEqual(out.metadata.annotations, {}),
    },
    {
      name: 'kubectl label --overwrite replaces a label',
      patch: { metadata: { labels: { app: 'web2' } } },
      check: (out) => assert.deepEqual(out.metadata.labels, { app: 'web2' }),
    },
    {
      name: 'setting the partition merges into nested objects',
      patch: { spec: { updateStrategy: { rollingUpdate: { partition: 2 } } } },
      check: (out) => assert.deepEqual(out.spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { partition: 2 } }),
    },
    {
      name: 'a list is replaced wholesale (no strategy in a merge patch)',
      patch: { spec: { template: { spec: { containers: [{ name: 'app', image: 'nginx:1.26' }] } } } },
      check: (out) => assert.deepEqual(out.spec.template.spec.containers, [{ name: 'app', image: 'nginx:1.26' }]),
    },
    {
      name: 'nulls inside an added object are pruned',
      patch: { spec: { minReadySeconds: 5, ordinals: { start: 1, bogus: null } } },
      check: (out) => assert.deepEqual((out.spec as Record<string, unknown>)['ordinals'], { start: 1 }),
    },
    {
      name: 'removing a missing member is a no-op',
      patch: { spec: { nonexistent: null } },
      check: (out) => assert.deepEqual(out, statefulSet),
    },
  ];
  for (const c of k8s) {
    void it(c.name, () => {
      const before = structuredClone(statefulSet);
      c.check(mergePatch(statefulSet, c.patch) as typeof statefulSet);
      assert.deepEqual(statefulSet, before, 'the original is not mutated');
    });
  }

  void it('keeps nulls inside an array that replaces an object (evanphx merge())', () => {
    assert.deepEqual(mergePatch({ a: { b: 1 } }, { a: [{ c: null }] }), { a: [{ c: null }] });
  });

  void it('treats "__proto__" as an ordinary key', () => {
    const out = mergePatch({}, JSON.parse('{"__proto__":{"polluted":true}}') as Json) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.deepEqual(Object.keys(out), ['__proto__']);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });

  const errors: { name: string; body: unknown; message: string }[] = [
    {
      name: 'an array body',
      body: [{ op: 'add', path: '/a', value: 1 }],
      message: 'error decoding patch: json: cannot unmarshal array into Go value of type map[string]interface {}',
    },
    { name: 'a string body', body: 'x', message: 'error decoding patch: json: cannot unmarshal string into Go value of type map[string]interface {}' },
    { name: 'a null body', body: null, message: 'Invalid JSON Patch' },
  ];
  for (const c of errors) {
    void it(`rejects ${c.name} with 400`, () => {
      assert.throws(
        () => mergePatch(statefulSet, c.body),
        (err: unknown) => err instanceof PatchError && err.code === 400 && err.reason === 'BadRequest' && err.message === c.message,
      );
    });
  }
});
