/**
 * Scenario 7: a gate that flaps. During a Redis Enterprise upgrade, from a
 * seeded step boundary, a seeded node of the cluster is held out (its pod
 * turns not Ready, through kube-sim's admin endpoint) and let back in, four
 * times, each for 0.3–1.5 s with 0.3–1.5 s between. The rollout must wait
 * while a pod is not Ready, go on when it is back, never restart a pod
 * twice, and finish. Time held out counts as blocked, not as a stall.
 */
import { request } from 'node:https';
import type { Scenario } from '../campaign.ts';
import type { World } from '../support/world.ts';
import { rolloutRun } from '../support/rollout-run.ts';
import { redisUpgrade } from './systems.ts';

/** `PUT` (with `{ordinal}`) or `DELETE` of `/rollgate-sim/clusters/sim/redisenterpriseclusters/redis/rec/held-out-node`. */
async function holdOut(world: World, ordinal: number | undefined): Promise<void> {
  const cluster = world.sim.cluster('sim');
  const url = new URL(`https://127.0.0.1:${world.sim.port}/rollgate-sim/clusters/sim/redisenterpriseclusters/redis/rec/held-out-node`);
  const body = ordinal === undefined ? undefined : JSON.stringify({ ordinal });
  await new Promise<void>((resolve, reject) => {
    const req = request(url, { method: ordinal === undefined ? 'DELETE' : 'PUT', ca: world.sim.api.caPem, headers: { Authorization: `Bearer ${cluster.token}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`held-out-node ${ordinal ?? 'release'}: HTTP ${res.statusCode ?? 0}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A Redis Enterprise node's readiness flapping mid-rollout. */
export function flappingGateScenario(): Scenario {
  return {
    name: 'flapping-gate',
    description: "a Redis Enterprise node's readiness flapping during the upgrade",
    defaultRuns: 2,
    run(context) {
      return rolloutRun(context, {
        ...redisUpgrade(),
        chaos(h) {
          const at = 1 + h.random.int(6);
          const flaps = Array.from({ length: 4 }, () => ({ ordinal: h.random.int(3), holdMs: 300 + h.random.int(1_200), gapMs: 300 + h.random.int(1_200) }));
          h.observer.onBoundary((index) => {
            if (index !== at) return;
            h.later(0, async () => {
              for (const flap of flaps) {
                const start = Date.now();
                await holdOut(h.world, flap.ordinal);
                await new Promise((resolve) => setTimeout(resolve, flap.holdMs));
                await holdOut(h.world, undefined);
                h.blocked({ start, end: Date.now() });
                await new Promise((resolve) => setTimeout(resolve, flap.gapMs));
              }
            });
          });
          h.note(`from boundary ${at}: nodes ${flaps.map((f) => f.ordinal).join(', ')} held out`);
        },
      });
    },
  };
}
