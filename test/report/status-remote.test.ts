/**
 * The status writer against a smart-HTTP server that wants a token: the
 * token travels in the environment and never reaches a log; while the
 * server is down transitions stay queued and are retried, and once it is
 * back they are written; credentials in a URL never reach a log either.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createGitStatusReporter } from '../../agent/report/git/index.ts';
import { startGitHttpServer, type GitHttpServer } from '../helpers/git-server.ts';
import { memoryLogger, eventually, examplesRemote, freePort, git, gitEnv, tempDir, testClock, tidbTransition } from './helpers.ts';

const token = 'glpat-s3cr3t-t0ken-value';
const password = 'hunter2-very-secret';
const bot = { name: 'rollgate', email: 'rollgate@example.com' };

describe('status writes over HTTP with a token', () => {
  let root: string;
  let remove: () => Promise<void>;
  let server: GitHttpServer;
  let env: NodeJS.ProcessEnv;
  let bare: string;
  let source: string;

  before(async () => {
    ({ dir: root, remove } = await tempDir('status-remote'));
    server = await startGitHttpServer({ auth: { type: 'bearer', token } });
    const plain = gitEnv(root);
    const repo = await examplesRemote(root, plain, { name: 'Ann Admin', email: 'ann@example.com' }, '2024-05-01T10:00:00Z');
    source = repo.initial;
    bare = join(server.root, 'repo.git');
    git(root, ['clone', '--bare', '--quiet', repo.remote, bare], plain);
    // http-backend serves pushes only to authenticated users, or when the repository says so; the server checks the token itself.
    git(bare, ['config', 'http.receivepack', 'true'], plain);
    // The token as an agent passes it: an extra header from the environment, never in the URL.
    env = gitEnv(root, { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'http.extraHeader', GIT_CONFIG_VALUE_0: `Authorization: Bearer ${token}` });
  });
  after(async () => {
    await server.close();
    await remove();
  });

  test('the remote goes down: the transition is kept, retried, and written when it returns; the token is never logged', async () => {
    const logs = memoryLogger();
    const reporter = createGitStatusReporter({
      repoUrl: server.repoUrl(),
      workDir: join(root, 'agent'),
      mode: { mode: 'branch', branch: 'rollgate/status' },
      author: bot,
      env,
      clock: testClock('2024-05-02T09:10:00Z'),
      logger: logs.logger,
      backoff: { baseMs: 10, maxMs: 50 },
    });
    await reporter.report(tidbTransition(source, { phase: 'Pending', stage: undefined, step: undefined, at: '2024-05-02T09:00:00Z' }));
    await reporter.flush();
    assert.equal(git(bare, ['log', '--format=%s', 'rollgate/status'], env), 'staging/tidb/TidbCluster/tidb: Pending');
    assert.ok(server.requests().every((r) => r.authorization === `Bearer ${token}`), 'every request carried the token');

    await server.stop();
    await reporter.report(tidbTransition(source));
    await eventually(() => assert.ok(logs.lines().filter((e) => e.msg === 'status write failed; will retry').length >= 3));
    assert.equal(reporter.pending(), 1);

    await server.start();
    await reporter.flush();
    assert.equal(reporter.pending(), 0);
    assert.deepEqual(git(bare, ['log', '--format=%s', 'rollgate/status'], env).split('\n'), ['staging/tidb/TidbCluster/tidb: Progressing tikv (step 2/3)', 'staging/tidb/TidbCluster/tidb: Pending']);
    await reporter.close();

    const failures = logs.lines().filter((e) => e.msg === 'status write failed; will retry');
    assert.equal(failures[0]?.['remote'], server.repoUrl());
    // The first attempt pushes on the tip it knows; the retries fetch first.
    assert.match(JSON.stringify(failures[0]?.['err']), /git push failed \(exit 128\): fatal: unable to access 'http:\/\/127.0.0.1:\d+\/repo.git\/'/);
    assert.match(JSON.stringify(failures[1]?.['err']), /git fetch failed \(exit 128\)/);
    assert.ok(!logs.text().includes(token), 'the token is not in the log');
    assert.ok(!logs.text().includes(Buffer.from(token).toString('base64')), 'nor its base64');
  });

  test('credentials in the remote URL never reach the log, and unwritten transitions are named at close', async () => {
    const logs = memoryLogger();
    const port = await freePort();
    const reporter = createGitStatusReporter({
      repoUrl: `http://rollgate:${password}@127.0.0.1:${port}/repo.git`,
      workDir: join(root, 'agent-url'),
      mode: { mode: 'branch', branch: 'rollgate/status' },
      author: bot,
      env: gitEnv(root),
      clock: testClock('2024-05-02T09:10:00Z'),
      logger: logs.logger,
      backoff: { baseMs: 10, maxMs: 50 },
    });
    await reporter.report(tidbTransition(source));
    await eventually(() => assert.ok(logs.lines().filter((e) => e.msg === 'status write failed; will retry').length >= 2));
    const flushed = reporter.flush();
    await reporter.close();
    await assert.rejects(flushed, { name: 'StatusWriteError', code: 'closed' });
    const closing = logs.lines().find((e) => e.msg === 'status reporter closed with transitions unwritten');
    assert.deepEqual(closing?.['targets'], ['staging/tidb/TidbCluster/tidb']);
    assert.equal(logs.lines()[1]?.['remote'], `http://***@127.0.0.1:${port}/repo.git`);
    assert.ok(!logs.text().includes(password), logs.text());
  });
});
