/**
 * The thin HTTP edge of the live cache: GET requests to one cluster's API
 * server with the TLS settings and credentials of a client-node KubeConfig.
 *
 * Why not client-node's `Watch` and `KubernetesObjectApi.list`: `list`
 * turns known kinds into model classes with `Date` timestamps while `Watch`
 * hands over raw JSON, so a relist and a watch event would disagree about
 * the same object; `Watch` also aborts any stream quiet for 30 s on its own
 * timer (real API servers send bookmarks about once a minute). With
 * `KubeConfig.applyToHTTPSOptions` (CA, client certificate, bearer token,
 * exec and OIDC plugins, proxy agent) both requests are plain `node:https`
 * GETs whose bodies are the API server's JSON, and every timer is ours.
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import { request as httpRequest } from 'node:http';
import type { RequestOptions } from 'node:https';
import { request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';
import { createConfiguration, KubeConfig, ServerConfiguration, setHeaderMiddleware, type ApiConstructor, type ApiType } from '@kubernetes/client-node';
import { LiveRequestError, sanitizeUrl } from './errors.ts';

// ---------------------------------------------------------------------------
// The User-Agent: who sent a request, as the API server's audit log and
// kube-sim's request observer see it.

/** Longest identity kept in a User-Agent; a pod name is at most 253 characters, a random suffix adds a few. */
const maxIdentityLength = 300;

let packageVersion: string | undefined;

/** rollgate's version from its package.json, read once on first use (never at import); `unknown` when unreadable. */
export function rollgateVersion(): string {
  if (packageVersion !== undefined) return packageVersion;
  try {
    const parsed = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    packageVersion = typeof parsed.version === 'string' && /^[\x21-\x7e]+$/.test(parsed.version) ? parsed.version : 'unknown';
  } catch {
    // A stripped install without package.json still talks to the API server; only the version is lost.
    packageVersion = 'unknown';
  }
  return packageVersion;
}

/**
 * The User-Agent rollgate sends to API servers: `rollgate/<version>`, or
 * `rollgate/<version> (<identity>)` with the replica's leader-election
 * identity, so that an audit log (and a test) tells which replica wrote.
 * client-go's default is alike (`<binary>/<version> (<os>/<arch>) …`).
 *
 * The identity comes from configuration or `POD_NAME`, so it is made safe
 * for an HTTP header and a product comment (RFC 9110 §5.6.5): characters
 * outside printable ASCII and `(`, `)`, `\` become `_`, whitespace runs
 * become one space, and it is cut to 300 characters. An identity empty
 * after trimming gives the form without a comment.
 * @param identity the replica's identity; undefined or blank for none.
 * @param version default {@link rollgateVersion}.
 */
export function agentUserAgent(identity?: string, version: string = rollgateVersion()): string {
  const comment = (identity ?? '')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[^\x20-\x7e]|[()\\]/gu, '_')
    .slice(0, maxIdentityLength);
  return comment === '' ? `rollgate/${version}` : `rollgate/${version} (${comment})`;
}

/**
 * A KubeConfig whose every client sends one User-Agent, as client-go's
 * `rest.Config.UserAgent` does: set once where the configuration is made,
 * honoured by every client built from it, so no module that makes a client
 * needs to know the agent's identity.
 *
 * - `applyToHTTPSOptions` adds the header; the node:https clients
 *   (agent/live/http.ts, the Lease client) send it.
 * - `makeApiClient` builds client-node's API classes as client-node does,
 *   with this User-Agent instead of `kubernetes-client-javascript/<v>`
 *   (client-node sets its own in a middleware that runs after
 *   authentication, so overriding headers there would not stick).
 */
class UserAgentKubeConfig extends KubeConfig {
  readonly userAgent: string;
  private readonly pools = new Map<string, NonNullable<ReturnType<Parameters<KubeConfig['applySecurityAuthentication']>[0]['getDispatcher']>>>();

  constructor(userAgent: string) {
    super();
    this.userAgent = userAgent;
  }

