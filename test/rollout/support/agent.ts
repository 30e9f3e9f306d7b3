/**
 * A minimal agent process for crash tests: watches the cluster, rolls the
 * repository's targets out with the executor, prints the outcomes as JSON
 * and exits. Its clock follows kube-sim's (simulated time at `--scale`), so
 * it can be killed at any moment and another started in its place.
 *
 *   node agent.ts --kubeconfig FILE --repo DIR --source SHA --sim-now MS --wall-now MS --scale X
 */
import { KubeConfig } from '@kubernetes/client-node';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { createLiveCache, rollgateResources } from '../../../agent/live/index.ts';
import { loadRepository } from '../../../agent/manifests/index.ts';
import { createExecutor } from '../../../agent/rollout/executor.ts';
import type { RolloutClock } from '../../../agent/rollout/gates.ts';
import { createClusterWriter } from '../../../agent/rollout/writer.ts';

const { values } = parseArgs({ options: { kubeconfig: { type: 'string' }, repo: { type: 'string' }, source: { type: 'string' }, 'sim-now': { type: 'string' }, 'wall-now': { type: 'string' }, scale: { type: 'string' } } });
const simNow = Number(values['sim-now']);
const wallNow = Number(values['wall-now']);
const scale = Number(values.scale);
const clock: RolloutClock = {
  now: () => simNow + (Date.now() - wallNow) * scale,
  setTimeout: (callback, ms) => {
    const timer = setTimeout(callback, Math.max(0, ms / scale));
    return () => clearTimeout(timer);
  },
};
const logger = pino({ level: process.env['ROLLGATE_TEST_LOG'] ?? 'silent' });
const kubeConfig = new KubeConfig();
kubeConfig.loadFromFile(values.kubeconfig ?? '');
kubeConfig.setCurrentContext('sim');
const result = await loadRepository(values.repo ?? '');
if (!result.valid) throw new Error(result.problems.map((p) => p.message).join('\n'));
const cache = createLiveCache({ kubeConfig, resources: rollgateResources.filter((r) => r.plural !== 'leases' && r.plural !== 'controllerrevisions'), logger });
await cache.start();
const stopping = new AbortController();
const writer = createClusterWriter({ kubeConfig, clock, logger, signal: stopping.signal });
const executor = createExecutor({ clusters: new Map([['sim', { cache, writer }]]), reporter: { report: async () => {} }, logger, clock });
const outcomes = await executor.apply({ targets: result.targets, source: values.source ?? '' });
process.stdout.write(`${JSON.stringify(Object.fromEntries(outcomes))}\n`);
await cache.stop();
