// The patch engine's public surface: pure functions the kube-sim server calls for PATCH
// (JSON patch, merge patch, strategic merge patch, server-side apply) and for managedFields
// bookkeeping on every write.

export type { Json, JsonObject } from './json.ts';
export { asJson, deepClone, isObject, jsonEqual } from './json.ts';
export type { FieldError, PatchContentType, PatchErrorCode, PatchErrorOptions, PatchErrorReason, StatusCause, StatusDetailsIdentity } from './errors.ts';
export {
  badRequest,
  BUILTIN_PATCH_TYPES,
  CUSTOM_RESOURCE_PATCH_TYPES,
  internalError,
  invalidError,
  PATCH_CONTENT_TYPES,
  PatchError,
  unsupportedMediaTypeError,
} from './errors.ts';
export { mergePatch } from './merge-patch.ts';
export type { JsonPatchOperation } from './json-patch.ts';
export { jsonPatch, MAX_JSON_PATCH_OPERATIONS } from './json-patch.ts';
export type { FieldPath, KindSchema, SchemaNode } from './schema.ts';
export { customResourceSchema, groupOf, normalizeObject, patchMetaFor } from './schema.ts';
export { strategicMergePatch } from './strategic.ts';
export type {
  ManagedFieldsEntry,
  ManagedFieldsOperation,
  ManagedFieldsResult,
  PatchOptionsInput,
  RecordUpdateOptions,
  ServerSideApplyOptions,
  ServerSideApplyResult,
} from './managed-fields.ts';
export {
  LAST_APPLIED_ANNOTATION,
  MAX_UPDATE_MANAGERS,
  managerOrUserAgent,
  parseApplyPatch,
  recordUpdate,
  serverSideApply,
  validatePatchOptions,
  validateWriteOptions,
} from './managed-fields.ts';
