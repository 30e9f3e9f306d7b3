/**
 * Targets sharded across agent replicas: each target belongs to one of
 * `shards` shards by a stable hash of its id, each shard has its own Lease
 * (`rollgate-shard-<i>`), and a replica acts only on targets of shards
 * whose Lease it holds. With `shards: 1` this is plain leader election.
 *
 * How `maxHeld` spreads shards, and why it is a soft cap: a replica takes
 * free shards eagerly while it holds fewer than `maxHeld`. Beyond that it
 * takes a shard only after the shard has stayed free (released, or expired
 * by its own observation) for `orphanGraceMs` more, so a replica with room
 * gets the first claim, yet no shard stays orphaned while any replica is
 * alive. With 2 replicas, 4 shards and `maxHeld: 2`, each replica holds 2;
 * when one dies, the other takes its 2 after lease duration plus grace.
 * `orphanGraceMs: Infinity` makes `maxHeld` a hard cap: a dead replica's
 * shards then wait for a replica with room. Shards are never given back by
 * themselves: when the dead replica returns, call `rebalance()` on the
 * replicas (periodically, say) to hand back what they hold beyond `maxHeld`.
 */
import type { Logger } from 'pino';
import { pino } from 'pino';
import type { LiveClock } from '../live/index.ts';
import type { AcquireGate, LeaderElector, LeaderEvent, LeaseClient, StopReason } from './leader.ts';
import { createLeaderElector, LeaderElectionError } from './leader.ts';

/** Most shards a fleet may be split into; each costs one Lease write per retry period per holder. */
export const maxShards = 1024;

/**
 * The shard of a target: FNV-1a (32-bit) of the id's UTF-8 bytes, mixed by
 * murmur3's 32-bit finaliser (FNV's low bits alone spread ids like
 * `ns-1`, `ns-2`… unevenly), modulo `shardCount`. The same id and count
 * give the same shard on every replica, platform and release; changing
 * the count moves most targets.
 * @param targetId the target's stable id (e.g. `cluster/namespace/kind/name`).
 * @param shardCount whole number from 1 to {@link maxShards}.
 * @returns a whole number in [0, shardCount).
 */
export function shardOf(targetId: string, shardCount: number): number {
  if (!Number.isInteger(shardCount) || shardCount < 1 || shardCount > maxShards) throw new RangeError(`shard count must be a whole number from 1 to ${maxShards}, got ${shardCount}`);
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(targetId, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b) >>> 0;
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35) >>> 0;
  hash = (hash ^ (hash >>> 16)) >>> 0;
  return hash % shardCount;
}

/** The default Lease name of a shard: `rollgate-shard-<i>`. */
export function shardLeaseName(shard: number): string {
  return `rollgate-shard-${shard}`;
}

/** A change in the shards this replica holds; `held` is the full set after it, ascending. */
export type ShardEvent =
  /** A term began on `shard`; `signal` is aborted when it ends. */
  | { readonly type: 'acquired'; readonly shard: number; readonly signal: AbortSignal; readonly held: readonly number[] }
  | { readonly type: 'lost'; readonly shard: number; readonly reason: StopReason; readonly held: readonly number[] };

/** Options of {@link createShardedLeadership}. Timing options apply to every shard's elector (see `createLeaderElector`). */
export interface ShardedLeadershipOptions {
  readonly api: LeaseClient;
  /** Namespace of the shard Leases. */
  readonly namespace: string;
  /** Unique per process. */
  readonly identity: string;
  /** How many shards the targets are split into, 1 to {@link maxShards}. Every replica must use the same count. */
  readonly shards: number;
  /** Shards taken eagerly, 1 to `shards`; default `shards` (no spreading). Usually ⌈shards ÷ replicas⌉. */
  readonly maxHeld?: number;
  /** How long a shard must stay free before a replica already at `maxHeld` takes it. Milliseconds, 0 or more, or Infinity (hard cap); default `leaseDurationMs`. */
  readonly orphanGraceMs?: number;
  /** Lease name of a shard; default {@link shardLeaseName}. */
  readonly leaseName?: (shard: number) => string;
  /** Default 15000 ms. */
  readonly leaseDurationMs?: number;
  /** Default 10000 ms. */
  readonly renewDeadlineMs?: number;
  /** Default 2000 ms. */
  readonly retryPeriodMs?: number;
  readonly clock?: LiveClock;
  readonly random?: () => number;
  /** Default silent. */
  readonly logger?: Logger;
}

/** The shards one replica campaigns for and holds. */
export interface ShardedLeadership {
  /** The shard count. */
  readonly shards: number;
  /** Starts every shard's elector. */
  start(): void;
  /** The shards held now, ascending. */
  held(): readonly number[];
  /** Whether this replica leads `shard` now (its last renewal younger than the renew deadline). */
  holds(shard: number): boolean;
  /** Whether this replica leads the shard of `targetId`: check it before every write for that target. */
  owns(targetId: string): boolean;
  /** The signal of the current term on `shard`, or undefined when not held. */
  signalOf(shard: number): AbortSignal | undefined;
  /** Listens to acquisitions and losses; returns a function that stops listening. */
  subscribe(listener: (event: ShardEvent) => void): () => void;
  /** Listens to every shard elector's {@link LeaderEvent}s (for metrics); returns a function that stops listening. */
  subscribeElectors(listener: (shard: number, event: LeaderEvent) => void): () => void;
  /**
   * Releases the shards held beyond `maxHeld` (highest first) so replicas
   * with room take them at once, and campaigns for them again (taking them
   * back only after `orphanGraceMs` if nobody does). Resolves with the
   * shards released.
   */
  rebalance(): Promise<number[]>;
  /** Stops every elector, leaving held Leases to expire. */
  stop(): Promise<void>;
  /** Stops every elector and releases the Leases held, so other replicas take over at once. */
  release(): Promise<void>;
}

