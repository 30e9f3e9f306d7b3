/**
 * The HTTP receiver for GitHub and GitLab webhooks: two node:http request
 * handlers that authenticate a delivery before parsing it, refuse bodies
 * over a limit before reading them whole, drop repeated deliveries, answer
 * within milliseconds, and pass what they accept to a callback off the
 * request path. Mount them wherever the agent's HTTP server routes
 * (e.g. `POST /webhooks/github` and `POST /webhooks/gitlab`).
 *
 * The order of checks is the contract (each step runs only if the previous passed):
 *
 * | step | refused with |
 * | --- | --- |
 * | method is POST | 405 |
 * | this forge is configured, the receiver is not closed | 404, 503 |
 * | `Content-Length` within the limit (before reading) | 413 |
 * | GitLab token / GitHub signature header present and well formed (before reading) | 401 |
 * | body within the limit while streaming (reading stops) | 413 |
 * | GitHub signature matches the raw body | 401 |
 * | content type is JSON, event and delivery headers present | 415, 400 |
 * | JSON parses, required fields present | 400 |
 * | event is one rollgate acts on, repository is followed | 204 (GitHub ping: 200) |
 * | delivery id not seen before | 200 |
 * | callback queue has room | 503 with Retry-After |
 * | accepted, callback queued | 202 |
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { readBody } from './body.ts';
import { createDeliveryLru } from './dedupe.ts';
import { createDispatcher } from './dispatch.ts';
import type { ForgeEvent, ForgeKind } from './events.ts';
import { normaliseGitHub, normaliseGitLab, parseJsonBody, WebhookPayloadError } from './normalise.ts';
import type { AuthResult } from './verify.ts';
import { checkGitHubSignatureFormat, tokenDigest, verifyGitHubSignature, verifyGitLabToken } from './verify.ts';

/** A node:http request handler, as `http.createServer` takes. */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** Options of {@link createWebhookReceiver}. */
export interface WebhookReceiverOptions {
  /** GitHub webhooks: the webhook's secret. Absent: the `github` handler answers 404. Must not be empty (an empty HMAC key is no authentication). */
  readonly github?: { readonly secret: string };
  /** GitLab webhooks: the webhook's secret token. Absent: the `gitlab` handler answers 404. Must not be empty. */
  readonly gitlab?: { readonly token: string };
  /**
   * Told of every accepted event, after the forge has its answer. May be
   * async; a throw or rejection is logged and changes nothing else. Should
   * hand work on quickly (start a reconcile, queue a plan): at most
   * `concurrency` callbacks run at once.
   */
  readonly onEvent: (event: ForgeEvent) => void | Promise<void>;
  /** Where refusals (warn), acceptances (info) and callback failures (error) go. Never given a secret, token or signature. */
  readonly logger: Logger;
  /** Largest body accepted, in bytes. Default 1 MiB (1,048,576); GitHub caps payloads at 25 MB, but rollgate's events are far smaller. */
  readonly maxBodyBytes?: number;
  /** How many delivery ids are remembered to drop repeats, least recently seen forgotten first. Default 10,000. */
  readonly dedupeWindow?: number;
  /**
   * Only events of these repositories are passed on (`owner/name` on
   * GitHub, `group/sub/name` on GitLab; compared case-insensitively, as
   * both forges treat the paths). Others are answered 204. Default: all.
   */
  readonly repositories?: readonly string[];
  /** Most callbacks running at once. Default 16. */
  readonly concurrency?: number;
  /** Most accepted events waiting for a callback slot; past it deliveries get 503 with Retry-After and are not remembered, so the forge's redelivery works. Default 1,000. */
  readonly maxQueued?: number;
}

/** Counts for health output and metrics. */
export interface WebhookReceiverStats {
  /** Callbacks running now. */
  readonly running: number;
  /** Accepted events waiting for a callback slot. */
  readonly queued: number;
  /** Delivery ids remembered for deduplication. */
  readonly remembered: number;
}

