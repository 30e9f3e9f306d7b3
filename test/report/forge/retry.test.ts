/**
 * Rate limits and retries: the pure decisions in tables, then the real
 * octokit client against a fake GitHub that limits and fails.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ForgeError, createGitHubProvider } from '../../../agent/report/forge/index.ts';
import { backoffMs, decideRetry, defaultRetryPolicy, parseRetryAfter, quotaResetMs, type AttemptOutcome } from '../../../agent/report/forge/retry.ts';
import { memoryLogger } from '../../helpers/memory-logger.ts';
import { testClock } from './clock.ts';
import { startFakeForge, type FakeForge } from './fake-forge.ts';
import { addComment, forgeModel, ghPull, github } from './forge-models.ts';

const now = Date.parse('2026-11-20T10:00:00Z');
const response = (status: number, headers: Record<string, string> = {}, body?: string): AttemptOutcome => ({ kind: 'response', status, header: (name) => headers[name] ?? null, ...(body !== undefined ? { body } : {}) });
const half = (): number => 0.5;

describe('retry decisions', () => {
  it('reads Retry-After as seconds or an HTTP date', () => {
    assert.equal(parseRetryAfter('30', now), 30_000);
    assert.equal(parseRetryAfter('1.5', now), 1_500);
    assert.equal(parseRetryAfter(new Date(now + 12_000).toUTCString(), now), 12_000);
    assert.equal(parseRetryAfter(new Date(now - 12_000).toUTCString(), now), 0);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(null, now), undefined);
  });

  it('reads an exhausted quota from GitHub and GitLab headers', () => {
    const h = (headers: Record<string, string>) => (name: string) => headers[name] ?? null;
    assert.equal(quotaResetMs(h({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(now / 1000 + 10) }), now), 11_000);
    assert.equal(quotaResetMs(h({ 'ratelimit-remaining': '0', 'ratelimit-reset': String(now / 1000 + 4) }), now), 5_000);
    assert.equal(quotaResetMs(h({ 'ratelimit-remaining': '0', 'ratelimit-reset': '7' }), now), 8_000, 'small values are delta seconds');
    assert.equal(quotaResetMs(h({ 'x-ratelimit-remaining': '12', 'x-ratelimit-reset': String(now / 1000 + 10) }), now), undefined);
  });

  it('backs off exponentially with jitter in the upper half, capped', () => {
    const policy = { baseMs: 500, maxMs: 4_000 };
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((a) => backoffMs(a, policy, () => 0)), [250, 500, 1_000, 2_000, 2_000, 2_000]);
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((a) => backoffMs(a, policy, () => 0.999999)), [500, 1_000, 2_000, 4_000, 4_000, 4_000]);
  });

  const table: { name: string; outcome: AttemptOutcome; attempt: number; want: ReturnType<typeof decideRetry> }[] = [
    { name: '200 returns', outcome: response(200), attempt: 1, want: { action: 'return' } },
    { name: '404 returns', outcome: response(404), attempt: 1, want: { action: 'return' } },
    { name: 'plain 403 returns (a permission problem)', outcome: response(403, {}, '{"message":"Resource not accessible by integration"}'), attempt: 1, want: { action: 'return' } },
    { name: '429 waits Retry-After', outcome: response(429, { 'retry-after': '2' }), attempt: 1, want: { action: 'retry', delayMs: 2_000, reason: 'rate-limited' } },
    { name: '403 secondary limit waits Retry-After', outcome: response(403, { 'retry-after': '5' }), attempt: 1, want: { action: 'retry', delayMs: 5_000, reason: 'rate-limited' } },
    { name: '403 with an exhausted quota waits for the reset', outcome: response(403, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(now / 1000 + 9) }), attempt: 1, want: { action: 'retry', delayMs: 10_000, reason: 'rate-limited' } },
    { name: '403 secondary limit without headers waits a minute', outcome: response(403, {}, '{"message":"You have exceeded a secondary rate limit"}'), attempt: 1, want: { action: 'retry', delayMs: 60_000, reason: 'rate-limited' } },
    { name: 'a rate limit longer than maxWaitMs fails at once', outcome: response(429, { 'retry-after': '3600' }), attempt: 1, want: { action: 'fail', code: 'rate-limited', retryAfterMs: 3_600_000 } },
    { name: 'the last attempt of a rate limit fails', outcome: response(429, { 'retry-after': '1' }), attempt: 4, want: { action: 'fail', code: 'rate-limited', retryAfterMs: 1_000 } },
    { name: '503 backs off', outcome: response(503), attempt: 1, want: { action: 'retry', delayMs: 375, reason: 'server-error' } },
    { name: '502 on attempt 3 backs off longer', outcome: response(502), attempt: 3, want: { action: 'retry', delayMs: 1_500, reason: 'server-error' } },
    { name: '503 with Retry-After waits that long', outcome: response(503, { 'retry-after': '3' }), attempt: 1, want: { action: 'retry', delayMs: 3_000, reason: 'server-error' } },
    { name: '500 on the last attempt fails', outcome: response(500), attempt: 4, want: { action: 'fail', code: 'unavailable' } },
    { name: 'a network error backs off', outcome: { kind: 'network' }, attempt: 2, want: { action: 'retry', delayMs: 750, reason: 'network' } },
    { name: 'a network error on the last attempt fails', outcome: { kind: 'network' }, attempt: 4, want: { action: 'fail', code: 'unavailable' } },
  ];
  for (const row of table) {
    it(row.name, () => assert.deepEqual(decideRetry(row.outcome, row.attempt, now, half, defaultRetryPolicy), row.want));
  }
});

describe('GitHub client under rate limits and outages', () => {
  const token = 'ghp_retrySecretToken0123456789';
  let fake: FakeForge;
  before(async () => {
    fake = await startFakeForge();
  });
  after(async () => {
    await fake.close();
  });

  function setup() {
    const log = memoryLogger();
    const clock = testClock({ auto: true, start: now });
    const provider = createGitHubProvider({ repository: 'acme/db', auth: { kind: 'token', token }, baseUrl: fake.url, logger: log.logger, clock, random: half });
    return { provider, log, clock };
  }
  const pull = ghPull(7, 'a'.repeat(40));

  it('waits as long as Retry-After says, then succeeds', async () => {
    const { provider, clock, log } = setup();
    fake.expect({ method: 'GET', path: '/repos/acme/db/pulls/7', reply: { status: 429, headers: { 'retry-after': '2' }, json: { message: 'rate limited' } } }, github.getPull(pull));
    assert.equal((await provider.getPullRequest(7)).headSha, 'a'.repeat(40));
    fake.verify();
    assert.deepEqual(clock.delays, [2_000]);
    assert.ok(log.lines().some((l) => l.msg === 'forge request retried' && l['status'] === 429 && l['delayMs'] === 2_000));
  });

  it('waits for the primary quota to reset', async () => {
    const { provider, clock } = setup();
    fake.expect(
      { method: 'GET', path: '/repos/acme/db/pulls/7', reply: { status: 403, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(now / 1000 + 20) }, json: { message: 'API rate limit exceeded' } } },
      github.getPull(pull),
    );
    await provider.getPullRequest(7);
    fake.verify();
    assert.deepEqual(clock.delays, [21_000]);
  });

  it('retries 5xx with backoff, then fails with a stable code after the last attempt', async () => {
    const { provider, clock, log } = setup();
    fake.expect({ method: 'GET', path: '/repos/acme/db/pulls/7', times: 2, reply: { status: 502, json: { message: 'Bad Gateway' } } }, github.getPull(pull));
    await provider.getPullRequest(7);
    fake.verify();
    assert.deepEqual(clock.delays, [375, 750]);

    fake.expect({ method: 'GET', path: '/repos/acme/db/pulls/7', times: 4, reply: { status: 503, json: { message: 'Service Unavailable' } } });
    const err = await provider.getPullRequest(7).then(
      () => assert.fail('expected a ForgeError'),
      (e: unknown) => e,
    );
    fake.verify();
    assert.ok(err instanceof ForgeError);
    assert.equal(err.code, 'unavailable');
    assert.equal(err.status, 503);
    assert.match(err.message, /GET \/repos\/acme\/db\/pulls\/7 answered 503 \(after 4 attempts\)/);
    assert.ok(!log.text().includes(token) && !err.message.includes(token));
  });

  it('fails at once with rate-limited and the wait when the limit outlasts maxWaitMs', async () => {
    const { provider, clock } = setup();
    fake.expect({ method: 'POST', path: '/repos/acme/db/issues/7/comments', reply: { status: 429, headers: { 'retry-after': '900' }, json: { message: 'slow down' } } });
    const err = await provider.reply(7, 'hello').catch((e: unknown) => e);
    fake.verify();
    assert.ok(err instanceof ForgeError);
    assert.equal(err.code, 'rate-limited');
    assert.equal(err.retryAfterMs, 900_000);
    assert.deepEqual(clock.delays, []);
  });

  it('never sends a comment twice: a POST answered 502 fails at once, and the next ensure finds the comment the forge made', async () => {
    const { provider, clock } = setup();
    const m = forgeModel();
    // The forge stores the comment, then its gateway loses the answer.
    fake.expect(github.listComments(m, 7), {
      method: 'POST',
      path: '/repos/acme/db/issues/7/comments',
      reply: (request) => {
        addComment(m, 7, m.self, (request.json() as { body: string }).body);
        return { status: 502, json: { message: 'Bad Gateway' } };
      },
    });
    const err = await provider.ensureComment(7, 'plan', 'the plan').catch((e: unknown) => e);
    fake.verify();
    assert.ok(err instanceof ForgeError);
    assert.equal(err.code, 'unavailable');
    assert.deepEqual(clock.delays, [], 'not retried');

    fake.expect(github.listComments(m, 7));
    assert.equal((await provider.ensureComment(7, 'plan', 'the plan')).action, 'unchanged');
    fake.verify();
    assert.equal(m.comments.get(7)?.length, 1);
  });

  it('retries network errors and fails with unavailable when the forge is gone', async () => {
    const closed = await startFakeForge();
    const url = closed.url;
    await closed.close();
    const log = memoryLogger();
    const clock = testClock({ auto: true, start: now });
    const provider = createGitHubProvider({ repository: 'acme/db', auth: { kind: 'token', token }, baseUrl: url, logger: log.logger, clock, random: half, retry: { maxAttempts: 3 } });
    const err = await provider.listComments(7).catch((e: unknown) => e);
    assert.ok(err instanceof ForgeError);
    assert.equal(err.code, 'unavailable');
    assert.match(err.message, /ECONNREFUSED/);
    assert.deepEqual(clock.delays, [375, 750]);
    assert.ok(!log.text().includes(token));
  });

  it('maps final answers to stable codes without the token', async () => {
    const { provider, log } = setup();
    fake.expect({ method: 'GET', path: '/repos/acme/db/pulls/7', reply: { status: 401, json: { message: 'Bad credentials' } } }, { method: 'GET', path: '/repos/acme/db/pulls/8', reply: { status: 404, json: { message: 'Not Found' } } });
    const unauthorised = await provider.getPullRequest(7).catch((e: unknown) => e);
    const missing = await provider.getPullRequest(8).catch((e: unknown) => e);
    fake.verify();
    assert.ok(unauthorised instanceof ForgeError && missing instanceof ForgeError);
    assert.deepEqual([unauthorised.code, missing.code], ['auth', 'not-found']);
    assert.ok(![unauthorised.message, missing.message, log.text()].some((t) => t.includes(token)));
    fake.expect({ method: 'GET', path: '/repos/acme/db/pulls/9', reply: { json: { number: 9, state: 'open' } } });
    const malformed = await provider.getPullRequest(9).catch((e: unknown) => e);
    fake.verify();
    assert.ok(malformed instanceof ForgeError);
    assert.equal(malformed.code, 'protocol');
    assert.match(malformed.message, /GET \/repos\/acme\/db\/pulls\/9 answered unexpected JSON: "head" is missing/);
  });
});
