/**
 * A bare HTTPS client for kube-sim, for tests that must send what no
 * well-behaved client would: malformed bodies, wrong content types, no token.
 */
import { request } from 'node:https';
import type { Simulation } from '../../sim/simulation.ts';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json<T = Record<string, unknown>>(): T;
}

export interface RawRequest {
  method?: string;
  body?: string | Buffer;
  contentType?: string;
  accept?: string;
  /** Bearer token; defaults to the cluster's; `null` sends none. */
  token?: string | null;
  cluster?: string;
  /** Stop reading a streaming response after this many milliseconds. */
  readForMs?: number;
}

/** Sends one request to `path` (after the cluster prefix) and reads the whole response. */
export function raw(sim: Simulation, path: string, options: RawRequest = {}): Promise<RawResponse> {
  const cluster = sim.cluster(options.cluster);
  const url = new URL(cluster.url + path);
  const token = options.token === undefined ? cluster.token : options.token;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? 'GET',
        ca: sim.api.caPem,
        headers: {
          ...(token !== null ? { Authorization: `Bearer ${token}` } : {}),
          ...(options.contentType ? { 'Content-Type': options.contentType } : {}),
          ...(options.accept ? { Accept: options.accept } : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        const done = () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text,
            json: <T>() => JSON.parse(text) as T,
          });
        res.on('end', done);
        if (options.readForMs !== undefined)
          setTimeout(() => {
            res.removeListener('end', done);
            req.destroy();
            done();
          }, options.readForMs);
      },
    );
    req.on('error', (err) => {
      if (options.readForMs === undefined) reject(err);
    });
    if (options.body !== undefined) req.end(options.body);
    else req.end();
  });
}

/** The watch events in a newline-delimited watch response. */
export function watchEvents(text: string): { type: string; object: Record<string, unknown> }[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as { type: string; object: Record<string, unknown> });
}
