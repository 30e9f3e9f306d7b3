/**
 * A small stateful GitHub for the forge scenario: it answers the REST calls
 * rollgate's GitHub adapter makes (the pull request of a merge commit, issue
 * comments, commit statuses, open pull requests) from memory, and it can be
 * taken down (every request answered 503) for a while. Unlike the strict
 * fake of test/report/forge/, it lets the agent make whatever calls it
 * needs and records the ones it does not know, because the campaign counts
 * outcomes (duplicated comments, a comment that never caught up) rather
 * than asserting each request.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One stored issue comment. */
export interface StoredComment {
  readonly id: number;
  body: string;
  readonly createdAt: string;
}

/** The fake forge. */
export interface ChaosForge {
  /** `http://127.0.0.1:PORT`: the adapter's `baseUrl`. */
  readonly url: string;
  /** Makes `sha` the merge commit of pull request `pr` (merged into main). */
  merged(pr: number, sha: string): void;
  /** While down, every request is answered 503. */
  setDown(down: boolean): void;
  /** Comments of a pull request, oldest first. */
  comments(pr: number): readonly StoredComment[];
  /** The latest state of `context` on `sha`. */
  status(sha: string, context: string): string | undefined;
  /** Requests answered 503 while down, and requests the fake does not know (method and path). */
  readonly refused: { count: number };
  readonly unknown: string[];
  close(): Promise<void>;
}

const json = (res: ServerResponse, status: number, body: unknown): void => {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) }).end(text);
};

/** A request field that should be a string; anything else reads as `fallback`. */
const text = (value: unknown, fallback = ''): string => (typeof value === 'string' ? value : fallback);

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? {} : (JSON.parse(text) as unknown);
}

/** Starts the fake GitHub for repository `acme/deploy` on a free loopback port. */
export async function startChaosForge(): Promise<ChaosForge> {
  const base = '/repos/acme/deploy';
  const pulls = new Map<number, string>();
  const comments = new Map<number, StoredComment[]>();
  const statuses = new Map<string, Map<string, { state: string; description: string }>>();
  const unknown: string[] = [];
  const refused = { count: 0 };
  let nextId = 1000;
  let down = false;
  const pull = (n: number, sha: string): unknown => ({ number: n, state: 'closed', merged: true, merged_at: '2026-01-01T00:00:00Z', merge_commit_sha: sha, head: { sha: `head${n}`, ref: `change-${n}` }, base: { ref: 'main' }, user: { login: 'dev' } });
  const commentJson = (c: StoredComment): unknown => ({ id: c.id, body: c.body, user: { login: 'rollgate[bot]' }, created_at: c.createdAt, updated_at: c.createdAt });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://forge');
    const method = req.method ?? 'GET';
    const body = method === 'GET' ? {} : await readBody(req);
    if (down) {
      refused.count++;
      return json(res, 503, { message: 'Service Unavailable' });
    }
    const path = url.pathname.replace(/^\/api\/v3/, '');
    let m: RegExpExecArray | null;
    if (method === 'GET' && (m = new RegExp(`^${base}/commits/([0-9a-f]+)/pulls$`).exec(path))) {
      return json(res, 200, [...pulls].filter(([, sha]) => sha === m?.[1]).map(([n, sha]) => pull(n, sha)));
    }
    if (method === 'GET' && path === `${base}/pulls`) return json(res, 200, []);
    if (method === 'GET' && (m = new RegExp(`^${base}/pulls/(\\d+)$`).exec(path))) {
      const sha = pulls.get(Number(m[1]));
      return sha === undefined ? json(res, 404, { message: 'Not Found' }) : json(res, 200, pull(Number(m[1]), sha));
    }
    if (method === 'GET' && (m = new RegExp(`^${base}/issues/(\\d+)/comments$`).exec(path))) return json(res, 200, (comments.get(Number(m[1])) ?? []).map(commentJson));
    if (method === 'POST' && (m = new RegExp(`^${base}/issues/(\\d+)/comments$`).exec(path))) {
      const list = comments.get(Number(m[1])) ?? [];
      const created: StoredComment = { id: nextId++, body: text((body as { body?: unknown }).body), createdAt: new Date().toISOString() };
      list.push(created);
      comments.set(Number(m[1]), list);
      return json(res, 201, commentJson(created));
    }
    if (method === 'PATCH' && (m = new RegExp(`^${base}/issues/comments/(\\d+)$`).exec(path))) {
      const found = [...comments.values()].flat().find((c) => c.id === Number(m?.[1]));
      if (found === undefined) return json(res, 404, { message: 'Not Found' });
      found.body = text((body as { body?: unknown }).body);
      return json(res, 200, commentJson(found));
    }
    if (method === 'GET' && (m = new RegExp(`^${base}/commits/([0-9a-f]+)/status$`).exec(path))) {
      const of = statuses.get(m[1] ?? '') ?? new Map<string, { state: string; description: string }>();
      return json(res, 200, { state: 'pending', statuses: [...of].map(([context, s]) => ({ context, state: s.state, description: s.description })) });
    }
    if (method === 'POST' && (m = new RegExp(`^${base}/statuses/([0-9a-f]+)$`).exec(path))) {
      const b = body as { state?: unknown; context?: unknown; description?: unknown };
      const of = statuses.get(m[1] ?? '') ?? new Map<string, { state: string; description: string }>();
      of.set(text(b.context, 'default'), { state: text(b.state), description: text(b.description) });
      statuses.set(m[1] ?? '', of);
      return json(res, 201, { state: b.state, context: b.context });
    }
    unknown.push(`${method} ${path}`);
    return json(res, 404, { message: 'Not Found' });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => json(res, 500, { message: err instanceof Error ? err.message : String(err) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    merged: (pr, sha) => void pulls.set(pr, sha),
    setDown: (value) => void (down = value),
    comments: (pr) => comments.get(pr) ?? [],
    status: (sha, context) => statuses.get(sha)?.get(context)?.state,
    refused,
    unknown,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Comments beyond the first that carry the same rollgate marker key, per pull request: duplicates. */
export function duplicatedComments(list: readonly StoredComment[]): number {
  const keys = list.map((c) => /<!-- rollgate:([a-z][a-z0-9-]*(?::[A-Za-z0-9_-]+)?)/.exec(c.body)?.[1]).filter((k) => k !== undefined);
  return keys.length - new Set(keys).size;
}
