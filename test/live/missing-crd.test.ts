/**
 * A CRD that is not installed (404 on its list) does not hold up or break
 * the other resources: start() resolves, health says so, the list is
 * retried with backoff, and the objects appear once the CRD is installed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiextensionsV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import type { V1CustomResourceDefinition } from '@kubernetes/client-node';
import type { LiveCache, LiveEvent } from '../../agent/live/index.ts';
import { createLiveCache, resources } from '../../agent/live/index.ts';
import { redisEnterpriseClusterCrd } from '../../sim/api/crds.ts';
import { eventually } from '../helpers/sim.ts';
import type { LiveFixture } from './helpers.ts';
import { cacheOptions, memoryLogger, pod, startLiveFixture } from './helpers.ts';

const ns = 'no-crd';
const crdName = 'redisenterpriseclusters.app.redislabs.com';

describe('live cache: a CRD that is not installed', () => {
  let f: LiveFixture;
  let cache: LiveCache;
  const logs = memoryLogger();
  const events: LiveEvent[] = [];

  before(async () => {
    f = await startLiveFixture([ns]);
    // kube-sim installs the Redis Enterprise CRD at start; this cluster never had it.
    await f.kc.makeApiClient(ApiextensionsV1Api).deleteCustomResourceDefinition({ name: crdName });
    await f.core.createNamespacedPod({ namespace: ns, body: pod(ns, 'p0') });
    cache = createLiveCache(cacheOptions(f, [resources.pods, resources.redisEnterpriseClusters], { logger: logs.logger }));
    cache.subscribe((e) => events.push(e));
    await cache.start();
  });
  after(async () => {
    await cache.stop();
    await f.close();
  });

  it('starts, reports the resource as not installed, and pods work', async () => {
    const health = cache.health();
    const rec = health.resources.find((r) => r.plural === 'redisenterpriseclusters');
    const pods = health.resources.find((r) => r.plural === 'pods');
    assert.equal(rec?.installed, false);
    assert.equal(rec?.synced, false);
    assert.equal(rec?.lastError?.status, 404);
    assert.match(rec?.lastError?.message ?? '', /GET https:\/\/127\.0\.0\.1:\d+\/clusters\/sim\/apis\/app\.redislabs\.com\/v1\/redisenterpriseclusters\?limit=500: 404 NotFound/);
    assert.equal(pods?.synced, true);
    assert.equal(health.synced, true, 'a resource that is not installed does not count against sync');
    assert.deepEqual(cache.list(resources.redisEnterpriseClusters), []);

    await f.core.createNamespacedPod({ namespace: ns, body: pod(ns, 'p1') });
    await eventually(() => assert.ok(cache.get(resources.pods, ns, 'p1')));
    // Retried with backoff, not given up on.
    await eventually(() => assert.ok(f.requests.filter((r) => r.path.endsWith('/redisenterpriseclusters')).length >= 3));
    assert.equal(logs.text().match(/resource not installed \(404\)/g)?.length, 1, 'logged once, on the transition, not on every retry');
  });

  it('lists the resource once its CRD is installed', async () => {
    await f.kc.makeApiClient(ApiextensionsV1Api).createCustomResourceDefinition({ body: redisEnterpriseClusterCrd() as V1CustomResourceDefinition });
    await f.kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
      group: 'app.redislabs.com',
      version: 'v1',
      namespace: ns,
      plural: 'redisenterpriseclusters',
      body: { apiVersion: 'app.redislabs.com/v1', kind: 'RedisEnterpriseCluster', metadata: { name: 'rec' }, spec: { nodes: 3 } },
    });
    await eventually(() => assert.ok(cache.get(resources.redisEnterpriseClusters, ns, 'rec')));
    const rec = cache.health().resources.find((r) => r.plural === 'redisenterpriseclusters');
    assert.equal(rec?.installed, true);
    assert.equal(rec?.synced, true);
    assert.ok(events.some((e) => e.type === 'ADDED' && e.resource === resources.redisEnterpriseClusters && e.object.metadata.name === 'rec'));
    assert.equal(cache.get(resources.redisEnterpriseClusters, ns, 'rec')?.kind, 'RedisEnterpriseCluster');
  });
});
