/**
 * Approvals, holds and resumes from GitHub pull-request comments: accepted
 * from writers only (asked through the API, cached), tied to the merge
 * commit, handled once however often they arrive, rebuilt from the thread
 * after a restart.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createCommentApprovals, createGitHubProvider, type CommentApprovals } from '../../../agent/report/forge/index.ts';
import type { CommentEvent } from '../../../agent/webhook/events.ts';
import { memoryLogger } from '../../helpers/memory-logger.ts';
import { testClock, type TestClock } from './clock.ts';
import { startFakeForge, type FakeForge } from './fake-forge.ts';
import { addComment, forgeModel, ghPull, github, type ForgeModel } from './forge-models.ts';
import { mergeSha } from './transitions.ts';

const token = 'ghp_approvalSecretToken0123456789';
const target = 'prod/db/TidbCluster/basic';
const gate = { kind: 'approval', comment: true } as const;
const mergedAt = '2026-11-20T09:59:00Z';
const merged = ghPull(7, 'a'.repeat(40), { mergedAt, mergeSha });

const event = (id: number, author: string, body: string, deliveryId = `delivery-${id}`): CommentEvent => ({ type: 'comment', forge: 'github', deliveryId, repository: 'acme/db', number: 7, commentId: String(id), author, body });

describe('GitHub comment approvals', () => {
  let fake: FakeForge;
  before(async () => {
    fake = await startFakeForge();
  });
  after(async () => {
    await fake.close();
  });

  function setup(): { approvals: CommentApprovals; clock: TestClock; log: ReturnType<typeof memoryLogger>; changes: () => number } {
    const log = memoryLogger();
    const clock = testClock();
    const provider = createGitHubProvider({ repository: 'acme/db', auth: { kind: 'token', token }, baseUrl: fake.url, logger: log.logger, clock, retry: { maxAttempts: 1 } });
    const approvals = createCommentApprovals({ provider, logger: log.logger, clock });
    let changes = 0;
    approvals.onChange(() => changes++);
    return { approvals, clock, log, changes: () => changes };
  }

  /** The thread is read once, the first time it matters. */
  function firstRead(m: ForgeModel): void {
    fake.expect(github.listComments(m, 7));
  }

  it('accepts an approval from a writer, for this merge commit only', async () => {
    const m = forgeModel();
    const { approvals, changes, log } = setup();
    const id = addComment(m, 7, 'alice', 'Looks good.\n/rollgate approve basic', '2026-11-20T10:05:00Z');
    firstRead(m);
    fake.expect(github.permission('alice', 'write'), github.getPull(merged));
    assert.deepEqual(await approvals.handleComment(event(id, 'alice', 'Looks good.\n/rollgate approve basic')), [{ action: 'approved', pr: 7, user: 'alice' }]);
    fake.verify();
    assert.equal(changes(), 1);
    assert.equal(await approvals.isApproved({ target, source: mergeSha, stage: 'tikv', gate }), true);
    assert.equal(await approvals.isApproved({ target: 'prod/db/TidbCluster/other', source: mergeSha, stage: 'tikv', gate }), false, 'the approval names one target');
    assert.equal(await approvals.isApproved({ target, source: mergeSha, stage: 'tikv', gate: { kind: 'approval', comment: false, file: 'APPROVED' } }), false, 'a gate that takes no comment approvals');
    // Another commit (a later merge) is not approved by it.
    const other = 'e'.repeat(40);
    fake.expect(github.commitPulls(other, [ghPull(8, 'b'.repeat(40), { mergedAt, mergeSha: other })]), github.listComments(m, 8));
    assert.equal(await approvals.isApproved({ target, source: other, stage: 'tikv', gate }), false);
    fake.verify();
    assert.ok(!log.text().includes(token));
  });

  it('refuses a reader with a reply, caches permissions for a minute, and handles a delivery once', async () => {
    const m = forgeModel();
    const { approvals, clock, changes } = setup();
    const first = addComment(m, 7, 'bob', '/rollgate approve');
    firstRead(m);
    fake.expect(github.permission('bob', 'read'), github.createComment(m, 7, 1, (body) => assert.match(body, /@bob `\/rollgate approve` was ignored: only people with write permission on acme\/db/)));
    assert.deepEqual(await approvals.handleComment(event(first, 'bob', '/rollgate approve')), [{ action: 'refused', pr: 7, user: 'bob', reason: 'permission' }]);
    fake.verify();
    // The same delivery again, or the same comment under another delivery id: nothing.
    assert.deepEqual(await approvals.handleComment(event(first, 'bob', '/rollgate approve')), [{ action: 'duplicate', pr: 7, user: 'bob' }]);
    fake.verify();

    // Within the minute, bob's permission is not asked again.
    const second = addComment(m, 7, 'bob', '/rollgate hold');
    fake.expect(github.createComment(m, 7));
    assert.equal((await approvals.handleComment(event(second, 'bob', '/rollgate hold')))[0]?.action, 'refused');
    fake.verify();

    // After it, it is; bob has been made a writer meanwhile.
    clock.advance(61_000);
    const third = addComment(m, 7, 'bob', '/rollgate hold');
    fake.expect(github.permission('bob', 'write'));
    assert.equal((await approvals.handleComment(event(third, 'bob', '/rollgate hold')))[0]?.action, 'held');
    fake.verify();
    assert.equal(changes(), 1);
    fake.expect(github.commitPulls(mergeSha, [merged]));
    assert.equal(await approvals.isApproved({ target, source: mergeSha, stage: 'tikv', gate }), false);
    assert.equal(await approvals.isHeld({ target, source: mergeSha }), true);
    fake.verify();
  });

  it('holds and resumes', async () => {
    const m = forgeModel();
    const { approvals, changes } = setup();
    fake.expect(github.commitPulls(mergeSha, [merged]), github.listComments(m, 7));
    assert.equal(await approvals.isHeld({ target, source: mergeSha }), false);
    fake.verify();
    const hold = addComment(m, 7, 'alice', '/rollgate hold');
    fake.expect(github.permission('alice', 'admin'));
    assert.equal((await approvals.handleComment(event(hold, 'alice', '/rollgate hold')))[0]?.action, 'held');
    assert.equal(await approvals.isHeld({ target, source: mergeSha }), true);
    const resume = addComment(m, 7, 'alice', '/rollgate resume');
    assert.equal((await approvals.handleComment(event(resume, 'alice', '/rollgate resume')))[0]?.action, 'resumed');
    assert.equal(await approvals.isHeld({ target, source: mergeSha }), false);
    fake.verify();
    assert.equal(changes(), 2);
  });

  it('refuses an approval given before the merge', async () => {
    const m = forgeModel();
    const { approvals } = setup();
    const open = ghPull(7, 'a'.repeat(40));
    const id = addComment(m, 7, 'alice', '/rollgate approve');
    firstRead(m);
    fake.expect(github.permission('alice', 'write'), github.getPull(open), github.createComment(m, 7, 1, (body) => assert.match(body, /counts only once the pull request is merged/)));
    assert.deepEqual(await approvals.handleComment(event(id, 'alice', '/rollgate approve')), [{ action: 'refused', pr: 7, user: 'alice', reason: 'not-merged' }]);
    fake.verify();
  });

  it('rebuilds approvals and holds from the thread when polling, without replying twice', async () => {
    const m = forgeModel();
    // Before the merge (ignored, already answered), after it by a writer (counts), by a reader (refused, not yet answered), and rollgate's own comments.
    const early = addComment(m, 7, 'alice', '/rollgate approve', '2026-11-20T09:00:00Z');
    addComment(m, 7, 'rollgate-bot', `<!-- rollgate:reply:${early} sha256:0000000000000000 -->\n@alice \`/rollgate approve\` was ignored`, '2026-11-20T09:00:01Z');
    addComment(m, 7, 'rollgate-bot', '<!-- rollgate:rollout sha256:0000000000000000 -->\n/rollgate approve', '2026-11-20T10:00:30Z');
    addComment(m, 7, 'alice', '/rollgate approve', '2026-11-20T10:10:00Z');
    addComment(m, 7, 'carol', '/rollgate hold', '2026-11-20T10:11:00Z');
    const { approvals } = setup();
    fake.expect(
      github.commitPulls(mergeSha, [merged]),
      github.listComments(m, 7),
      github.permission('alice', 'write'),
      github.permission('carol', 'none'),
      github.createComment(m, 7, 1, (body) => assert.match(body, /@carol `\/rollgate hold` was ignored/)),
    );
    assert.equal(await approvals.isApproved({ target, source: mergeSha, stage: 'tikv', gate }), true);
    assert.equal(await approvals.isHeld({ target, source: mergeSha }), false);
    fake.verify();

    // A later poll reads the thread again and finds nothing new to do.
    fake.expect(github.listComments(m, 7));
    await approvals.poll();
    fake.verify();
  });

  it('answers "not approved, not held" at once when the forge is down, and asks listeners to try again later', async () => {
    const { approvals, clock, changes, log } = setup();
    fake.expect({ method: 'GET', path: `/repos/acme/db/commits/${mergeSha}/pulls`, times: 2, reply: { status: 503, json: { message: 'unavailable' } } });
    assert.equal(await approvals.isHeld({ target, source: mergeSha }), false);
    assert.equal(await approvals.isApproved({ target, source: mergeSha, stage: 'tikv', gate }), false);
    fake.verify();
    clock.advance(30_000);
    assert.equal(changes(), 2);
    assert.ok(log.lines().some((l) => l.msg === 'forge lookup failed; treating the rollout as neither approved nor held'));
    approvals.close();
  });
});