/**
 * One elector per shard Lease, with an acquire gate that implements
 * `maxHeld` and `orphanGraceMs` (see the module comment). Nothing runs
 * until `start()`.
 * @throws LeaderElectionError listing every invalid option (including the electors' timing).
 */
export function createShardedLeadership(options: ShardedLeadershipOptions): ShardedLeadership {
  const { shards } = options;
  const maxHeld = options.maxHeld ?? shards;
  const orphanGraceMs = options.orphanGraceMs ?? options.leaseDurationMs ?? 15_000;
  const problems: string[] = [];
  if (!Number.isInteger(shards) || shards < 1 || shards > maxShards) problems.push(`shards: must be a whole number from 1 to ${maxShards}, got ${String(shards)}`);
  else if (!Number.isInteger(maxHeld) || maxHeld < 1 || maxHeld > shards) problems.push(`maxHeld: must be a whole number from 1 to shards (${shards}), got ${String(maxHeld)}`);
  if (typeof orphanGraceMs !== 'number' || Number.isNaN(orphanGraceMs) || orphanGraceMs < 0) problems.push(`orphanGraceMs: must be 0 or more (Infinity for a hard cap), got ${String(orphanGraceMs)}`);
  if (problems.length > 0) throw new LeaderElectionError('invalid-options', problems);
  const log = (options.logger ?? pino({ level: 'silent' })).child({ component: 'shards', identity: options.identity });
  const leaseName = options.leaseName ?? shardLeaseName;

  const leading = new Map<number, AbortSignal>();
  let pending = 0;
  let started = false;
  const listeners = new Set<(event: ShardEvent) => void>();
  const electorListeners = new Set<(shard: number, event: LeaderEvent) => void>();
  const heldNow = (): number[] => [...leading.keys()].sort((a, b) => a - b);

  const emit = (event: ShardEvent): void => {
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (err) {
        log.error({ err, shard: event.shard }, 'shard listener threw');
      }
    }
  };

  const gate: AcquireGate = (freeForMs) => {
    const count = leading.size + pending;
    if (count >= maxHeld && freeForMs < orphanGraceMs) return undefined;
    pending++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      pending--;
    };
  };

  const electorFor = (shard: number): LeaderElector => {
    const elector = createLeaderElector({
      api: options.api,
      namespace: options.namespace,
      name: leaseName(shard),
      identity: options.identity,
      ...(options.leaseDurationMs !== undefined ? { leaseDurationMs: options.leaseDurationMs } : {}),
      ...(options.renewDeadlineMs !== undefined ? { renewDeadlineMs: options.renewDeadlineMs } : {}),
      ...(options.retryPeriodMs !== undefined ? { retryPeriodMs: options.retryPeriodMs } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.random ? { random: options.random } : {}),
      ...(options.logger ? { logger: options.logger.child({ shard }) } : {}),
      acquireGate: gate,
      onStartedLeading: (signal) => {
        leading.set(shard, signal);
        log.info({ shard, held: heldNow() }, 'holding shard');
        emit({ type: 'acquired', shard, signal, held: heldNow() });
      },
      onStoppedLeading: (reason) => {
        leading.delete(shard);
        log.info({ shard, reason, held: heldNow() }, 'no longer holding shard');
        emit({ type: 'lost', shard, reason, held: heldNow() });
      },
    });
    elector.subscribe((event) => {
      for (const listener of electorListeners) {
        try {
          listener(shard, event);
        } catch (err) {
          log.error({ err, shard }, 'elector listener threw');
        }
      }
    });
    return elector;
  };

  const electors: LeaderElector[] = Array.from({ length: shards }, (_, shard) => electorFor(shard));
  const at = (shard: number): LeaderElector | undefined => (Number.isInteger(shard) ? electors[shard] : undefined);

  return {
    shards,
    start() {
      if (started) return;
      started = true;
      for (const elector of electors) elector.start();
    },
    held: () => heldNow().filter((shard) => at(shard)?.isLeader() === true),
    holds: (shard) => at(shard)?.isLeader() === true,
    owns: (targetId) => at(shardOf(targetId, shards))?.isLeader() === true,
    signalOf: (shard) => at(shard)?.signal(),
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    subscribeElectors(listener) {
      electorListeners.add(listener);
      return () => electorListeners.delete(listener);
    },
    async rebalance() {
      const excess = heldNow().slice(maxHeld).reverse();
      await Promise.all(
        excess.map(async (shard) => {
          const old = at(shard);
          if (!old) return;
          const fresh = electorFor(shard);
          electors[shard] = fresh;
          await old.release();
          if (started) fresh.start();
        }),
      );
      if (excess.length > 0) log.info({ released: excess, held: heldNow() }, 'released shards beyond maxHeld');
      return excess;
    },
    async stop() {
      await Promise.all(electors.map((e) => e.stop()));
    },
    async release() {
      await Promise.all(electors.map((e) => e.release()));
    },
  };
}
