/**
 * Scenario 6: a newer revision pushed while a rollout runs (TiDB v7.5.1 →
 * v8.1.0, superseded at a seeded step boundary by v8.5.0). The step in
 * flight finishes, the first rollout is reported Superseded, and the
 * cluster ends at v8.5.0; no pod restarts twice toward the same version.
 * On odd runs the agent is also SIGKILLed right after the push, so the
 * process that finishes the step in flight knows only the newer revision.
 */
import type { Scenario } from '../campaign.ts';
import { tidbClusterYaml, tidbExpectation, versions } from '../support/manifests.ts';
import { rolloutRun } from '../support/rollout-run.ts';
import { tidbUpgrade } from './systems.ts';

/** A pushed revision superseding a running rollout. */
export function supersedeScenario(): Scenario {
  return {
    name: 'supersede',
    description: 'a pushed revision superseding a running TiDB rollout',
    defaultRuns: 2,
    run(context) {
      const withKill = context.index % 2 === 1;
      return rolloutRun(context, {
        ...tidbUpgrade(),
        chaos(h) {
          const at = 2 + h.random.int(8);
          h.observer.onBoundary((index) => {
            if (index !== at) return;
            h.later(h.random.int(300), async () => {
              await h.pushDesired({ 'manifests/tidb.yaml': tidbClusterYaml('tidb', versions.tidb.next) }, 'supersede');
              if (withKill) await h.restart('a');
            });
          });
          h.note(`${versions.tidb.next} pushed at boundary ${at}${withKill ? ', agent killed right after' : ''}`);
        },
        // The end state is the newer version whether or not the push has happened yet: the run waits for it.
        expectAtEnd: () => [tidbExpectation('tidb', versions.tidb.next)],
      });
    },
  };
}