  // Typed as node:https options: client-node also accepts `ws` options here, whose types it does not ship, and both carry `headers`.
  override async applyToHTTPSOptions(options: RequestOptions): Promise<void> {
    await super.applyToHTTPSOptions(options);
    options.headers = { ...options.headers, 'User-Agent': this.userAgent };
  }

  /**
   * client-node 2.x builds a new connection pool for every request, so every write opened a new TLS connection
   * and a busy agent held thousands of sockets. Requests made with this kubeconfig share one pool per cluster
   * and user instead, with keep-alive, as client-go does.
   */
  override async applySecurityAuthentication(context: Parameters<KubeConfig['applySecurityAuthentication']>[0]): Promise<void> {
    await super.applySecurityAuthentication(context);
    const created = context.getDispatcher();
    if (created === undefined) return;
    const key = `${this.getCurrentCluster()?.name ?? ''}\u0000${this.getCurrentUser()?.name ?? ''}`;
    const shared = this.pools.get(key);
    if (shared === undefined) {
      this.pools.set(key, created);
      return;
    }
    context.setDispatcher(shared);
    // The pool just made has opened no connection yet; closing it frees it at once.
    void created.close().catch(() => undefined);
  }

  override makeApiClient<T extends ApiType>(apiClientType: ApiConstructor<T>): T {
    const cluster = this.getCurrentCluster();
    if (!cluster) throw new Error(`the kubeconfig has no current cluster (current context: ${JSON.stringify(this.getCurrentContext() ?? null)})`);
    // client-node's own makeApiClient (config.js), with our header.
    return new apiClientType(createConfiguration({ baseServer: new ServerConfiguration(cluster.server, {}), authMethods: { default: this }, middleware: [setHeaderMiddleware('User-Agent', this.userAgent)] }));
  }
}

/**
 * A copy of `kubeConfig` (same clusters, users, contexts and current
 * context; the objects are shared, not cloned) whose clients send
 * `userAgent`; see {@link agentUserAgent}. Wrapping again replaces the
 * User-Agent. Custom authenticators added with `addAuthenticator` are not
 * carried over (rollgate adds none).
 */
export function withUserAgent(kubeConfig: KubeConfig, userAgent: string): KubeConfig {
  const copy = new UserAgentKubeConfig(userAgent);
  copy.loadFromOptions({ clusters: kubeConfig.clusters, users: kubeConfig.users, contexts: kubeConfig.contexts, currentContext: kubeConfig.currentContext });
  return copy;
}

/** The User-Agent a KubeConfig made by {@link withUserAgent} carries; undefined for any other. */
export function userAgentOf(kubeConfig: KubeConfig): string | undefined {
  return kubeConfig instanceof UserAgentKubeConfig ? kubeConfig.userAgent : undefined;
}

/** GET requests against one API server. */
export interface ApiClient {
  /** The server URL, sanitised, for messages. */
  readonly server: string;
  /** GETs a path and parses its JSON body; throws LiveRequestError. */
  getJson(path: string, query: Readonly<Record<string, string>>, signal: AbortSignal): Promise<unknown>;
  /** GETs a path and resolves with the 200 response still streaming (utf-8); throws LiveRequestError. */
  openStream(path: string, query: Readonly<Record<string, string>>, signal: AbortSignal): Promise<{ response: IncomingMessage; request: string }>;
}

/** Error bodies are Status objects of a few hundred bytes; read no more than this of one. */
const maxErrorBodyBytes = 64 * 1024;

