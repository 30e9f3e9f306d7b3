/**
 * Credentials: a token from an environment variable or a file reaches the
 * server as an Authorization header and nowhere else; a wrong one is an
 * `auth` error whose message and logs never contain it; SSH key problems
 * are named clearly before git runs.
 */
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PollResult } from '../../agent/source/index.ts';
import { createGitSource } from '../../agent/source/index.ts';
import { createSshKey } from '../helpers/git-server.ts';
import type { SourceFixture } from './fixture.ts';
import { expectPoll, manualClock, memoryLogger, startSourceFixture } from './fixture.ts';

const token = 'glpat-s3cr3t-T0KEN-value';


/** Every place a secret could leak to: the error (message, stack, cause chain) and the log. */
function everything(result: PollResult, logText: string): string {
  const parts: string[] = [logText, JSON.stringify(result)];
  let err: unknown = result.type === 'failed' ? result.error : undefined;
  while (err instanceof Error) {
    parts.push(err.message, err.stack ?? '', JSON.stringify(err));
    err = err.cause;
  }
  return parts.join('\n');
}

describe('git source: token authentication', () => {
  let fx: SourceFixture & { first: string };
  let dir: string;
  before(async () => {
    fx = await startSourceFixture({ auth: { type: 'bearer', token } });
    dir = await mkdtemp(join(tmpdir(), 'rollgate-auth-'));
  });
  after(async () => {
    await fx.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the token from an environment variable and sends it only as a header', async () => {
    const source = createGitSource({ url: fx.server.repoUrl(), branch: 'main', workDir: join(dir, 'env'), env: { ...fx.env, ROLLGATE_GIT_TOKEN: token }, auth: { type: 'token', env: 'ROLLGATE_GIT_TOKEN' }, clock: manualClock() });
    fx.server.resetCounts();
    const result = await source.poll();
    assert.equal(result.type, 'changed', JSON.stringify(result));
    const requests = fx.server.requests();
    assert.ok(requests.length >= 3);
    for (const request of requests) {
      assert.equal(request.authorization, `Bearer ${token}`);
      assert.doesNotMatch(request.url, /s3cr3t/);
    }
    assert.equal(fx.server.counts().unauthorized, 0);
    assert.doesNotMatch(await readFile(join(dir, 'env', 'mirror.git', 'config'), 'utf8'), /s3cr3t|extraheader/i, 'the mirror config holds no credential');
  });

  it('reads the token from a file (trailing newline ignored), at every poll', async () => {
    const file = join(dir, 'token');
    await writeFile(file, `${token}\n`);
    const source = createGitSource({ url: fx.server.repoUrl(), branch: 'main', workDir: join(dir, 'file'), env: fx.env, auth: { type: 'token', file }, clock: manualClock() });
    assert.equal((await source.poll()).type, 'changed');
    // A rotated secret is picked up by the next poll.
    await writeFile(file, 'rotated-but-wrong\n');
    const result = expectPoll(await source.poll({ force: true }), 'failed');
    assert.equal(result.error.code, 'auth');
  });

  it('a wrong token is an auth error that says what to fix, and no message or log line contains it', async () => {
    const wrong = 'wrong-t0ken-9f8e7d6c';
    const log = memoryLogger();
    const source = createGitSource({ url: fx.server.repoUrl(), branch: 'main', workDir: join(dir, 'wrong'), env: { ...fx.env, TOKEN: wrong }, auth: { type: 'token', env: 'TOKEN' }, clock: manualClock(), logger: log.logger });
    const result = expectPoll(await source.poll(), 'failed');
    assert.equal(result.error.code, 'auth');
    assert.match(result.error.message, /check the token or SSH key/);
    assert.match(result.error.message, /http:\/\/127\.0\.0\.1:\d+\/repo\.git/);
    const all = everything(result, log.text());
    assert.ok(log.text().includes('source poll failed'));
    assert.ok(!all.includes(wrong), 'the token leaked');
    assert.ok(!all.includes(Buffer.from(wrong).toString('base64')));
    assert.equal(fx.server.counts().unauthorized > 0, true);
  });

  it('credentials in the URL are redacted from errors and logs', async () => {
    const log = memoryLogger();
    const url = fx.server.repoUrl().replace('http://', 'http://deploy:url-pa55word@');
    const source = createGitSource({ url, branch: 'main', workDir: join(dir, 'url'), env: fx.env, clock: manualClock(), logger: log.logger });
    const result = expectPoll(await source.poll(), 'failed');
    assert.equal(result.error.code, 'auth');
    const all = everything(result, log.text());
    assert.ok(!all.includes('url-pa55word'), all);
    assert.match(result.error.message, /http:\/\/\*\*\*@127\.0\.0\.1/);
    assert.equal(source.state().url.includes('pa55word'), false);
  });

  it('a missing token variable or file is a config error naming where it looked, not a request', async () => {
    fx.server.resetCounts();
    const fromEnv = createGitSource({ url: fx.server.repoUrl(), branch: 'main', workDir: join(dir, 'none'), env: fx.env, auth: { type: 'token', env: 'NOT_SET' }, clock: manualClock() });
    const a = expectPoll(await fromEnv.poll(), 'failed');
    assert.equal(a.error.code, 'config');
    assert.match(a.error.message, /environment variable NOT_SET is empty or unset/);
    const fromFile = createGitSource({ url: fx.server.repoUrl(), branch: 'main', workDir: join(dir, 'none'), env: fx.env, auth: { type: 'token', file: join(dir, 'absent') }, clock: manualClock() });
    const b = expectPoll(await fromFile.poll(), 'failed');
    assert.equal(b.error.code, 'config');
    assert.match(b.error.message, /token file .*absent cannot be read \(ENOENT\); mount the secret there or fix auth\.file/);
    assert.equal(fx.server.counts().infoRefs + fx.server.counts().unauthorized, 0);
  });

  it('a token with a line break is refused (it would inject a header)', async () => {
    const source = createGitSource({ url: fx.server.repoUrl(), branch: 'main', workDir: join(dir, 'nl'), env: { ...fx.env, T: 'abc\r\nX-Evil: 1' }, auth: { type: 'token', env: 'T' }, clock: manualClock() });
    const result = expectPoll(await source.poll(), 'failed');
    assert.equal(result.error.code, 'config');
    assert.match(result.error.message, /more than one line/);
    assert.ok(!result.error.message.includes('X-Evil'));
  });
});