/** Made by {@link createWebhookReceiver}. */
export interface WebhookReceiver {
  /** Handles GitHub deliveries (`X-GitHub-Event`, `X-GitHub-Delivery`, `X-Hub-Signature-256`). */
  readonly github: RequestHandler;
  /** Handles GitLab deliveries (`X-Gitlab-Event`, `X-Gitlab-Token`, `Idempotency-Key` / `X-Gitlab-Event-UUID`). */
  readonly gitlab: RequestHandler;
  /** Resolves once every accepted event's callback has settled. */
  idle(): Promise<void>;
  /** Refuses further deliveries (503) and resolves once every accepted event's callback has settled. */
  close(): Promise<void>;
  /** Counts of callbacks running and waiting, and of ids remembered. */
  stats(): WebhookReceiverStats;
}

/** Codes of {@link WebhookOptionsError}: one, as every such error means "fix the configuration and restart". */
export type WebhookOptionsErrorCode = 'invalid-options';

/** {@link createWebhookReceiver} options that cannot work; the message names the option. */
export class WebhookOptionsError extends Error {
  readonly code: WebhookOptionsErrorCode = 'invalid-options';

  constructor(message: string) {
    super(message);
    this.name = 'WebhookOptionsError';
  }
}

/** Default of {@link WebhookReceiverOptions.maxBodyBytes}: 1 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
/** Default of {@link WebhookReceiverOptions.dedupeWindow}. */
export const DEFAULT_DEDUPE_WINDOW = 10_000;
/** Default of {@link WebhookReceiverOptions.concurrency}. */
export const DEFAULT_CONCURRENCY = 16;
/** Default of {@link WebhookReceiverOptions.maxQueued}. */
export const DEFAULT_MAX_QUEUED = 1_000;

// Seconds a forge (or a person replaying by hand) is asked to wait when the callback queue is full.
const BUSY_RETRY_AFTER_SECONDS = 10;

const FORGE_NAME: Record<ForgeKind, string> = { github: 'GitHub', gitlab: 'GitLab' };

/** Why a delivery was refused, for logs; stable strings. */
type Refusal = 'method-not-allowed' | 'not-enabled' | 'closed' | 'too-large' | 'unauthenticated' | 'unsupported-media-type' | 'bad-request' | 'busy';

/**
 * Creates the receiver.
 *
 * @throws {@link WebhookOptionsError} on an empty secret or token, a limit that is not a positive whole number, or an empty repository name.
 */
