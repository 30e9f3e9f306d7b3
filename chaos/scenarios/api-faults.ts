/**
 * Scenario 3: the API server misbehaves for the whole rollout: an error
 * rate from 1 % to 20 % (spread over the runs: the first run 1 %, the last
 * 20 %), split between 409 Conflict on writes, 500 and 503 with
 * Retry-After, and every watch dropped every 1–3 s of wall time. kube-sim's
 * fault injection applies to HTTP clients only, so the operators and
 * controllers are unaffected, as in a real cluster whose API server is
 * overloaded for clients. Alternates TiDB and Redis Enterprise.
 */
import type { ApiFaults } from '../../sim/faults.ts';
import type { Scenario } from '../campaign.ts';
import { rolloutRun } from '../support/rollout-run.ts';
import { upgradeOf } from './systems.ts';

const timeScale = 20;

/** The error rate of run `index` of `runs`: 1 % to 20 %, evenly spread. */
export function errorRate(index: number, runs: number): number {
  return runs <= 1 ? 0.2 : 0.01 + (0.19 * index) / (runs - 1);
}

/** The fault configuration for an error rate and a watch-drop period (wall seconds). */
export function apiFaults(rate: number, dropEverySeconds: number): ApiFaults {
  return {
    // kube-sim counts the period in simulated seconds.
    dropWatchesEverySeconds: dropEverySeconds * timeScale,
    rules: [
      { verbs: ['create', 'update', 'patch', 'delete'], resources: ['*'], status: 409, rate: rate / 3 },
      { verbs: ['*'], resources: ['*'], status: 500, rate: rate / 3 },
      { verbs: ['*'], resources: ['*'], status: 503, rate: rate / 3, retryAfterSeconds: 1 },
    ],
  };
}

/** API errors and dropped watches throughout the rollout. */
export function apiFaultsScenario(): Scenario {
  return {
    name: 'api-faults',
    description: 'API error rates from 1 % to 20 % and watches dropped every 1-3 s',
    defaultRuns: 3,
    run(context) {
      const system = context.index % 2 === 0 ? 'tidb' : 'redis';
      const rate = errorRate(context.index, context.runs);
      let stats = '';
      return rolloutRun(context, {
        ...upgradeOf(system),
        timeScale,
        chaos(h) {
          const every = 1 + h.random.next() * 2;
          h.world.runtime.faults.set(apiFaults(rate, every));
          h.note(`${system}, error rate ${(rate * 100).toFixed(1)} %, watches dropped every ${every.toFixed(1)} s`);
        },
        after: async (h) => {
          const fired = h.world.runtime.faults.stats();
          stats = `${fired.fired.reduce((a, b) => a + b, 0)} errors injected, ${fired.watchesDropped} watches dropped`;
          // The agents stop cleanly next; a clean API lets their last writes through.
          h.world.runtime.faults.set({});
          return { notes: [stats] };
        },
      });
    },
  };
}
