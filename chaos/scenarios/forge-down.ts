/**
 * Scenario 5: the forge down. The upgrade is the merge commit of pull
 * request #7 on a fake GitHub; from a seeded step boundary the forge answers
 * every request 503 for a seeded 2–6 s. The rollout must not wait for it,
 * the sticky rollout comment must catch up to the final state once the
 * forge is back (and the merge commit's status turn `success`), and no
 * comment may be written twice.
 */
import type { Scenario } from '../campaign.ts';
import { duplicatedComments, startChaosForge, type ChaosForge } from '../support/forge.ts';
import { rolloutRun } from '../support/rollout-run.ts';
import { until } from '../support/world.ts';
import { upgradeOf } from './systems.ts';

const pr = 7;

/** The forge down mid-rollout. */
export function forgeDownScenario(): Scenario {
  return {
    name: 'forge-down',
    description: 'the forge answering 503 for part of a rollout',
    defaultRuns: 2,
    run(context) {
      const system = context.index % 2 === 0 ? 'tidb' : 'redis';
      const upgrade = upgradeOf(system);
      let forge: ChaosForge | undefined;
      return rolloutRun(context, {
        ...upgrade,
        async before() {
          const started = await startChaosForge();
          forge = started;
          return { config: { forgeUrl: started.url }, close: () => started.close() };
        },
        chaos(h) {
          forge?.merged(pr, h.desired());
          const at = 1 + h.random.int(6);
          const downMs = 2_000 + h.random.int(4_000);
          h.observer.onBoundary((index) => {
            if (index !== at) return;
            forge?.setDown(true);
            h.later(downMs, async () => forge?.setDown(false));
          });
          h.note(`${system}, forge down at boundary ${at} for ${(downMs / 1000).toFixed(1)} s`);
        },
        async after(h) {
          const f = forge;
          if (f === undefined) return { completed: false, failure: 'the forge did not start' };
          let failure: string | undefined;
          await until(
            () => {
              const body = f.comments(pr).at(-1)?.body ?? '';
              const behind = upgrade.expected.find((t) => !body.includes(`\`${t.id}\`: Succeeded`));
              if (behind !== undefined) return `the rollout comment does not show ${behind.id} Succeeded`;
              const state = f.status(h.desired(), 'rollgate/rollout');
              return state === 'success' ? undefined : `the merge commit's status is ${state ?? 'unset'}`;
            },
            60_000,
            'the forge catching up',
          ).catch((err: unknown) => void (failure = err instanceof Error ? err.message : String(err)));
          return {
            ...(failure !== undefined ? { completed: false, failure } : {}),
            commentsDuplicated: duplicatedComments(f.comments(pr)),
            notes: [`${f.refused.count} requests refused while down`, ...(f.unknown.length > 0 ? [`unknown requests: ${[...new Set(f.unknown)].join(', ')}`] : [])],
          };
        },
      });
    },
  };
}
