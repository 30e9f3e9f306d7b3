/**
 * Candidates racing for one Lease never lead at the same time: four
 * electors start together; then, again and again, the leader is killed
 * (left to expire) or released and a fresh candidate joins. In-process
 * terms never overlap, and every change of holder in the Lease's history
 * is one transition.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../helpers/sim.ts';
import type { LeaderElector } from '../../agent/runtime/leader.ts';
import { check, elector, leadershipTracker, startLeaseFixture, type LeaseFixture } from './helpers.ts';

describe('leader election: racing candidates', () => {
  let f: LeaseFixture;
  before(async () => {
    f = await startLeaseFixture();
  });
  after(async () => {
    await f.close();
  });

  it('never elects two leaders', async () => {
    const tracker = leadershipTracker();
    let next = 0;
    const running: LeaderElector[] = [];
    const join = () => {
      const e = elector(f, tracker, `candidate-${next++}`);
      running.push(e);
      e.start();
    };
    for (let i = 0; i < 4; i++) join();
    for (let round = 0; round < 6; round++) {
      const leader = await eventually(() => {
        const leaders = running.filter((e) => e.isLeader());
        check(leaders.length === 1, `one leader among ${running.length} (have ${leaders.length})`);
        return leaders[0] as LeaderElector;
      }, 15_000);
      running.splice(running.indexOf(leader), 1);
      // Alternate between a crash and a clean shutdown.
      await (round % 2 === 0 ? leader.stop() : leader.release());
      join();
    }
    await Promise.all(running.map((e) => e.stop()));

    assert.deepEqual(tracker.violations(), []);
    const terms = tracker.terms();
    assert.ok(terms.length >= 6, `${terms.length} terms`);
    assert.ok(terms.every((t) => t.ended !== undefined && t.abortedBeforeStopped === true));
    // The Lease's history: consecutive holders (ignoring releases) change with exactly one transition each.
    const history = f.history('default', 'rollgate-leader');
    const changes: { holder: string; transitions: number }[] = [];
    for (const h of history) if (changes.at(-1)?.holder !== h.holder) changes.push({ holder: h.holder, transitions: h.transitions });
    const holders = changes.filter((c) => c.holder !== '');
    assert.deepEqual(
      holders.map((c) => c.holder),
      terms.map((t) => t.identity),
      'the server saw the same succession of leaders as the process',
    );
    holders.forEach((c, i) => assert.equal(c.transitions, i, `transition count of ${c.holder}`));
  });
});
