/**
 * Leader election on a coordination.k8s.io/v1 Lease, with client-go's
 * semantics (`tools/leaderelection`, reference §3), so that of several
 * agent replicas exactly one writes to the clusters, and a follower takes
 * over when the leader goes away.
 *
 * - A candidate GETs the Lease, creates it when missing, and takes it only
 *   when it is free: released (empty holder), held by itself, or expired.
 *   Expiry is judged by **local observation**: the lease is valid until
 *   the moment this process last saw the record change, plus the record's
 *   `leaseDurationSeconds`. Remote `renewTime` is never compared with the
 *   local clock, so clock skew between nodes cannot elect two leaders.
 * - Every write is a full PUT carrying the resourceVersion read, so of two
 *   candidates racing for one free lease the API server lets one win and
 *   answers 409 Conflict to the other (client-go's `LeaseLock.Update`).
 * - The leader renews every `retryPeriodMs`. If no renewal has succeeded
 *   within `renewDeadlineMs`, it stops leading: the AbortSignal handed to
 *   `onStartedLeading` is aborted first, synchronously, before any other
 *   callback runs, so work guarded by it stops writing at once.
 * - `release()` (shutdown) writes an empty holder with
 *   `leaseDurationSeconds: 1` so a follower takes over on its next retry
 *   instead of waiting out the lease (client-go's `ReleaseOnCancel`).
 *
 * One deliberate difference from client-go: the renew deadline counts from
 * the moment the last *successful renewal was sent*, not from the start of
 * the renew round after it. A follower's expiry clock starts when it sees
 * that renewal, which is after the server stored it, which is after it was
 * sent; so as long as `renewDeadlineMs < leaseDurationMs` the old leader
 * has stopped before any follower can judge the lease expired, however
 * slow the responses are. client-go's window (last success + retry period
 * + renew deadline) only holds that promise when responses are fast.
 */
import type { IncomingMessage } from 'node:http';
import { request as httpRequest } from 'node:http';
import type { RequestOptions } from 'node:https';
import { request as httpsRequest } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { LiveRequestError, systemClock, type LiveClock } from '../live/index.ts';
import { sanitizeUrl } from '../live/errors.ts';
import { agentUserAgent, createApiClient } from '../live/http.ts';

/** The Lease's `spec`, as client-go's `LeaseSpec` (only the fields leader election uses are typed). */
export interface LeaseSpec {
  readonly holderIdentity?: string;
  /** Whole seconds. */
  readonly leaseDurationSeconds?: number;
  /** MicroTime, `2006-01-02T15:04:05.000000Z`. */
  readonly acquireTime?: string;
  /** MicroTime, `2006-01-02T15:04:05.000000Z`. */
  readonly renewTime?: string;
  readonly leaseTransitions?: number;
  /** Other fields (`strategy`, `preferredHolder`) are kept as read. */
  readonly [field: string]: unknown;
}

/** A coordination.k8s.io/v1 Lease as the API server returns it. */
export interface Lease {
  readonly apiVersion: 'coordination.k8s.io/v1';
  readonly kind: 'Lease';
  readonly metadata: { readonly name: string; readonly namespace: string; readonly resourceVersion?: string; readonly [field: string]: unknown };
  readonly spec: LeaseSpec;
}

/**
 * The Lease requests of leader election: GET, POST and full PUT. Errors are
 * {@link LiveRequestError}s (`status` set for HTTP errors, 409 on a
 * resourceVersion conflict or an existing name).
 */
export interface LeaseClient {
  /** The API server URL, without credentials, for messages. */
  readonly server: string;
  /** The Lease, or undefined when it does not exist (404). */
  get(namespace: string, name: string, signal: AbortSignal): Promise<Lease | undefined>;
  /** Creates the Lease; 409 AlreadyExists when another process created it first. */
  create(lease: Lease, signal: AbortSignal): Promise<Lease>;
  /** Replaces the Lease; `metadata.resourceVersion` is the precondition (409 Conflict when it moved). */
  update(lease: Lease, signal: AbortSignal): Promise<Lease>;
}

/** The part of a Lease that leader election reads and writes, with defaults filled in. */
export interface LeaderRecord {
  /** Empty when nobody holds the lease (never acquired, or released). */
  readonly holderIdentity: string;
  /** Whole seconds. */
  readonly leaseDurationSeconds: number;
  readonly acquireTime: string | undefined;
  readonly renewTime: string | undefined;
  readonly leaseTransitions: number;
}

