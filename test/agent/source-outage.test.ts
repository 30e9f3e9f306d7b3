/**
 * The Git server goes down during a rollout's life: the agent's polls fail,
 * nothing happens in the cluster while it is down (the last applied
 * revision stays in force), readiness says why, and once the server is back
 * the pushed change is picked up and rolled out.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { kubeConfigResolver } from '../../agent/main.ts';
import { loadRepository } from '../../agent/manifests/index.ts';
import { createAgent, type Agent, type ReconcileResult } from '../../agent/runtime/agent.ts';
import { loadAgentConfig } from '../../agent/runtime/config.ts';
import { createTestRepository, startGitHttpServer, testGitEnv, type GitHttpServer, type TestRepository } from '../helpers/git-server.ts';
import { memoryLogger } from '../helpers/memory-logger.ts';
import { startControllerFixture, type ControllerFixture } from '../sim/controllers/helpers.ts';
import { statefulSetManifest } from '../helpers/manifests.ts';

const statefulSet = (image: string): string => statefulSetManifest({ name: 'web', namespace: 'apps', image, replicas: 2 });

describe('agent: the Git server down and back', () => {
  let f: ControllerFixture;
  let server: GitHttpServer;
  let repo: TestRepository;
  let dataDir: string;
  let agent: Agent;
  const { logger, text } = memoryLogger();

  before(async () => {
    f = await startControllerFixture({ clusters: ['sim'] });
    server = await startGitHttpServer();
    repo = await createTestRepository(server.root);
    dataDir = await mkdtemp(join(tmpdir(), 'rollgate-outage-'));
    await repo.write({
      'rollgate.yaml': 'apiVersion: rollgate.dev/v1alpha1\nkind: Config\nclusters:\n  - name: sim\n    paths: [manifests]\n',
      'manifests/ns.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n',
      'manifests/web.yaml': statefulSet('example/web:v1'),
    });
    await repo.commit('web v1');
    await repo.push();
    const installed = await loadRepository(repo.workDir);
    assert.deepEqual(f.sim.load('sim', [...installed.resources.map((r) => r.object), ...installed.targets.map((t) => t.object)] as never).errors, []);
    await f.ok(['--context', 'sim', 'rollout', 'status', 'sts/web', '-n', 'apps', '--timeout=30s']);
    const config = await loadAgentConfig({ repo: server.repoUrl(), kubeconfig: f.kubeconfigPath }, { ROLLGATE_DATA_DIR: dataDir, ROLLGATE_LISTEN: '' });
    agent = createAgent({ config, kubeConfigFor: kubeConfigResolver(config), logger, env: testGitEnv() });
  });
  after(async () => {
    await agent.stop();
    await server.close();
    await f.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('takes no action while the server is down, and applies the change once it is back', async () => {
    assert.equal((await agent.reconcile()).type, 'applied');
    assert.deepEqual([...(await agent.settled()).values()], ['succeeded']);
    assert.equal(agent.readiness().ok, true);

    await server.stop();
    await repo.write({ 'manifests/web.yaml': statefulSet('example/web:v2') });
    const commit = await repo.commit('web v2');
    await repo.push();
    const since = f.sim.runtime('sim').events.lastSeq;
    const down = await agent.reconcile({ force: true });
    assert.equal(down.type, 'failed');
    // Still ready: the last good revision stays in force, and webhooks must still reach the agent. The reason is listed.
    assert.equal(agent.readiness().ok, true);
    assert.match(agent.readiness().reasons.join('\n'), /the repository cannot be read/);
    const again = await agent.reconcile({ force: true });
    assert.equal(again.type, 'failed', 'still down');
    assert.deepEqual(f.sim.runtime('sim').events.list({ since, kind: 'Pod', types: ['PodTerminating'] }), [], 'no pod moved while Git was down');
    assert.equal(f.sim.runtime('sim').events.list({ since, types: ['ClientWrite'] }).filter((e) => e.kind === 'StatefulSet').length, 0, 'nothing was written');

    await server.start();
    const back = await agent.reconcile({ force: true });
    assert.deepEqual(back, { type: 'applied', commit, targets: 1 });
    assert.deepEqual([...(await agent.settled()).values()], ['succeeded']);
    assert.deepEqual(f.sim.runtime('sim').events.list({ since, kind: 'Pod', types: ['PodTerminating'] }).map((e) => e.name), ['web-1', 'web-0']);
    assert.deepEqual(agent.readiness(), { ok: true, reasons: [] });
    assert.equal(text().includes('Authorization'), false);
  });

  it('picks up a push announced while a reconcile is already past its poll', async () => {
    await repo.write({ 'manifests/web.yaml': statefulSet('example/web:v3') });
    const first = await repo.commit('web v3');
    await repo.push();
    let second: Promise<ReconcileResult> | undefined;
    let secondCommit = '';
    const config = await loadAgentConfig({ repo: server.repoUrl(), kubeconfig: f.kubeconfigPath }, { ROLLGATE_DATA_DIR: join(dataDir, 'announced'), ROLLGATE_LISTEN: '' });
    const announced = createAgent({
      config,
      kubeConfigFor: kubeConfigResolver(config),
      logger,
      env: testGitEnv(),
      observer: {
        // The first reconcile has polled (and seen v3); a push and its webhook arrive while it loads and applies.
        polled: () => {
          if (second !== undefined) return;
          writeFileSync(join(repo.workDir, 'manifests/web.yaml'), statefulSet('example/web:v4'));
          execFileSync('git', ['-C', repo.workDir, 'commit', '-q', '-a', '-m', 'web v4, pushed after the poll'], { env: testGitEnv() });
          secondCommit = execFileSync('git', ['-C', repo.workDir, 'rev-parse', 'HEAD'], { env: testGitEnv(), encoding: 'utf8' }).trim();
          execFileSync('git', ['-C', repo.workDir, 'push', '-q', repo.bareDir, 'HEAD:refs/heads/main'], { env: testGitEnv() });
          second = announced.reconcile({ force: true });
        },
      },
    });
    try {
      const result = await announced.reconcile({ force: true });
      assert.equal(result.type === 'applied' ? result.commit : result.type, first);
      assert.ok(second !== undefined);
      const next = await second;
      assert.equal('commit' in next ? next.commit : next.type, secondCommit, 'the announced push is not left for the next poll');
      assert.deepEqual([...(await announced.settled()).values()], ['succeeded']);
    } finally {
      await announced.stop();
    }
  });
});
