/**
 * Scenario 4: the Git server down for part of a rollout, from a seeded step
 * boundary for a seeded 2–8 s. Status commits cannot be pushed meanwhile
 * and must all arrive, once each, when it is back. On odd runs the agent is
 * also killed during the outage: the new one cannot read the repository
 * until the server returns, so that stretch counts as blocked, not as a
 * stall.
 */
import type { Scenario } from '../campaign.ts';
import { rolloutRun } from '../support/rollout-run.ts';
import { upgradeOf } from './systems.ts';

/** The Git server down mid-rollout. */
export function gitDownScenario(): Scenario {
  return {
    name: 'git-down',
    description: 'the Git server down for part of a rollout (and, on odd runs, the agent restarted meanwhile)',
    defaultRuns: 2,
    run(context) {
      const withRestart = context.index % 2 === 1;
      return rolloutRun(context, {
        ...upgradeOf('tidb'),
        chaos(h) {
          const at = 1 + h.random.int(8);
          const downMs = 2_000 + h.random.int(6_000);
          h.observer.onBoundary((index) => {
            if (index !== at) return;
            h.later(0, async () => {
              const start = Date.now();
              await h.world.git.stop();
              if (withRestart) await h.restart('a');
              await new Promise((resolve) => setTimeout(resolve, downMs));
              await h.world.git.start();
              if (withRestart) h.blocked({ start, end: Date.now() });
            });
          });
          h.note(`down at boundary ${at} for ${(downMs / 1000).toFixed(1)} s${withRestart ? ', agent restarted while down' : ''}`);
        },
      });
    },
  };
}