/** Reads a non-200 response into a LiveRequestError with the Status reason and message. */
async function statusError(request: string, res: IncomingMessage): Promise<LiveRequestError> {
  let text = '';
  try {
    res.setEncoding('utf8');
    for await (const chunk of res as AsyncIterable<string>) {
      if (text.length < maxErrorBodyBytes) text += chunk;
    }
  } catch {
    // The status line is enough to act on; a body cut short only loses the message.
  }
  const status = res.statusCode ?? 0;
  let reason: string | undefined;
  let message = res.statusMessage ?? '';
  let retryAfterSeconds: number | undefined;
  try {
    const body = JSON.parse(text) as { reason?: unknown; message?: unknown; details?: { retryAfterSeconds?: unknown } };
    if (typeof body.reason === 'string') reason = body.reason;
    if (typeof body.message === 'string' && body.message !== '') message = body.message;
    if (typeof body.details?.retryAfterSeconds === 'number') retryAfterSeconds = body.details.retryAfterSeconds;
  } catch {
    // Not a Status object (a proxy's HTML page): keep the status line.
  }
  const header = Number(res.headers['retry-after']);
  if (Number.isFinite(header) && header >= 0) retryAfterSeconds = header;
  return new LiveRequestError('status', request, `${status} ${reason ?? ''}${reason ? ': ' : ''}${message}`.trim(), {
    status,
    ...(reason !== undefined ? { reason } : {}),
    ...(retryAfterSeconds !== undefined ? { retryAfterMs: retryAfterSeconds * 1000 } : {}),
  });
}

/**
 * A client for the current context of `kubeConfig`. Credentials are
 * applied per request, so exec plugins and rotated token files are honoured.
 * @throws Error when the kubeconfig has no current cluster.
 */
export function createApiClient(kubeConfig: KubeConfig): ApiClient {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error(`the kubeconfig has no current cluster (current context: ${JSON.stringify(kubeConfig.getCurrentContext() ?? null)})`);
  const base = cluster.server.replace(/\/+$/, '');
  const server = sanitizeUrl(base).replace(/\/+$/, '');

  const send = async (path: string, query: Readonly<Record<string, string>>, signal: AbortSignal, accept: string): Promise<{ response: IncomingMessage; request: string }> => {
    const url = new URL(base + path);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const request = `GET ${sanitizeUrl(url)}`;
    const options: RequestOptions = {};
    try {
      await kubeConfig.applyToHTTPSOptions(options);
    } catch (err) {
      throw new LiveRequestError('network', request, `could not apply the kubeconfig's credentials: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    signal.throwIfAborted();
    return new Promise((resolve, reject) => {
      let req: ClientRequest;
      // A KubeConfig from withUserAgent has set the User-Agent already; any other gets rollgate's without an identity.
      const requestOptions: RequestOptions = { ...options, method: 'GET', headers: { 'User-Agent': agentUserAgent(), ...options.headers, Accept: accept }, signal };
      const onResponse = (res: IncomingMessage): void => {
        if (res.statusCode === 200) {
          res.setEncoding('utf8');
          resolve({ response: res, request });
          return;
        }
        statusError(request, res).then(reject, reject);
      };
      try {
        req = url.protocol === 'http:' ? httpRequest(url, requestOptions, onResponse) : httpsRequest(url, requestOptions, onResponse);
      } catch (err) {
        reject(new LiveRequestError('network', request, err instanceof Error ? err.message : String(err), { cause: err }));
        return;
      }
      req.on('error', (err) => {
        if (signal.aborted) reject(signal.reason instanceof Error ? signal.reason : new Error('request aborted', { cause: signal.reason }));
        else reject(new LiveRequestError('network', request, err.message, { cause: err }));
      });
      // A half-open connection (a node gone, a NAT entry dropped) is found by TCP keepalive, not by waiting forever.
      req.on('socket', (socket) => socket.setKeepAlive(true, 30_000));
      req.end();
    });
  };

  return {
    server,
    async getJson(path, query, signal) {
      const { response, request } = await send(path, query, signal, 'application/json');
      let text = '';
      try {
        for await (const chunk of response as AsyncIterable<string>) text += chunk;
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        throw new LiveRequestError('network', request, `response cut short: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new LiveRequestError('bad-response', request, `the response is not JSON (${text.length} characters)`);
      }
    },
    openStream: (path, query, signal) => send(path, query, signal, 'application/json'),
  };
}
