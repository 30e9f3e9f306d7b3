/**
 * A leader that cannot renew stops leading when its renew deadline passes:
 * the term's signal is aborted before onStoppedLeading runs, and
 * isLeader() is false. When the API answers again it leads again (the
 * Lease still names it, so no transition). A leader that reads another
 * holder in the Lease stops at once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../helpers/sim.ts';
import type { LeaderEvent } from '../../agent/runtime/leader.ts';
import { formatMicroTime } from '../../agent/runtime/leader.ts';
import { LiveRequestError } from '../../agent/live/index.ts';
import { check, elector, leadershipTracker, startLeaseFixture, type LeaseFixture } from './helpers.ts';

describe('leader election: renew deadline', () => {
  let f: LeaseFixture;
  before(async () => {
    f = await startLeaseFixture();
  });
  after(async () => {
    await f.close();
  });

  it('stops leading when renewals fail past the deadline, and leads again after', async () => {
    const tracker = leadershipTracker();
    const events: LeaderEvent[] = [];
    let signalAbortedInCallback: boolean | undefined;
    let leaderInCallback: boolean | undefined;
    let firstSignal: AbortSignal | undefined;
    const callbacks = tracker.callbacks('solo');
    const a = elector(f, tracker, 'solo', {
      onStartedLeading: (signal) => {
        firstSignal ??= signal;
        return callbacks.onStartedLeading?.(signal);
      },
      onStoppedLeading: (reason) => {
        signalAbortedInCallback = firstSignal?.aborted;
        leaderInCallback = a.isLeader();
        callbacks.onStoppedLeading?.(reason);
      },
    });
    a.subscribe((e) => events.push(e));
    a.start();
    await eventually(() => check(a.isLeader(), 'leads'));

    f.sim.runtime().faults.set({ rules: [{ verbs: ['*'], resources: ['leases'], status: 503, retryAfterSeconds: 0 }] });
    await eventually(() => check(tracker.terms()[0]?.ended !== undefined, 'term ended'));
    assert.equal(tracker.terms()[0]?.ended, 'renew-deadline');
    assert.equal(signalAbortedInCallback, true, 'aborted before onStoppedLeading');
    assert.equal(leaderInCallback, false);
    assert.equal(a.isLeader(), false);
    assert.equal(a.signal(), undefined);
    assert.ok(events.some((e) => e.type === 'stopped-leading' && e.reason === 'renew-deadline'));
    assert.ok(events.some((e) => e.type === 'request-failed' && e.code === '503'));

    f.sim.runtime().faults.set({});
    await eventually(() => check(a.isLeader(), 'leads again'));
    assert.equal(tracker.terms().length, 2);
    assert.notEqual(a.signal(), firstSignal, 'a new term has a new signal');
    const lease = await f.api.get('default', 'rollgate-leader', AbortSignal.timeout(5000));
    assert.equal(lease?.spec.holderIdentity, 'solo');
    assert.equal(lease?.spec.leaseTransitions, 0, 'the same holder: no transition');
    await a.release();
    assert.deepEqual(tracker.violations(), []);
  });

  it('stops at once when the Lease names someone else', async () => {
    const tracker = leadershipTracker();
    const a = elector(f, tracker, 'victim', { name: 'stolen' });
    a.start();
    await eventually(() => check(a.isLeader(), 'leads'));
    // Another client overwrites the Lease (as a replica that judged it expired would), retrying on a's renewals.
    await eventually(async () => {
      const read = await f.api.get('default', 'stolen', AbortSignal.timeout(5000));
      assert.ok(read);
      const now = formatMicroTime(Date.now());
      try {
        await f.api.update({ ...read, spec: { ...read.spec, holderIdentity: 'intruder', leaseDurationSeconds: 30, acquireTime: now, renewTime: now, leaseTransitions: (read.spec.leaseTransitions ?? 0) + 1 } }, AbortSignal.timeout(5000));
      } catch (err) {
        // A renewal of the victim's moved the resourceVersion: read again.
        assert.ok(err instanceof LiveRequestError && err.status === 409, `only a conflict is expected: ${String(err)}`);
        throw err;
      }
    });
    await eventually(() => check(tracker.terms()[0]?.ended !== undefined, 'term ended'));
    assert.equal(tracker.terms()[0]?.ended, 'lost');
    assert.equal(a.isLeader(), false);
    assert.equal(a.leader(), 'intruder');
    await a.stop();
    const lease = await f.api.get('default', 'stolen', AbortSignal.timeout(5000));
    assert.equal(lease?.spec.holderIdentity, 'intruder', 'the loser does not write again');
  });
});
