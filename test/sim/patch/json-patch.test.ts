import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PatchError } from '../../../sim/patch/errors.ts';
import type { Json } from '../../../sim/patch/json.ts';
import { jsonPatch, MAX_JSON_PATCH_OPERATIONS } from '../../../sim/patch/json-patch.ts';

const pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web-0', labels: { app: 'web', 'app.kubernetes.io/name': 'web' }, finalizers: ['a', 'b'] },
  spec: { containers: [{ name: 'app', image: 'nginx:1.25', args: ['--x'] }] },
};

const GENERIC_422 = 'the server rejected our request due to an error in our request';

void describe('jsonPatch: operations', () => {
  const cases: { name: string; ops: Json; want: (out: Json) => void }[] = [
    {
      name: 'add a label (escaped "/" in the key)',
      ops: [{ op: 'add', path: '/metadata/labels/rollgate.io~1stage', value: 'canary' }],
      want: (out) => assert.equal((out as typeof pod).metadata.labels['rollgate.io/stage' as 'app'], 'canary'),
    },
    {
      name: 'replace the image',
      ops: [{ op: 'replace', path: '/spec/containers/0/image', value: 'nginx:1.26' }],
      want: (out) => assert.equal((out as typeof pod).spec.containers[0]?.image, 'nginx:1.26'),
    },
    {
      name: 'remove a label',
      ops: [{ op: 'remove', path: '/metadata/labels/app' }],
      want: (out) => assert.deepEqual((out as typeof pod).metadata.labels, { 'app.kubernetes.io/name': 'web' }),
    },
    {
      name: 'append with "-"',
      ops: [{ op: 'add', path: '/metadata/finalizers/-', value: 'c' }],
      want: (out) => assert.deepEqual((out as typeof pod).metadata.finalizers, ['a', 'b', 'c']),
    },
    {
      name: 'insert at an index',
      ops: [{ op: 'add', path: '/metadata/finalizers/0', value: 'z' }],
      want: (out) => assert.deepEqual((out as typeof pod).metadata.finalizers, ['z', 'a', 'b']),
    },
    {
      name: 'a negative index counts from the end (evanphx v4 SupportNegativeIndices)',
      ops: [{ op: 'remove', path: '/metadata/finalizers/-1' }],
      want: (out) => assert.deepEqual((out as typeof pod).metadata.finalizers, ['a']),
    },
    {
      name: 'test then replace (optimistic update)',
      ops: [
        { op: 'test', path: '/spec/containers/0/image', value: 'nginx:1.25' },
        { op: 'replace', path: '/spec/containers/0/image', value: 'nginx:1.26' },
      ],
      want: (out) => assert.equal((out as typeof pod).spec.containers[0]?.image, 'nginx:1.26'),
    },
    {
      name: 'test of a missing member against null passes',
      ops: [{ op: 'test', path: '/metadata/annotations', value: null }],
      want: (out) => assert.deepEqual(out, pod),
    },
    {
      name: 'move',
      ops: [{ op: 'move', from: '/metadata/labels/app', path: '/metadata/labels/tier' }],
      want: (out) => assert.deepEqual((out as typeof pod).metadata.labels, { 'app.kubernetes.io/name': 'web', tier: 'web' }),
    },
    {
      name: 'copy',
      ops: [{ op: 'copy', from: '/spec/containers/0/args', path: '/spec/containers/0/command' }],
      want: (out) => assert.deepEqual((out as { spec: { containers: { command: string[] }[] } }).spec.containers[0]?.command, ['--x']),
    },
    {
      name: 'replace of a missing object member adds it (evanphx v4)',
      ops: [{ op: 'replace', path: '/metadata/labels/new', value: 'x' }],
      want: (out) => assert.equal((out as { metadata: { labels: Record<string, string> } }).metadata.labels['new'], 'x'),
    },
    {
      name: 'test compares objects from the document side (evanphx lazyNode.equal)',
      ops: [{ op: 'test', path: '/metadata/labels', value: { app: 'web', 'app.kubernetes.io/name': 'web', extra: 'ignored' } }],
      want: (out) => assert.deepEqual(out, pod),
    },
    {
      name: 'a null body applies nothing',
      ops: null,
      want: (out) => assert.deepEqual(out, pod),
    },
  ];
  for (const c of cases) {
    void it(c.name, () => {
      const before = structuredClone(pod);
      c.want(jsonPatch(pod, c.ops));
      assert.deepEqual(pod, before, 'the original is not mutated');
    });
  }

  void it('treats "__proto__" as an ordinary key and cannot pollute prototypes', () => {
    const out = jsonPatch({ metadata: {} }, [
      { op: 'add', path: '/metadata/__proto__', value: { polluted: true } },
      { op: 'add', path: '/metadata/__proto__/polluted2', value: true },
    ]) as { metadata: Record<string, unknown> };
    assert.deepEqual(Object.keys(out.metadata), ['__proto__']);
    assert.equal(Object.getPrototypeOf(out.metadata), Object.prototype);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    assert.equal(({} as Record<string, unknown>)['polluted2'], undefined);
  });

  void it('does not find inherited members such as "constructor"', () => {
    assert.throws(
      () => jsonPatch(pod, [{ op: 'remove', path: '/metadata/constructor' }]),
      (err: unknown) => err instanceof PatchError && err.code === 422,
    );
  });
});

