/**
 * An HTTP proxy on 127.0.0.1 that records when each request reached it, on
 * which client connection, and (for git's smart HTTP) which protocol v2
 * command an upload-pack request carried, then forwards the request
 * unchanged to a server on loopback and streams the answer back.
 *
 * For benchmarks that need to know when a git client started talking to
 * the server: the git server of test/helpers/git-server.ts counts requests
 * but keeps no times. Every git process opens its own connection (and
 * keeps it alive for its later requests), so the connection number tells
 * an `ls-remote` (one connection, `ls-refs` only) from a `fetch` (one
 * connection with a `fetch` command).
 *
 * Request bodies are read whole before forwarding (git's are small), so
 * each request costs one extra loopback hop and a copy; answers stream.
 */
import { once } from 'node:events';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** One request as the proxy saw it. */
export interface TimedRequest {
  /** When its headers arrived, in ms since the epoch (sub-millisecond, from `now`). */
  readonly at: number;
  /** The client connection it came on, numbered from 1 in order of acceptance. */
  readonly connection: number;
  readonly method: string;
  /** Path and query, as sent. */
  readonly url: string;
  /** The protocol v2 command of an upload-pack POST (`ls-refs`, `fetch`); undefined for anything else. */
  readonly command?: string;
}

/** A running proxy. */
export interface TimedHttpProxy {
  /** `http://127.0.0.1:<port>`: use it in place of the server's URL. */
  readonly url: string;
  /** Every request since the start, in order of arrival. */
  requests(): readonly TimedRequest[];
  /** Stops listening and cuts every open connection. */
  close(): Promise<void>;
}

/** Options of {@link startTimedHttpProxy}. */
export interface TimedHttpProxyOptions {
  /** The clock of {@link TimedRequest.at}, ms since the epoch. Default `performance.timeOrigin + performance.now()`. */
  readonly now?: () => number;
}

/** The v2 command of an upload-pack request body (pkt-lines: `0014command=ls-refs\n`…); git gzips large bodies. */
function uploadPackCommand(body: Buffer, encoding: string | undefined): string | undefined {
  let text = body;
  if (encoding === 'gzip') {
    try {
      text = gunzipSync(body);
    } catch {
      return undefined;
    }
  }
  return /^[0-9a-f]{4}command=([a-z-]+)/.exec(text.subarray(0, 64).toString('latin1'))?.[1];
}

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Starts a proxy on a free port of 127.0.0.1 forwarding every request to
 * `target` (an `http://127.0.0.1:<port>` base URL). An upstream failure is
 * answered 502, so the client sees a failed request as it would without
 * the proxy.
 */
export async function startTimedHttpProxy(target: string, options: TimedHttpProxyOptions = {}): Promise<TimedHttpProxy> {
  const now = options.now ?? ((): number => performance.timeOrigin + performance.now());
  const upstream = new URL(target);
  const seen: TimedRequest[] = [];
  const connections = new WeakMap<Socket, number>();
  let accepted = 0;

  const forward = async (req: IncomingMessage, res: ServerResponse, at: number): Promise<void> => {
    const connection = connections.get(req.socket) ?? 0;
    const method = req.method ?? 'GET';
    const body = method === 'GET' || method === 'HEAD' ? Buffer.alloc(0) : await readAll(req);
    const encoding = req.headers['content-encoding'];
    const command = method === 'POST' && (req.url ?? '').includes('git-upload-pack') ? uploadPackCommand(body, typeof encoding === 'string' ? encoding : undefined) : undefined;
    seen.push({ at, connection, method, url: req.url ?? '', ...(command !== undefined ? { command } : {}) });
    // Hop-by-hop headers stay on the client's connection; upstream, each request has its own (see below).
    const { connection: _connection, 'keep-alive': _keepAlive, 'transfer-encoding': _transferEncoding, ...clientHeaders } = req.headers;
    // The body is sent whole, so its length is known: no chunked framing upstream.
    const headers: Record<string, string | string[] | undefined> = { ...clientHeaders, host: upstream.host };
    if (body.length > 0 || method === 'POST') headers['content-length'] = String(body.length);
    const out = request({ host: upstream.hostname, port: upstream.port, method, path: req.url, headers, agent: false }, (answer) => {
      // Hop-by-hop: the upstream request is one-shot (`agent: false`, so `Connection: close`), but the client's
      // connection must stay as the client asked, or every request of a git process would come on a new one.
      const { connection: _upstreamConnection, 'keep-alive': _upstreamKeepAlive, ...answerHeaders } = answer.headers;
      res.writeHead(answer.statusCode ?? 502, answerHeaders);
      answer.pipe(res);
    });
    out.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`proxy: ${err.message}\n`);
    });
    out.end(body);
  };

  const server = createServer((req, res) => {
    const at = now();
    forward(req, res, at).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`proxy: ${err instanceof Error ? err.message : String(err)}\n`);
    });
  });
  server.on('connection', (socket: Socket) => {
    connections.set(socket, ++accepted);
    // Without it, Nagle's algorithm meets the peer's delayed ACK and small exchanges wait ~40 ms.
    socket.setNoDelay(true);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => [...seen],
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
