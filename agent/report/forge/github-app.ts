/**
 * GitHub App authentication: a JSON Web Token signed RS256 with the App's
 * private key (node:crypto, no JWT library) is exchanged for an
 * installation access token, which is cached until shortly before it
 * expires (GitHub issues them for one hour). The exchange runs once at a
 * time, however many requests need a token.
 *
 * GitHub's rules followed here: `iat` 60 s in the past against clock drift,
 * `exp` at most 10 minutes later, `iss` the App id (or client id).
 */
import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { Octokit } from '@octokit/rest';
import type { ForgeClock } from './clock.ts';
import { ForgeError, toForgeError } from './errors.ts';
import type { ForgeFetch } from './http.ts';
import { fields, str } from './parse.ts';

/** How a GitHub App authenticates. */
export interface GitHubAppCredentials {
  /** The App's id (numeric, as a string) or its client id. */
  readonly appId: string;
  /** The App's private key, PEM (PKCS#1 `BEGIN RSA PRIVATE KEY` as GitHub issues it, or PKCS#8). Never logged. */
  readonly privateKey: string;
  /** The installation on the repository's owner. */
  readonly installationId: number;
}

/** Installation tokens, fetched and cached. */
export interface InstallationTokens {
  /** A token valid for at least the refresh margin; exchanges a new one when needed. */
  token(): Promise<string>;
  /** Forgets the cached token (after a 401), so the next call exchanges a new one. */
  invalidate(): void;
  /** Tokens issued so far (for redaction). */
  secrets(): readonly string[];
}

const base64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

/** Parses a PEM private key; a `config` error (without the key) when it does not parse. */
export function parsePrivateKey(pem: string): KeyObject {
  try {
    return createPrivateKey(pem.replace(/\\n/g, '\n'));
  } catch (err) {
    throw new ForgeError('config', `the GitHub App private key does not parse as a PEM private key (${err instanceof Error && 'code' in err ? String(err.code) : 'invalid'})`);
  }
}

/** The App's JWT at `nowMs`: RS256, issued 60 s ago, expiring in 9 minutes. Pure apart from the signature. */
export function appJwt(appId: string, key: KeyObject, nowMs: number): string {
  const now = Math.floor(nowMs / 1000);
  const header = base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
  const payload = base64url(JSON.stringify({ iat: now - 60, exp: now + 9 * 60, iss: appId }));
  const signature = sign('sha256', Buffer.from(`${header}.${payload}`), key);
  return `${header}.${payload}.${base64url(signature)}`;
}

/** Options of {@link createInstallationTokens}. */
export interface InstallationTokensOptions {
  readonly credentials: GitHubAppCredentials;
  /** API base URL, `https://api.github.com` or `https://HOST/api/v3`. */
  readonly baseUrl: string;
  /** The retrying fetch the exchange goes through. */
  readonly fetch: ForgeFetch;
  readonly clock: ForgeClock;
  /** A token this close to its expiry is replaced, in ms. Default 300,000 (5 min). */
  readonly refreshMarginMs?: number;
}

/** Creates the installation-token cache. Parses the key at once, so a bad key fails at start-up with a `config` error. */
export function createInstallationTokens(options: InstallationTokensOptions): InstallationTokens {
  const key = parsePrivateKey(options.credentials.privateKey);
  const margin = options.refreshMarginMs ?? 300_000;
  const { appId, installationId } = options.credentials;
  // A separate client without auth: the JWT goes in this one request's header only.
  const client = new Octokit({ baseUrl: options.baseUrl, request: { fetch: options.fetch }, userAgent: 'rollgate', log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined } });
  const issued: string[] = [];
  let cached: { token: string; expiresAt: number } | undefined;
  let inFlight: Promise<string> | undefined;

  async function exchange(): Promise<string> {
    const jwt = appJwt(appId, key, options.clock.now());
    try {
      const response = await client.request('POST /app/installations/{installation_id}/access_tokens', { installation_id: installationId, headers: { authorization: `Bearer ${jwt}` } });
      const body = fields(response.data, 'github POST /app/installations/{id}/access_tokens');
      const token = str(body, 'token');
      const expiresAt = Date.parse(str(body, 'expires_at'));
      if (Number.isNaN(expiresAt)) throw new ForgeError('protocol', 'github POST /app/installations/{id}/access_tokens answered an unreadable expires_at');
      issued.push(token);
      cached = { token, expiresAt };
      return token;
    } catch (err) {
      const e = toForgeError(err, 'github', [jwt, ...issued]);
      if (e.code === 'auth' || e.code === 'forbidden' || e.code === 'not-found') {
        throw new ForgeError('auth', `GitHub refused the App token exchange for installation ${installationId} (${e.status ?? e.code}): check the App id, its private key and the installation id`, { ...(e.status !== undefined ? { status: e.status } : {}), request: 'POST /app/installations/{id}/access_tokens' });
      }
      throw e;
    }
  }

  return {
    async token() {
      if (cached !== undefined && cached.expiresAt - margin > options.clock.now()) return cached.token;
      inFlight ??= exchange().finally(() => {
        inFlight = undefined;
      });
      return inFlight;
    },
    invalidate() {
      cached = undefined;
    },
    secrets: () => issued,
  };
}
