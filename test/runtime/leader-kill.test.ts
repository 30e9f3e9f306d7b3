/**
 * A leader that dies without releasing (here: stops renewing) is replaced
 * once its lease expires by the follower's own observation: the follower
 * never takes it early, and the Lease goes straight from one holder to
 * the other with one transition.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../helpers/sim.ts';
import { check, elector, leadershipTracker, startLeaseFixture, type LeaseFixture } from './helpers.ts';

describe('leader election: leader killed', () => {
  let f: LeaseFixture;
  before(async () => {
    f = await startLeaseFixture();
  });
  after(async () => {
    await f.close();
  });

  it('the follower takes over after the lease duration', async () => {
    const tracker = leadershipTracker();
    const a = elector(f, tracker, 'replica-a');
    const b = elector(f, tracker, 'replica-b');
    a.start();
    await eventually(() => check(a.isLeader(), 'a leads'));
    b.start();
    await eventually(() => check(b.leader() === 'replica-a', 'b observed a'));

    const lastWriteOfA = () => f.history('default', 'rollgate-leader').findLast((h) => h.holder === 'replica-a');
    await a.stop();
    const last = lastWriteOfA();
    await eventually(() => check(b.isLeader(), 'b took over'), 15_000);
    assert.deepEqual(lastWriteOfA(), last, 'a wrote nothing after stop()');
    // Not a bound on speed: b cannot have seen a's last renewal before the server stored it, so it may not write within the 1 s written in it.
    const takeover = f.history('default', 'rollgate-leader').find((h) => h.holder === 'replica-b');
    assert.ok(last && takeover && takeover.at - last.at >= 1000, `b waited out the lease: ${Math.round((takeover?.at ?? 0) - (last?.at ?? 0))} ms between a's last renewal and b's takeover`);
    const history = f.history('default', 'rollgate-leader');
    assert.deepEqual([...new Set(history.map((h) => h.holder))], ['replica-a', 'replica-b'], 'no release in between');
    assert.equal(history.at(-1)?.transitions, 1);
    assert.deepEqual(
      tracker.terms().map((t) => [t.identity, t.ended]),
      [
        ['replica-a', 'stopped'],
        ['replica-b', undefined],
      ],
    );
    assert.deepEqual(tracker.violations(), []);
    await b.stop();
  });
});
