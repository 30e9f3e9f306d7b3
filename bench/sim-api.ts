/**
 * kube-sim's API server under load: with 10,000 pods held, the latency of
 * a full list over HTTPS, the watch fan-out to 20 watchers (events per
 * second delivered), and the server's resident memory. The server runs in
 * its own process so its memory is measured alone.
 *
 * Run: `node bench/sim-api.ts [pods]`
 */
import { spawn } from 'node:child_process';
import { request } from 'node:https';
import { createInterface } from 'node:readline';
import { startSimulation } from '../sim/simulation.ts';
import { median, printFigures } from './support/report.ts';

const pods = Number(process.argv[2] ?? '10000');

// How long a test waits for its own in-process simulation (TLS certificate included).
const startTimes: number[] = [];
for (let i = 0; i < 7; i++) {
  const t0 = performance.now();
  const s = await startSimulation({ clusters: ['a', 'b'] });
  startTimes.push(performance.now() - t0);
  await s.close();
}
const watchers = 20;
const child = spawn(process.execPath, ['--expose-gc', new URL('./support/sim-process.ts', import.meta.url).pathname, String(pods)], { stdio: ['pipe', 'pipe', 'inherit'] });
const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
const next = async <T>(): Promise<T> => JSON.parse(String((await lines.next()).value)) as T;
const send = (line: string) => child.stdin.write(`${line}\n`);

const { url, token, ca } = await next<{ url: string; token: string; ca: string }>();

function get(path: string, onData?: (chunk: Buffer) => void): Promise<{ ms: number; bytes: number }> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(new URL(url + path), { ca, headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' } }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        onData?.(chunk);
      });
      res.on('end', () => resolve({ ms: performance.now() - start, bytes }));
    });
    req.on('error', reject);
    req.end();
  });
}

send('rss');
const { rss: rssIdle } = await next<{ rss: number }>();

// Full list of every pod, as an informer's initial list does.
await get('/api/v1/pods');
const listTimes: number[] = [];
let listBytes = 0;
for (let i = 0; i < 7; i++) {
  const r = await get('/api/v1/pods');
  listTimes.push(r.ms);
  listBytes = r.bytes;
}
const selectorTimes: number[] = [];
for (let i = 0; i < 7; i++) selectorTimes.push((await get('/api/v1/pods?labelSelector=app%3Dapp-7')).ms);

// Watch fan-out: 20 watchers from the current revision, then every pod modified once.
const rvBody = await new Promise<string>((resolve) => {
  const req = request(new URL(`${url}/api/v1/pods?limit=1`), { ca, headers: { Authorization: `Bearer ${token}` } }, (res) => {
    let text = '';
    res.on('data', (c: Buffer) => (text += c.toString()));
    res.on('end', () => resolve(text));
  });
  req.end();
});
const rv = (JSON.parse(rvBody) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
let delivered = 0;
let resolveAll: () => void = () => {};
const allDelivered = new Promise<void>((r) => (resolveAll = r));
for (let w = 0; w < watchers; w++) {
  void get(`/api/v1/pods?watch=1&resourceVersion=${rv}`, (chunk) => {
    for (const byte of chunk) if (byte === 0x0a) delivered++;
    if (delivered >= watchers * pods) resolveAll();
  }).catch(() => undefined);
}
await new Promise((r) => setTimeout(r, 300));
const fanStart = performance.now();
send('touch');
await next();
await allDelivered;
const fanSeconds = (performance.now() - fanStart) / 1000;

send('rss');
const { rss, heapUsed } = await next<{ rss: number; heapUsed: number }>();
send('exit');
child.stdin.end();
child.kill();

printFigures(`kube-sim API server with ${pods} pods`, [
  { name: 'in-process start, two clusters (median of 7)', value: median(startTimes), unit: 'ms' },
  { name: 'list all pods (median of 7)', value: median(listTimes), unit: 'ms', aim: { value: 100, better: 'lower' } },
  { name: 'list response size', value: listBytes / 2 ** 20, unit: 'MiB' },
  { name: 'list with a label selector (median of 7)', value: median(selectorTimes), unit: 'ms' },
  { name: `watch fan-out to ${watchers} watchers`, value: (watchers * pods) / fanSeconds, unit: 'events/s' },
  { name: 'server resident memory, pods loaded', value: rssIdle / 2 ** 20, unit: 'MiB', aim: { value: 500, better: 'lower' } },
  { name: 'server resident memory, after the fan-out', value: rss / 2 ** 20, unit: 'MiB', aim: { value: 500, better: 'lower' } },
  { name: 'server heap in use, after the fan-out', value: heapUsed / 2 ** 20, unit: 'MiB' },
]);
process.exit(0);
