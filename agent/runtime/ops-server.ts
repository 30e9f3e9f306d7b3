/**
 * The agent's operations endpoint on node:http: the probes Kubernetes
 * calls, the Prometheus scrape, and the routes others mount (the webhook
 * receivers).
 *
 * - `/healthz`: liveness. The process answers, its event loop has not been
 *   blocked beyond `maxEventLoopDelayMs` since the previous probe, and the
 *   caller's `health()` holds. A failing liveness probe gets the pod
 *   restarted, so it checks only what a restart can mend.
 * - `/readyz`: readiness: the caller's `ready()` (caches synced, the source
 *   has a revision). 503 with one reason per line until then.
 * - `/metrics`: the registry in Prometheus text format.
 * - any path of `routes`, every method; 404 for the rest.
 *
 * Probe bodies are plain text, as the API server's own `/readyz` is:
 * `ok`, or a first line and one `- reason` line per failing check.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { pino } from 'pino';
import type { Registry } from 'prom-client';
import { scrubText } from './logger.ts';

/** What a health or readiness check says; `reasons` name what is wrong when `ok` is false. */
export interface CheckResult {
  readonly ok: boolean;
  readonly reasons: readonly string[];
}

/** A check; may be async. A check that throws or takes longer than `checkTimeoutMs` fails. */
export type Check = () => CheckResult | Promise<CheckResult>;

/** A handler of an extra route. Errors it throws (or rejects with) become a 500, logged. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** Options of {@link startOpsServer}. */
export interface OpsServerOptions {
  /** Interface to listen on. Default `127.0.0.1`; in a pod, `0.0.0.0` (or `::`) so the kubelet and Prometheus reach it. */
  readonly host?: string;
  /** TCP port; 0 picks a free one (see `OpsServer.port`). */
  readonly port: number;
  /** Served at `/metrics`. */
  readonly registry: Registry;
  /** Liveness beyond the event loop check; default always ok. */
  readonly health?: Check;
  /** Readiness. */
  readonly ready: Check;
  /** Extra routes by exact path (`/webhooks/github`), any method. Must start with `/` and not shadow the three built-in paths. */
  readonly routes?: ReadonlyMap<string, RouteHandler>;
  /** `/healthz` fails when the event loop was blocked longer than this since the previous probe. Milliseconds; default 10000. */
  readonly maxEventLoopDelayMs?: number;
  /** A check slower than this fails. Milliseconds; default 2000 (below the kubelet's probe timeout should be configured above it). */
  readonly checkTimeoutMs?: number;
  /** `close()` waits this long for requests in flight, then cuts their connections. Milliseconds; default 5000. */
  readonly closeGraceMs?: number;
  /** Default silent. */
  readonly logger?: Logger;
}

/** A listening ops server. */
export interface OpsServer {
  /** `http://host:port`, with the port actually bound. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Stops accepting connections, lets requests in flight finish (up to `closeGraceMs`), and resolves when the server is closed. */
  close(): Promise<void>;
}

/** Codes of {@link OpsServerError}. */
export type OpsServerErrorCode = 'invalid-options' | 'listen-failed';

/** The ops server could not start: invalid options, or the port could not be bound. */
export class OpsServerError extends Error {
  readonly code: OpsServerErrorCode;

  constructor(code: OpsServerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OpsServerError';
    this.code = code;
  }
}

const builtinPaths = new Set(['/healthz', '/readyz', '/metrics']);

/** How often the event loop sampler runs; it sees a block once this much late. Milliseconds. */
const lagSampleMs = 100;

/** Runs a check with a timeout; a throw or a timeout is a failed check whose reason says so. */
async function runCheck(name: string, check: Check, timeoutMs: number): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<CheckResult>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, reasons: [`${name} check did not answer within ${timeoutMs} ms`] }), timeoutMs);
    });
    const result = await Promise.race([Promise.resolve().then(check), timeout]);
    // A malformed result (a JavaScript caller's mistake) must not pass as healthy.
    if (typeof result !== 'object' || result === null || typeof result.ok !== 'boolean') return { ok: false, reasons: [`${name} check returned ${JSON.stringify(result)}, not { ok, reasons }`] };
    return { ok: result.ok, reasons: Array.isArray(result.reasons) ? result.reasons.map(String) : [] };
  } catch (err) {
    return { ok: false, reasons: [`${name} check failed: ${err instanceof Error ? err.message : String(err)}`] };
  } finally {
    clearTimeout(timer);
  }
}

function send(res: ServerResponse, req: IncomingMessage, status: number, body: string, contentType = 'text/plain; charset=utf-8', extraHeaders: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', ...extraHeaders });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function probeBody(failure: string, result: CheckResult): string {
  // Reasons may quote errors that carry URLs; the logger's redaction does not reach an HTTP body.
  return result.ok ? 'ok\n' : `${failure}\n${(result.reasons.length > 0 ? result.reasons : ['no reason given']).map((r) => `- ${scrubText(r)}`).join('\n')}\n`;
}

