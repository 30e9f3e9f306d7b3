/**
 * Scenario 1: the agent SIGKILLed at step boundaries and started again at
 * once. A boundary is any write the agent makes to a target (its progress
 * record, a version, the final state), as the API server stored it. Run
 * `i` of `n` kills at every `n`-th boundary starting from the `i`-th, so
 * the runs together kill at every boundary of the upgrade; each kill lands
 * a seeded 0–200 ms after its boundary, so it falls before, during or after
 * the action that follows. The rollout must resume exactly where it stood.
 */
import type { Scenario } from '../campaign.ts';
import { rolloutRun } from '../support/rollout-run.ts';
import { upgradeOf, type System } from './systems.ts';

/** Options of {@link agentKillScenario}. */
export interface AgentKillOptions {
  /** Kill at every `stride`-th boundary. Default: the scenario's number of runs (every boundary across the runs). */
  readonly stride?: number;
  /** Runs by default. Default 2. */
  readonly defaultRuns?: number;
  /** Longest delay between a boundary and its kill, in ms. Default 200. */
  readonly maxDelayMs?: number;
}

/** The agent killed at step boundaries of a `system` upgrade. */
export function agentKillScenario(system: System, options: AgentKillOptions = {}): Scenario {
  return {
    name: `agent-kill-${system}`,
    description: `the agent SIGKILLed at step boundaries of a ${system === 'tidb' ? 'TiDB' : 'Redis Enterprise'} upgrade and restarted`,
    defaultRuns: options.defaultRuns ?? 2,
    run(context) {
      const stride = Math.max(1, options.stride ?? context.runs);
      const offset = context.index % stride;
      const maxDelay = options.maxDelayMs ?? 200;
      let kills = 0;
      return rolloutRun(context, {
        ...upgradeOf(system),
        chaos(h) {
          let restarting = false;
          h.observer.onBoundary((index) => {
            if ((index - 1) % stride !== offset || restarting) return;
            restarting = true;
            h.later(h.random.int(maxDelay + 1), async () => {
              await h.restart('a');
              kills++;
              restarting = false;
            });
          });
        },
        after: async () => ({ notes: [`killed at every ${stride}th boundary from #${offset + 1}: ${kills} kills`] }),
      });
    },
  };
}
