/** The pure parts of leader election and sharding: MicroTime, jitter, validity, records, option checks, the shard hash. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import {
  acquireRetryDelay,
  createLeaderElector,
  createLeaseClient,
  failureCode,
  formatMicroTime,
  LeaderElectionError,
  leaseDurationSeconds,
  leaseValid,
  nextRecord,
  recordOf,
  releasedRecord,
  timingProblems,
} from '../../agent/runtime/leader.ts';
import { LiveRequestError } from '../../agent/live/index.ts';
import { createShardedLeadership, shardLeaseName, shardOf } from '../../agent/runtime/shards.ts';

const kubeConfig = (): KubeConfig => {
  const kc = new KubeConfig();
  kc.loadFromOptions({ clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }], users: [{ name: 'u', token: 'x' }], contexts: [{ name: 'c', cluster: 'c', user: 'u' }], currentContext: 'c' });
  return kc;
};

describe('leader election: pure parts', () => {
  it('formats MicroTime as RFC 3339 UTC with six fractional digits', () => {
    const table: [number, string][] = [
      [0, '1970-01-01T00:00:00.000000Z'],
      [Date.UTC(2026, 6, 1, 12, 30, 5, 123), '2026-07-01T12:30:05.123000Z'],
      [Date.UTC(2026, 6, 1, 12, 30, 5, 123) + 0.456, '2026-07-01T12:30:05.123456Z'],
      [Date.UTC(2026, 11, 31, 23, 59, 59, 999) + 0.999, '2026-12-31T23:59:59.999999Z'],
      [Date.UTC(2026, 11, 31, 23, 59, 59, 999) + 0.9999, '2027-01-01T00:00:00.000000Z'],
    ];
    for (const [ms, want] of table) assert.equal(formatMicroTime(ms), want, String(ms));
    assert.match(formatMicroTime(Date.now()), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
    assert.throws(() => formatMicroTime(Number.NaN), RangeError);
  });

  it('jitters acquire retries as client-go does: [retry, 2.2 × retry)', () => {
    assert.equal(acquireRetryDelay(2000, () => 0), 2000);
    assert.equal(acquireRetryDelay(2000, () => 0.5), 3200);
    assert.ok(Math.abs(acquireRetryDelay(2000, () => 0.999999) - 4400) < 0.01);
    assert.equal(acquireRetryDelay(2000, () => -3), 2000, 'clamped below');
    assert.equal(acquireRetryDelay(2000, () => 7), 4400, 'clamped above');
    assert.equal(acquireRetryDelay(2000, () => Number.NaN), 2000, 'NaN counts as 0');
  });

  it('writes whole seconds, rounded up, at least 1', () => {
    assert.deepEqual([300, 1000, 1001, 15000].map(leaseDurationSeconds), [1, 1, 2, 15]);
  });

  it('judges validity from local observation time plus the record duration', () => {
    assert.equal(leaseValid(1000, 15, 15_999), true);
    assert.equal(leaseValid(1000, 15, 16_000), false);
    assert.equal(leaseValid(1000, 0, 1000), false, 'a zero duration is never valid');
  });

  it('keeps acquireTime and transitions on renewal, bumps them on a change of holder', () => {
    const now = Date.UTC(2026, 0, 2, 3, 4, 5, 6);
    const stamp = '2026-01-02T03:04:05.006000Z';
    assert.deepEqual(nextRecord(undefined, 'a', 15, now), { holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: stamp, renewTime: stamp, leaseTransitions: 0 });
    const held = { holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: '2026-01-01T00:00:00.000000Z', renewTime: '2026-01-01T00:00:10.000000Z', leaseTransitions: 3 };
    assert.deepEqual(nextRecord(held, 'a', 15, now), { ...held, renewTime: stamp });
    assert.deepEqual(nextRecord(held, 'b', 10, now), { holderIdentity: 'b', leaseDurationSeconds: 10, acquireTime: stamp, renewTime: stamp, leaseTransitions: 4 });
    const released = releasedRecord(held, now);
    assert.deepEqual(released, { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: stamp, renewTime: stamp, leaseTransitions: 3 });
    assert.equal(nextRecord(released, 'a', 15, now).leaseTransitions, 4, 'taking a released lease is a transition, even for its last holder');
    assert.deepEqual(recordOf({}), { holderIdentity: '', leaseDurationSeconds: 0, acquireTime: undefined, renewTime: undefined, leaseTransitions: 0 });
  });

  it('checks timings as client-go does', () => {
    assert.deepEqual(timingProblems(15000, 10000, 2000), []);
    assert.deepEqual(timingProblems(10000, 10000, 2000), ['leaseDurationMs (10000) must be greater than renewDeadlineMs (10000)']);
    assert.deepEqual(timingProblems(15000, 2400, 2000), ['renewDeadlineMs (2400) must be greater than 1.2 × retryPeriodMs (2400)']);
    assert.deepEqual(timingProblems(0, Number.NaN, -1), ['leaseDurationMs: must be a number above 0, got 0', 'renewDeadlineMs: must be a number above 0, got NaN', 'retryPeriodMs: must be a number above 0, got -1']);
  });

  it('rejects bad elector options, naming each', () => {
    const api = createLeaseClient(kubeConfig());
    assert.throws(
      () => createLeaderElector({ api, namespace: 'Default', name: 'a/b', identity: ' ', leaseDurationMs: 1000, renewDeadlineMs: 2000 }),
      (err: unknown) => {
        assert.ok(err instanceof LeaderElectionError);
        assert.equal(err.code, 'invalid-options');
        assert.deepEqual(err.problems, [
          'leaseDurationMs (1000) must be greater than renewDeadlineMs (2000)',
          'renewDeadlineMs (2000) must be greater than 1.2 × retryPeriodMs (2400)',
          'namespace: must be a DNS name (lowercase letters, digits, \'-\', \'.\'), got "Default"',
          'name: must be a DNS name (lowercase letters, digits, \'-\', \'.\'), got "a/b"',
          'identity: must be a non-empty string, unique per process',
        ]);
        return true;
      },
    );
  });

  it('names failures by HTTP status or kind', () => {
    assert.equal(failureCode(new LiveRequestError('status', 'PUT x', '409 Conflict', { status: 409 })), '409');
    assert.equal(failureCode(new LiveRequestError('network', 'GET x', 'ECONNRESET')), 'network');
    assert.equal(failureCode(new LiveRequestError('bad-response', 'GET x', 'not JSON')), 'bad-response');
    assert.equal(failureCode(new DOMException('slow', 'TimeoutError')), 'timeout');
  });

  it('refuses to restart a stopped elector', async () => {
    const e = createLeaderElector({ api: createLeaseClient(kubeConfig()), namespace: 'default', name: 'x', identity: 'a' });
    await e.stop();
    assert.throws(() => e.start(), /was stopped; create a new one/);
  });
});

describe('shards: pure parts', () => {
  it('hashes ids to stable shards (FNV-1a 32-bit, murmur3 finaliser)', () => {
    // Fixed values: a change here re-shards every fleet on upgrade.
    assert.equal(shardOf('', 1024), 0xab3e7c0b % 1024);
    assert.equal(shardOf('a', 1024), 0x1a80b1b3 % 1024);
    assert.equal(shardOf('foobar', 1000), 0x0c0da6dc % 1000);
    assert.equal(shardOf('prod/tidb/TidbCluster/basic', 1000), 0x76a01685 % 1000);
    assert.equal(shardOf('anything', 1), 0);
    assert.notEqual(shardOf('é', 1024), shardOf('\u00e9'.normalize('NFD'), 1024), 'UTF-8 bytes as given, no normalisation');
  });

  it('spreads ids evenly enough', () => {
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) counts[shardOf(`cluster-${i % 7}/ns-${i}/StatefulSet/app-${i}`, 4)]! += 1;
    for (const c of counts) assert.ok(c > 800 && c < 1200, `counts ${counts.join(', ')}`);
  });

  it('rejects bad counts and options', () => {
    assert.throws(() => shardOf('a', 0), RangeError);
    assert.throws(() => shardOf('a', 1.5), RangeError);
    assert.throws(() => shardOf('a', 1025), RangeError);
    assert.equal(shardLeaseName(3), 'rollgate-shard-3');
    const api = createLeaseClient(kubeConfig());
    assert.throws(
      () => createShardedLeadership({ api, namespace: 'default', identity: 'a', shards: 4, maxHeld: 5, orphanGraceMs: -1 }),
      (err: unknown) =>
        err instanceof LeaderElectionError &&
        err.problems.join('; ') === 'maxHeld: must be a whole number from 1 to shards (4), got 5; orphanGraceMs: must be 0 or more (Infinity for a hard cap), got -1',
    );
    assert.throws(() => createShardedLeadership({ api, namespace: 'default', identity: 'a', shards: 0 }), /shards: must be a whole number from 1 to 1024, got 0/);
  });
});
