/**
 * The rollout comment when the forge does not know a merge commit's pull
 * request at the first transition: the push webhook came first, or GitHub
 * has not linked the commit yet (it does so a few seconds after the merge).
 * A rollout that then waits for an approval makes no new transition, so
 * the comment (with its "comment `/rollgate approve`" hint) must follow
 * when the merge becomes known: from the pull request's webhook at once,
 * else from the forge on a later flush.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createForgeReporter, createGitHubProvider, createPullRequestIndex, type MergeInfo } from '../../../agent/report/forge/index.ts';
import type { PullRequestEvent } from '../../../agent/webhook/events.ts';
import { memoryLogger } from '../../helpers/memory-logger.ts';
import { eventually } from '../../helpers/sim.ts';
import { testClock } from './clock.ts';
import { startFakeForge, type FakeForge } from './fake-forge.ts';
import { forgeModel, ghPull, github } from './forge-models.ts';
import { mergeSha, transition } from './transitions.ts';

const token = 'ghp_mergeLinkSecretToken0123456789';
const merged = ghPull(7, 'a'.repeat(40), { mergedAt: '2026-11-20T09:59:00Z', mergeSha });
const waiting = (minute: number) => transition('Waiting', minute, { waitingFor: { gate: 'approval', description: 'a /rollgate approve comment' } });
const mergedEvent: PullRequestEvent = { type: 'pull_request', forge: 'github', deliveryId: 'd-merge', repository: 'acme/db', number: 7, action: 'merged', headSha: 'a'.repeat(40), baseRef: 'main', mergeSha };

describe('rollout comment of a merge commit the forge links late', () => {
  let fake: FakeForge;
  before(async () => {
    fake = await startFakeForge();
  });
  after(async () => {
    await fake.close();
  });

  function setup() {
    const log = memoryLogger();
    const clock = testClock();
    const provider = createGitHubProvider({ repository: 'acme/db', auth: { kind: 'token', token }, baseUrl: fake.url, logger: log.logger, clock });
    const index = createPullRequestIndex({ provider, clock });
    const reporter = createForgeReporter({ provider, logger: log.logger, clock, pullRequests: index, random: () => 0.5 });
    return { reporter, index, clock, log };
  }

  it('writes the comment as soon as the pull request\'s webhook names the merge commit, without a new transition', async () => {
    const m = forgeModel();
    const { reporter, index } = setup();
    // The push came first and GitHub has not linked the merge commit yet: only the status.
    fake.expect(github.commitPulls(mergeSha, []), github.combinedStatus(m, mergeSha), github.createStatus(m, mergeSha));
    await reporter.report(waiting(1));
    await reporter.flush();
    fake.verify();
    assert.equal(m.comments.get(7), undefined);

    fake.expect(github.listComments(m, 7), github.createComment(m, 7, 1, (body) => assert.match(body, /Comment `\/rollgate approve prod\/db\/TidbCluster\/basic`/)));
    index.handleEvent(mergedEvent);
    await eventually(() => assert.equal(m.comments.get(7)?.length, 1));
    await reporter.flush();
    fake.verify();
    assert.equal(m.statuses.get(mergeSha)?.length, 1, 'the status already said this');

    // The same merge again (a redelivery, a lookup) writes nothing.
    index.handleEvent(mergedEvent);
    await reporter.flush();
    fake.verify();
    reporter.close();
  });

  it('asks the forge again on flush while the rollout is under way, no more often than the index allows, and not once it finished', async () => {
    const m = forgeModel();
    const { reporter, clock } = setup();
    fake.expect(github.commitPulls(mergeSha, []), github.combinedStatus(m, mergeSha), github.createStatus(m, mergeSha));
    await reporter.report(waiting(1));
    await reporter.flush();
    fake.verify();
    // Within the index's minute of believing "no pull request": no request.
    clock.advance(30_000);
    await reporter.flush();
    fake.verify();
    // After it: asked again, linked now, the comment is written.
    clock.advance(30_001);
    fake.expect(github.commitPulls(mergeSha, [merged]), github.listComments(m, 7), github.createComment(m, 7));
    await reporter.flush();
    fake.verify();
    assert.equal(m.comments.get(7)?.length, 1);

    // A direct push (no pull request ever) that finished is not asked about again.
    const direct = 'd'.repeat(40);
    fake.expect(github.commitPulls(direct, []), github.combinedStatus(m, direct), github.createStatus(m, direct));
    await reporter.report(transition('Succeeded', 2, { source: direct }));
    await reporter.flush();
    fake.verify();
    clock.advance(120_000);
    await reporter.flush();
    fake.verify();
    reporter.close();
  });

  it('a merge the webhook names while the forge is asked is not forgotten for the forge\'s "none yet"', async () => {
    const m = forgeModel();
    const { reporter, index } = setup();
    fake.expect(github.commitPulls(mergeSha, []), github.listComments(m, 7), github.createComment(m, 7), github.combinedStatus(m, mergeSha), github.createStatus(m, mergeSha));
    const asking = index.forCommit(mergeSha);
    // The lookup's answer needs the event loop; the webhook is handled before it arrives.
    index.handleEvent(mergedEvent);
    assert.equal(await asking, 7);
    assert.equal(await index.forCommit(mergeSha), 7, 'remembered, not asked again');
    // The rollout comment then goes to that pull request, with no second lookup.
    await reporter.report(waiting(1));
    await reporter.flush();
    fake.verify();
    assert.equal(m.comments.get(7)?.length, 1);
    reporter.close();
  });

  it('the index tells its listeners once per merge it learns, however it learns it', async () => {
    const { index } = setup();
    const heard: [number, MergeInfo][] = [];
    const off = index.onMerge((pr, merge) => heard.push([pr, merge]));
    index.handleEvent(mergedEvent);
    index.handleEvent(mergedEvent);
    index.remember(7, { mergeSha });
    index.handleEvent({ ...mergedEvent, action: 'closed' });
    fake.expect(github.getPull(ghPull(8, 'b'.repeat(40), { mergedAt: '2026-11-20T10:30:00Z', mergeSha: 'e'.repeat(40) })));
    assert.deepEqual(await index.mergeOf(8), { mergeSha: 'e'.repeat(40), mergedAt: '2026-11-20T10:30:00Z' });
    fake.verify();
    off();
    index.remember(9, { mergeSha: 'c'.repeat(40) });
    assert.deepEqual(heard, [
      [7, { mergeSha }],
      [8, { mergeSha: 'e'.repeat(40), mergedAt: '2026-11-20T10:30:00Z' }],
    ]);
  });
});
