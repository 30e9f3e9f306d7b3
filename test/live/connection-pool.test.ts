/**
 * Requests made with an agent kubeconfig share one connection pool per
 * cluster and user: client-node alone opens a new TLS connection for every
 * call, which left a busy agent holding thousands of sockets.
 */
import assert from 'node:assert/strict';
import type { TLSSocket } from 'node:tls';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { after, before, describe, it } from 'node:test';
import { withUserAgent } from '../../agent/live/http.ts';
import { startSimFixture, type SimFixture } from '../helpers/sim.ts';

describe('agent kubeconfig: one connection pool per cluster', () => {
  let f: SimFixture;
  const sockets = new Set<TLSSocket>();
  before(async () => {
    f = await startSimFixture({ clusters: ['sim'] });
    f.sim.api.server.on('secureConnection', (socket: TLSSocket) => sockets.add(socket));
  });
  after(async () => {
    await f.close();
  });

  async function writes(kubeConfig: KubeConfig, prefix: string): Promise<number> {
    sockets.clear();
    for (let i = 0; i < 20; i++) {
      // A new API client per call, as the writer and the event reporter make them.
      await kubeConfig.makeApiClient(CoreV1Api).createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: `${prefix}-${i}` }, data: { n: String(i) } } });
    }
    return sockets.size;
  }

  it('sends twenty writes over a pool of kept-alive connections, where client-node alone opens one per write', async () => {
    const plain = new KubeConfig();
    plain.loadFromFile(f.kubeconfigPath);
    plain.setCurrentContext('sim');
    assert.equal(await writes(plain, 'plain'), 20, 'client-node alone: one connection per call (the behaviour this works around)');
    const pooled = withUserAgent(plain, 'rollgate/test');
    // undici may open a second connection while the first response's body is still being read; never more here.
    assert.ok((await writes(pooled, 'pooled')) <= 2);
    assert.equal(await writes(pooled, 'again'), 0, 'the pool stays open between bursts');
  });
});
