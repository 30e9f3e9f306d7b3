/**
 * Hostile configuration and repositories: branch names with shell
 * metacharacters, URLs that git would read as options or as command-running
 * transports, and repository content that tries to point outside the
 * snapshot. Each is refused with a clear error, or kept harmless.
 */
import assert from 'node:assert/strict';
import { lstat, mkdtemp, readlink, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createGitSource, systemClock } from '../../agent/source/index.ts';
import { runGit } from '../../agent/source/git.ts';
import { gitEnvironment } from '../../agent/source/remote.ts';
import { testGitEnv } from '../helpers/git-server.ts';
import type { SourceFixture } from './fixture.ts';
import { manualClock, startSourceFixture } from './fixture.ts';

const base = { url: 'https://git.example.com/infra.git', branch: 'main', workDir: '/tmp/rollgate-unused' };

describe('git source: hostile configuration is refused at creation', () => {
  const cases: { name: string; options: Partial<typeof base>; message: RegExp }[] = [
    { name: 'branch with ; and spaces', options: { branch: 'main; touch /tmp/pwned' }, message: /branch "main; touch \/tmp\/pwned" contains characters rollgate does not accept \(";" " "\)/ },
    { name: 'branch with $( )', options: { branch: '$(id)' }, message: /contains characters rollgate does not accept \("\$" "\(" "\)"\)/ },
    { name: 'branch with a backtick and a pipe', options: { branch: 'a`b|c' }, message: /does not accept \("`" "\|"\)/ },
    { name: 'branch starting with -', options: { branch: '--upload-pack=touch' }, message: /contains characters|starts with '-'/ },
    { name: 'branch -x', options: { branch: '-x' }, message: /starts with '-', which git would read as an option/ },
    { name: 'branch with ..', options: { branch: 'a..b' }, message: /contains '\.\.'/ },
    { name: 'branch with @{', options: { branch: 'main@{1}' }, message: /does not accept/ },
    { name: 'branch ending with .lock', options: { branch: 'x.lock' }, message: /'\.lock'/ },
    { name: 'empty branch', options: { branch: '' }, message: /branch is empty/ },
    { name: 'URL starting with -', options: { url: '-oProxyCommand=touch /tmp/pwned' }, message: /starts with '-', which git would read as an option/ },
    { name: 'ext:: transport', options: { url: 'ext::sh -c touch% /tmp/pwned' }, message: /'ext::' remote-helper syntax, which can run commands/ },
    { name: 'fd:: transport', options: { url: 'fd::17' }, message: /'fd::' remote-helper syntax/ },
    { name: 'ssh host starting with -', options: { url: 'ssh://-oProxyCommand=touch%20x/repo' }, message: /host starting with '-'/ },
    { name: 'git:// protocol', options: { url: 'git://git.example.com/infra.git' }, message: /neither authenticated nor encrypted/ },
    { name: 'unknown scheme', options: { url: 'ftp://git.example.com/infra.git' }, message: /unsupported scheme 'ftp:'/ },
    { name: 'control characters', options: { url: 'https://git.example.com/a\nb' }, message: /control characters/ },
    { name: 'empty URL', options: { url: ' ' }, message: /URL is empty/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.throws(() => createGitSource({ ...base, ...c.options }), (err: unknown) => {
        assert.equal((err as { code?: string }).code, 'config');
        assert.match((err as Error).message, c.message);
        return true;
      });
    });
  }

  it('a URL with credentials is accepted, and they never show in the state', () => {
    const source = createGitSource({ ...base, url: 'https://user:hunter22@git.example.com/infra.git' });
    assert.equal(source.state().url, 'https://***@git.example.com/infra.git');
  });
});

describe('git source: git itself refuses dangerous transports in the agent environment', () => {
  it('ext:: is not allowed even if it reached git', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rollgate-ext-'));
    try {
      const marker = join(dir, 'pwned');
      const env = gitEnvironment(testGitEnv());
      await assert.rejects(runGit(['ls-remote', `ext::sh -c touch% ${marker}`], { cwd: dir, env, timeoutMs: 10_000, clock: systemClock }), (err: Error) => {
        assert.match(err.message, /transport 'ext' not allowed/);
        return true;
      });
      await assert.rejects(stat(marker), { code: 'ENOENT' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the environment drops inherited GIT_* variables and prompt helpers, and pins the allowed protocols', () => {
    const env = gitEnvironment({ PATH: '/bin', GIT_DIR: '/elsewhere', GIT_TRACE: '1', GIT_SSH_COMMAND: 'evil', SSH_ASKPASS: '/x', EDITOR: 'vi', GIT_SSL_CAINFO: '/ca.pem', TOKEN: 't' }, { dropVariables: ['TOKEN'] });
    assert.equal(env['GIT_DIR'], undefined);
    assert.equal(env['GIT_TRACE'], undefined);
    assert.equal(env['GIT_SSH_COMMAND'], undefined);
    assert.equal(env['SSH_ASKPASS'], undefined);
    assert.equal(env['EDITOR'], undefined);
    assert.equal(env['TOKEN'], undefined);
    assert.equal(env['GIT_SSL_CAINFO'], '/ca.pem');
    assert.equal(env['GIT_ALLOW_PROTOCOL'], 'file:http:https:ssh');
    assert.equal(env['GIT_CONFIG_GLOBAL'], '/dev/null');
    assert.equal(env['GIT_CONFIG_NOSYSTEM'], '1');
    assert.equal(env['GIT_TERMINAL_PROMPT'], '0');
    const config = new Map(Array.from({ length: Number(env['GIT_CONFIG_COUNT']) }, (_, i) => [env[`GIT_CONFIG_KEY_${i}`], env[`GIT_CONFIG_VALUE_${i}`]]));
    assert.equal(config.get('protocol.ext.allow'), 'never');
    assert.equal(config.get('credential.helper'), '');
  });
});

describe('git source: hostile repository content stays inside the snapshot', () => {
  let fx: SourceFixture & { first: string };
  before(async () => {
    fx = await startSourceFixture();
  });
  after(async () => fx.close());

  it('a symlink to a file outside is checked out as a symlink, never followed or copied', async () => {
    await symlink('/etc/passwd', join(fx.repo.workDir, 'passwd.yaml'));
    await fx.repo.write({ 'a branch name like $(id).yaml': 'kind: ConfigMap\n' });
    await fx.repo.commit('hostile content');
    await fx.repo.push();
    const source = createGitSource({ url: fx.server.repoUrl(), branch: 'main', workDir: fx.workDir, env: fx.env, clock: manualClock() });
    const result = await source.poll();
    assert.equal(result.type, 'changed');
    if (result.type !== 'changed') return;
    const link = join(result.revision.dir, 'passwd.yaml');
    assert.ok((await lstat(link)).isSymbolicLink());
    assert.equal(await readlink(link), '/etc/passwd');
    assert.ok((await stat(join(result.revision.dir, 'a branch name like $(id).yaml'))).isFile());
  });
});