/** Codes of {@link LeaderElectionError}. */
export type LeaderElectionErrorCode =
  /** `createLeaderElector` or `createShardedLeadership` options are invalid; `problems` lists each. */
  'invalid-options';

/** An error of leader election itself (request failures are {@link LiveRequestError}s). */
export class LeaderElectionError extends Error {
  readonly code: LeaderElectionErrorCode;
  readonly problems: readonly string[];

  constructor(code: LeaderElectionErrorCode, problems: readonly string[]) {
    super(`invalid leader election options: ${problems.join('; ')}`);
    this.name = 'LeaderElectionError';
    this.code = code;
    this.problems = problems;
  }
}

/** Why a term of leadership ended. */
export type StopReason =
  /** No renewal succeeded within `renewDeadlineMs`. */
  | 'renew-deadline'
  /** `release()` was called: the lease is handed back. */
  | 'released'
  /** `stop()` was called: the lease is left to expire. */
  | 'stopped'
  /** A read while leading showed another holder: someone took the lease (after our renewals failed long enough for it to expire). */
  | 'lost';

/** Which request of an attempt failed. */
export type LeaseOperation = 'get' | 'create' | 'update' | 'release';

/** What an elector reports to its subscribers (metrics, logs). `lease` is `namespace/name`. */
export type LeaderEvent =
  | { readonly type: 'started-leading'; readonly lease: string; readonly identity: string }
  | { readonly type: 'stopped-leading'; readonly lease: string; readonly identity: string; readonly reason: StopReason }
  /** The holder in the observed record changed; `holder` is empty when the lease was released. */
  | { readonly type: 'new-leader'; readonly lease: string; readonly holder: string }
  /** A renewal succeeded; `latencyMs` is the request's round trip. */
  | { readonly type: 'renewed'; readonly lease: string; readonly latencyMs: number }
  /**
   * A request failed. `code` is the HTTP status as a string (`'409'`, `'503'`),
   * or `network`, `timeout`, `bad-response`.
   */
  | { readonly type: 'request-failed'; readonly lease: string; readonly operation: LeaseOperation; readonly code: string; readonly error: unknown };

/**
 * A gate on taking a lease this elector does not hold: called before each
 * attempt to take a free lease (never before a renewal). `freeForMs` is how
 * long the lease has been free by local observation (0 the moment it
 * expired; `Infinity` when the record names this elector). Return a
 * function that the elector calls once the attempt has ended (after
 * `started-leading` if it won), or undefined to let this chance pass.
 */
export type AcquireGate = (freeForMs: number) => (() => void) | undefined;

/** Options of {@link createLeaderElector}. */
export interface LeaderElectorOptions {
  /** The cluster's Lease API; see {@link createLeaseClient}. */
  readonly api: LeaseClient;
  /** Namespace of the Lease. */
  readonly namespace: string;
  /** Name of the Lease. */
  readonly name: string;
  /** Unique per process (a pod name plus a random suffix): two processes with one identity both believe they lead. */
  readonly identity: string;
  /**
   * How long followers wait, from the last change they saw, before taking
   * the lease. Written as whole seconds (rounded up, at least 1), and
   * followers honour the holder's written value, so sub-second values only
   * tighten this elector's own checks. Milliseconds; default 15000.
   */
  readonly leaseDurationMs?: number;
  /** The leader stops leading when no renewal sent within this long succeeded. Below `leaseDurationMs`, above 1.2 × `retryPeriodMs`. Milliseconds; default 10000. */
  readonly renewDeadlineMs?: number;
  /** Between renewals, and between acquire attempts (with client-go's jitter: ×[1, 2.2)). Milliseconds, above 0; default 2000. */
  readonly retryPeriodMs?: number;
  /** Default the process clock ({@link systemClock} of the live stage). */
  readonly clock?: LiveClock;
  /** Uniform in [0, 1), for retry jitter; default `Math.random`. */
  readonly random?: () => number;
  /** Default silent. Messages are fixed; metadata carries the lease, identity and error. */
  readonly logger?: Logger;
  /**
   * Called when this elector starts a term. `signal` is aborted when the term
   * ends, before `onStoppedLeading` and before anything else runs: check it
   * before every write. A rejected promise is logged.
   */
  readonly onStartedLeading?: (signal: AbortSignal) => void | Promise<void>;
  /** Called after a term ended (its signal already aborted). */
  readonly onStoppedLeading?: (reason: StopReason) => void;
  /** Called when the observed holder changes (empty string: released). */
  readonly onNewLeader?: (holder: string) => void;
  /** See {@link AcquireGate}; default: always try. */
  readonly acquireGate?: AcquireGate;
}

