/**
 * The plan of a GitHub pull request, against the real octokit client and a
 * fake GitHub: one sticky comment, created once, edited only when the plan
 * changes, and the `rollgate/plan` status through pending to its outcome.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createGitHubProvider, createPullRequestReviewer, type PlanForResult } from '../../../agent/report/forge/index.ts';
import { memoryLogger } from '../../helpers/memory-logger.ts';
import { testClock } from './clock.ts';
import { startFakeForge, type FakeForge } from './fake-forge.ts';
import { forgeModel, ghPull, github } from './forge-models.ts';

const token = 'ghp_reviewSecretToken0123456789';
const headA = 'a'.repeat(40);
const headB = 'b'.repeat(40);
const headC = 'c'.repeat(40);

const plan = (markdown: string, outcome: PlanForResult['outcome'] = 'success', touchesTargets = true): PlanForResult => ({ touchesTargets, markdown, outcome, description: outcome === 'success' ? 'Plan: 1 target to change, 3 pod restarts' : 'Refused: downgrade of tikv without policy' });

describe('GitHub pull-request review', () => {
  let fake: FakeForge;
  before(async () => {
    fake = await startFakeForge();
  });
  after(async () => {
    await fake.close();
  });

  function setup(plans: Record<string, PlanForResult>) {
    const log = memoryLogger();
    const clock = testClock();
    const provider = createGitHubProvider({ repository: 'acme/db', auth: { kind: 'token', token }, baseUrl: fake.url, logger: log.logger, clock });
    const asked: { sha: string; files: readonly string[] }[] = [];
    const reviewer = createPullRequestReviewer({
      provider,
      logger: log.logger,
      baseBranch: 'main',
      clock,
      planFor: async (sha, files) => {
        asked.push({ sha, files });
        const p = plans[sha];
        if (p === undefined) throw new Error(`no plan for ${sha}`);
        return p;
      },
    });
    return { reviewer, log, asked, clock };
  }

  it('creates the sticky comment once, edits it when the plan changes, leaves it otherwise', async () => {
    const m = forgeModel();
    const plans = { [headA]: plan('### rollgate plan\n\npd v7.5.1 → v8.1.0\n'), [headB]: plan('### rollgate plan\n\npd v7.5.1 → v8.1.0\n'), [headC]: plan('### rollgate plan\n\npd v7.5.1 → v8.2.0\n') };
    const { reviewer, log, asked } = setup(plans);

    // Opened at head A: pending, comment created, success.
    fake.expect(
      github.listPulls([ghPull(7, headA)]),
      github.listFiles(7, ['prod/db.yaml']),
      github.combinedStatus(m, headA, 2),
      github.createStatus(m, headA, 2),
      github.listComments(m, 7),
      github.createComment(m, 7, 1, (body) => assert.match(body, /^<!-- rollgate:plan sha256:[0-9a-f]{16} -->\n### rollgate plan/)),
    );
    assert.deepEqual(await reviewer.refreshAll(), { reviewed: 1, failed: 0 });
    fake.verify();
    assert.deepEqual(asked, [{ sha: headA, files: ['prod/db.yaml'] }]);
    assert.deepEqual((m.statuses.get(headA) ?? []).map((s) => [s.context, s.state]), [['rollgate/plan', 'pending'], ['rollgate/plan', 'success']]);

    // A poll that finds nothing new: only the listing, no comment or status request.
    fake.expect(github.listPulls([ghPull(7, headA)]), github.listFiles(7, ['prod/db.yaml']));
    await reviewer.refreshAll();
    fake.verify();

    // Pushed to (head B) with the same plan: pending and success on B; the reviewer knows the comment already says this.
    fake.expect(github.combinedStatus(m, headB, 2), github.createStatus(m, headB, 2));
    assert.deepEqual(await reviewer.reviewPullRequest({ number: 7, headSha: headB, baseRef: 'main', state: 'open', changedFiles: ['prod/db.yaml'] }), { pr: 7, headSha: headB, state: 'success', comment: 'unchanged' });
    fake.verify();
    // The next poll finds everything current.
    fake.expect(github.listPulls([ghPull(7, headB)]), github.listFiles(7, ['prod/db.yaml']));
    await reviewer.refreshAll();
    fake.verify();

    // Pushed to again (head C) and the plan changes: the same comment is edited once.
    fake.expect(github.combinedStatus(m, headC, 2), github.createStatus(m, headC, 2), github.listComments(m, 7), github.updateComment(m));
    const result = await reviewer.reviewPullRequest({ number: 7, headSha: headC, baseRef: 'main', state: 'open', changedFiles: ['prod/db.yaml'] });
    fake.verify();
    assert.equal(result.comment, 'updated');
    const comments = m.comments.get(7) ?? [];
    assert.equal(comments.length, 1, 'never duplicated');
    assert.match(comments[0]?.body ?? '', /v8\.2\.0/);
    assert.ok(!log.text().includes(token), 'the token never reaches a log line');
  });

  it('a fresh reviewer (after a restart) finds its comment by the marker and leaves it unchanged', async () => {
    const m = forgeModel();
    const markdown = '### rollgate plan\n\ntikv v7.5.1 → v8.1.0\n';
    const first = setup({ [headA]: plan(markdown) });
    fake.expect(github.combinedStatus(m, headA, 2), github.createStatus(m, headA, 2), github.listComments(m, 8), github.createComment(m, 8));
    await first.reviewer.reviewPullRequest({ number: 8, headSha: headA, baseRef: 'main', state: 'open', changedFiles: ['prod/db.yaml'] });
    fake.verify();

    const second = setup({ [headA]: plan(markdown) });
    // The statuses already say pending then success: the pending write is skipped only by memory, so a restarted reviewer writes pending once more.
    fake.expect(github.combinedStatus(m, headA, 2), github.createStatus(m, headA, 2), github.listComments(m, 8));
    const result = await second.reviewer.reviewPullRequest({ number: 8, headSha: headA, baseRef: 'main', state: 'open', changedFiles: ['prod/db.yaml'] });
    fake.verify();
    assert.equal(result.comment, 'unchanged');
    assert.equal((m.comments.get(8) ?? []).length, 1);
  });

  it('a refused downgrade sets the status to failure and shows why in the comment', async () => {
    const m = forgeModel();
    const markdown = '### rollgate plan\n\n- :no_entry: **`prod/db/TidbCluster/basic` refused**: tikv v8.1.0 → v7.5.1 is a downgrade (prod/db.yaml:12:7)\n';
    const { reviewer } = setup({ [headA]: plan(markdown, 'failure') });
    fake.expect(github.combinedStatus(m, headA, 2), github.createStatus(m, headA, 2), github.listComments(m, 9), github.createComment(m, 9));
    const result = await reviewer.reviewPullRequest({ number: 9, headSha: headA, baseRef: 'main', state: 'open', changedFiles: ['prod/db.yaml'] });
    fake.verify();
    assert.equal(result.state, 'failure');
    assert.deepEqual((m.statuses.get(headA) ?? []).map((s) => s.state), ['pending', 'failure']);
    assert.equal(m.statuses.get(headA)?.[1]?.description, 'Refused: downgrade of tikv without policy');
    assert.match(m.comments.get(9)?.[0]?.body ?? '', /prod\/db\.yaml:12:7/);
  });

  it('a pull request that touches no managed target gets a status and no comment; planning errors give an error status', async () => {
    const m = forgeModel();
    const { reviewer } = setup({ [headA]: plan('', 'success', false) });
    fake.expect(github.combinedStatus(m, headA, 2), github.createStatus(m, headA, 2));
    assert.equal((await reviewer.reviewPullRequest({ number: 10, headSha: headA, baseRef: 'main', state: 'open', changedFiles: ['README.md'] })).comment, 'none');
    fake.verify();
    assert.equal(m.comments.get(10), undefined);

    fake.expect(github.combinedStatus(m, headB, 2), github.createStatus(m, headB, 2));
    const failed = await reviewer.reviewPullRequest({ number: 10, headSha: headB, baseRef: 'main', state: 'open', changedFiles: ['README.md'] });
    fake.verify();
    assert.equal(failed.state, 'error');
    assert.deepEqual((m.statuses.get(headB) ?? []).map((s) => s.state), ['pending', 'error']);
  });

  it('reviews the pull request of a webhook event, and ignores other base branches', async () => {
    const m = forgeModel();
    const { reviewer, asked } = setup({ [headA]: plan('### rollgate plan\n\nx\n') });
    assert.equal(await reviewer.handleEvent({ type: 'pull_request', forge: 'github', deliveryId: 'd1', repository: 'acme/db', number: 11, action: 'opened', headSha: headA, baseRef: 'release' }), undefined);
    fake.expect(github.listFiles(11, ['prod/db.yaml', 'staging/db.yaml']), github.combinedStatus(m, headA, 2), github.createStatus(m, headA, 2), github.listComments(m, 11), github.createComment(m, 11));
    const result = await reviewer.handleEvent({ type: 'pull_request', forge: 'github', deliveryId: 'd2', repository: 'acme/db', number: 11, action: 'opened', headSha: headA, baseRef: 'main' });
    fake.verify();
    assert.equal(result?.comment, 'created');
    assert.deepEqual(asked[0]?.files, ['prod/db.yaml', 'staging/db.yaml']);
  });
});
