/**
 * `/readyz` of `rollgate run` stays 503 until the first reconcile has loaded
 * a revision and synced the cluster's watch cache, and says why at each
 * stage: first the Git server is down (no revision, the repository cannot
 * be read), then Git is back but the cluster is slow to answer its lists
 * (the cache's first list is in progress), then 200. `/healthz` stays 200
 * throughout: a replica waiting for its first sync is alive, and a
 * liveness probe must not restart it.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { loadRepository } from '../../agent/manifests/index.ts';
import { createTestRepository, startGitHttpServer, testGitEnv, type GitHttpServer } from '../helpers/git-server.ts';
import { statefulSetManifest } from '../helpers/manifests.ts';
import { eventually } from '../helpers/sim.ts';
import { startControllerFixture, type ControllerFixture } from '../sim/controllers/helpers.ts';

const cli = fileURLToPath(new URL('../../agent/cli/main.ts', import.meta.url));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

async function probe(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

describe('rollgate run: /readyz until the first sync', () => {
  let f: ControllerFixture;
  let server: GitHttpServer;
  let root: string;
  let agent: ChildProcess | undefined;
  let exited: Promise<number | null> | undefined;
  let logs = '';
  /** While set, the cluster holds every GET the agent sends (its cache's lists) until it is called. */
  let releaseCluster: (() => void) | undefined;
  let held: Promise<void> | undefined;
  let heldRequests = 0;

  before(async () => {
    f = await startControllerFixture({
      clusters: ['sim'],
      beforeRequest: async (_cluster, req) => {
        if (held === undefined || req.method !== 'GET' || !/^rollgate\//.test(req.headers['user-agent'] ?? '')) return;
        heldRequests++;
        await held;
      },
    });
    server = await startGitHttpServer();
    const repo = await createTestRepository(server.root);
    root = await mkdtemp(join(tmpdir(), 'rollgate-readiness-'));
    await repo.write({
      'rollgate.yaml': 'apiVersion: rollgate.dev/v1alpha1\nkind: Config\nclusters:\n  - name: sim\n    paths: [manifests]\n',
      'manifests/ns.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n',
      'manifests/web.yaml': statefulSetManifest({ name: 'web', namespace: 'apps', image: 'example/web:v1', replicas: 1 }),
    });
    await repo.commit('web v1');
    await repo.push();
    const installed = await loadRepository(repo.workDir);
    assert.deepEqual(f.sim.load('sim', [...installed.resources.map((r) => r.object), ...installed.targets.map((t) => t.object)] as never).errors, []);
    await server.stop();
  });

  after(async () => {
    releaseCluster?.();
    if (agent !== undefined && agent.exitCode === null && agent.signalCode === null) agent.kill('SIGKILL');
    await exited;
    await server.close();
    await f.close();
    await rm(root, { recursive: true, force: true });
  });

  it('is 503 with the reason while Git is down, then while the cluster lists, and 200 after the first successful reconcile', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const configPath = join(root, 'agent.yaml');
    await writeFile(configPath, `apiVersion: rollgate.dev/v1alpha1\nkind: AgentConfig\nrepo: ${server.repoUrl()}\ninterval: 1s\ndataDir: ${join(root, 'data')}\nkubeconfig: ${f.kubeconfigPath}\nlisten: 127.0.0.1:${port}\n`);
    agent = spawn(process.execPath, [cli, 'run', '--config', configPath], { env: testGitEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
    agent.stderr?.on('data', (chunk: Buffer) => (logs += chunk.toString()));
    exited = new Promise((resolve) => agent?.once('exit', (code) => resolve(code)));

    // 1. Git is down: not ready, no revision, and the failed poll is named.
    const down = await eventually(async () => {
      const r = await probe(`${url}/readyz`);
      assert.equal(r.status, 503);
      assert.match(r.body, /the repository cannot be read/);
      return r;
    }, 30_000);
    assert.match(down.body, /^not ready\n/);
    assert.match(down.body, /^- no revision loaded yet$/m);
    assert.equal((await probe(`${url}/healthz`)).status, 200, 'alive while not ready');

    // 2. Git is back, the cluster holds the cache's lists: still not ready, and the reason says the cache is listing.
    held = new Promise((resolve) => (releaseCluster = resolve));
    await server.start();
    await eventually(() => assert.ok(heldRequests > 0, 'the agent has not listed yet'), 30_000);
    // The lists are held: whatever the timing, the first reconcile cannot have finished.
    const listing = await probe(`${url}/readyz`);
    assert.equal(listing.status, 503);
    assert.match(listing.body, /^- cluster sim: watch cache not synced yet \(first list in progress\)$/m);
    assert.match(listing.body, /^- no revision loaded yet$/m);
    assert.doesNotMatch(listing.body, /the repository cannot be read/, 'the poll that reached Git cleared the source problem');

    // 3. The cluster answers: the first reconcile completes, and the agent is ready.
    releaseCluster?.();
    held = undefined;
    await eventually(async () => assert.deepEqual(await probe(`${url}/readyz`), { status: 200, body: 'ok\n' }), 30_000);
    assert.match(logs, /revision applied/);

    agent.kill('SIGTERM');
    assert.equal(await exited, 0, logs.split('\n').slice(-20).join('\n'));
  });
});
