/**
 * Forge webhooks: the receiver the agent's HTTP server mounts, and the
 * normalised events it passes on (a push starts a reconcile, a pull
 * request is planned, a comment may be a command).
 */
export type { CommentEvent, ForgeEvent, ForgeKind, PullRequestEvent, PushEvent } from './events.ts';
export {
  createWebhookReceiver,
  DEFAULT_CONCURRENCY,
  DEFAULT_DEDUPE_WINDOW,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_QUEUED,
  WebhookOptionsError,
  type RequestHandler,
  type WebhookOptionsErrorCode,
  type WebhookReceiver,
  type WebhookReceiverOptions,
  type WebhookReceiverStats,
} from './receiver.ts';
export { normaliseGitHub, normaliseGitLab, parseJsonBody, WebhookPayloadError, type Normalised, type WebhookPayloadErrorCode } from './normalise.ts';
export { signGitHubBody, type AuthFailure, type AuthResult } from './verify.ts';
