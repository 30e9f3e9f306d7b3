/**
 * The rollout followed in its GitHub pull request: the progress comment and
 * the `rollgate/rollout` status of the merge commit, through success and a
 * halt, and a forge outage that never holds up `report()`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createForgeReporter, createGitHubProvider } from '../../../agent/report/forge/index.ts';
import { memoryLogger } from '../../helpers/memory-logger.ts';
import { eventually } from '../../helpers/sim.ts';
import { testClock } from './clock.ts';
import { startFakeForge, type FakeForge } from './fake-forge.ts';
import { forgeModel, ghPull, github } from './forge-models.ts';
import { mergeSha, transition } from './transitions.ts';

const token = 'ghp_rolloutSecretToken0123456789';
const merged = ghPull(7, 'a'.repeat(40), { mergedAt: '2026-11-20T09:59:00Z', mergeSha });

describe('GitHub rollout reporter', () => {
  let fake: FakeForge;
  before(async () => {
    fake = await startFakeForge();
  });
  after(async () => {
    await fake.close();
  });

  function setup(retry?: { maxAttempts: number }) {
    const log = memoryLogger();
    const clock = testClock();
    const provider = createGitHubProvider({ repository: 'acme/db', auth: { kind: 'token', token }, baseUrl: fake.url, logger: log.logger, clock, ...(retry !== undefined ? { retry } : {}) });
    const reporter = createForgeReporter({ provider, logger: log.logger, clock, random: () => 0.5 });
    return { reporter, log, clock };
  }

  it('follows a rollout to success: one comment, edited as stages pass, status pending then success', async () => {
    const m = forgeModel();
    const { reporter, log } = setup();
    fake.expect(github.commitPulls(mergeSha, [merged]), github.listComments(m, 7, 3), github.createComment(m, 7), github.updateComment(m, 2), github.combinedStatus(m, mergeSha, 3), github.createStatus(m, mergeSha, 3));
    await reporter.report(transition('Progressing', 1));
    await reporter.flush();
    await reporter.report(transition('Waiting', 2, { waitingFor: { gate: 'approval', description: 'a /rollgate approve comment' } }));
    await reporter.flush();
    let body = m.comments.get(7)?.[0]?.body ?? '';
    assert.match(body, /\/rollgate approve prod\/db\/TidbCluster\/basic/);
    assert.match(body, /\| tikv \| v7\.5\.1 → v8\.1\.0 \| 1\/3 \| :hourglass: waiting \|/);
    await reporter.report(transition('Succeeded', 9));
    // The same transition again (a restarted executor) changes nothing.
    await reporter.report(transition('Succeeded', 9));
    assert.deepEqual(await reporter.flush(), { written: 1, failed: 0 });
    fake.verify();
    assert.equal(m.comments.get(7)?.length, 1);
    body = m.comments.get(7)?.[0]?.body ?? '';
    assert.match(body, /^<!-- rollgate:rollout sha256:[0-9a-f]{16} -->\n### rollgate rollout/);
    assert.match(body, /\| tikv \| v7\.5\.1 → v8\.1\.0 \| 3\/3 \| :white_check_mark: done \|/);
    assert.deepEqual((m.statuses.get(mergeSha) ?? []).map((s) => `${s.context}:${s.state}:${s.description}`), [
      'rollgate/rollout:pending:Rolling out: 0/1 target done',
      'rollgate/rollout:pending:Waiting: prod/db/TidbCluster/basic for approval',
      'rollgate/rollout:success:Rolled out: 1 target match Git',
    ]);
    assert.ok(!log.text().includes(token));
  });

  it('reports a halt with its reason and what to do, and a failure status', async () => {
    const m = forgeModel();
    const { reporter } = setup();
    fake.expect(github.commitPulls(mergeSha, [merged]), github.listComments(m, 7), github.createComment(m, 7), github.combinedStatus(m, mergeSha), github.createStatus(m, mergeSha));
    await reporter.report(
      transition('Halted', 4, { error: { code: 'deadline', message: 'tikv did not finish within its progress deadline (10m)' }, message: 'basic-tikv-1 never became Ready: fix the image or revert the commit, then resume' }),
    );
    await reporter.flush();
    fake.verify();
    const body = m.comments.get(7)?.[0]?.body ?? '';
    assert.match(body, /\*\*Halted\*\* \(`deadline`\): tikv did not finish within its progress deadline \(10m\)/);
    assert.match(body, /What to do: basic-tikv-1 never became Ready: fix the image or revert the commit, then resume/);
    assert.deepEqual((m.statuses.get(mergeSha) ?? []).map((s) => [s.state, s.description]), [['failure', 'Halted: prod/db/TidbCluster/basic (deadline)']]);
  });

  it('a refused rollout fails the merge commit', async () => {
    const m = forgeModel();
    const { reporter } = setup();
    fake.expect(github.commitPulls(mergeSha, []), github.combinedStatus(m, mergeSha), github.createStatus(m, mergeSha));
    // No pull request (a direct push): the status is still written, no comment.
    await reporter.report(transition('Refused', 1, { stages: [], error: { code: 'downgrade', message: 'tikv v8.1.0 → v7.5.1 without policy' } }));
    await reporter.flush();
    fake.verify();
    assert.equal(m.statuses.get(mergeSha)?.[0]?.state, 'failure');
  });

  it('does not wait for a forge that is down, keeps the latest state, and catches up on flush', async () => {
    const m = forgeModel();
    const { reporter, clock, log } = setup({ maxAttempts: 1 });
    fake.expect({ method: 'GET', path: /.*/, times: 'any', reply: { status: 503, json: { message: 'Service Unavailable' } } });
    await reporter.report(transition('Progressing', 1));
    assert.equal(reporter.pending(), 1, 'report() returned before anything was written');
    await reporter.report(transition('Progressing', 2));
    assert.deepEqual(await reporter.flush(), { written: 0, failed: 1 });
    await reporter.report(transition('Waiting', 3, { waitingFor: { gate: 'hold', description: 'a /rollgate resume comment' } }));
    assert.deepEqual(await reporter.flush(), { written: 0, failed: 1 });
    assert.equal(clock.pending(), 1, 'a retry is scheduled');
    fake.verify();

    // The forge is back: one comment with the latest state, one status.
    fake.expect(github.commitPulls(mergeSha, [merged]), github.listComments(m, 7), github.createComment(m, 7), github.combinedStatus(m, mergeSha), github.createStatus(m, mergeSha));
    assert.deepEqual(await reporter.flush(), { written: 1, failed: 0 });
    fake.verify();
    assert.equal(reporter.pending(), 0);
    assert.match(m.comments.get(7)?.[0]?.body ?? '', /Comment `\/rollgate resume` to let it go on/);
    assert.equal(m.statuses.get(mergeSha)?.length, 1);
    assert.ok(log.lines().some((l) => l.msg === 'rollout report to the forge failed; kept for retry' && l['code'] === 'unavailable'));
    assert.ok(!log.text().includes(token));
    reporter.close();
  });

  it('retries on its own timer once the forge is back', async () => {
    const m = forgeModel();
    const { reporter, clock } = setup({ maxAttempts: 1 });
    fake.expect({ method: 'GET', path: `/repos/acme/db/commits/${mergeSha}/pulls`, times: 1, reply: { status: 502, json: { message: 'Bad Gateway' } } });
    await reporter.report(transition('Progressing', 1));
    await eventually(() => assert.equal(clock.pending(), 1, 'the failed write schedules a retry'));
    fake.verify();
    fake.expect(github.commitPulls(mergeSha, [merged]), github.listComments(m, 7), github.createComment(m, 7), github.combinedStatus(m, mergeSha), github.createStatus(m, mergeSha));
    clock.advance(300_000);
    // The timer started the write; flush waits for it.
    await reporter.flush();
    fake.verify();
    assert.equal(m.comments.get(7)?.length, 1);
  });
});
