/**
 * GitHub App authentication: the RS256 JWT, its exchange for an
 * installation token, the token's reuse until shortly before it expires,
 * and the refusals, all without a key or token in the logs.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, verify } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ForgeError, appJwt, createGitHubProvider } from '../../../agent/report/forge/index.ts';
import { memoryLogger } from '../../helpers/memory-logger.ts';
import { testClock } from './clock.ts';
import { startFakeForge, type FakeForge, type RecordedRequest } from './fake-forge.ts';
import { ghPull, github } from './forge-models.ts';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
const start = Date.parse('2026-11-20T10:00:00Z');

/** Checks the JWT of an exchange request as GitHub would; returns its claims. */
function claimsOf(request: RecordedRequest): { iat: number; exp: number; iss: string } {
  const match = /^Bearer (.+)$/.exec(String(request.headers.authorization));
  assert.ok(match?.[1] !== undefined, 'a Bearer JWT');
  const [header, payload, signature] = match[1].split('.');
  assert.ok(header !== undefined && payload !== undefined && signature !== undefined);
  assert.deepEqual(JSON.parse(Buffer.from(header, 'base64url').toString()), { alg: 'RS256', typ: 'JWT' });
  assert.ok(verify('sha256', Buffer.from(`${header}.${payload}`), publicKey, Buffer.from(signature, 'base64url')), 'signed with the App key');
  return JSON.parse(Buffer.from(payload, 'base64url').toString()) as { iat: number; exp: number; iss: string };
}

describe('GitHub App installation tokens', () => {
  let fake: FakeForge;
  before(async () => {
    fake = await startFakeForge();
  });
  after(async () => {
    await fake.close();
  });

  it('signs a JWT GitHub accepts: RS256, issued a minute ago, expiring within ten', () => {
    const jwt = appJwt('12345', privateKey, start);
    const claims = claimsOf({ method: 'POST', path: '/', query: new URLSearchParams(), headers: { authorization: `Bearer ${jwt}` }, body: '', json: () => undefined });
    assert.deepEqual(claims, { iat: start / 1000 - 60, exp: start / 1000 + 540, iss: '12345' });
  });

  it('exchanges the JWT for an installation token, reuses it until near expiry, then exchanges again', async () => {
    const log = memoryLogger();
    const clock = testClock({ start });
    const provider = createGitHubProvider({ repository: 'acme/db', auth: { kind: 'app', appId: '12345', privateKey: pem, installationId: 42 }, baseUrl: fake.url, logger: log.logger, clock });
    const exchange = (token: string, issuedAt: number) => ({
      method: 'POST' as const,
      path: '/app/installations/42/access_tokens',
      reply: (r: RecordedRequest) => {
        const claims = claimsOf(r);
        assert.equal(claims.iss, '12345');
        assert.equal(claims.iat, issuedAt / 1000 - 60);
        return { status: 201, json: { token, expires_at: new Date(issuedAt + 3_600_000).toISOString(), permissions: { pull_requests: 'write', statuses: 'write' } } };
      },
    });
    const withToken = (token: string) => ({
      ...github.getPull(ghPull(7, 'a'.repeat(40))),
      reply: (r: RecordedRequest) => {
        assert.equal(r.headers.authorization, `token ${token}`);
        return { json: ghPull(7, 'a'.repeat(40)) };
      },
    });

    fake.expect(exchange('ghs_firstInstallationToken', start), withToken('ghs_firstInstallationToken'), withToken('ghs_firstInstallationToken'));
    // Two requests at once share one exchange.
    await Promise.all([provider.getPullRequest(7), provider.getPullRequest(7)]);
    fake.verify();

    // 50 minutes later the token is still good for more than the 5-minute margin.
    clock.advance(50 * 60_000);
    fake.expect(withToken('ghs_firstInstallationToken'));
    await provider.getPullRequest(7);
    fake.verify();

    // At 56 minutes it is not: a new exchange.
    clock.advance(6 * 60_000);
    fake.expect(exchange('ghs_secondInstallationToken', start + 56 * 60_000), withToken('ghs_secondInstallationToken'));
    await provider.getPullRequest(7);
    fake.verify();
    for (const secret of ['ghs_firstInstallationToken', 'ghs_secondInstallationToken', 'PRIVATE KEY']) assert.ok(!log.text().includes(secret), `${secret} not logged`);
  });

  it('a refused exchange is an auth error that says what to check', async () => {
    const log = memoryLogger();
    const provider = createGitHubProvider({ repository: 'acme/db', auth: { kind: 'app', appId: '12345', privateKey: pem, installationId: 43 }, baseUrl: fake.url, logger: log.logger, clock: testClock({ start }) });
    fake.expect({ method: 'POST', path: '/app/installations/43/access_tokens', reply: { status: 401, json: { message: 'A JSON web token could not be decoded' } } });
    const err = await provider.listComments(7).catch((e: unknown) => e);
    fake.verify();
    assert.ok(err instanceof ForgeError);
    assert.equal(err.code, 'auth');
    assert.match(err.message, /GitHub refused the App token exchange for installation 43 \(401\): check the App id, its private key and the installation id/);
    assert.ok(!err.message.includes('eyJ'), 'no JWT in the message');
  });

  it('a private key that does not parse fails at once with a config error', () => {
    assert.throws(
      () => createGitHubProvider({ repository: 'acme/db', auth: { kind: 'app', appId: '1', privateKey: '-----BEGIN RSA PRIVATE KEY-----\nnot a key\n-----END RSA PRIVATE KEY-----', installationId: 1 }, baseUrl: fake.url, logger: memoryLogger().logger }),
      (err: unknown) => err instanceof ForgeError && err.code === 'config' && !err.message.includes('not a key'),
    );
    assert.throws(() => createGitHubProvider({ repository: 'acme', auth: { kind: 'token', token: 't' }, logger: memoryLogger().logger }), /owner\/name/);
  });
});
