/** The agent configuration: file, then environment, then flags; every bad value named with where it came from. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadAgentConfig, secretVariablesOf, sourceAuthOf } from '../../agent/runtime/config.ts';

describe('agent configuration', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-agent-config-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const file = async (name: string, text: string): Promise<string> => {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  };
  const problems = async (promise: Promise<unknown>): Promise<readonly string[]> => {
    try {
      await promise;
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      return err.problems;
    }
    assert.fail('expected a ConfigError');
  };

  it('fills in safe defaults', async () => {
    const config = await loadAgentConfig({ repo: '/srv/deploy.git' }, {});
    assert.equal(config.branch, 'main');
    assert.equal(config.intervalMs, 60_000);
    assert.equal(config.concurrency, 4);
    assert.deepEqual(config.listen, { host: '0.0.0.0', port: 8080 });
    assert.equal(config.leaderElection.enabled, false);
    assert.equal(config.status.enabled, true);
    assert.equal(config.once, false);
  });

  it('lets the environment override the file and flags override both', async () => {
    const path = await file('precedence.yaml', 'apiVersion: rollgate.dev/v1alpha1\nkind: AgentConfig\nrepo: https://git.example.com/file.git\nbranch: file-branch\ninterval: 5m\nconcurrency: 2\n');
    const fromFile = await loadAgentConfig({ config: path }, {});
    assert.equal(fromFile.repo, 'https://git.example.com/file.git');
    assert.equal(fromFile.intervalMs, 300_000);
    assert.equal(fromFile.concurrency, 2);
    const fromEnv = await loadAgentConfig({ config: path }, { ROLLGATE_REPO: 'https://git.example.com/env.git', ROLLGATE_INTERVAL: '30s', ROLLGATE_CONCURRENCY: '8' });
    assert.equal(fromEnv.repo, 'https://git.example.com/env.git');
    assert.equal(fromEnv.branch, 'file-branch');
    assert.equal(fromEnv.intervalMs, 30_000);
    assert.equal(fromEnv.concurrency, 8);
    const fromFlags = await loadAgentConfig({ config: path, repo: '/flag', interval: '10s', branch: 'flag-branch' }, { ROLLGATE_REPO: 'https://git.example.com/env.git' });
    assert.equal(fromFlags.repo, '/flag');
    assert.equal(fromFlags.branch, 'flag-branch');
    assert.equal(fromFlags.intervalMs, 10_000);
    const scheduled = await loadAgentConfig({ config: path, schedule: '*/5 * * * *' }, {});
    assert.equal(scheduled.schedule, '*/5 * * * *');
    assert.equal(scheduled.intervalMs, undefined, 'a schedule from a higher level replaces the file interval');
  });

  it('reports schema problems in the file with line and column', async () => {
    const path = await file('bad.yaml', 'apiVersion: rollgate.dev/v1alpha1\nkind: AgentConfig\nrepo: /srv/deploy.git\nconcurency: 3\nlisten: everywhere\n');
    const found = await problems(loadAgentConfig({ config: path }, {}));
    assert.ok(found.some((p) => p.startsWith(`${path}:4:1: `) && p.includes('concurency')), found.join('\n'));
    assert.ok(found.some((p) => p.startsWith(`${path}:5:9: listen: `) && p.includes('host:port')), found.join('\n'));
  });

  it('reports a missing file, broken YAML and more than one document', async () => {
    assert.match((await problems(loadAgentConfig({ config: join(dir, 'none.yaml') }, {})))[0] ?? '', /none\.yaml: cannot read the configuration file: it does not exist/);
    const broken = await file('broken.yaml', 'apiVersion: rollgate.dev/v1alpha1\nkind: [AgentConfig\n');
    assert.match((await problems(loadAgentConfig({ config: broken }, {})))[0] ?? '', /broken\.yaml:\d+:\d+: /);
    const two = await file('two.yaml', 'apiVersion: rollgate.dev/v1alpha1\nkind: AgentConfig\n---\nrepo: x\n');
    assert.match((await problems(loadAgentConfig({ config: two }, {})))[0] ?? '', /two\.yaml:1:1: expected one YAML document/);
  });

  it('names the variable or flag of a bad value, and lists every problem at once', async () => {
    const found = await problems(loadAgentConfig({ interval: 'often' }, { ROLLGATE_CONCURRENCY: '0', ROLLGATE_LISTEN: 'port 80', ROLLGATE_LOG_LEVEL: 'loud' }));
    assert.deepEqual(found, [
      'repo: no repository to follow; give --repo URL|DIR, ROLLGATE_REPO, or repo: in the configuration file',
      '--interval: "often" is not a duration of at least 1000 ms; write e.g. 30s, 1m or 1h30m',
      'ROLLGATE_CONCURRENCY: "0" is not a whole number from 1 to 1000',
      'ROLLGATE_LISTEN: "port 80" is not host:port; write e.g. 0.0.0.0:8080 or :8080 (an empty value turns the server off)',
      'ROLLGATE_LOG_LEVEL: "loud" is not a log level; use one of trace, debug, info, warn, error, fatal, silent',
    ]);
    assert.deepEqual(await problems(loadAgentConfig({ repo: 'x', interval: '1m', schedule: '* * * * *' }, {})), ['--interval and --schedule: give one of them']);
    assert.deepEqual(await problems(loadAgentConfig({ repo: 'x', interval: '10ms' }, {})), ['--interval: "10ms" is not a duration of at least 1000 ms; write e.g. 30s, 1m or 1h30m']);
  });

  it('checks leader election timings as client-go does, and forge credentials', async () => {
    const path = await file('election.yaml', 'apiVersion: rollgate.dev/v1alpha1\nkind: AgentConfig\nrepo: x\nleaderElection: {enabled: true, leaseDuration: 10s, renewDeadline: 10s, retryPeriod: 2s}\nforge: {type: github, repository: acme/deploy}\n');
    const found = await problems(loadAgentConfig({ config: path }, {}));
    assert.ok(found.some((p) => p.endsWith('leaderElection: renewDeadline must be shorter than leaseDuration')), found.join('\n'));
    assert.ok(found.some((p) => p.endsWith('forge: GitHub needs tokenEnv, or appId, installationId and privateKeyFile of a GitHub App')), found.join('\n'));
  });

  it('takes the leader identity and namespace from the downward API, and an empty listen turns the server off', async () => {
    const config = await loadAgentConfig({ repo: 'x' }, { POD_NAME: 'rollgate-7d9f-abcde', POD_NAMESPACE: 'rollgate', ROLLGATE_LISTEN: '' });
    assert.equal(config.leaderElection.identity, 'rollgate-7d9f-abcde');
    assert.equal(config.leaderElection.namespace, 'rollgate');
    assert.deepEqual(config.listen, { host: '0.0.0.0', port: 8080 }, 'an empty variable counts as unset');
    const path = await file('quiet.yaml', 'apiVersion: rollgate.dev/v1alpha1\nkind: AgentConfig\nrepo: x\nlisten: ""\n');
    assert.equal((await loadAgentConfig({ config: path }, {})).listen, undefined);
  });

  it('names the Git credentials and every variable that holds a secret, so git inherits none of them', async () => {
    const env = { ROLLGATE_REPO: 'https://git.example.com/acme/deploy.git' };
    const plain = await loadAgentConfig({}, env);
    assert.equal(sourceAuthOf(plain), undefined);
    assert.deepEqual(secretVariablesOf(plain), []);
    const file = join(dir, 'secrets.yaml');
    await writeFile(file, 'apiVersion: rollgate.dev/v1alpha1\nkind: AgentConfig\nrepo: https://git.example.com/acme/deploy.git\nauth:\n  tokenEnv: GIT_TOKEN\n  username: x-access-token\nwebhooks:\n  githubSecretEnv: HOOK_SECRET\nforge:\n  type: github\n  repository: acme/deploy\n  tokenEnv: FORGE_TOKEN\n');
    const config = await loadAgentConfig({ config: file }, {});
    assert.deepEqual(sourceAuthOf(config), { type: 'token', env: 'GIT_TOKEN', username: 'x-access-token' });
    assert.deepEqual(secretVariablesOf(config).sort(), ['FORGE_TOKEN', 'GIT_TOKEN', 'HOOK_SECRET']);
  });
});
