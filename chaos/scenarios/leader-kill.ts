/**
 * Scenario 2: two replicas with leader election (lease 3 s, renew 2 s,
 * retry 0.5 s); the leader is SIGKILLed at a seeded step boundary and
 * comes back a seeded 0–2 s later, as a restarted pod would. The other
 * replica takes the lease once it expires and resumes the rollout where it
 * stood. Alternates TiDB (even runs) and Redis Enterprise (odd runs).
 */
import type { KubeObject } from '../../sim/api/object.ts';
import type { Scenario } from '../campaign.ts';
import { rolloutRun, type Harness } from '../support/rollout-run.ts';
import { upgradeOf } from './systems.ts';

/** The identity holding the Lease `default/rollgate`, if any. */
export function leaseHolder(h: Harness): string | undefined {
  const store = h.world.sim.cluster('sim').store;
  const leases = store.registry.lookup('coordination.k8s.io', 'v1', 'leases');
  if (leases === undefined) return undefined;
  const lease: KubeObject | undefined = store.find(leases, 'default', 'rollgate');
  const holder = (lease?.['spec'] as { holderIdentity?: unknown } | undefined)?.holderIdentity;
  return typeof holder === 'string' && holder !== '' ? holder : undefined;
}

/** The leader killed mid-rollout. */
export function leaderKillScenario(): Scenario {
  return {
    name: 'leader-kill',
    description: 'the leader of two replicas SIGKILLed mid-rollout',
    defaultRuns: 2,
    run(context) {
      const system = context.index % 2 === 0 ? 'tidb' : 'redis';
      let killed: string | undefined;
      return rolloutRun(context, {
        ...upgradeOf(system),
        replicas: { a: { leader: { identity: 'a' } }, b: { leader: { identity: 'b' } } },
        chaos(h) {
          const at = 2 + h.random.int(6);
          h.observer.onBoundary((index) => {
            if (index !== at) return;
            const leader = leaseHolder(h);
            if (leader === undefined) return;
            killed = leader;
            h.later(h.random.int(100), async () => {
              await h.kill(leader);
              h.later(h.random.int(2_000), async () => h.start(leader));
            });
          });
          h.note(`${system}, leader killed at boundary ${at}`);
        },
        after: async () => (killed === undefined ? { completed: false, failure: 'no leader was found to kill' } : { notes: [`killed leader ${killed}`] }),
      });
    },
  };
}
