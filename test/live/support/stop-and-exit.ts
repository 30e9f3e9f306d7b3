/**
 * A process that starts kube-sim and a live cache, waits for a watch
 * event, stops both, and then must exit on its own: any timer, socket or
 * promise the cache left behind would keep it alive (stop.test.ts kills it
 * after a deadline and fails).
 */
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { createLiveCache, resources } from '../../../agent/live/index.ts';
import { startSimulation } from '../../../sim/simulation.ts';

const sim = await startSimulation({ bookmarkIntervalMs: 20 });
const kc = new KubeConfig();
kc.loadFromString(sim.kubeconfig());
const cache = createLiveCache({ kubeConfig: kc, resources: [resources.pods, resources.tidbClusters, resources.leases], backoff: { initialMs: 5, maxMs: 50, factor: 2, jitter: 0.5 } });
await cache.start();
const seen = cache.waitFor(() => cache.get(resources.pods, 'default', 'p'), { description: 'pod default/p', timeoutMs: 60_000 });
await kc.makeApiClient(CoreV1Api).createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } });
await seen;
// A wait left pending and a cut watch in backoff at the moment of stop.
const pending = cache.waitFor(() => undefined, { description: 'never', timeoutMs: 60_000 }).catch((err: unknown) => (err as Error).message);
sim.dropWatches();
await cache.stop();
process.stdout.write(`stopped: ${await pending}\n`);
await sim.close();
