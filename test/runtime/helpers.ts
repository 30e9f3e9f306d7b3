/**
 * Helpers of the runtime tests: kube-sim with a Lease client over HTTPS,
 * electors with short timings, a tracker that fails on two simultaneous
 * leaders, and the history of a Lease as the server stored it.
 */
import { KubeConfig } from '@kubernetes/client-node';
import type { SimulationOptions } from '../../sim/simulation.ts';
import type { SimFixture } from '../helpers/sim.ts';
import { startSimFixture } from '../helpers/sim.ts';
import { memoryLogger } from '../helpers/memory-logger.ts';
import type { LeaderElector, LeaderElectorOptions, LeaseClient, StopReason } from '../../agent/runtime/leader.ts';
import { createLeaderElector, createLeaseClient } from '../../agent/runtime/leader.ts';

/** Short timings: the lease is written as 1 s (whole seconds), the leader gives up after 200 ms without a renewal, retries every 50 ms. */
export const fast = { leaseDurationMs: 300, renewDeadlineMs: 200, retryPeriodMs: 50 } as const;

/** A simulation plus a Lease client for its cluster. */
export interface LeaseFixture extends SimFixture {
  kc: KubeConfig;
  api: LeaseClient;
  /** Every stored change of the Lease `name` in `namespace`, in order. */
  history(namespace: string, name: string): LeaseChange[];
}

/** One stored change of a Lease. */
export interface LeaseChange {
  readonly holder: string;
  readonly transitions: number;
  readonly durationSeconds: number;
  readonly acquireTime: string | undefined;
  readonly renewTime: string | undefined;
  readonly resourceVersion: string;
  /** `performance.now()` when the server stored it. */
  readonly at: number;
}

export async function startLeaseFixture(options: SimulationOptions = {}): Promise<LeaseFixture> {
  const f = await startSimFixture(options);
  const kc = new KubeConfig();
  kc.loadFromFile(f.kubeconfigPath);
  const changes: { namespace: string; name: string; change: LeaseChange }[] = [];
  f.sim.cluster().store.subscribe((event) => {
    if (event.resource.kind !== 'Lease' || event.type === 'DELETED') return;
    const spec = (event.object['spec'] ?? {}) as Record<string, unknown>;
    changes.push({
      namespace: event.object.metadata.namespace ?? '',
      name: event.object.metadata.name ?? '',
      change: {
        holder: typeof spec['holderIdentity'] === 'string' ? spec['holderIdentity'] : '',
        transitions: typeof spec['leaseTransitions'] === 'number' ? spec['leaseTransitions'] : 0,
        durationSeconds: typeof spec['leaseDurationSeconds'] === 'number' ? spec['leaseDurationSeconds'] : 0,
        acquireTime: typeof spec['acquireTime'] === 'string' ? spec['acquireTime'] : undefined,
        renewTime: typeof spec['renewTime'] === 'string' ? spec['renewTime'] : undefined,
        resourceVersion: event.object.metadata.resourceVersion ?? '',
        at: performance.now(),
      },
    });
  });
  return {
    ...f,
    kc,
    api: createLeaseClient(kc),
    history: (namespace, name) => changes.filter((c) => c.namespace === namespace && c.name === name).map((c) => c.change),
  };
}

/** Leadership as seen in this process: fails (records a violation) when a term starts while another is open. */
export interface LeadershipTracker {
  /** `onStartedLeading`/`onStoppedLeading` for an elector with this identity. */
  callbacks(identity: string): Pick<LeaderElectorOptions, 'onStartedLeading' | 'onStoppedLeading'>;
  /** Identities leading now. */
  active(): string[];
  /** Each term in start order: who, and why it ended (undefined while open). */
  terms(): { identity: string; ended: StopReason | undefined; abortedBeforeStopped: boolean | undefined }[];
  violations(): string[];
}

export function leadershipTracker(): LeadershipTracker {
  const active = new Map<string, AbortSignal>();
  const terms: { identity: string; ended: StopReason | undefined; abortedBeforeStopped: boolean | undefined }[] = [];
  const violations: string[] = [];
  return {
    callbacks: (identity) => ({
      onStartedLeading: (signal) => {
        if (active.size > 0) violations.push(`${identity} started leading while ${[...active.keys()].join(', ')} led`);
        active.set(identity, signal);
        signal.addEventListener('abort', () => active.delete(identity), { once: true });
        terms.push({ identity, ended: undefined, abortedBeforeStopped: undefined });
      },
      onStoppedLeading: (reason) => {
        const term = terms.findLast((t) => t.identity === identity && t.ended === undefined);
        if (!term) {
          violations.push(`${identity} stopped leading without a term`);
          return;
        }
        term.ended = reason;
        // The term's signal must already be aborted when onStoppedLeading runs.
        term.abortedBeforeStopped = !active.has(identity);
      },
    }),
    active: () => [...active.keys()],
    terms: () => terms.map((t) => ({ ...t })),
    violations: () => [...violations],
  };
}

/** An elector on `f`'s cluster with the fast timings and the tracker's callbacks; logs go to memory. */
export function elector(f: LeaseFixture, tracker: LeadershipTracker, identity: string, extra: Partial<LeaderElectorOptions> = {}): LeaderElector {
  return createLeaderElector({ api: f.api, namespace: 'default', name: 'rollgate-leader', identity, logger: memoryLogger().logger, ...fast, ...tracker.callbacks(identity), ...extra });
}

/** Throws unless `condition`; for `eventually()`. */
export function check(condition: boolean, message: string | (() => string)): void {
  if (!condition) throw new Error(typeof message === 'string' ? message : message());
}
