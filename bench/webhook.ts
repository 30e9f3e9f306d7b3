/**
 * The webhook receiver under load: signed GitHub push deliveries (the
 * documented payload shape, about 3 KB, each with its own delivery id and
 * head commit) posted over keep-alive loopback connections to a node:http
 * server mounting the receiver, logging at info level to /dev/null as in
 * production. Prints the answer latency one delivery at a time and under
 * 32 concurrent senders, the deliveries per second, and the time from
 * sending a delivery to its callback running. Client and server share one
 * process, so the figures include the client's own cost.
 *
 * Run: `node bench/webhook.ts [deliveries]` (default 20,000).
 */
import { readFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import pino from 'pino';
import { createWebhookReceiver, signGitHubBody } from '../agent/webhook/index.ts';
import { median, percentile, printFigures } from './support/report.ts';

const total = Number(process.argv[2] ?? '20000');
const sequentialCount = Math.min(2_000, total);
const senders = 32;
const secret = 'bench-webhook-secret';

const template = JSON.parse(readFileSync(new URL('../test/webhook/fixtures/github/push.json', import.meta.url), 'utf8')) as Record<string, unknown>;

interface Delivery {
  readonly id: string;
  readonly body: string;
  readonly signature: string;
}

/** Deliveries made and signed before any timing starts, so the figures are the receiver's (and the client's sending), not the payload's making. */
function makeDeliveries(prefix: string, count: number): Delivery[] {
  const out: Delivery[] = [];
  for (let i = 0; i < count; i++) {
    const after = (i.toString(16) + prefix.length.toString(16)).padStart(40, '0').slice(-40);
    const body = JSON.stringify({ ...template, after, head_commit: { ...(template.head_commit as object), id: after } });
    out.push({ id: `${prefix}-${i}`, body, signature: signGitHubBody(secret, body) });
  }
  return out;
}

const sentAt = new Map<string, number>();
const callbackDelays: number[] = [];
let callbacks = 0;
const receiver = createWebhookReceiver({
  github: { secret },
  logger: pino({ level: 'info' }, pino.destination({ dest: '/dev/null', sync: true })),
  dedupeWindow: 10_000,
  onEvent: (event) => {
    callbacks++;
    const start = sentAt.get(event.deliveryId);
    if (start !== undefined) callbackDelays.push(performance.now() - start);
  },
});
const server = createServer((req, res) => receiver.github(req, res));
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const address = server.address();
if (address === null || typeof address === 'string') throw new Error('no port');
const port = address.port;
const agent = new Agent({ keepAlive: true, maxSockets: senders });

function deliver(d: Delivery): Promise<{ ms: number; status: number }> {
  const start = performance.now();
  sentAt.set(d.id, start);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/webhooks/github',
        method: 'POST',
        agent,
        headers: {
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(d.body),
          'User-Agent': 'GitHub-Hookshot/044aadd',
          'X-GitHub-Event': 'push',
          'X-GitHub-Delivery': d.id,
          'X-Hub-Signature-256': d.signature,
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ ms: performance.now() - start, status: res.statusCode ?? 0 }));
      },
    );
    req.on('error', reject);
    req.end(d.body);
  });
}

async function run(deliveries: readonly Delivery[], parallel: number): Promise<{ latencies: number[]; seconds: number; unexpected: number }> {
  const latencies: number[] = [];
  let unexpected = 0;
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      for (;;) {
        const d = deliveries[next++];
        if (d === undefined) return;
        const r = await deliver(d);
        latencies.push(r.ms);
        if (r.status !== 202) unexpected++;
      }
    }),
  );
  return { latencies, seconds: (performance.now() - start) / 1000, unexpected };
}

await run(makeDeliveries('warmup', 500), 8);
await receiver.idle();
callbackDelays.length = 0;

const sequential = await run(makeDeliveries('seq', sequentialCount), 1);
await receiver.idle();
const sequentialCallback = [...callbackDelays];
callbackDelays.length = 0;

const loadDeliveries = makeDeliveries('load', total);
const load = await run(loadDeliveries, senders);
await receiver.idle();
const loadCallback = [...callbackDelays];

// Every one of them again: the forge redelivering ids still in the window, answered 200 without a callback.
const replayed = loadDeliveries.slice(-Math.min(5_000, total));
const before = callbacks;
const replay = await run(replayed, senders);
const replayCallbacks = callbacks - before;

agent.destroy();
await receiver.close();
server.close();

const problems = sequential.unexpected + load.unexpected;
if (problems > 0) process.stdout.write(`\n${problems} deliveries were not answered 202\n`);
if (replayCallbacks > 0) process.stdout.write(`\n${replayCallbacks} replayed deliveries reached the callback\n`);

printFigures(`webhook receiver, signed GitHub push deliveries (${total} under load)`, [
  { name: 'answer latency, one at a time (p50)', value: median(sequential.latencies), unit: 'ms' },
  { name: 'answer latency, one at a time (p95)', value: percentile(sequential.latencies, 95), unit: 'ms', aim: { value: 10, better: 'lower' } },
  { name: `deliveries per second, ${senders} senders`, value: total / load.seconds, unit: '/s', aim: { value: 1_000, better: 'higher' } },
  { name: `answer latency, ${senders} senders (p50)`, value: median(load.latencies), unit: 'ms' },
  { name: `answer latency, ${senders} senders (p95)`, value: percentile(load.latencies, 95), unit: 'ms', aim: { value: 50, better: 'lower' } },
  { name: 'send to callback, one at a time (p50)', value: median(sequentialCallback), unit: 'ms' },
  { name: 'send to callback, one at a time (p95)', value: percentile(sequentialCallback, 95), unit: 'ms' },
  { name: `send to callback, ${senders} senders (p95)`, value: percentile(loadCallback, 95), unit: 'ms' },
  { name: `replayed deliveries per second (200, no callback)`, value: replayed.length / replay.seconds, unit: '/s' },
]);
process.exit(problems > 0 || replayCallbacks > 0 ? 1 : 0);