/**
 * Starts the ops server and resolves once it listens.
 * @throws OpsServerError `invalid-options` for a bad port, route or limit; `listen-failed` when the port cannot be bound (in use, no permission).
 */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const host = options.host ?? '127.0.0.1';
  const maxDelayMs = options.maxEventLoopDelayMs ?? 10_000;
  const checkTimeoutMs = options.checkTimeoutMs ?? 2_000;
  const closeGraceMs = options.closeGraceMs ?? 5_000;
  const routes = new Map(options.routes ?? []);
  const problems: string[] = [];
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) problems.push(`port: must be a whole number from 0 to 65535, got ${String(options.port)}`);
  for (const [key, value] of [['maxEventLoopDelayMs', maxDelayMs], ['checkTimeoutMs', checkTimeoutMs], ['closeGraceMs', closeGraceMs]] as const) if (!Number.isFinite(value) || value <= 0) problems.push(`${key}: must be a number above 0, got ${String(value)}`);
  for (const path of routes.keys()) {
    if (!path.startsWith('/')) problems.push(`routes: path ${JSON.stringify(path)} must start with '/'`);
    else if (builtinPaths.has(path)) problems.push(`routes: ${path} is served by the ops server itself`);
  }
  if (problems.length > 0) throw new OpsServerError('invalid-options', `invalid ops server options: ${problems.join('; ')}`);
  const log = (options.logger ?? pino({ level: 'silent' })).child({ component: 'ops-server' });
  const health = options.health ?? (() => ({ ok: true, reasons: [] }));

  // Our own sampler rather than perf_hooks' monitorEventLoopDelay: that histogram drops the first
  // sample after each reset(), so a block just before a probe would go unseen.
  let expected = performance.now() + lagSampleMs;
  let worstLagMs = 0;
  const sampler = setInterval(() => {
    const now = performance.now();
    worstLagMs = Math.max(worstLagMs, now - expected);
    expected = now + lagSampleMs;
  }, lagSampleMs);
  sampler.unref();

  const probe = async (req: IncomingMessage, res: ServerResponse, kind: 'healthz' | 'readyz'): Promise<void> => {
    if (kind === 'readyz') {
      const result = await runCheck('readiness', options.ready, checkTimeoutMs);
      send(res, req, result.ok ? 200 : 503, probeBody('not ready', result));
      return;
    }
    // The worst lateness of the sampler since the last probe, or its lateness now if it is overdue:
    // one long block between two probes is enough to fail.
    const blockedMs = Math.max(worstLagMs, performance.now() - expected);
    worstLagMs = 0;
    const result = await runCheck('health', health, checkTimeoutMs);
    const reasons = [...(blockedMs > maxDelayMs ? [`event loop blocked for ${Math.round(blockedMs)} ms (limit ${maxDelayMs} ms)`] : []), ...(result.ok ? [] : result.reasons)];
    const combined: CheckResult = { ok: result.ok && blockedMs <= maxDelayMs, reasons };
    if (!combined.ok) log.warn({ reasons: combined.reasons }, 'health check failed');
    send(res, req, combined.ok ? 200 : 503, probeBody('unhealthy', combined));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let path: string;
    try {
      path = new URL(req.url ?? '/', 'http://ops.invalid').pathname;
    } catch {
      send(res, req, 400, 'bad request target\n');
      return;
    }
    const route = routes.get(path);
    if (route) {
      await route(req, res);
      return;
    }
    if (!builtinPaths.has(path)) {
      send(res, req, 404, `not found: ${path}\n`);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, req, 405, `method ${req.method ?? ''} not allowed on ${path}\n`, undefined, { Allow: 'GET, HEAD' });
      return;
    }
    if (path === '/healthz') return probe(req, res, 'healthz');
    if (path === '/readyz') return probe(req, res, 'readyz');
    const text = await options.registry.metrics();
    send(res, req, 200, text, options.registry.contentType);
  };

  const inFlight = new Set<ServerResponse>();
  let closing: Promise<void> | undefined;
  const server: Server = createServer((req, res) => {
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
    if (closing) res.shouldKeepAlive = false;
    handle(req, res).catch((err: unknown) => {
      log.error({ err, method: req.method, path: req.url?.split('?')[0] }, 'ops request failed');
      if (!res.headersSent) send(res, req, 500, 'internal error\n');
      else res.destroy();
    });
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    clearInterval(sampler);
    throw new OpsServerError('listen-failed', `the ops server could not listen on ${host}:${options.port}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  server.on('error', (err) => log.error({ err }, 'ops server error'));
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log.info({ url }, 'ops server listening');

  return {
    url,
    host,
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        clearInterval(sampler);
        const cut = setTimeout(() => server.closeAllConnections(), closeGraceMs);
        server.close(() => {
          clearTimeout(cut);
          resolve();
        });
        // Keep-alive connections would hold close() open until they time out: close the idle ones now,
        // and each busy one as soon as its response is done.
        server.closeIdleConnections();
        for (const res of inFlight) {
          if (!res.headersSent) res.shouldKeepAlive = false;
          else res.once('finish', () => setImmediate(() => server.closeIdleConnections()));
        }
      });
      return closing;
    },
  };
}
