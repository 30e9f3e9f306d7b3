/**
 * The logger removes credentials by itself: secret keys at any of the
 * covered depths, URL credentials and tokens inside messages, metadata,
 * error messages, stacks and causes, PEM private keys, Authorization
 * values and literal secrets; in JSON and in pretty output alike.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger, LoggerOptionsError, scrubText } from '../../agent/runtime/logger.ts';

const token = 'ghp_R0llgateTestToken1234567890abcdef';
const password = 'correct-horse-battery-staple';
const privateKey = ['-----BEGIN OPENSSH PRIVATE KEY-----', 'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW', 'QyNTUxOQAAACBxTestPrivateKeyMaterialThatMustNeverBeLogged000000000000', '-----END OPENSSH PRIVATE KEY-----'].join('\n');
const keyMaterial = 'TestPrivateKeyMaterialThatMustNeverBeLogged';
const webhookSecret = 'whsec-5up3r-s3cr3t-value';
const kubeToken = 'eyJhbGciOiJSUzI1NiJ9.kube-sa-token-payload.signature';

function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  return {
    stream: new Writable({
      write(chunk: Buffer | string, _encoding, callback) {
        chunks.push(String(chunk));
        callback();
      },
    }),
    text: () => chunks.join(''),
  };
}

/** Logs every way a credential tends to reach a log. */
function logEverything(log: ReturnType<typeof createLogger>): void {
  log.info({ token, password, privateKey, secret: webhookSecret }, 'top-level keys');
  log.info({ auth: { token, password }, source: { credentials: { password } } }, 'nested keys');
  log.info({ req: { headers: { authorization: `Bearer ${kubeToken}`, 'x-gitlab-token': token, accept: 'application/json' } } }, 'headers');
  log.info({ remote: `https://x-access-token:${token}@github.com/acme/fleet.git` }, 'cloning');
  log.info({ remote: new URL(`https://oauth2:${token}@gitlab.example/acme/fleet.git`) }, 'cloning a URL object');
  log.info(`cloning https://${token}@github.com/acme/fleet.git into /tmp/x`);
  log.info('cloning %s', `https://user:${password}@git.example/fleet.git`);
  log.info({ url: `https://api.example/x?access_token=${token}&page=2` }, 'query');
  log.warn({ stderr: `fatal: Authentication failed\nAuthorization: Basic ${Buffer.from(`u:${password}`).toString('base64')}` }, 'git failed');
  log.warn({ detail: `sent header Authorization: Bearer ${kubeToken}` }, 'request');
  log.error({ err: new Error(`clone of https://u:${password}@git.example/fleet.git failed`, { cause: new Error(`fetch https://${token}@github.com failed`) }) }, 'source failed');
  log.error(new Error(`push to https://bot:${token}@github.com/acme/fleet.git rejected`));
  log.error({ list: [{ nested: [`https://a:${password}@h/x`] }], key: `loaded ${privateKey}` }, 'arrays and PEM');
  log.error({ key: privateKey.slice(0, 120) }, 'a cut-off PEM block');
  log.info({ note: `the webhook secret is ${webhookSecret}` }, `and again ${webhookSecret}`);
  log.child({ remote: `https://u:${password}@git.example/a.git` }).info('child bindings');
  log.child({ component: 'source' }).child({ remote: `https://u:${password}@git.example/b.git` }).info('grandchild bindings');
}

const forbidden = [token, password, keyMaterial, webhookSecret, kubeToken, Buffer.from(`u:${password}`).toString('base64'), 'kube-sa-token-payload'];

