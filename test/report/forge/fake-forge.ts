/**
 * A local HTTP server that answers like a forge's REST API for exactly the
 * requests a test expects (STYLE.md §14, after Renovate's httpMock): any
 * other request is answered 501 and recorded, and `verify()` fails the test
 * on it, and on any expected request that was not made.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request the server received. */
export interface RecordedRequest {
  readonly method: string;
  /** Path without the query, as sent (percent-encoding kept). */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The body parsed as JSON. */
  json(): unknown;
}

/** An answer. */
export interface Reply {
  /** Default 200. */
  readonly status?: number;
  readonly json?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** One expected request. */
export interface Expectation {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  /** Exact path (percent-encoding as sent) or a pattern. */
  readonly path: string | RegExp;
  /** Query parameters the request must carry (others are allowed). */
  readonly query?: Readonly<Record<string, string>>;
  /** How many such requests are expected: a number (default 1) must all arrive; `any` allows none or many. */
  readonly times?: number | 'any';
  readonly reply: Reply | ((request: RecordedRequest) => Reply);
}

interface Entry {
  readonly expectation: Expectation;
  used: number;
}

/** The fake forge server. */
export interface FakeForge {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** Adds expectations; each request takes the first matching one that is not used up. */
  expect(...expectations: Expectation[]): void;
  /** Every request received, in order. */
  readonly requests: RecordedRequest[];
  /** Requests received matching `method` and `path`. */
  count(method: string, path: string | RegExp): number;
  /** Fails when a request was unexpected or an expected one was not made; then forgets all expectations and requests. */
  verify(): void;
  close(): Promise<void>;
}

const matches = (path: string | RegExp, actual: string): boolean => (typeof path === 'string' ? path === actual : path.test(actual));

/** Starts a fake forge on 127.0.0.1, on a free port. */
export async function startFakeForge(): Promise<FakeForge> {
  const entries: Entry[] = [];
  const requests: RecordedRequest[] = [];
  const unexpected: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const body = Buffer.concat(chunks).toString('utf8');
      const recorded: RecordedRequest = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body, json: () => JSON.parse(body) as unknown };
      requests.push(recorded);
      const entry = entries.find(
        (e) =>
          e.expectation.method === recorded.method &&
          matches(e.expectation.path, recorded.path) &&
          Object.entries(e.expectation.query ?? {}).every(([k, v]) => recorded.query.get(k) === v) &&
          (e.expectation.times === 'any' || e.used < (e.expectation.times ?? 1)),
      );
      if (entry === undefined) {
        unexpected.push(`${recorded.method} ${req.url ?? ''}${body !== '' ? ` ${body.slice(0, 200)}` : ''}`);
        res.writeHead(501, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'unexpected request' }));
        return;
      }
      entry.used++;
      let reply: Reply;
      try {
        reply = typeof entry.expectation.reply === 'function' ? entry.expectation.reply(recorded) : entry.expectation.reply;
      } catch (err) {
        unexpected.push(`${recorded.method} ${req.url ?? ''}: the test's reply threw ${err instanceof Error ? err.message : String(err)}`);
        res.writeHead(500).end();
        return;
      }
      const payload = reply.json === undefined ? '' : JSON.stringify(reply.json);
      res.writeHead(reply.status ?? 200, { ...(reply.json !== undefined ? { 'content-type': 'application/json; charset=utf-8' } : {}), ...reply.headers }).end(payload);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    expect: (...expectations) => void entries.push(...expectations.map((expectation) => ({ expectation, used: 0 }))),
    requests,
    count: (method, path) => requests.filter((r) => r.method === method && matches(path, r.path)).length,
    verify() {
      const missing = entries.filter((e) => e.expectation.times !== 'any' && e.used < (e.expectation.times ?? 1)).map((e) => `${e.expectation.method} ${String(e.expectation.path)} (${e.used}/${String(e.expectation.times ?? 1)})`);
      const problems = { unexpected: [...unexpected], missing };
      entries.length = 0;
      requests.length = 0;
      unexpected.length = 0;
      assert.deepEqual(problems, { unexpected: [], missing: [] });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
