// The errors the patch engine raises, shaped so the server can turn each into the Status object
// the real API server would send (apimachinery pkg/api/errors/errors.go).

import type { Json, JsonObject } from './json.ts';

/**
 * HTTP codes the patch engine produces.
 * - 400 BadRequest: undecodable patch bodies, bad SMP directives (errors.NewBadRequest).
 * - 409 Conflict: server-side apply conflicts (errors.NewApplyConflict).
 * - 413 RequestEntityTooLarge: more than 10000 JSON-patch operations.
 * - 415 UnsupportedMediaType: a patch type the resource does not accept.
 * - 422 Invalid: failed JSON-patch operations, invalid PatchOptions.
 * - 500: plain Go errors that apiserver passes through unconverted (ErrorToAPIStatus), e.g.
 *   strategic merge patch's "does not contain declared merge key".
 */
export type PatchErrorCode = 400 | 409 | 413 | 415 | 422 | 500;

/**
 * metav1.StatusReason values used here. The empty string is metav1.StatusReasonUnknown, which
 * the real server omits from the Status JSON (reason is omitempty).
 */
export type PatchErrorReason = 'BadRequest' | 'Conflict' | 'RequestEntityTooLarge' | 'UnsupportedMediaType' | 'Invalid' | '';

/** A metav1.StatusCause. Empty members are omitted from the Status JSON. */
export interface StatusCause {
  /** e.g. 'FieldManagerConflict', 'FieldValueRequired', 'FieldValueForbidden'. */
  type?: string;
  message?: string;
  field?: string;
}

/** The identifying part of metav1.StatusDetails (causes are carried separately). */
export interface StatusDetailsIdentity {
  group?: string;
  /** The resource plural for most errors; the Kind for Invalid errors (as upstream does). */
  kind?: string;
  name?: string;
}

/** Options of the PatchError constructor. */
export interface PatchErrorOptions {
  causes?: StatusCause[];
  /**
   * Set when the real Status carries a `details` object. Upstream sends `"details":{}` for some
   * errors (NewGenericServerResponse) and none for others (NewBadRequest), so it is explicit.
   */
  details?: StatusDetailsIdentity;
  /**
   * The underlying reason in words, for logs and tests, when the real server hides it behind a
   * generic message (JSON-patch failures). Never part of the Status.
   */
  detail?: string;
  cause?: unknown;
}

/**
 * An error with the policy for its HTTP answer attached. The server maps it to a Status with
 * {@link PatchError.toStatus}.
 */
export class PatchError extends Error {
  readonly code: PatchErrorCode;
  readonly reason: PatchErrorReason;
  readonly causes: StatusCause[] | undefined;
  readonly details: StatusDetailsIdentity | undefined;
  readonly detail: string | undefined;

  constructor(code: PatchErrorCode, reason: PatchErrorReason, message: string, options: PatchErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PatchError';
    this.code = code;
    this.reason = reason;
    this.causes = options.causes;
    this.details = options.details ?? (options.causes ? {} : undefined);
    this.detail = options.detail;
  }

  /**
   * The metav1.Status body the real API server would send for this error:
   * `{kind:"Status", apiVersion:"v1", metadata:{}, status:"Failure", message, reason?, details?, code}`.
   */
  toStatus(): JsonObject {
    const status: JsonObject = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: this.message };
    if (this.reason !== '') status['reason'] = this.reason;
    if (this.details) {
      const details: JsonObject = {};
      if (this.details.name) details['name'] = this.details.name;
      if (this.details.group) details['group'] = this.details.group;
      if (this.details.kind) details['kind'] = this.details.kind;
      if (this.causes && this.causes.length > 0) {
        details['causes'] = this.causes.map((c): Json => {
          const cause: JsonObject = {};
          if (c.type) cause['reason'] = c.type;
          if (c.message) cause['message'] = c.message;
          if (c.field) cause['field'] = c.field;
          return cause;
        });
      }
      status['details'] = details;
    }
    status['code'] = this.code;
    return status;
  }
}

