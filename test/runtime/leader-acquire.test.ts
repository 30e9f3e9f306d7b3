/**
 * One elector creates and holds the Lease; a second waits while the first
 * renews; when the first releases it, the second takes over on its next
 * retry, and the Lease records the change of holder.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../helpers/sim.ts';
import type { LeaderEvent } from '../../agent/runtime/leader.ts';
import { check, elector, leadershipTracker, startLeaseFixture, type LeaseFixture } from './helpers.ts';

const microTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

describe('leader election: acquire, wait, release', () => {
  let f: LeaseFixture;
  before(async () => {
    f = await startLeaseFixture();
  });
  after(async () => {
    await f.close();
  });

  it('a single elector creates the Lease and leads', async () => {
    const tracker = leadershipTracker();
    const a = elector(f, tracker, 'replica-a');
    const events: LeaderEvent[] = [];
    a.subscribe((e) => events.push(e));
    assert.equal(a.isLeader(), false, 'nothing happens before start()');
    a.start();
    await eventually(() => check(a.isLeader(), 'a leads'));
    const lease = await f.api.get('default', 'rollgate-leader', AbortSignal.timeout(5000));
    assert.ok(lease);
    assert.equal(lease.spec.holderIdentity, 'replica-a');
    assert.equal(lease.spec.leaseDurationSeconds, 1, '300 ms is written as whole seconds, rounded up');
    assert.equal(lease.spec.leaseTransitions, 0);
    assert.match(String(lease.spec.acquireTime), microTime);
    assert.match(String(lease.spec.renewTime), microTime);
    assert.equal(a.leader(), 'replica-a');
    assert.ok(a.signal() && !a.signal()?.aborted);
    // Renewals move renewTime and keep acquireTime and transitions.
    await eventually(() => check(f.history('default', 'rollgate-leader').length >= 4, 'renewed a few times'));
    const history = f.history('default', 'rollgate-leader');
    assert.equal(new Set(history.map((h) => h.acquireTime)).size, 1);
    assert.deepEqual(new Set(history.map((h) => h.holder)), new Set(['replica-a']));
    assert.deepEqual(new Set(history.map((h) => h.transitions)), new Set([0]));
    assert.ok(new Set(history.map((h) => h.renewTime)).size >= 4);
    assert.ok(events.some((e) => e.type === 'renewed'));
    assert.deepEqual(
      events.filter((e) => e.type !== 'renewed').map((e) => e.type),
      ['new-leader', 'started-leading'],
    );

    const tracker2 = leadershipTracker();
    const b = elector(f, tracker2, 'replica-b');
    b.start();
    // The follower sees a, and waits while a keeps renewing.
    await eventually(() => check(b.leader() === 'replica-a', 'b observed a'));
    const seen = f.history('default', 'rollgate-leader').length;
    await eventually(() => check(f.history('default', 'rollgate-leader').length >= seen + 5, 'a renewed 5 more times'));
    assert.equal(b.isLeader(), false);
    assert.deepEqual(tracker2.terms(), []);

    const signal = a.signal();
    await a.release();
    assert.equal(signal?.aborted, true, 'the term signal is aborted on release');
    assert.equal(a.isLeader(), false);
    assert.deepEqual(tracker.terms(), [{ identity: 'replica-a', ended: 'released', abortedBeforeStopped: true }]);
    const released = f.history('default', 'rollgate-leader').at(-1);
    // b may already have taken it; the release itself is in the history either way.
    assert.ok(
      f.history('default', 'rollgate-leader').some((h) => h.holder === '' && h.durationSeconds === 1 && h.transitions === 0),
      `release recorded: ${JSON.stringify(released)}`,
    );
    await eventually(() => check(b.isLeader(), 'b took over'));
    const after = await f.api.get('default', 'rollgate-leader', AbortSignal.timeout(5000));
    assert.equal(after?.spec.holderIdentity, 'replica-b');
    assert.equal(after?.spec.leaseTransitions, 1, 'one change of holder');
    assert.equal(after?.spec.leaseDurationSeconds, 1);
    const holders = f.history('default', 'rollgate-leader').map((h) => h.holder);
    assert.deepEqual([...new Set(holders)], ['replica-a', '', 'replica-b']);
    await b.release();
    assert.deepEqual(tracker2.violations(), []);
  });

  it('stop() before start() does nothing and release() of a follower leaves the Lease alone', async () => {
    const tracker = leadershipTracker();
    const a = elector(f, tracker, 'x-a', { name: 'second' });
    const b = elector(f, tracker, 'x-b', { name: 'second' });
    a.start();
    await eventually(() => check(a.isLeader(), 'a leads'));
    b.start();
    await eventually(() => check(b.leader() === 'x-a', 'b observed a'));
    await b.release();
    const lease = await f.api.get('default', 'second', AbortSignal.timeout(5000));
    assert.equal(lease?.spec.holderIdentity, 'x-a', "a follower's release does not touch the leader's Lease");
    assert.equal(a.isLeader(), true);
    await a.stop();
    const unused = elector(f, tracker, 'x-c', { name: 'second' });
    await unused.stop();
    assert.deepEqual(tracker.violations(), []);
  });
});