/** A running (or not yet started) candidate for one Lease. */
export interface LeaderElector {
  /** `namespace/name` of the Lease. */
  readonly lease: string;
  readonly identity: string;
  /** Starts campaigning; the first attempt is immediate. Calling it again does nothing; after `stop`/`release` it throws. */
  start(): void;
  /** True while this elector leads and its last successful renewal is younger than the renew deadline. */
  isLeader(): boolean;
  /** The holder in the last observed record; empty when free, undefined before the first read. */
  leader(): string | undefined;
  /** The current term's signal, or undefined when not leading. */
  signal(): AbortSignal | undefined;
  /** Listens to {@link LeaderEvent}s; returns a function that stops listening. */
  subscribe(listener: (event: LeaderEvent) => void): () => void;
  /**
   * Stops campaigning and leaves the lease to expire (what a crashed
   * process does; followers wait out the lease duration). Ends a term
   * with reason `stopped`. Resolves when the request in flight settled.
   */
  stop(): Promise<void>;
  /**
   * Stops campaigning and, when the Lease names this elector, hands it
   * back: empty holder, `leaseDurationSeconds: 1`, so a follower takes over
   * on its next retry. Ends a term with reason `released`. A failed release
   * is logged; the lease then expires as after `stop()`.
   */
  release(): Promise<void>;
}

/** client-go's `JitterFactor` for acquire retries. */
const jitterFactor = 1.2;

/**
 * Formats epoch milliseconds as a Kubernetes MicroTime:
 * RFC 3339 in UTC with exactly six fractional digits
 * (`2006-01-02T15:04:05.000000Z`); fractions of a millisecond are kept.
 */
export function formatMicroTime(epochMs: number): string {
  if (!Number.isFinite(epochMs)) throw new RangeError(`a MicroTime needs a finite time, got ${epochMs}`);
  // Rounded, not floored: epoch milliseconds carry float noise in the third decimal (2^-12 ms apart near 2026).
  const micros = Math.round(epochMs * 1000);
  const seconds = Math.floor(micros / 1_000_000);
  const fraction = micros - seconds * 1_000_000;
  return `${new Date(seconds * 1000).toISOString().slice(0, 19)}.${String(fraction).padStart(6, '0')}Z`;
}

/**
 * Delay before the next acquire attempt: `retryPeriodMs × (1 + 1.2 × r)`,
 * as client-go's `wait.JitterUntil(…, RetryPeriod, 1.2, …)`, so candidates
 * started together drift apart. Milliseconds, in [retry, 2.2 × retry).
 * @param random uniform in [0, 1); values outside are clamped, NaN counts as 0.
 */
export function acquireRetryDelay(retryPeriodMs: number, random: () => number): number {
  const drawn = random();
  const r = Number.isFinite(drawn) ? Math.min(1, Math.max(0, drawn)) : 0;
  return retryPeriodMs * (1 + jitterFactor * r);
}

/** Whole seconds written as `leaseDurationSeconds` for a duration in milliseconds: rounded up, at least 1. */
export function leaseDurationSeconds(leaseDurationMs: number): number {
  return Math.max(1, Math.ceil(leaseDurationMs / 1000));
}

/**
 * Whether a lease observed at `observedAt` (local ms, when the record was
 * last seen to change) is still valid at `now`: `observedAt +
 * leaseDurationSeconds × 1000 > now`. The remote `renewTime` plays no part.
 */
export function leaseValid(observedAt: number, durationSeconds: number, now: number): boolean {
  return observedAt + durationSeconds * 1000 > now;
}

/** The leader election record of a Lease spec, with client-go's defaults (empty holder, 0 duration, 0 transitions). */
export function recordOf(spec: LeaseSpec): LeaderRecord {
  return {
    holderIdentity: spec.holderIdentity ?? '',
    leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
    acquireTime: spec.acquireTime,
    renewTime: spec.renewTime,
    leaseTransitions: spec.leaseTransitions ?? 0,
  };
}

/**
 * The record to write when `identity` takes or renews a lease whose
 * current record is `current` (undefined: the lease does not exist yet).
 * Holding it already keeps `acquireTime` and `leaseTransitions`; taking it
 * from anyone else (or from nobody) sets `acquireTime` to now and adds one
 * transition (client-go `tryAcquireOrRenew` step 4).
 */
