/**
 * The server goes away: polls fail with a typed error, the backoff grows
 * and is capped, no request is made before the next attempt is due, the
 * last good revision stays in force, and the source recovers when the
 * server is back. A server that hangs runs into the git deadline.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createGitSource, systemClock } from '../../agent/source/index.ts';
import type { SourceFixture } from './fixture.ts';
import { expectPoll, manualClock, memoryLogger, startSourceFixture } from './fixture.ts';


describe('git source: outages', () => {
  let fx: SourceFixture & { first: string };
  before(async () => {
    fx = await startSourceFixture();
  });
  after(async () => fx.close());

  it('backs off from 1 s doubling to a 5 min cap, keeps the last good revision, and recovers', async () => {
    const clock = manualClock();
    const log = memoryLogger();
    // random() = 0: no jitter taken off, so the delays are exact.
    const source = createGitSource({ url: fx.server.repoUrl(), branch: 'main', workDir: fx.workDir, env: fx.env, clock, random: () => 0, logger: log.logger });
    const first = await source.poll();
    assert.equal(first.type, 'changed');
    const good = source.lastGood();

    await fx.server.stop();
    const delays: number[] = [];
    for (let i = 0; i < 11; i++) {
      const result = expectPoll(await source.poll(), 'failed');
      assert.equal(result.error.code, 'network', result.error.message);
      assert.match(result.error.message, /127\.0\.0\.1/);
      assert.match(result.error.message, /reachable/);
      delays.push(result.retryInMs);
      const state = source.state();
      assert.equal(state.degraded, true);
      assert.equal(state.consecutiveFailures, i + 1);
      assert.equal(state.nextAttemptAt, clock.now() + result.retryInMs);
      assert.equal(state.lastError, result.error);
      assert.deepEqual(source.lastGood(), good, 'the last good revision stays in force');

      // Before the attempt is due, a poll answers from memory and makes no request.
      await fx.server.start();
      fx.server.resetCounts();
      clock.advance(result.retryInMs - 1);
      const early = expectPoll(await source.poll(), 'failed');
      assert.equal(early.error, result.error);
      assert.equal(early.retryInMs, 1);
      assert.equal(fx.server.counts().infoRefs, 0);
      await fx.server.stop();
      clock.advance(1);
    }
    assert.deepEqual(delays, [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000, 300_000]);
    assert.equal(log.lines().filter((l) => l['msg'] === 'source poll failed').length, 11);

    await fx.server.start();
    fx.server.resetCounts();
    const recovered = await source.poll();
    assert.deepEqual(recovered, { type: 'unchanged', commit: fx.first });
    assert.equal(fx.server.counts().fetch, 0);
    const state = source.state();
    assert.equal(state.degraded, false);
    assert.equal(state.consecutiveFailures, 0);
    assert.equal(state.lastError, undefined);
    assert.equal(state.nextAttemptAt, undefined);
  });

  it('a forced poll contacts the server during the backoff', async () => {
    const clock = manualClock();
    const source = createGitSource({ url: fx.server.repoUrl(), branch: 'main', workDir: fx.workDir, env: fx.env, clock });
    await fx.server.stop();
    expectPoll(await source.poll(), 'failed');
    await fx.server.start();
    fx.server.resetCounts();
    const result = await source.poll({ force: true });
    assert.equal(result.type, 'changed');
    assert.equal(fx.server.counts().infoRefs, 1);
  });

  it('a branch that does not exist is a not-found error naming it', async () => {
    const source = createGitSource({ url: fx.server.repoUrl(), branch: 'release/9.9', workDir: fx.workDir, env: fx.env, clock: manualClock() });
    const result = expectPoll(await source.poll(), 'failed');
    assert.equal(result.error.code, 'not-found');
    assert.match(result.error.message, /branch release\/9\.9 does not exist on http:\/\/127\.0\.0\.1:\d+\/repo\.git/);
  });

  it('a repository that does not exist is a not-found error', async () => {
    const source = createGitSource({ url: fx.server.repoUrl('missing.git'), branch: 'main', workDir: fx.workDir, env: fx.env, clock: manualClock() });
    const result = expectPoll(await source.poll(), 'failed');
    assert.equal(result.error.code, 'not-found', result.error.message);
    assert.match(result.error.message, /check the repository URL/);
  });

  it('a server that accepts and never answers runs into the git deadline', async () => {
    fx.server.setHang(true);
    try {
      const source = createGitSource({ url: fx.server.repoUrl(), branch: 'main', workDir: fx.workDir, env: fx.env, clock: systemClock, timeoutMs: 500 });
      const result = expectPoll(await source.poll(), 'failed');
      assert.equal(result.error.code, 'timeout');
      assert.match(result.error.message, /git ls-remote of http:\/\/127\.0\.0\.1:\d+\/repo\.git did not finish within 500 ms/);
    } finally {
      fx.server.setHang(false);
    }
  });
});