describe('logger', () => {
  it('never writes a token, password or private key as JSON', () => {
    const out = sink();
    const log = createLogger({ level: 'debug', destination: out.stream, secrets: [webhookSecret] });
    logEverything(log);
    const text = out.text();
    for (const secret of forbidden) assert.ok(!text.includes(secret), `leaked ${secret.slice(0, 12)}…:\n${text}`);
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 17);
    // What is not secret stays readable.
    const byMsg = new Map(lines.map((l) => [l['msg'], l]));
    assert.deepEqual(byMsg.get('top-level keys'), { ...byMsg.get('top-level keys'), token: '[Redacted]', password: '[Redacted]', privateKey: '[Redacted]', secret: '[Redacted]' });
    assert.equal(byMsg.get('cloning')?.['remote'], 'https://***@github.com/acme/fleet.git');
    assert.equal(byMsg.get('cloning a URL object')?.['remote'], 'https://***@gitlab.example/acme/fleet.git');
    assert.ok(byMsg.has('cloning https://***@github.com/acme/fleet.git into /tmp/x'));
    assert.ok(byMsg.has('cloning https://***@git.example/fleet.git'), 'interpolated messages are scrubbed');
    assert.equal(byMsg.get('query')?.['url'], 'https://api.example/x?access_token=***&page=2');
    assert.deepEqual((byMsg.get('headers')?.['req'] as { headers: unknown }).headers, { authorization: '[Redacted]', 'x-gitlab-token': '[Redacted]', accept: 'application/json' });
    const err = byMsg.get('source failed')?.['err'] as { message: string; stack: string; type: string };
    assert.equal(err.type, 'Error');
    assert.equal(err.message, 'clone of https://***@git.example/fleet.git failed: fetch https://***@github.com failed', "pino appends the cause's message");
    assert.match(err.stack, /caused by: Error: fetch https:\/\/\*\*\*@github\.com failed/);
    const alone = byMsg.get('push to https://***@github.com/acme/fleet.git rejected');
    assert.ok(alone, 'an Error logged alone: message scrubbed');
    assert.match(String((alone['err'] as { stack: string }).stack), /push to https:\/\/\*\*\*@github\.com/);
    assert.equal(byMsg.get('arrays and PEM')?.['key'], 'loaded [private key redacted]');
    assert.equal(byMsg.get('a cut-off PEM block')?.['key'], '[private key redacted]');
    assert.equal(byMsg.get('child bindings')?.['remote'], 'https://***@git.example/a.git');
    assert.equal(byMsg.get('grandchild bindings')?.['remote'], 'https://***@git.example/b.git');
    assert.equal(byMsg.get('grandchild bindings')?.['component'], 'source');
    assert.equal(byMsg.get('git failed')?.['stderr'], 'fatal: Authentication failed\nAuthorization: ***');
    assert.equal(lines[0]?.['name'], 'rollgate');
    assert.equal('pid' in (lines[0] ?? {}), false);
  });

  it('never writes them in pretty output either', () => {
    const out = sink();
    const log = createLogger({ level: 'debug', destination: out.stream, pretty: true, secrets: [webhookSecret] });
    logEverything(log);
    const text = out.text();
    assert.ok(text.includes('cloning a URL object'));
    assert.throws(() => JSON.parse(text.split('\n')[0] ?? ''), 'pretty lines are not JSON');
    for (const secret of forbidden) assert.ok(!text.includes(secret), `leaked ${secret.slice(0, 12)}…:\n${text}`);
  });

  it('is pretty only on a terminal unless told', () => {
    const plain = sink();
    createLogger({ destination: plain.stream }).info('x');
    assert.doesNotThrow(() => JSON.parse(plain.text()));
    const tty = sink();
    Object.assign(tty.stream, { isTTY: true });
    createLogger({ destination: tty.stream }).info({ target: 'prod/tidb' }, 'hello');
    assert.throws(() => JSON.parse(tty.text()));
    assert.match(tty.text(), /hello/);
  });

  it('filters by level and rejects unknown levels', () => {
    const out = sink();
    const log = createLogger({ level: 'warn', destination: out.stream });
    log.info('hidden');
    log.warn('shown');
    assert.deepEqual(out.text().trim().split('\n').map((l) => (JSON.parse(l) as { msg: string }).msg), ['shown']);
    assert.throws(() => createLogger({ level: 'verbose' as 'info' }), (err: unknown) => err instanceof LoggerOptionsError && err.message === 'log level "verbose" is not one of fatal, error, warn, info, debug, trace, silent');
  });

  it('scrubs text by itself', () => {
    const table: [string, string][] = [
      ['https://u:p4ss@h/x', 'https://***@h/x'],
      [`ssh://git@github.com/a/b.git`, 'ssh://***@github.com/a/b.git'],
      ['git@github.com:a/b.git', 'git@github.com:a/b.git'],
      ['Authorization: Bearer abc.def', 'Authorization: ***'],
      ['token Bearer abcdefgh', 'token Bearer ***'],
      ['GET /x?private_token=glpat-123&y=1', 'GET /x?private_token=***&y=1'],
      ['plain text', 'plain text'],
    ];
    for (const [input, want] of table) assert.equal(scrubText(input), want, input);
    assert.equal(scrubText('a hunter22 b', ['hunter22', 'no']), 'a *** b');
  });
});
