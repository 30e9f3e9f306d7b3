import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  badRequest,
  BUILTIN_PATCH_TYPES,
  CUSTOM_RESOURCE_PATCH_TYPES,
  internalError,
  invalidError,
  PatchError,
  unsupportedMediaTypeError,
} from '../../../sim/patch/errors.ts';

void describe('PatchError.toStatus', () => {
  const cases: { name: string; err: PatchError; want: unknown }[] = [
    {
      name: 'BadRequest has no details',
      err: badRequest('Invalid JSON Patch'),
      want: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Invalid JSON Patch', reason: 'BadRequest', code: 400 },
    },
    {
      name: 'a Go error becomes a 500 without reason',
      err: internalError('map: map[image:x] does not contain declared merge key: name'),
      want: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'map: map[image:x] does not contain declared merge key: name',
        code: 500,
      },
    },
    {
      name: 'causes are serialised with their JSON name "reason"',
      err: new PatchError(409, 'Conflict', 'Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas', {
        causes: [{ type: 'FieldManagerConflict', message: 'conflict with "kubectl"', field: '.spec.replicas' }],
      }),
      want: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas',
        reason: 'Conflict',
        details: { causes: [{ reason: 'FieldManagerConflict', message: 'conflict with "kubectl"', field: '.spec.replicas' }] },
        code: 409,
      },
    },
  ];
  for (const c of cases) void it(c.name, () => assert.deepEqual(c.err.toStatus(), c.want));
});

void describe('unsupportedMediaTypeError', () => {
  void it('lists what a custom resource accepts, as negotiation.errUnsupportedMediaType does', () => {
    const err = unsupportedMediaTypeError(CUSTOM_RESOURCE_PATCH_TYPES);
    assert.equal(err.code, 415);
    assert.equal(err.reason, 'UnsupportedMediaType');
    assert.equal(
      err.message,
      'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml',
    );
  });

  void it('lists the four built-in patch types in installer order', () => {
    assert.match(
      unsupportedMediaTypeError(BUILTIN_PATCH_TYPES).message,
      /include: application\/json-patch\+json, application\/merge-patch\+json, application\/strategic-merge-patch\+json, application\/apply-patch\+yaml$/,
    );
  });
});

void describe('invalidError', () => {
  void it('prints one field error alone', () => {
    const err = invalidError('meta.k8s.io', 'PatchOptions', '', [
      { type: 'FieldValueRequired', field: 'fieldManager', body: 'Required value: is required for apply patch' },
    ]);
    assert.equal(err.code, 422);
    assert.equal(err.message, 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');
    assert.deepEqual(err.toStatus()['details'], {
      group: 'meta.k8s.io',
      kind: 'PatchOptions',
      causes: [{ reason: 'FieldValueRequired', message: 'Required value: is required for apply patch', field: 'fieldManager' }],
    });
  });

  void it('prints several field errors as an aggregate', () => {
    const err = invalidError('', 'Pod', 'web-0', [
      { type: 'FieldValueRequired', field: 'a', body: 'Required value' },
      { type: 'FieldValueForbidden', field: 'b', body: 'Forbidden: no' },
    ]);
    assert.equal(err.message, 'Pod "web-0" is invalid: [a: Required value, b: Forbidden: no]');
  });
});
