/**
 * `rollgate run` as it runs in a cluster: a long-running child process with
 * its ops server, a GitHub webhook that starts a reconcile at once (the
 * poll interval is an hour), metrics that show the rollout, and SIGTERM
 * ending it cleanly. The webhook secret never shows up in the logs.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadRepository } from '../../agent/manifests/index.ts';
import { signGitHubBody } from '../../agent/webhook/index.ts';
import { createTestRepository, run, testGitEnv, type TestRepository } from '../helpers/git-server.ts';
import { eventually, runCommand } from '../helpers/sim.ts';
import { startControllerFixture, type ControllerFixture } from '../sim/controllers/helpers.ts';
import { statefulSetManifest } from '../helpers/manifests.ts';

const secret = 'hook-secret-6f1d2e9a7c';

const statefulSet = (image: string): string => statefulSetManifest({ name: 'web', namespace: 'apps', image, replicas: 2 });

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('rollgate run, long-running', () => {
  let f: ControllerFixture;
  let root: string;
  let repo: TestRepository;
  let agent: ChildProcess;
  let logs = '';
  let url: string;

  before(async () => {
    f = await startControllerFixture({ clusters: ['sim'] });
    root = await mkdtemp(join(tmpdir(), 'rollgate-run-agent-'));
    repo = await createTestRepository(root);
    const config = 'apiVersion: rollgate.dev/v1alpha1\nkind: Config\nclusters:\n  - name: sim\n    paths: [manifests]\ndefaults:\n  gates:\n    - podReady: {}\n    - rolloutStatus: {}\n';
    await repo.write({ 'rollgate.yaml': config, 'manifests/ns.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n', 'manifests/web.yaml': statefulSet('example/web:v1') });
    await repo.commit('web v1');
    await repo.push();
    const installed = await loadRepository(repo.workDir);
    assert.deepEqual(f.sim.load('sim', [...installed.resources.map((r) => r.object), ...installed.targets.map((t) => t.object)] as never).errors, []);
    await f.ok(['--context', 'sim', 'rollout', 'status', 'sts/web', '-n', 'apps', '--timeout=30s']);

    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const agentConfig = join(root, 'agent.yaml');
    await writeFile(agentConfig, `apiVersion: rollgate.dev/v1alpha1\nkind: AgentConfig\nrepo: ${repo.bareDir}\ninterval: 1h\ndataDir: ${join(root, 'data')}\nkubeconfig: ${f.kubeconfigPath}\nlisten: 127.0.0.1:${port}\nwebhooks:\n  githubSecretEnv: HOOK_SECRET\n`);
    agent = spawn(process.execPath, ['agent/cli/main.ts', 'run', '--config', agentConfig], { env: { ...testGitEnv(), HOOK_SECRET: secret }, stdio: ['ignore', 'ignore', 'pipe'] });
    agent.stderr?.on('data', (chunk: Buffer) => (logs += chunk.toString()));
    await eventually(async () => assert.equal((await fetch(`${url}/readyz`)).status, 200), 30_000);
  });
  after(async () => {
    if (agent.exitCode === null) agent.kill('SIGKILL');
    await f.close();
    await rm(root, { recursive: true, force: true });
  });

  it('serves health, readiness and metrics', async () => {
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, /rollgate_git_polls_total\{result="changed"\} 1/);
  });

  it('refuses an unsigned webhook, and rolls a push out at once on a signed one', async () => {
    await repo.write({ 'manifests/web.yaml': statefulSet('example/web:v2') });
    const commit = await repo.commit('web v2');
    await repo.push();
    const body = JSON.stringify({ ref: 'refs/heads/main', before: '0'.repeat(40), after: commit, repository: { full_name: 'acme/deploy' }, commits: [] });
    const unsigned = await fetch(`${url}/webhooks/github`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': randomUUID() }, body });
    assert.equal(unsigned.status, 401);
    const signed = await fetch(`${url}/webhooks/github`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': signGitHubBody(secret, body) }, body });
    assert.equal(signed.status, 202);

    await eventually(async () => {
      const images = await f.ok(['--context', 'sim', 'get', 'pods', '-n', 'apps', '-o', 'jsonpath={range .items[*]}{.spec.containers[0].image} {end}']);
      assert.equal(images.trim(), 'example/web:v2 example/web:v2');
    }, 60_000);
    await eventually(async () => {
      const metrics = await (await fetch(`${url}/metrics`)).text();
      assert.match(metrics, /rollgate_rollout_phase\{target="sim\/apps\/StatefulSet\/web",phase="Succeeded"\} 1/);
      assert.match(metrics, /rollgate_webhook_deliveries_total\{forge="github",result="push"\} 1/);
    }, 30_000);
    await eventually(async () => {
      // Status commits are pushed in the background; the rollout never waits for them.
      const log = await run('git', ['--git-dir', repo.bareDir, 'log', '--format=%s', 'rollgate/status']);
      assert.match(log, /sim\/apps\/StatefulSet\/web: Succeeded/);
      const audit = await runCommand(process.execPath, ['agent/cli/main.ts', 'audit', '--repo', repo.bareDir, '--format', 'json'], { env: testGitEnv() });
      assert.equal(audit.code, 0, audit.stderr);
      const report = JSON.parse(audit.stdout) as { targets: { id: string; changes: { commit: string; versions: { from: string | null; to: string | null }[]; rollout: { outcome: string; durationSeconds: number | null } | null }[] }[] };
      const change = report.targets.find((t) => t.id === 'sim/apps/StatefulSet/web')?.changes.find((c) => c.commit === commit);
      assert.deepEqual(change?.versions.map((v) => [v.from, v.to]), [['v1', 'v2']]);
      assert.equal(change?.rollout?.outcome, 'Succeeded');
      assert.ok((change?.rollout?.durationSeconds ?? -1) >= 0);
    }, 30_000);
  });

  it('stops on SIGTERM with exit 0, and never logged the webhook secret', async () => {
    const exited = new Promise<number | null>((resolve) => agent.once('exit', (code) => resolve(code)));
    agent.kill('SIGTERM');
    assert.equal(await exited, 0, logs);
    assert.equal(logs.includes(secret), false);
    assert.match(logs, /stopping: finishing the write in flight/);
    assert.ok((await readFile(join(root, 'agent.yaml'), 'utf8')).includes('HOOK_SECRET'), 'the configuration names the variable, not the secret');
  });
});