describe('git source: basic authentication', () => {
  it('sends username:token as basic credentials when a username is given', async () => {
    const fx = await startSourceFixture({ auth: { type: 'basic', username: 'x-access-token', password: token } });
    try {
      const source = createGitSource({ url: fx.server.repoUrl(), branch: 'main', workDir: fx.workDir, env: { ...fx.env, GH_TOKEN: token }, auth: { type: 'token', env: 'GH_TOKEN', username: 'x-access-token' }, clock: manualClock() });
      const result = await source.poll();
      assert.equal(result.type, 'changed', JSON.stringify(result));
      assert.equal(fx.server.counts().unauthorized, 0);
    } finally {
      await fx.close();
    }
  });
});

describe('git source: SSH authentication', () => {
  it('a missing key file or known_hosts file is a config error naming the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rollgate-ssh-'));
    try {
      const key = await createSshKey(dir, 'deploy');
      const knownHosts = join(dir, 'known_hosts');
      await writeFile(knownHosts, '');
      const missingKey = createGitSource({ url: 'git@git.example.com:team/infra.git', branch: 'main', workDir: join(dir, 'w'), auth: { type: 'ssh', keyFile: join(dir, 'nope'), knownHostsFile: knownHosts }, clock: manualClock() });
      const a = expectPoll(await missingKey.poll(), 'failed');
      assert.equal(a.error.code, 'config');
      assert.match(a.error.message, /the SSH private key file .*nope does not exist; mount it there or fix auth\.keyFile/);

      const missingHosts = createGitSource({ url: 'ssh://git@git.example.com/team/infra.git', branch: 'main', workDir: join(dir, 'w'), auth: { type: 'ssh', keyFile: key.keyFile, knownHostsFile: join(dir, 'no_hosts') }, clock: manualClock() });
      const b = expectPoll(await missingHosts.poll(), 'failed');
      assert.equal(b.error.code, 'config');
      assert.match(b.error.message, /known_hosts file .*no_hosts does not exist/);

      await chmod(key.keyFile, 0o644);
      const open = createGitSource({ url: 'ssh://git@git.example.com/team/infra.git', branch: 'main', workDir: join(dir, 'w'), auth: { type: 'ssh', keyFile: key.keyFile, knownHostsFile: knownHosts }, clock: manualClock() });
      const c = expectPoll(await open.poll(), 'failed');
      assert.equal(c.error.code, 'config');
      assert.match(c.error.message, /can be read by other users \(mode 644\).*chmod 600/);
      assert.ok(!c.error.message.includes('PRIVATE KEY'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('SSH auth with an https URL, or a token with an ssh URL, is refused at creation', () => {
    assert.throws(() => createGitSource({ url: 'https://git.example.com/infra.git', branch: 'main', workDir: '/tmp/x', auth: { type: 'ssh', keyFile: '/k', knownHostsFile: '/h' } }), { code: 'config', message: /SSH authentication needs an ssh:\/\/ URL/ });
    assert.throws(() => createGitSource({ url: 'git@git.example.com:infra.git', branch: 'main', workDir: '/tmp/x', auth: { type: 'token', env: 'T' } }), { code: 'config', message: /token authentication needs an https:\/\/ URL/ });
    assert.throws(() => createGitSource({ url: 'http://git.example.com/infra.git', branch: 'main', workDir: '/tmp/x', auth: { type: 'token', env: 'T' } }), { code: 'config', message: /refusing to send a token over plain http/ });
    assert.throws(() => createGitSource({ url: 'https://git.example.com/infra.git', branch: 'main', workDir: '/tmp/x', auth: { type: 'token', env: 'T', file: '/f' } }), { code: 'config', message: /exactly one of 'env'/ });
  });
});