export function createWebhookReceiver(options: WebhookReceiverOptions): WebhookReceiver {
  const maxBodyBytes = positiveInteger('maxBodyBytes', options.maxBodyBytes, DEFAULT_MAX_BODY_BYTES);
  const dedupeWindow = positiveInteger('dedupeWindow', options.dedupeWindow, DEFAULT_DEDUPE_WINDOW);
  const concurrency = positiveInteger('concurrency', options.concurrency, DEFAULT_CONCURRENCY);
  const maxQueued = options.maxQueued === 0 ? 0 : positiveInteger('maxQueued', options.maxQueued, DEFAULT_MAX_QUEUED);
  if (options.github !== undefined && (typeof options.github.secret !== 'string' || options.github.secret === '')) {
    throw new WebhookOptionsError('github.secret must be a non-empty string: GitHub signs nothing without a secret');
  }
  if (options.gitlab !== undefined && (typeof options.gitlab.token !== 'string' || options.gitlab.token === '')) {
    throw new WebhookOptionsError('gitlab.token must be a non-empty string: without one any caller could post events');
  }
  let followed: ReadonlySet<string> | undefined;
  if (options.repositories !== undefined) {
    options.repositories.forEach((name, i) => {
      if (typeof name !== 'string' || name.trim() === '') throw new WebhookOptionsError(`repositories[${i}] must be a non-empty repository path such as owner/name`);
    });
    followed = new Set(options.repositories.map((name) => name.trim().toLowerCase()));
  }

  const log = options.logger.child({ component: 'webhook' });
  const githubSecret = options.github?.secret;
  // Only the digest is kept: the token itself is never needed again, so it cannot leak through this closure.
  const gitlabDigest = options.gitlab !== undefined ? tokenDigest(options.gitlab.token) : undefined;
  const seen = createDeliveryLru(dedupeWindow);
  const dispatcher = createDispatcher({ onEvent: options.onEvent, concurrency, maxQueued, logger: log });
  let closed = false;

  const handle = async (forge: ForgeKind, req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const forgeName = FORGE_NAME[forge];
    const context = { forge, deliveryId: deliveryHeader(forge, req), remote: req.socket.remoteAddress };
    const refuse = (status: number, refusal: Refusal, message: string, extra: { close?: boolean; headers?: Record<string, string>; log?: Record<string, unknown> } = {}): void => {
      log.warn({ ...context, status, refusal, ...extra.log }, 'webhook delivery refused');
      // A body left unread must not be mistaken for the next request on a kept-alive connection: close it instead of draining it.
      send(res, status, { message }, { close: extra.close ?? hasUnreadBody(req), headers: extra.headers });
    };

    if (req.method !== 'POST') return refuse(405, 'method-not-allowed', `webhooks are delivered with POST, not ${req.method ?? '(none)'}`, { headers: { Allow: 'POST' } });
    if (forge === 'github' ? githubSecret === undefined : gitlabDigest === undefined) {
      return refuse(404, 'not-enabled', `${forgeName} webhooks are not enabled on this agent`);
    }
    if (closed) return refuse(503, 'closed', 'the agent is shutting down; redeliver later', { headers: { 'Retry-After': String(BUSY_RETRY_AFTER_SECONDS) } });

    const declared = contentLength(req);
    if (declared !== undefined && declared > maxBodyBytes) {
      return refuse(413, 'too-large', `body of ${declared} bytes is over the limit of ${maxBodyBytes} bytes`, { log: { declared, limit: maxBodyBytes } });
    }

    // Authentication that needs no body runs first, so an unauthenticated caller's body is never read.
    const early: AuthResult =
      forge === 'github'
        ? checkGitHubSignatureFormat(header(req, 'x-hub-signature-256'))
        : // gitlabDigest is set here (404 above otherwise); the fallback only satisfies the type checker and matches no token.
          verifyGitLabToken(gitlabDigest ?? Buffer.alloc(32), header(req, 'x-gitlab-token'));
    if (!early.ok) return refuse(401, 'unauthenticated', authMessage(forge, early.reason), { log: { reason: early.reason } });

    let read;
    try {
      read = await readBody(req, maxBodyBytes);
    } catch (err) {
      // The client went away mid-body; there is no one to answer, but a still-open socket gets a 400 rather than a hang.
      log.debug({ ...context, err }, 'webhook body not received');
      send(res, 400, { message: 'request body was not received whole' }, { close: true });
      return;
    }
    if (read.kind === 'too-large') {
      return refuse(413, 'too-large', `body is over the limit of ${maxBodyBytes} bytes; stopped reading`, { close: true, log: { received: read.received, limit: maxBodyBytes } });
    }
    const body = read.body;

    if (forge === 'github') {
      const verified = verifyGitHubSignature(githubSecret ?? '', body, header(req, 'x-hub-signature-256'));
      if (!verified.ok) return refuse(401, 'unauthenticated', authMessage(forge, verified.reason), { log: { reason: verified.reason } });
    }

    // Authenticated from here on.
    const mediaType = (header(req, 'content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    if (mediaType !== '' && mediaType !== 'application/json' && !mediaType.endsWith('+json')) {
      return refuse(415, 'unsupported-media-type', `content type ${mediaType} is not JSON: set the webhook's content type to application/json`);
    }
    const eventHeader = forge === 'github' ? 'X-GitHub-Event' : 'X-Gitlab-Event';
    const eventName = header(req, eventHeader.toLowerCase());
    if (eventName === undefined || eventName === '') return refuse(400, 'bad-request', `missing ${eventHeader} header`);
    let deliveryId = context.deliveryId;
    if (deliveryId === undefined) {
      if (forge === 'github') return refuse(400, 'bad-request', 'missing X-GitHub-Delivery header', { log: { event: eventName } });
      // GitLab before 14.8 sends no id; the body differs between events (before/after, timestamps) and is the same on a resend.
      deliveryId = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    }
    const eventContext = { ...context, deliveryId, event: eventName };

    let normalised;
    try {
      const payload = parseJsonBody(body);
      normalised = forge === 'github' ? normaliseGitHub(eventName, deliveryId, payload) : normaliseGitLab(eventName, deliveryId, payload);
    } catch (err) {
      if (!(err instanceof WebhookPayloadError)) throw err;
      log.warn({ ...eventContext, status: 400, refusal: 'bad-request', code: err.code, field: err.field, problem: err.message }, 'webhook payload rejected');
      send(res, 400, { message: err.message });
      return;
    }
    if (normalised.kind === 'ping') {
      log.info(eventContext, 'webhook ping');
      send(res, 200, { message: 'pong' });
      return;
    }
    if (normalised.kind === 'ignored') {
      log.debug({ ...eventContext, reason: normalised.reason }, 'webhook delivery ignored');
      send(res, 204, undefined);
      return;
    }
    const event = normalised.event;
    if (followed !== undefined && !followed.has(event.repository.toLowerCase())) {
      log.debug({ ...eventContext, repository: event.repository }, 'webhook delivery for a repository not followed');
      send(res, 204, undefined);
      return;
    }
    const key = `${forge}:${deliveryId}`;
    if (seen.has(key)) {
      log.info({ ...eventContext, repository: event.repository }, 'webhook delivery repeated, ignored');
      send(res, 200, { message: 'delivery already accepted', deliveryId });
      return;
    }
    if (!dispatcher.offer(event)) {
      return refuse(503, 'busy', 'too many events waiting for the agent; redeliver later', {
        headers: { 'Retry-After': String(BUSY_RETRY_AFTER_SECONDS) },
        log: { event: eventName, deliveryId },
      });
    }
    seen.add(key);
    log.info({ ...eventContext, type: event.type, repository: event.repository }, 'webhook event accepted');
    send(res, 202, { message: 'accepted', deliveryId });
  };

  const handler =
    (forge: ForgeKind): RequestHandler =>
    (req, res) => {
      // Nothing a request does may take the process down: an unexpected error becomes a logged 500.
      handle(forge, req, res).catch((err: unknown) => {
        log.error({ forge, err }, 'webhook receiver failed');
        send(res, 500, { message: 'internal error' }, { close: true });
      });
    };

  return {
    github: handler('github'),
    gitlab: handler('gitlab'),
    idle: () => dispatcher.idle(),
    close() {
      closed = true;
      return dispatcher.idle();
    },
    stats: () => ({ ...dispatcher.stats(), remembered: seen.size }),
  };
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new WebhookOptionsError(`${name} must be a whole number of 1 or more, got ${value}`);
  return value;
}

/** A header's value; node:http joins repeated headers into one string, except a few (none of which we read). */
function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The delivery id from the headers, when there is one. GitLab's
 * `Idempotency-Key` (17.4+) is the same on every resend of an event,
 * whereas `X-Gitlab-Event-UUID` is made anew per request, so the former
 * wins when both are present (GitLab docs, "Delivery headers").
 */
function deliveryHeader(forge: ForgeKind, req: IncomingMessage): string | undefined {
  const value = forge === 'github' ? header(req, 'x-github-delivery') : (header(req, 'idempotency-key') ?? header(req, 'x-gitlab-event-uuid'));
  return value === '' ? undefined : value;
}

function contentLength(req: IncomingMessage): number | undefined {
  const value = header(req, 'content-length');
  if (value === undefined) return undefined;
  // node:http has already refused a malformed Content-Length with 400; this is a plain decimal.
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

function hasUnreadBody(req: IncomingMessage): boolean {
  if (req.complete) return false;
  return header(req, 'transfer-encoding') !== undefined || (contentLength(req) ?? 0) > 0;
}

function authMessage(forge: ForgeKind, reason: 'missing' | 'malformed' | 'mismatch'): string {
  if (forge === 'github') {
    if (reason === 'missing') return 'missing X-Hub-Signature-256 header: set a secret on the GitHub webhook (rollgate refuses unsigned deliveries)';
    if (reason === 'malformed') return 'X-Hub-Signature-256 is not of the form sha256=<64 hex digits>';
    return "X-Hub-Signature-256 does not match the body: the webhook's secret is not the one rollgate has";
  }
  if (reason === 'missing') return "missing X-Gitlab-Token header: set the GitLab webhook's secret token";
  return "X-Gitlab-Token does not match: the webhook's secret token is not the one rollgate has";
}

/** Writes a JSON answer (or none, for 204), once; `close` asks node:http to close the connection after it. */
function send(res: ServerResponse, status: number, body: Record<string, unknown> | undefined, options: { close?: boolean; headers?: Record<string, string> | undefined } = {}): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  const headers: Record<string, string | number> = { 'Cache-Control': 'no-store', ...options.headers };
  if (options.close) headers.Connection = 'close';
  if (body === undefined) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