void describe('jsonPatch: errors', () => {
  const decodeErrors: { name: string; body: unknown; message: string }[] = [
    {
      name: 'an object body',
      body: { op: 'add', path: '/a', value: 1 },
      message: 'error decoding patch: json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp',
    },
    { name: 'a string body', body: 'x', message: 'error decoding patch: json: cannot unmarshal string into Go value of type []handlers.jsonPatchOp' },
    { name: 'a number element', body: [1], message: 'error decoding patch: json: cannot unmarshal number into Go value of type handlers.jsonPatchOp' },
    {
      name: 'a non-string op',
      body: [{ op: 1, path: '/a' }],
      message: 'error decoding patch: json: cannot unmarshal number into Go struct field jsonPatchOp.op of type string',
    },
  ];
  for (const c of decodeErrors) {
    void it(`rejects ${c.name} with 400`, () => {
      assert.throws(
        () => jsonPatch(pod, c.body),
        (err: unknown) => err instanceof PatchError && err.code === 400 && err.reason === 'BadRequest' && err.message === c.message,
      );
    });
  }

  // The real server wraps every library error with errors.NewGenericServerResponse(422, ...,
  // isUnexpectedResponse=false): the Status says only the generic text, with empty details.
  const applyErrors: { name: string; ops: Json; detail: string }[] = [
    {
      name: 'a failed test',
      ops: [{ op: 'test', path: '/spec/containers/0/image', value: 'nginx:1.24' }],
      detail: 'testing value /spec/containers/0/image failed: test failed',
    },
    {
      name: 'a test of a missing member against a value',
      ops: [{ op: 'test', path: '/metadata/annotations', value: {} }],
      detail: 'testing value /metadata/annotations failed: test failed',
    },
    {
      name: 'remove of a missing member',
      ops: [{ op: 'remove', path: '/metadata/labels/missing' }],
      detail: "error in remove for path: '/metadata/labels/missing': Unable to remove nonexistent key: missing: missing value",
    },
    {
      name: 'remove under a missing parent',
      ops: [{ op: 'remove', path: '/metadata/annotations/x' }],
      detail: 'remove operation does not apply: doc is missing path: "/metadata/annotations/x": missing value',
    },
    {
      name: 'replace under a missing parent',
      ops: [{ op: 'replace', path: '/status/phase', value: 'Running' }],
      detail: 'replace operation does not apply: doc is missing path: /status/phase: missing value',
    },
    {
      name: 'replace of an index past the end',
      ops: [{ op: 'replace', path: '/spec/containers/3', value: {} }],
      detail: 'replace operation does not apply: doc is missing key: /spec/containers/3: missing value',
    },
    {
      name: 'add past the end of an array',
      ops: [{ op: 'add', path: '/metadata/finalizers/5', value: 'x' }],
      detail: "error in add for path: '/metadata/finalizers/5': Unable to access invalid index: 5: invalid index referenced",
    },
    { name: 'an unknown op', ops: [{ op: 'frobnicate', path: '/a' }], detail: 'Unexpected kind: frobnicate' },
    { name: 'a missing path', ops: [{ op: 'remove' }], detail: 'remove operation failed to decode path: operation missing path field: missing value' },
  ];
  for (const c of applyErrors) {
    void it(`answers ${c.name} with the generic 422`, () => {
      assert.throws(
        () => jsonPatch(pod, c.ops),
        (err: unknown) => {
          assert.ok(err instanceof PatchError);
          assert.equal(err.code, 422);
          assert.equal(err.reason, 'Invalid');
          assert.equal(err.message, GENERIC_422);
          assert.equal(err.detail, c.detail);
          assert.deepEqual(err.toStatus(), { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: GENERIC_422, reason: 'Invalid', details: {}, code: 422 });
          return true;
        },
      );
    });
  }

  void it('stops at the first failing operation and changes nothing', () => {
    const before = structuredClone(pod);
    assert.throws(() =>
      jsonPatch(pod, [
        { op: 'replace', path: '/spec/containers/0/image', value: 'nginx:1.26' },
        { op: 'test', path: '/metadata/name', value: 'other' },
      ]),
    );
    assert.deepEqual(pod, before);
  });

  void it('refuses more than 10000 operations with 413', () => {
    const ops = Array.from({ length: MAX_JSON_PATCH_OPERATIONS + 1 }, () => ({ op: 'test', path: '/kind', value: 'Pod' }));
    assert.throws(
      () => jsonPatch(pod, ops),
      (err: unknown) =>
        err instanceof PatchError &&
        err.code === 413 &&
        err.message === 'Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001',
    );
  });
});