export function nextRecord(current: LeaderRecord | undefined, identity: string, durationSeconds: number, nowMs: number): LeaderRecord {
  const now = formatMicroTime(nowMs);
  if (!current) return { holderIdentity: identity, leaseDurationSeconds: durationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 };
  const kept = current.holderIdentity === identity;
  return {
    holderIdentity: identity,
    leaseDurationSeconds: durationSeconds,
    acquireTime: kept ? (current.acquireTime ?? now) : now,
    renewTime: now,
    leaseTransitions: kept ? current.leaseTransitions : current.leaseTransitions + 1,
  };
}

/** The record client-go writes on release: nobody holds it, and it expires one second after anyone sees it. */
export function releasedRecord(current: LeaderRecord, nowMs: number): LeaderRecord {
  const now = formatMicroTime(nowMs);
  return { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now, leaseTransitions: current.leaseTransitions };
}

/** Checks the timing options as client-go's `NewLeaderElector` does; returns each problem. */
export function timingProblems(leaseDurationMs: number, renewDeadlineMs: number, retryPeriodMs: number): string[] {
  const problems: string[] = [];
  const positive = (v: number) => typeof v === 'number' && Number.isFinite(v) && v > 0;
  if (!positive(leaseDurationMs)) problems.push(`leaseDurationMs: must be a number above 0, got ${String(leaseDurationMs)}`);
  if (!positive(renewDeadlineMs)) problems.push(`renewDeadlineMs: must be a number above 0, got ${String(renewDeadlineMs)}`);
  if (!positive(retryPeriodMs)) problems.push(`retryPeriodMs: must be a number above 0, got ${String(retryPeriodMs)}`);
  if (problems.length > 0) return problems;
  if (leaseDurationMs <= renewDeadlineMs) problems.push(`leaseDurationMs (${leaseDurationMs}) must be greater than renewDeadlineMs (${renewDeadlineMs})`);
  if (renewDeadlineMs <= jitterFactor * retryPeriodMs) problems.push(`renewDeadlineMs (${renewDeadlineMs}) must be greater than 1.2 × retryPeriodMs (${jitterFactor * retryPeriodMs})`);
  return problems;
}

function leaseSpecOf(record: LeaderRecord, previous: LeaseSpec | undefined): LeaseSpec {
  const spec: Record<string, unknown> = { ...previous, holderIdentity: record.holderIdentity, leaseDurationSeconds: record.leaseDurationSeconds, leaseTransitions: record.leaseTransitions };
  if (record.acquireTime !== undefined) spec['acquireTime'] = record.acquireTime;
  if (record.renewTime !== undefined) spec['renewTime'] = record.renewTime;
  return spec;
}

/** The error code of a failed request, for events and metrics: the HTTP status, or what went wrong. */
export function failureCode(err: unknown): string {
  if (err instanceof LiveRequestError) return err.code === 'status' && err.status !== undefined ? String(err.status) : err.code;
  if (err instanceof Error && err.name === 'TimeoutError') return 'timeout';
  return 'network';
}

function isConflict(err: unknown): boolean {
  return err instanceof LiveRequestError && err.status === 409;
}

// ---------------------------------------------------------------------------
// The HTTP edge: GET through the live stage's client, POST and PUT alike.

const leasesPath = (namespace: string, name?: string) =>
  `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases${name !== undefined ? `/${encodeURIComponent(name)}` : ''}`;

/** Error bodies are Status objects of a few hundred bytes; read no more than this of one. */
const maxBodyBytes = 1024 * 1024;

function parseLease(value: unknown, request: string): Lease {
  const bad = (what: string) => new LiveRequestError('bad-response', request, `the response is not a Lease: ${what}`);
  if (typeof value !== 'object' || value === null) throw bad('not an object');
  const v = value as { apiVersion?: unknown; kind?: unknown; metadata?: unknown; spec?: unknown };
  if (v.kind !== 'Lease') throw bad(`kind is ${JSON.stringify(v.kind ?? null)}`);
  const metadata = v.metadata as { name?: unknown; namespace?: unknown; resourceVersion?: unknown } | undefined;
  if (typeof metadata !== 'object' || metadata === null || typeof metadata.name !== 'string' || typeof metadata.namespace !== 'string') throw bad('metadata.name and metadata.namespace must be strings');
  if (metadata.resourceVersion !== undefined && typeof metadata.resourceVersion !== 'string') throw bad('metadata.resourceVersion must be a string');
  const spec = (v.spec ?? {}) as Record<string, unknown>;
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw bad('spec must be an object');
  for (const key of ['holderIdentity', 'acquireTime', 'renewTime'] as const) if (spec[key] !== undefined && spec[key] !== null && typeof spec[key] !== 'string') throw bad(`spec.${key} must be a string`);
  for (const key of ['leaseDurationSeconds', 'leaseTransitions'] as const) if (spec[key] !== undefined && spec[key] !== null && !Number.isInteger(spec[key])) throw bad(`spec.${key} must be a whole number`);
  // null and absent mean the same to the API server's Go types.
  const cleaned = Object.fromEntries(Object.entries(spec).filter(([, x]) => x !== null));
  const { resourceVersion, ...rest } = metadata;
  const meta: Lease['metadata'] = { ...rest, name: metadata.name, namespace: metadata.namespace, ...(typeof resourceVersion === 'string' ? { resourceVersion } : {}) };
  return { ...value, apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: meta, spec: cleaned };
}

