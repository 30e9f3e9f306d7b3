/**
 * Kubernetes Status errors, with the reasons, codes and message patterns of
 * apimachinery `pkg/api/errors/errors.go`, so clients that branch on them
 * (kubectl's "Error from server (Conflict)", client-go's IsNotFound) behave
 * exactly as against a real API server.
 */

export type StatusReason =
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Gone'
  | 'Expired'
  | 'Invalid'
  | 'MethodNotAllowed'
  | 'NotAcceptable'
  | 'UnsupportedMediaType'
  | 'RequestEntityTooLarge'
  | 'TooManyRequests'
  | 'InternalError'
  | 'ServiceUnavailable'
  | 'Timeout';

export interface StatusCause {
  /** Sent as `reason` on the wire. */
  type?: string;
  message?: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

/** The `Status` object a failing request answers with. */
export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: StatusReason;
  details?: StatusDetails;
  code: number;
}

/** A request failure carrying the Status the server answers with. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly code: number;
  readonly reason: StatusReason;
  readonly details: StatusDetails | undefined;

  constructor(code: number, reason: StatusReason, message: string, details?: StatusDetails) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.details = details;
  }

  toStatus(): Status {
    const status: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: this.message, reason: this.reason, code: this.code };
    // A cause's type travels under the JSON key `reason` (metav1.StatusCause).
    if (this.details) status.details = { ...this.details, ...(this.details.causes ? { causes: this.details.causes.map(({ type, ...rest }) => ({ ...(type ? { reason: type } : {}), ...rest })) } : {}) };
    return status;
  }
}

/** Identifies a resource in messages: `statefulsets.apps`, or `pods` for the core group. */
export interface ResourceName {
  group: string;
  resource: string;
}

function qualified({ group, resource }: ResourceName): string {
  return group === '' ? resource : `${resource}.${group}`;
}

export function notFound(res: ResourceName, name: string): ApiError {
  return new ApiError(404, 'NotFound', `${qualified(res)} "${name}" not found`, { name, group: res.group, kind: res.resource });
}

export function alreadyExists(res: ResourceName, name: string): ApiError {
  return new ApiError(409, 'AlreadyExists', `${qualified(res)} "${name}" already exists`, { name, group: res.group, kind: res.resource });
}

/** The optimistic-lock failure (registry/generic/registry/store.go `OptimisticLockErrorMsg`). */
export function conflict(res: ResourceName, name: string, why = 'the object has been modified; please apply your changes to the latest version and try again'): ApiError {
  return new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(res)} "${name}": ${why}`, { name, group: res.group, kind: res.resource });
}

/** A field-level validation failure. */
export interface FieldError {
  /** `FieldValueRequired`, `FieldValueInvalid`, `FieldValueForbidden`, … */
  type: 'FieldValueRequired' | 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueNotSupported' | 'FieldValueDuplicate' | 'FieldValueTypeInvalid';
  field: string;
  /** The message as field.Error renders it, e.g. `Required value` or `Invalid value: "x": reason`. */
  message: string;
}

/** `<Kind>.<group> "<name>" is invalid: <field>: <message>, …` with causes, as apimachinery's NewInvalid. */
export function invalid(kind: string, group: string, name: string, errors: readonly FieldError[]): ApiError {
  const qualifiedKind = group === '' ? kind : `${kind}.${group}`;
  const rendered = errors.map((e) => `${e.field}: ${e.message}`);
  const summary = rendered.length === 1 ? rendered[0] : `[${rendered.join(', ')}]`;
  return new ApiError(422, 'Invalid', `${qualifiedKind} "${name}" is invalid: ${summary}`, {
    name,
    group,
    kind,
    causes: errors.map((e) => ({ type: e.type, message: e.message, field: e.field })),
  });
}

export function badRequest(message: string): ApiError {
  return new ApiError(400, 'BadRequest', message);
}

export function methodNotAllowed(verb: string, res: ResourceName): ApiError {
  return new ApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`, { kind: res.resource, group: res.group, causes: [{ message: `${verb} not supported` }] });
}

export function unsupportedMediaType(contentType: string, accepted: readonly string[]): ApiError {
  return new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`, {
    causes: [{ message: contentType }],
  });
}

/** A watch or continue token older than the retained history (etcd compaction). */
export function expired(message: string): ApiError {
  return new ApiError(410, 'Expired', message);
}

export function forbidden(res: ResourceName, name: string, why: string): ApiError {
  const subject = name === '' ? qualified(res) : `${qualified(res)} "${name}"`;
  return new ApiError(403, 'Forbidden', `${subject} is forbidden: ${why}`, { name, group: res.group, kind: res.resource });
}

export function unauthorized(): ApiError {
  return new ApiError(401, 'Unauthorized', 'Unauthorized');
}

export function tooManyRequests(retryAfterSeconds: number): ApiError {
  return new ApiError(429, 'TooManyRequests', 'Too many requests, please try again later.', { retryAfterSeconds });
}

export function internalError(message: string): ApiError {
  return new ApiError(500, 'InternalError', `Internal error occurred: ${message}`, { causes: [{ message }] });
}

export function requestTooLarge(limitBytes: number): ApiError {
  return new ApiError(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${limitBytes}`);
}
