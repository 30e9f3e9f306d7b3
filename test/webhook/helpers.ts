/**
 * A webhook receiver behind a real node:http server on 127.0.0.1:0, with
 * the events it passed on and its logs recorded, plus senders that sign or
 * token deliveries the way GitHub and GitLab do.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { createWebhookReceiver, signGitHubBody, type ForgeEvent, type WebhookReceiver, type WebhookReceiverOptions } from '../../agent/webhook/index.ts';
import { memoryLogger } from '../helpers/memory-logger.ts';

/** The secrets the fixture's receiver is configured with; tests assert they never reach a log. */
export const GITHUB_SECRET = 'gh-webhook-secret-7f3a9c1e';
export const GITLAB_TOKEN = 'gl-webhook-token-52be0d84';

export interface ReceiverFixture {
  /** `http://127.0.0.1:<port>`; GitHub deliveries go to `/github`, GitLab's to `/gitlab`. */
  readonly base: string;
  readonly port: number;
  readonly receiver: WebhookReceiver;
  /** Events passed to the default `onEvent`, in order. */
  readonly events: ForgeEvent[];
  readonly logs: ReturnType<typeof memoryLogger>;
  /** The connection of each request that carried an `X-Test-Id` header, to read its `bytesRead` after it closes. */
  readonly socketOf: Map<string, Socket>;
  close(): Promise<void>;
}

/** Starts a receiver (GitHub and GitLab enabled with the secrets above unless overridden) behind a loopback server. */
export async function startReceiver(overrides: Partial<WebhookReceiverOptions> = {}): Promise<ReceiverFixture> {
  const logs = memoryLogger();
  const events: ForgeEvent[] = [];
  const receiver = createWebhookReceiver({
    github: { secret: GITHUB_SECRET },
    gitlab: { token: GITLAB_TOKEN },
    logger: logs.logger,
    onEvent: (event) => {
      events.push(event);
    },
    ...overrides,
  });
  const socketOf = new Map<string, Socket>();
  const server: Server = createServer((req, res) => {
    const testId = req.headers['x-test-id'];
    if (typeof testId === 'string') socketOf.set(testId, req.socket);
    if (req.url === '/github') return receiver.github(req, res);
    if (req.url === '/gitlab') return receiver.gitlab(req, res);
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('server has no port');
  return {
    base: `http://127.0.0.1:${address.port}`,
    port: address.port,
    receiver,
    events,
    logs,
    socketOf,
    async close() {
      await receiver.idle();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A fixture payload under test/webhook/fixtures, parsed afresh each time so a test may change it. */
export function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), 'utf8')) as Record<string, unknown>;
}

/** Sets (or, with `undefined`, deletes) a field at a dotted path of a parsed payload. */
export function setField(payload: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const keys = path.split('.');
  const last = keys.pop() ?? '';
  let node = payload;
  for (const key of keys) node = node[key] as Record<string, unknown>;
  if (value === undefined) delete node[last];
  else node[last] = value;
  return payload;
}

export interface GitHubDelivery {
  readonly event: string;
  readonly body: Record<string, unknown> | string | Buffer;
  /** Default: a fresh id per call. */
  readonly deliveryId?: string | null;
  /** Default: the correct signature; `null` sends none; a string is sent as is. */
  readonly signature?: string | null;
  /** Default `GITHUB_SECRET`. */
  readonly secret?: string;
  readonly headers?: Record<string, string>;
}

let counter = 0;
/** A unique delivery id for this test process. */
export function newDeliveryId(prefix = 'delivery'): string {
  counter++;
  return `${prefix}-${process.pid}-${counter}`;
}

/** Posts a delivery as GitHub does: JSON body, `X-GitHub-Event`, `X-GitHub-Delivery`, `X-Hub-Signature-256`. */
export function postGitHub(base: string, delivery: GitHubDelivery): Promise<Response> {
  const body = typeof delivery.body === 'string' || Buffer.isBuffer(delivery.body) ? delivery.body : JSON.stringify(delivery.body);
  const headers: Record<string, string> = { 'Content-Type': 'application/json', 'User-Agent': 'GitHub-Hookshot/044aadd', 'X-GitHub-Event': delivery.event };
  const deliveryId = delivery.deliveryId === undefined ? newDeliveryId() : delivery.deliveryId;
  if (deliveryId !== null) headers['X-GitHub-Delivery'] = deliveryId;
  const signature = delivery.signature === undefined ? signGitHubBody(delivery.secret ?? GITHUB_SECRET, body) : delivery.signature;
  if (signature !== null) headers['X-Hub-Signature-256'] = signature;
  return fetch(`${base}/github`, { method: 'POST', headers: { ...headers, ...delivery.headers }, body });
}

export interface GitLabDelivery {
  readonly event: string;
  readonly body: Record<string, unknown> | string;
  /** Default: a fresh id per call; `null` sends none. */
  readonly eventUuid?: string | null;
  readonly idempotencyKey?: string;
  /** Default `GITLAB_TOKEN`; `null` sends none. */
  readonly token?: string | null;
  readonly headers?: Record<string, string>;
}

/** Posts a delivery as GitLab does: JSON body, `X-Gitlab-Event`, `X-Gitlab-Token`, `X-Gitlab-Event-UUID` (and `Idempotency-Key` when given). */
export function postGitLab(base: string, delivery: GitLabDelivery): Promise<Response> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json', 'User-Agent': 'GitLab/17.6.0', 'X-Gitlab-Event': delivery.event };
  const uuid = delivery.eventUuid === undefined ? newDeliveryId('uuid') : delivery.eventUuid;
  if (uuid !== null) headers['X-Gitlab-Event-UUID'] = uuid;
  if (delivery.idempotencyKey !== undefined) headers['Idempotency-Key'] = delivery.idempotencyKey;
  const token = delivery.token === undefined ? GITLAB_TOKEN : delivery.token;
  if (token !== null) headers['X-Gitlab-Token'] = token;
  const body = typeof delivery.body === 'string' ? delivery.body : JSON.stringify(delivery.body);
  return fetch(`${base}/gitlab`, { method: 'POST', headers: { ...headers, ...delivery.headers }, body });
}

/**
 * Sends raw bytes on a fresh connection and collects everything the
 * server writes until it closes the connection: for requests whose body
 * is declared but never sent, where fetch would wait for the body first.
 */
export function rawExchange(port: number, request: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text }));
    // A guard against a hang, not a timing assertion: a server that waits for the withheld body never answers.
    socket.setTimeout(10_000, () => {
      socket.destroy();
      reject(new Error(`no answer and no close within 10 s; the server is waiting for the body (got ${JSON.stringify(text.slice(0, 200))})`));
    });
    socket.write(request);
  });
}

/** A body stream of `total` bytes in 64 KiB chunks, counting what the client actually pulled from it. */
export function countingStream(total: number, fill = 0x20): { stream: ReadableStream<Uint8Array>; pulled: () => number } {
  let pulled = 0;
  const chunk = new Uint8Array(64 * 1024).fill(fill);
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled >= total) {
        controller.close();
        return;
      }
      const next = chunk.subarray(0, Math.min(chunk.length, total - pulled));
      pulled += next.length;
      controller.enqueue(next);
    },
  });
  return { stream, pulled: () => pulled };
}