/**
 * The Lease API of the current context of `kubeConfig`. GET goes through
 * the live stage's client (agent/live/http.ts); POST and PUT are sent the
 * same way (node:https with `applyToHTTPSOptions`, so certificates, tokens,
 * exec plugins and rotated token files are honoured per request), because
 * that client only reads. Requests carry the User-Agent of a KubeConfig
 * made by `withUserAgent` (agent/live/http.ts), else `rollgate/<version>`.
 * @throws Error when the kubeconfig has no current cluster.
 */
export function createLeaseClient(kubeConfig: KubeConfig): LeaseClient {
  const reader = createApiClient(kubeConfig);
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const base = cluster.server.replace(/\/+$/, '');

  const write = async (method: 'POST' | 'PUT', path: string, body: Lease, signal: AbortSignal): Promise<Lease> => {
    const url = new URL(base + path);
    const request = `${method} ${sanitizeUrl(url)}`;
    const options: RequestOptions = {};
    try {
      await kubeConfig.applyToHTTPSOptions(options);
    } catch (err) {
      throw new LiveRequestError('network', request, `could not apply the kubeconfig's credentials: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    signal.throwIfAborted();
    const payload = JSON.stringify(body);
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const requestOptions: RequestOptions = {
        ...options,
        method,
        // As the reader's GETs: the KubeConfig's User-Agent (withUserAgent), else rollgate's without an identity.
        headers: { 'User-Agent': agentUserAgent(), ...options.headers, Accept: 'application/json', 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) },
        signal,
      };
      try {
        const req = url.protocol === 'http:' ? httpRequest(url, requestOptions, resolve) : httpsRequest(url, requestOptions, resolve);
        req.on('error', (err) => {
          if (signal.aborted) reject(signal.reason instanceof Error ? signal.reason : new Error('request aborted', { cause: signal.reason }));
          else reject(new LiveRequestError('network', request, err.message, { cause: err }));
        });
        req.end(payload);
      } catch (err) {
        reject(new LiveRequestError('network', request, err instanceof Error ? err.message : String(err), { cause: err }));
      }
    });
    let text = '';
    try {
      res.setEncoding('utf8');
      for await (const chunk of res as AsyncIterable<string>) if (text.length < maxBodyBytes) text += chunk;
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      throw new LiveRequestError('network', request, `response cut short: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    const status = res.statusCode ?? 0;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (status === 200 || status === 201) {
      if (parsed === undefined) throw new LiveRequestError('bad-response', request, `the response is not JSON (${text.length} characters)`);
      return parseLease(parsed, request);
    }
    const statusBody = (parsed ?? {}) as { reason?: unknown; message?: unknown; details?: { retryAfterSeconds?: unknown } };
    const reason = typeof statusBody.reason === 'string' ? statusBody.reason : undefined;
    const message = typeof statusBody.message === 'string' && statusBody.message !== '' ? statusBody.message : (res.statusMessage ?? '');
    const header = Number(res.headers['retry-after']);
    const retryAfterSeconds = Number.isFinite(header) && header >= 0 ? header : typeof statusBody.details?.retryAfterSeconds === 'number' ? statusBody.details.retryAfterSeconds : undefined;
    throw new LiveRequestError('status', request, `${status} ${reason ?? ''}${reason ? ': ' : ''}${message}`.trim(), {
      status,
      ...(reason !== undefined ? { reason } : {}),
      ...(retryAfterSeconds !== undefined ? { retryAfterMs: retryAfterSeconds * 1000 } : {}),
    });
  };

  return {
    server: reader.server,
    async get(namespace, name, signal) {
      const path = leasesPath(namespace, name);
      try {
        return parseLease(await reader.getJson(path, {}, signal), `GET ${reader.server}${path}`);
      } catch (err) {
        if (err instanceof LiveRequestError && err.status === 404) return undefined;
        throw err;
      }
    },
    create: (lease, signal) => write('POST', leasesPath(lease.metadata.namespace), lease, signal),
    update: (lease, signal) => write('PUT', leasesPath(lease.metadata.namespace, lease.metadata.name), lease, signal),
  };
}

// ---------------------------------------------------------------------------
// The elector.

/** An AbortSignal that fires after `ms` on `clock`, or when `parent` does; `cancel` disarms the timer. */
function deadlineSignal(clock: LiveClock, ms: number, parent?: AbortSignal): { signal: AbortSignal; cancel: () => void } {
  const controller = new AbortController();
  const cancelTimer = clock.setTimeout(() => controller.abort(new DOMException(`no answer within ${Math.round(ms)} ms`, 'TimeoutError')), Math.max(0, ms));
  return { signal: parent ? AbortSignal.any([controller.signal, parent]) : controller.signal, cancel: cancelTimer };
}

/** What one attempt came to: whether this elector holds the lease, whether it saw another holder while leading, and the acquire gate's `done`. */
interface Outcome {
  readonly ok: boolean;
  readonly lost?: boolean;
  readonly done?: () => void;
}

/** Options that are not callbacks, validated; throws {@link LeaderElectionError}. */
function validateElectorOptions(options: LeaderElectorOptions, leaseDurationMs: number, renewDeadlineMs: number, retryPeriodMs: number): void {
  const problems = timingProblems(leaseDurationMs, renewDeadlineMs, retryPeriodMs);
  const nameLike = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
  if (typeof options.namespace !== 'string' || !nameLike.test(options.namespace)) problems.push(`namespace: must be a DNS name (lowercase letters, digits, '-', '.'), got ${JSON.stringify(options.namespace)}`);
  if (typeof options.name !== 'string' || !nameLike.test(options.name)) problems.push(`name: must be a DNS name (lowercase letters, digits, '-', '.'), got ${JSON.stringify(options.name)}`);
  if (typeof options.identity !== 'string' || options.identity.trim() === '') problems.push('identity: must be a non-empty string, unique per process');
  if (problems.length > 0) throw new LeaderElectionError('invalid-options', problems);
}

/**
 * Creates a candidate for the Lease `namespace/name`. Nothing happens until
 * `start()`. After a term ends on the renew deadline the elector stays a
 * candidate and may lead again (with a new signal); after `stop()` or
 * `release()` it is done.
 * @throws LeaderElectionError listing every invalid option.
 */
export function createLeaderElector(options: LeaderElectorOptions): LeaderElector {
  const leaseDurationMs = options.leaseDurationMs ?? 15_000;
  const renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
  const retryPeriodMs = options.retryPeriodMs ?? 2_000;
  validateElectorOptions(options, leaseDurationMs, renewDeadlineMs, retryPeriodMs);
  const { api, namespace, name, identity } = options;
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const lease = `${namespace}/${name}`;
  const log = (options.logger ?? pino({ level: 'silent' })).child({ component: 'leader-election', lease, identity });
  const durationSeconds = leaseDurationSeconds(leaseDurationMs);

  /** The record as last seen, and the local time it was first seen in that form. */
  let observed: { record: LeaderRecord; raw: string; at: number } | undefined;
  /** The lease object last read or written: its resourceVersion guards the next PUT. */
  let cached: Lease | undefined;
  /** Local time the lease was first found missing, while it stays missing. */
  let missingSince: number | undefined;
  let term: { controller: AbortController; validUntil: number; cancelDeadline: () => void } | undefined;
  let state: 'new' | 'running' | 'done' = 'new';
  let cancelTimer: (() => void) | undefined;
  let inFlight: Promise<void> | undefined;
  let finished: Promise<void> | undefined;
  const stopController = new AbortController();
  const listeners = new Set<(event: LeaderEvent) => void>();

  const emit = (event: LeaderEvent): void => {
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (err) {
        log.error({ err, event: event.type }, 'leader event listener threw');
      }
    }
  };

  const failed = (operation: LeaseOperation, err: unknown): void => {
    const code = failureCode(err);
    if (code === '409') log.debug({ operation }, 'lease changed under us (409 Conflict)');
    else log.warn({ operation, code, err }, 'lease request failed');
    emit({ type: 'request-failed', lease, operation, code, error: err });
  };

  const observe = (read: Lease, at: number): { record: LeaderRecord; at: number } => {
    cached = read;
    const record = recordOf(read.spec);
    const raw = JSON.stringify(record);
    if (observed && observed.raw === raw) return observed;
    const previousHolder = observed?.record.holderIdentity;
    const seen = { record, raw, at };
    observed = seen;
    if (previousHolder !== record.holderIdentity) {
      log.info({ holder: record.holderIdentity }, record.holderIdentity === '' ? 'lease released' : 'lease holder changed');
      emit({ type: 'new-leader', lease, holder: record.holderIdentity });
      try {
        options.onNewLeader?.(record.holderIdentity);
      } catch (err) {
        log.error({ err }, 'onNewLeader threw');
      }
    }
    return seen;
  };

  /** How long the observed lease has been free at `now`, for the acquire gate. */
  const freeFor = (now: number): number => {
    if (!observed) return missingSince === undefined ? 0 : now - missingSince;
    const { record, at } = observed;
    if (record.holderIdentity === identity) return Infinity;
    if (record.holderIdentity === '') return now - at;
    return Math.max(0, now - (at + record.leaseDurationSeconds * 1000));
  };

  const endTerm = (reason: StopReason): void => {
    const ending = term;
    if (!ending) return;
    term = undefined;
    ending.cancelDeadline();
    // First: whatever runs under this term must stop before anything else happens.
    ending.controller.abort(new Error(`leadership of ${lease} ended: ${reason}`));
    if (reason === 'released' || reason === 'stopped') log.info({ reason }, 'stopped leading');
    else log.warn({ reason }, 'stopped leading');
    emit({ type: 'stopped-leading', lease, identity, reason });
    try {
      options.onStoppedLeading?.(reason);
    } catch (err) {
      log.error({ err }, 'onStoppedLeading threw');
    }
  };

  const armDeadline = (validUntil: number): (() => void) => clock.setTimeout(() => endTerm('renew-deadline'), Math.max(0, validUntil - clock.now()));

  const beginTerm = (sentAt: number): void => {
    const controller = new AbortController();
    const validUntil = sentAt + renewDeadlineMs;
    term = { controller, validUntil, cancelDeadline: armDeadline(validUntil) };
    log.info({ transitions: observed?.record.leaseTransitions }, 'started leading');
    emit({ type: 'started-leading', lease, identity });
    try {
      const result = options.onStartedLeading?.(controller.signal);
      if (result instanceof Promise) result.catch((err: unknown) => log.error({ err }, 'onStartedLeading failed'));
    } catch (err) {
      log.error({ err }, 'onStartedLeading threw');
    }
  };

  const newLease = (record: LeaderRecord): Lease => ({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec: leaseSpecOf(record, undefined) });
  const withRecord = (base: Lease, record: LeaderRecord): Lease => ({ ...base, spec: leaseSpecOf(record, base.spec) });

  /**
   * client-go's `tryAcquireOrRenew`. Resolves with whether this elector
   * holds the lease now, and the acquire gate's `done` if it was consulted.
   */
  const tryAcquireOrRenew = async (signal: AbortSignal, now: number, leading: boolean): Promise<Outcome> => {
    // 1. Fast path: the leader updates the record it wrote last, assuming nobody touched it.
    if (leading && cached && observed && observed.record.holderIdentity === identity && leaseValid(observed.at, observed.record.leaseDurationSeconds, now)) {
      try {
        observe(await api.update(withRecord(cached, nextRecord(observed.record, identity, durationSeconds, now)), signal), clock.now());
        return { ok: true };
      } catch (err) {
        failed('update', err);
        if (signal.aborted) return { ok: false };
        // Fall back to reading the lease, as client-go does.
      }
    }
    // 2. Read; create when missing.
    let read: Lease | undefined;
    try {
      read = await api.get(namespace, name, signal);
    } catch (err) {
      failed('get', err);
      return { ok: false };
    }
    const seenAt = clock.now();
    if (!read) {
      missingSince ??= seenAt;
      observed = undefined;
      cached = undefined;
      const done = options.acquireGate?.(freeFor(seenAt));
      if (options.acquireGate && !done) return { ok: false };
      try {
        observe(await api.create(newLease(nextRecord(undefined, identity, durationSeconds, now)), signal), clock.now());
        missingSince = undefined;
        return { ok: true, ...(done ? { done } : {}) };
      } catch (err) {
        failed('create', err);
        done?.();
        return { ok: false };
      }
    }
    missingSince = undefined;
    const current = observe(read, seenAt);
    // 3. Someone else holds a lease that is valid by our own observation: wait.
    if (current.record.holderIdentity !== '' && current.record.holderIdentity !== identity && leaseValid(current.at, current.record.leaseDurationSeconds, seenAt)) {
      // A leader that reads another holder has lost already: end the term now rather than at the deadline.
      if (leading) return { ok: false, lost: true };
      return { ok: false };
    }
    // 4. Take or renew it, guarded by the resourceVersion just read.
    let done: (() => void) | undefined;
    if (!leading && options.acquireGate) {
      done = options.acquireGate(freeFor(seenAt));
      if (!done) return { ok: false };
    }
    try {
      observe(await api.update(withRecord(read, nextRecord(current.record, identity, durationSeconds, now)), signal), clock.now());
      return { ok: true, ...(done ? { done } : {}) };
    } catch (err) {
      failed('update', err);
      done?.();
      return { ok: false };
    }
  };

  const schedule = (delayMs: number): void => {
    if (state !== 'running') return;
    cancelTimer = clock.setTimeout(() => {
      cancelTimer = undefined;
      inFlight = attempt().finally(() => {
        inFlight = undefined;
      });
    }, delayMs);
  };

  const attempt = async (): Promise<void> => {
    const current = term;
    const sentAt = clock.now();
    // A renewal may not outlive the term it renews; a candidate gives each try one renew deadline.
    const budget = current ? current.validUntil - sentAt : renewDeadlineMs;
    const deadline = deadlineSignal(clock, budget, stopController.signal);
    let outcome: Outcome;
    try {
      outcome = await tryAcquireOrRenew(deadline.signal, sentAt, current !== undefined);
    } catch (err) {
      // tryAcquireOrRenew handles request errors; anything else is a bug worth seeing, not a reason to stop campaigning.
      log.error({ err }, 'leader election attempt failed');
      outcome = { ok: false };
    } finally {
      deadline.cancel();
    }
    try {
      if (state !== 'running') return;
      if (outcome.lost && term === current) endTerm('lost');
      else if (outcome.ok && current) {
        // A renewal counts only for the term it was sent in (the deadline may have ended that term meanwhile).
        if (term === current) {
          current.cancelDeadline();
          current.validUntil = sentAt + renewDeadlineMs;
          current.cancelDeadline = armDeadline(current.validUntil);
          log.debug('renewed lease');
          emit({ type: 'renewed', lease, latencyMs: clock.now() - sentAt });
        }
      } else if (outcome.ok && !term) {
        if (clock.now() < sentAt + renewDeadlineMs) beginTerm(sentAt);
        else log.warn({ tookMs: Math.round(clock.now() - sentAt) }, 'acquired the lease too late to lead; trying again');
      }
    } finally {
      outcome.done?.();
      schedule(term ? retryPeriodMs : acquireRetryDelay(retryPeriodMs, random));
    }
  };

  const finish = async (release: boolean): Promise<void> => {
    const wasRunning = state === 'running';
    state = 'done';
    cancelTimer?.();
    cancelTimer = undefined;
    endTerm(release ? 'released' : 'stopped');
    stopController.abort(new Error('leader elector stopped'));
    await inFlight;
    if (!release || !wasRunning) return;
    // Read afresh: a renewal in flight when we stopped may have moved the resourceVersion.
    for (let attemptNo = 0; attemptNo < 3; attemptNo++) {
      const deadline = deadlineSignal(clock, renewDeadlineMs);
      try {
        const read = await api.get(namespace, name, deadline.signal);
        if (!read || recordOf(read.spec).holderIdentity !== identity) return;
        observe(await api.update(withRecord(read, releasedRecord(recordOf(read.spec), clock.now())), deadline.signal), clock.now());
        log.info('released lease');
        return;
      } catch (err) {
        failed('release', err);
        if (!isConflict(err)) return;
      } finally {
        deadline.cancel();
      }
    }
  };

  return {
    lease,
    identity,
    start() {
      if (state === 'done') throw new Error(`leader elector for ${lease} was stopped; create a new one`);
      if (state === 'running') return;
      state = 'running';
      log.info({ leaseDurationMs, renewDeadlineMs, retryPeriodMs }, 'campaigning for lease');
      schedule(0);
    },
    isLeader: () => term !== undefined && clock.now() < term.validUntil,
    leader: () => observed?.record.holderIdentity,
    signal: () => term?.controller.signal,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stop() {
      finished ??= finish(false);
      return finished;
    },
    release() {
      finished ??= finish(true);
      return finished;
    },
  };
}
