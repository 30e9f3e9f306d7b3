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
import type { KubeConfig } from '@kubernetes/client-node';
import { LiveRequestError, sanitizeUrl } from './errors.ts';

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
      const requestOptions: RequestOptions = { ...options, method: 'GET', headers: { ...options.headers, Accept: accept }, signal };
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