/** Content types of PATCH requests (k8s.io/apimachinery/pkg/types/patch.go). */
export const PATCH_CONTENT_TYPES = {
  jsonPatch: 'application/json-patch+json',
  mergePatch: 'application/merge-patch+json',
  strategicMergePatch: 'application/strategic-merge-patch+json',
  applyYaml: 'application/apply-patch+yaml',
} as const;

/** One of {@link PATCH_CONTENT_TYPES}. */
export type PatchContentType = (typeof PATCH_CONTENT_TYPES)[keyof typeof PATCH_CONTENT_TYPES];

/**
 * Patch types a built-in resource accepts, in the order apiserver's installer lists them
 * (endpoints/installer.go; application/apply-patch+cbor only behind the CBORServingAndStorage gate).
 */
export const BUILTIN_PATCH_TYPES: readonly PatchContentType[] = [
  PATCH_CONTENT_TYPES.jsonPatch,
  PATCH_CONTENT_TYPES.mergePatch,
  PATCH_CONTENT_TYPES.strategicMergePatch,
  PATCH_CONTENT_TYPES.applyYaml,
];

/** Patch types a custom resource accepts (apiextensions-apiserver customresource_handler.go). */
export const CUSTOM_RESOURCE_PATCH_TYPES: readonly PatchContentType[] = [
  PATCH_CONTENT_TYPES.jsonPatch,
  PATCH_CONTENT_TYPES.mergePatch,
  PATCH_CONTENT_TYPES.applyYaml,
];

/**
 * 415 for a Content-Type the resource does not accept, e.g. strategic merge patch on a custom
 * resource: `the body of the request was in an unknown format - accepted media types include:
 * application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`
 * (endpoints/handlers/negotiation/errors.go errUnsupportedMediaType). The caller strips any
 * "; charset=" parameter before comparing, as handlers/patch.go does.
 */
export function unsupportedMediaTypeError(accepted: readonly string[]): PatchError {
  return new PatchError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`,
  );
}

/** errors.NewBadRequest: 400, reason BadRequest, no details. */
export function badRequest(message: string, options: PatchErrorOptions = {}): PatchError {
  return new PatchError(400, 'BadRequest', message, options);
}

/** A non-Status Go error, which apiserver's ErrorToAPIStatus answers as 500 with no reason. */
export function internalError(message: string, options: PatchErrorOptions = {}): PatchError {
  return new PatchError(500, '', message, options);
}

/** One entry of a field.ErrorList (apimachinery pkg/util/validation/field). */
export interface FieldError {
  /** field.ErrorType string, e.g. 'FieldValueRequired'. */
  type: 'FieldValueRequired' | 'FieldValueForbidden' | 'FieldValueTooLong' | 'FieldValueInvalid' | 'FieldValueNotSupported';
  field: string;
  /** ErrorBody, e.g. "Required value: is required for apply patch". */
  body: string;
}

/**
 * errors.NewInvalid: 422 `<Kind>.<group> "<name>" is invalid: <errors>`; one error prints alone,
 * several as "[a, b]" (utilerrors.NewAggregate). details carry group, kind, name and one cause per
 * field error.
 */
export function invalidError(group: string, kind: string, name: string, errors: readonly FieldError[]): PatchError {
  const qualified = group === '' ? kind : `${kind}.${group}`;
  const texts = errors.map((e) => `${e.field}: ${e.body}`);
  const joined = texts.length === 1 ? (texts[0] ?? '') : `[${texts.join(', ')}]`;
  const message = errors.length === 0 ? `${qualified} ${JSON.stringify(name)} is invalid` : `${qualified} ${JSON.stringify(name)} is invalid: ${joined}`;
  return new PatchError(422, 'Invalid', message, {
    details: { group, kind, name },
    causes: errors.map((e) => ({ type: e.type, message: e.body, field: e.field })),
  });
}
