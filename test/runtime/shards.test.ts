/**
 * Two replicas over four shard Leases with maxHeld 2: each holds two, and
 * they never hold the same shard. One dies without releasing: the other
 * takes all four once the leases expired and the orphan grace passed (the
 * soft cap). A third replica joins; rebalance() hands the survivor's extra
 * shards over to it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../helpers/sim.ts';
import { memoryLogger } from '../helpers/memory-logger.ts';
import type { ShardEvent, ShardedLeadership, ShardedLeadershipOptions } from '../../agent/runtime/shards.ts';
import { createShardedLeadership, shardOf } from '../../agent/runtime/shards.ts';
import { check, fast, startLeaseFixture, type LeaseFixture } from './helpers.ts';

describe('shards: spread, takeover, rebalance', () => {
  let f: LeaseFixture;
  before(async () => {
    f = await startLeaseFixture();
  });
  after(async () => {
    await f.close();
  });

  const replica = (identity: string, extra: Partial<ShardedLeadershipOptions> = {}): ShardedLeadership =>
    createShardedLeadership({ api: f.api, namespace: 'default', identity, shards: 4, maxHeld: 2, orphanGraceMs: 1000, logger: memoryLogger().logger, ...fast, ...extra });

  /** Fails when two replicas hold one shard at the same moment (by their own terms). */
  const overlapWatch = (replicas: Map<string, ShardedLeadership>) => {
    const holders = new Map<number, string>();
    const violations: string[] = [];
    for (const [name, r] of replicas)
      r.subscribe((e: ShardEvent) => {
        if (e.type === 'acquired') {
          const other = holders.get(e.shard);
          if (other !== undefined) violations.push(`${name} took shard ${e.shard} held by ${other}`);
          holders.set(e.shard, name);
        } else if (holders.get(e.shard) === name) holders.delete(e.shard);
      });
    return violations;
  };

  it('spreads, takes over a dead replica\'s shards, and rebalances', async () => {
    const a = replica('replica-a');
    const b = replica('replica-b');
    const replicas = new Map([
      ['a', a],
      ['b', b],
    ]);
    const violations = overlapWatch(replicas);
    const changes: ShardEvent[] = [];
    a.subscribe((e) => changes.push(e));
    a.start();
    b.start();
    await eventually(() => check(a.held().length === 2 && b.held().length === 2, () => `a ${a.held().join(',')} b ${b.held().join(',')}`), 15_000);
    assert.deepEqual([...a.held(), ...b.held()].sort(), [0, 1, 2, 3]);
    assert.deepEqual(changes.filter((e) => e.type === 'acquired').map((e) => e.shard).sort(), [...a.held()]);
    assert.deepEqual(changes.at(-1)?.held, a.held(), 'each change carries the full set');
    for (const shard of a.held()) assert.ok(a.signalOf(shard) && !a.signalOf(shard)?.aborted);
    assert.equal(a.signalOf(b.held()[0] ?? -1), undefined);
    // owns() follows shardOf.
    const target = 'prod/tidb/TidbCluster/basic';
    const shard = shardOf(target, 4);
    assert.equal(a.owns(target), a.held().includes(shard));
    assert.equal(b.owns(target), b.held().includes(shard));
    // The Leases name their holders.
    for (let i = 0; i < 4; i++) {
      const lease = await f.api.get('default', `rollgate-shard-${i}`, AbortSignal.timeout(5000));
      assert.equal(lease?.spec.holderIdentity, a.held().includes(i) ? 'replica-a' : 'replica-b');
    }

    // b dies without releasing: after expiry (1 s) and the grace (1 s), a holds everything.
    const bHeld = [...b.held()];
    await b.stop();
    await eventually(() => check(a.held().length === 4, () => `a holds ${a.held().join(',')}`), 15_000);
    for (const s of bHeld) {
      const lease = await f.api.get('default', `rollgate-shard-${s}`, AbortSignal.timeout(5000));
      assert.equal(lease?.spec.holderIdentity, 'replica-a');
      assert.equal(lease?.spec.leaseTransitions, 1);
    }

    // c joins; with a at 4, nothing is free, so c holds nothing until a rebalances.
    const c = replica('replica-c');
    replicas.set('c', c);
    violations.push(...overlapWatch(new Map([['c', c]])));
    const seenByC = new Map<number, string>();
    c.subscribeElectors((s, e) => {
      if (e.type === 'new-leader') seenByC.set(s, e.holder);
    });
    c.start();
    await eventually(() => check(seenByC.size === 4, 'c read every shard Lease'));
    assert.deepEqual([...seenByC.values()], ['replica-a', 'replica-a', 'replica-a', 'replica-a']);
    assert.deepEqual(c.held(), []);
    const released = await a.rebalance();
    assert.deepEqual(released, [3, 2]);
    await eventually(() => check(c.held().length === 2 && a.held().length === 2, () => `a ${a.held().join(',')} c ${c.held().join(',')}`), 15_000);
    assert.deepEqual([...c.held()].sort(), [2, 3]);
    assert.deepEqual(await a.rebalance(), [], 'nothing beyond maxHeld');

    await Promise.all([a.release(), c.release()]);
    assert.deepEqual(a.held(), []);
    assert.deepEqual(violations, []);
  });

  it('with one shard it is plain leader election', async () => {
    const x = replica('solo-x', { shards: 1, maxHeld: 1, leaseName: () => 'rollgate-leader' });
    const y = replica('solo-y', { shards: 1, maxHeld: 1, leaseName: () => 'rollgate-leader' });
    x.start();
    await eventually(() => check(x.holds(0), 'x leads'));
    y.start();
    await eventually(async () => {
      const lease = await f.api.get('default', 'rollgate-leader', AbortSignal.timeout(5000));
      check(lease?.spec.holderIdentity === 'solo-x', 'x holds');
    });
    assert.equal(y.holds(0), false);
    assert.equal(x.owns('anything'), true);
    await x.release();
    await eventually(() => check(y.holds(0), 'y took over'));
    await y.stop();
  });
});
