/**
 * The ops server over real HTTP on loopback: probes and their status
 * codes, the Prometheus scrape, mounted routes, 404/405, failing and slow
 * checks, a blocked event loop, bad options, a busy port, and a graceful
 * close that lets a request in flight finish.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { eventually } from '../helpers/sim.ts';
import { memoryLogger } from '../helpers/memory-logger.ts';
import { createMetrics } from '../../agent/runtime/metrics.ts';
import type { CheckResult, OpsServerOptions, RouteHandler } from '../../agent/runtime/ops-server.ts';
import { OpsServerError, startOpsServer } from '../../agent/runtime/ops-server.ts';

const get = async (url: string, init: RequestInit = {}) => {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  return { status: res.status, type: res.headers.get('content-type') ?? '', allow: res.headers.get('allow'), body: await res.text() };
};

describe('ops server', () => {
  it('answers probes, metrics and routes with the right codes', async () => {
    const metrics = createMetrics();
    metrics.countGitPoll('changed');
    let ready: CheckResult = { ok: false, reasons: ['live cache of cluster prod not synced', 'source has no revision yet (last error: https://***@git.example/fleet.git unreachable)'] };
    let healthy: CheckResult = { ok: true, reasons: [] };
    const received: string[] = [];
    const routes = new Map<string, RouteHandler>([
      [
        '/webhooks/github',
        async (req, res) => {
          let body = '';
          for await (const chunk of req) body += String(chunk);
          received.push(`${req.method ?? ''} ${body}`);
          res.writeHead(202).end('accepted\n');
        },
      ],
      [
        '/webhooks/broken',
        () => {
          throw new Error('handler bug');
        },
      ],
    ]);
    const log = memoryLogger();
    const server = await startOpsServer({ port: 0, registry: metrics.registry, ready: () => ready, health: async () => healthy, routes, logger: log.logger });
    try {
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.ok(server.port > 0);

      assert.deepEqual(await get(`${server.url}/healthz`), { status: 200, type: 'text/plain; charset=utf-8', allow: null, body: 'ok\n' });
      const notReady = await get(`${server.url}/readyz`);
      assert.equal(notReady.status, 503);
      assert.equal(notReady.body, 'not ready\n- live cache of cluster prod not synced\n- source has no revision yet (last error: https://***@git.example/fleet.git unreachable)\n');
      ready = { ok: true, reasons: [] };
      assert.deepEqual(await get(`${server.url}/readyz?verbose`), { status: 200, type: 'text/plain; charset=utf-8', allow: null, body: 'ok\n' });

      healthy = { ok: false, reasons: ['reconcile loop stuck for 600 s'] };
      assert.deepEqual(await get(`${server.url}/healthz`), { status: 503, type: 'text/plain; charset=utf-8', allow: null, body: 'unhealthy\n- reconcile loop stuck for 600 s\n' });
      healthy = { ok: true, reasons: [] };

      const scrape = await get(`${server.url}/metrics`);
      assert.equal(scrape.status, 200);
      assert.equal(scrape.type, metrics.registry.contentType);
      assert.match(scrape.body, /^rollgate_git_polls_total\{result="changed"\} 1$/m);
      assert.match(scrape.body, /^process_cpu_seconds_total /m);

      const head = await get(`${server.url}/healthz`, { method: 'HEAD' });
      assert.deepEqual([head.status, head.body], [200, '']);
      assert.deepEqual(await get(`${server.url}/metrics`, { method: 'POST', body: 'x' }), { status: 405, type: 'text/plain; charset=utf-8', allow: 'GET, HEAD', body: 'method POST not allowed on /metrics\n' });
      assert.deepEqual(await get(`${server.url}/nothing-here`), { status: 404, type: 'text/plain; charset=utf-8', allow: null, body: 'not found: /nothing-here\n' });

      const hook = await get(`${server.url}/webhooks/github?x=1`, { method: 'POST', body: '{"ref":"refs/heads/main"}' });
      assert.deepEqual([hook.status, hook.body], [202, 'accepted\n']);
      assert.deepEqual(received, ['POST {"ref":"refs/heads/main"}']);
      const broken = await get(`${server.url}/webhooks/broken`, { method: 'POST' });
      assert.deepEqual([broken.status, broken.body], [500, 'internal error\n']);
      assert.ok(log.lines().some((l) => l.msg === 'ops request failed' && l['path'] === '/webhooks/broken'));
    } finally {
      await server.close();
    }
    await assert.rejects(fetch(`${server.url}/healthz`), 'closed');
  });

  it('fails checks that throw, hang, or return nonsense', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    let ready: () => CheckResult | Promise<CheckResult> = () => {
      throw new Error('cache exploded at https://user:hunter22@git.example/x.git');
    };
    const server = await startOpsServer({ port: 0, registry: metrics.registry, ready: () => ready(), checkTimeoutMs: 100 });
    try {
      const thrown = await get(`${server.url}/readyz`);
      assert.equal(thrown.status, 503);
      assert.equal(thrown.body, 'not ready\n- readiness check failed: cache exploded at https://***@git.example/x.git\n', 'credentials never reach the body');
      ready = () => new Promise<CheckResult>(() => undefined);
      assert.deepEqual(await get(`${server.url}/readyz`), { status: 503, type: 'text/plain; charset=utf-8', allow: null, body: 'not ready\n- readiness check did not answer within 100 ms\n' });
      ready = () => undefined as unknown as CheckResult;
      assert.equal((await get(`${server.url}/readyz`)).status, 503);
      ready = () => ({ ok: false, reasons: [] });
      assert.equal((await get(`${server.url}/readyz`)).body, 'not ready\n- no reason given\n');
    } finally {
      await server.close();
    }
  });

  it('reports a blocked event loop on /healthz, then recovers', async () => {
    const server = await startOpsServer({ port: 0, registry: createMetrics({ defaultMetrics: false }).registry, ready: () => ({ ok: true, reasons: [] }), maxEventLoopDelayMs: 250 });
    try {
      // Block the loop well past the limit. The monitor records a delay when its timer next runs (and not
      // before its first tick), so a probe may come before the block shows: block again until one shows it.
      const blocked = await eventually(async () => {
        const until = performance.now() + 600;
        while (performance.now() < until) {
          // busy
        }
        const r = await get(`${server.url}/healthz`);
        assert.equal(r.status, 503);
        return r;
      });
      assert.match(blocked.body, /^unhealthy\n- event loop blocked for \d+ ms \(limit 250 ms\)\n$/);
      await eventually(async () => assert.equal((await get(`${server.url}/healthz`)).status, 200));
    } finally {
      await server.close();
    }
  });

  it('rejects bad options and a busy port', async () => {
    const registry = createMetrics({ defaultMetrics: false }).registry;
    const base: OpsServerOptions = { port: 0, registry, ready: () => ({ ok: true, reasons: [] }) };
    await assert.rejects(
      startOpsServer({ ...base, port: 70000, routes: new Map([['/metrics', () => undefined], ['hooks', () => undefined]]), checkTimeoutMs: 0 }),
      (err: unknown) =>
        err instanceof OpsServerError &&
        err.code === 'invalid-options' &&
        err.message === "invalid ops server options: port: must be a whole number from 0 to 65535, got 70000; checkTimeoutMs: must be a number above 0, got 0; routes: /metrics is served by the ops server itself; routes: path \"hooks\" must start with '/'",
    );
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      await assert.rejects(startOpsServer({ ...base, port }), (err: unknown) => err instanceof OpsServerError && err.code === 'listen-failed' && err.message.includes(`127.0.0.1:${port}`) && /EADDRINUSE/.test(err.message));
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('close() lets a request in flight finish', async () => {
    let release: (() => void) | undefined;
    const entered = Promise.withResolvers<void>();
    const routes = new Map<string, RouteHandler>([
      [
        '/slow',
        async (_req, res) => {
          entered.resolve();
          await new Promise<void>((resolve) => (release = resolve));
          res.writeHead(200).end('done\n');
        },
      ],
    ]);
    const server = await startOpsServer({ port: 0, registry: createMetrics({ defaultMetrics: false }).registry, ready: () => ({ ok: true, reasons: [] }), routes });
    const response = get(`${server.url}/slow`);
    await entered.promise;
    let closed = false;
    const closing = server.close().then(() => (closed = true));
    await assert.rejects(fetch(`${server.url}/healthz`), 'no new connections while closing');
    assert.equal(closed, false, 'still waiting for /slow');
    release?.();
    assert.deepEqual(await response, { status: 200, type: '', allow: null, body: 'done\n' });
    await closing;
    assert.equal(closed, true);
  });
});
