/**
 * The API server misbehaving under the Lease: 5xx answers, forced 409
 * Conflicts and added latency on every Lease request. Leaders come and go
 * (some renewals miss their deadline), but two never lead at once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../helpers/sim.ts';
import type { LeaderElector, LeaderEvent } from '../../agent/runtime/leader.ts';
import { check, elector, leadershipTracker, startLeaseFixture, type LeaseFixture } from './helpers.ts';

describe('leader election: API faults', () => {
  let f: LeaseFixture;
  before(async () => {
    f = await startLeaseFixture({ seed: 7 });
  });
  after(async () => {
    await f.close();
  });

  it('never elects two leaders while requests fail', async () => {
    f.sim.runtime().faults.set({
      latencyMs: 2,
      latencyJitterMs: 20,
      rules: [
        { verbs: ['create', 'update'], resources: ['leases'], status: 409, rate: 0.25 },
        { verbs: ['*'], resources: ['leases'], status: 500, rate: 0.1 },
        { verbs: ['*'], resources: ['leases'], status: 503, rate: 0.1, retryAfterSeconds: 0 },
      ],
    });
    const tracker = leadershipTracker();
    const failures = new Map<string, number>();
    const renewals = new Map<LeaderElector, number>();
    let next = 0;
    const running: LeaderElector[] = [];
    const join = () => {
      const e = elector(f, tracker, `flaky-${next++}`);
      e.subscribe((event: LeaderEvent) => {
        if (event.type === 'request-failed') failures.set(event.code, (failures.get(event.code) ?? 0) + 1);
        if (event.type === 'renewed') renewals.set(e, (renewals.get(e) ?? 0) + 1);
      });
      running.push(e);
      e.start();
    };
    for (let i = 0; i < 3; i++) join();
    for (let round = 0; round < 5; ) {
      const leader = await eventually(() => {
        const leaders = running.filter((e) => e.isLeader());
        check(leaders.length === 1, `one leader (have ${leaders.length})`);
        return leaders[0] as LeaderElector;
      }, 20_000);
      // Let it renew a while under the faults; it may lose the lease meanwhile, then the next leader is found.
      const before = renewals.get(leader) ?? 0;
      await eventually(() => check(!leader.isLeader() || (renewals.get(leader) ?? 0) >= before + 8, 'renewed 8 times or lost'), 20_000);
      if (!leader.isLeader()) continue;
      round++;
      running.splice(running.indexOf(leader), 1);
      await (round % 2 === 0 ? leader.stop() : leader.release());
      join();
    }
    await Promise.all(running.map((e) => e.stop()));
    const stats = f.sim.runtime().faults.stats();
    f.sim.runtime().faults.set({});

    assert.deepEqual(tracker.violations(), []);
    assert.ok(tracker.terms().every((t) => t.abortedBeforeStopped === true));
    assert.ok(stats.fired.every((n) => n > 0), `every fault fired: ${JSON.stringify(stats)} ${JSON.stringify([...failures])}`);
    assert.ok((failures.get('409') ?? 0) > 0 && (failures.get('500') ?? 0) > 0 && (failures.get('503') ?? 0) > 0, `electors saw the faults: ${JSON.stringify([...failures])}`);
  });
});
