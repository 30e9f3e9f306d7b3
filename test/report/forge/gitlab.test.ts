/**
 * The GitLab adapter through @gitbeaker/rest against a fake GitLab: plan
 * notes and `rollgate/plan` statuses on a merge request, the rollout note
 * and `rollgate/rollout` status after the merge, approvals by members, and
 * rate limits, with GitLab's own status states.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createCommentApprovals, createForgeReporter, createGitLabProvider, createPullRequestReviewer, gitlabState, type PlanForResult } from '../../../agent/report/forge/index.ts';
import { memoryLogger } from '../../helpers/memory-logger.ts';
import { testClock } from './clock.ts';
import { startFakeForge, type FakeForge, type RecordedRequest } from './fake-forge.ts';
import { addComment, forgeModel, gitlab, glMergeRequest } from './forge-models.ts';
import { mergeSha, transition } from './transitions.ts';

const token = 'glpat-gitlabSecretToken0123456789';
const headA = 'a'.repeat(40);
const headB = 'b'.repeat(40);
const target = 'prod/db/TidbCluster/basic';
const merged = glMergeRequest(7, headA, { state: 'merged', mergeSha, mergedAt: '2026-11-20T09:59:00Z' });

describe('GitLab', () => {
  let fake: FakeForge;
  before(async () => {
    fake = await startFakeForge();
  });
  after(async () => {
    await fake.close();
  });

  function provider(options: { auto?: boolean } = {}) {
    const log = memoryLogger();
    const clock = testClock({ auto: options.auto ?? false });
    return { log, clock, provider: createGitLabProvider({ project: 'acme/db', token, host: fake.url, logger: log.logger, clock, random: () => 0.5 }) };
  }

  it('maps neutral states onto GitLab states', () => {
    assert.deepEqual((['pending', 'success', 'failure', 'error'] as const).map(gitlabState), ['running', 'success', 'failed', 'failed']);
  });

  it('reviews a merge request: one note, edited only when the plan changes; statuses running then success or failed', async () => {
    const m = forgeModel();
    m.comments.set(7, [{ id: 1, body: 'added 1 commit', author: 'dev', createdAt: m.now, system: true }]);
    const { provider: p, log, clock } = provider();
    const plans: Record<string, PlanForResult> = {
      [headA]: { touchesTargets: true, markdown: '### rollgate plan\n\npd v7.5.1 → v8.1.0\n', outcome: 'success', description: 'Plan: 1 target to change' },
      [headB]: { touchesTargets: true, markdown: '### rollgate plan\n\nprod/db.yaml:4:3: unknown field "spec.tikv.replica"\n', outcome: 'failure', description: 'Invalid manifests: 1 error' },
    };
    const reviewer = createPullRequestReviewer({ provider: p, logger: log.logger, baseBranch: 'main', clock, planFor: async (sha) => plans[sha] ?? assert.fail(sha) });
    const tokenHeader = (check: (r: RecordedRequest) => void) => (r: RecordedRequest) => {
      assert.equal(r.headers['private-token'], token);
      check(r);
    };

    const listing = { ...gitlab.listMergeRequests([glMergeRequest(7, headA)]), reply: (r: RecordedRequest) => (tokenHeader(() => undefined)(r), { json: [glMergeRequest(7, headA)] }) };
    fake.expect(listing, gitlab.diffs(7, ['prod/db.yaml']), gitlab.listStatuses(m, headA, 2), gitlab.postStatus(m, headA, 2), gitlab.listNotes(m, 7), gitlab.createNote(m, 7));
    assert.deepEqual(await reviewer.refreshAll(), { reviewed: 1, failed: 0 });
    fake.verify();
    assert.deepEqual((m.statuses.get(headA) ?? []).map((s) => `${s.context}:${s.state}`), ['rollgate/plan:running', 'rollgate/plan:success']);
    assert.equal(m.comments.get(7)?.length, 2);

    // Nothing new: only the listing.
    fake.expect(gitlab.listMergeRequests([glMergeRequest(7, headA)]), gitlab.diffs(7, ['prod/db.yaml']));
    await reviewer.refreshAll();
    fake.verify();

    // Head B with invalid manifests: the note is edited (in place), the status fails.
    fake.expect(gitlab.listStatuses(m, headB, 2), gitlab.postStatus(m, headB, 2), gitlab.listNotes(m, 7), gitlab.editNote(m, 7));
    const result = await reviewer.reviewPullRequest({ number: 7, headSha: headB, baseRef: 'main', state: 'open', changedFiles: ['prod/db.yaml'] });
    fake.verify();
    assert.deepEqual([result.state, result.comment], ['failure', 'updated']);
    assert.equal(m.comments.get(7)?.length, 2);
    assert.match(m.comments.get(7)?.[1]?.body ?? '', /^<!-- rollgate:plan sha256:[0-9a-f]{16} -->\n### rollgate plan\n\nprod\/db\.yaml:4:3/);
    assert.deepEqual((m.statuses.get(headB) ?? []).map((s) => s.state), ['running', 'failed']);
    assert.ok(!log.text().includes(token));
  });

  it('follows the rollout in the merge request: running while in progress (written once), success at the end, failed on a halt', async () => {
    const m = forgeModel();
    const { provider: p, log, clock } = provider();
    const reporter = createForgeReporter({ provider: p, logger: log.logger, clock, random: () => 0.5 });
    fake.expect(gitlab.commitMergeRequests(mergeSha, [merged]), gitlab.listNotes(m, 7, 3), gitlab.createNote(m, 7), gitlab.editNote(m, 7, 2), gitlab.listStatuses(m, mergeSha, 3), gitlab.postStatus(m, mergeSha, 2));
    await reporter.report(transition('Progressing', 1));
    await reporter.flush();
    // Still running with a new description: GitLab cannot take the same state again, so the status is left, the note is edited.
    await reporter.report(transition('Waiting', 2, { waitingFor: { gate: 'approval', description: 'a /rollgate approve comment' } }));
    await reporter.flush();
    await reporter.report(transition('Succeeded', 5));
    await reporter.flush();
    fake.verify();
    assert.deepEqual((m.statuses.get(mergeSha) ?? []).map((s) => `${s.context}:${s.state}`), ['rollgate/rollout:running', 'rollgate/rollout:success']);
    assert.equal(m.comments.get(7)?.length, 1);
    assert.match(m.comments.get(7)?.[0]?.body ?? '', /\| tikv \| v7\.5\.1 → v8\.1\.0 \| 3\/3 \| :white_check_mark: done \|/);

    const halted = 'd'.repeat(40);
    fake.expect(gitlab.commitMergeRequests(halted, [glMergeRequest(8, headB, { state: 'merged', mergeSha: halted })]), gitlab.listNotes(m, 8), gitlab.createNote(m, 8), gitlab.listStatuses(m, halted), gitlab.postStatus(m, halted));
    await reporter.report(transition('Halted', 3, { source: halted, error: { code: 'pod-failed', message: 'basic-tikv-2 is in CrashLoopBackOff' }, message: 'fix the image and resume' }));
    await reporter.flush();
    fake.verify();
    assert.deepEqual((m.statuses.get(halted) ?? []).map((s) => s.state), ['failed']);
    assert.match(m.comments.get(8)?.[0]?.body ?? '', /basic-tikv-2 is in CrashLoopBackOff/);
  });

  it('accepts approvals from Developers and above, refuses others with a reply, and caches their access', async () => {
    const m = forgeModel();
    const { provider: p, log, clock } = provider();
    const approvals = createCommentApprovals({ provider: p, logger: log.logger, clock });
    const byReporter = addComment(m, 7, 'rita', '/rollgate approve');
    fake.expect(gitlab.listNotes(m, 7), gitlab.members('rita', 20), gitlab.createNote(m, 7, 1, (body) => assert.match(body, /@rita `\/rollgate approve` was ignored: only people with write permission on acme\/db/)));
    const ev = (id: number, author: string, body: string) => ({ type: 'comment' as const, forge: 'gitlab' as const, deliveryId: `uuid-${id}`, repository: 'acme/db', number: 7, commentId: String(id), author, body });
    assert.deepEqual(await approvals.handleComment(ev(byReporter, 'rita', '/rollgate approve')), [{ action: 'refused', pr: 7, user: 'rita', reason: 'permission' }]);
    fake.verify();

    const byStranger = addComment(m, 7, 'sam', '/rollgate hold');
    fake.expect(gitlab.members('sam', undefined), gitlab.createNote(m, 7));
    assert.equal((await approvals.handleComment(ev(byStranger, 'sam', '/rollgate hold')))[0]?.action, 'refused');
    fake.verify();

    const byDeveloper = addComment(m, 7, 'dana', '/rollgate approve basic');
    fake.expect(gitlab.members('dana', 30), gitlab.showMergeRequest(merged));
    assert.equal((await approvals.handleComment(ev(byDeveloper, 'dana', '/rollgate approve basic')))[0]?.action, 'approved');
    const again = addComment(m, 7, 'dana', '/rollgate hold');
    assert.equal((await approvals.handleComment(ev(again, 'dana', '/rollgate hold')))[0]?.action, 'held', 'access cached: no second members request');
    fake.verify();
    assert.equal(await approvals.isApproved({ target, source: mergeSha, stage: 'tikv', gate: { kind: 'approval', comment: true } }), true);
    assert.equal(await approvals.isHeld({ target, source: mergeSha }), true);
    assert.ok(!log.text().includes(token));
  });

  it('honours Retry-After on 429', async () => {
    const { provider: p, clock } = provider({ auto: true });
    fake.expect({ method: 'GET', path: '/api/v4/projects/acme%2Fdb/merge_requests/7', reply: { status: 429, headers: { 'retry-after': '3', 'ratelimit-remaining': '0' }, json: { message: 'Retry later' } } }, gitlab.showMergeRequest(merged));
    const mr = await p.getPullRequest(7);
    fake.verify();
    assert.deepEqual(clock.delays, [3_000]);
    assert.deepEqual(mr, { number: 7, headSha: headA, baseRef: 'main', state: 'merged', mergeSha, mergedAt: '2026-11-20T09:59:00Z' });
  });
});
