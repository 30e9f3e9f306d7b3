/**
 * The GitHub adapter of {@link ForgeProvider}, through @octokit/rest: a
 * personal or fine-grained token, or a GitHub App's installation token
 * (see `github-app.ts`); `baseUrl` points it at GitHub Enterprise Server.
 * Every request goes through the retrying fetch of `http.ts`, so rate
 * limits and transient errors are handled in one place.
 *
 * Routes used (GitHub REST, API version 2022-11-28):
 * - `GET/POST /repos/{o}/{r}/issues/{n}/comments`, `PATCH /repos/{o}/{r}/issues/comments/{id}`
 * - `GET /repos/{o}/{r}/commits/{sha}/status`, `POST /repos/{o}/{r}/statuses/{sha}`
 * - `GET /repos/{o}/{r}/pulls?state=open&base=`, `GET /repos/{o}/{r}/pulls/{n}`, `GET /repos/{o}/{r}/pulls/{n}/files`
 * - `GET /repos/{o}/{r}/commits/{sha}/pulls`
 * - `GET /repos/{o}/{r}/collaborators/{user}/permission`
 */
import { Octokit } from '@octokit/rest';
import type { Logger } from 'pino';
import { systemClock, type ForgeClock } from './clock.ts';
import { ForgeError, toForgeError } from './errors.ts';
import { createInstallationTokens, type GitHubAppCredentials } from './github-app.ts';
import { createForgeFetch, type ForgeFetch } from './http.ts';
import { findMarker, markedBody, sameContent } from './marker.ts';
import { fields, flag, id, list, num, optStr, str, sub, type Fields } from './parse.ts';
import { statusDescription, type CommitState, type ForgeComment, type ForgeProvider, type PullRequest, type PullRequestRef } from './provider.ts';
import type { RetryPolicy } from './retry.ts';

/** How the GitHub adapter authenticates. */
export type GitHubAuth = { readonly kind: 'token'; readonly token: string } | ({ readonly kind: 'app' } & GitHubAppCredentials);

/** Options of {@link createGitHubProvider}. */
export interface GitHubProviderOptions {
  /** `owner/name` of the repository. */
  readonly repository: string;
  readonly auth: GitHubAuth;
  /** REST API base URL. Default `https://api.github.com`; GitHub Enterprise Server: `https://HOST/api/v3`. */
  readonly baseUrl?: string;
  readonly logger: Logger;
  /** Default: the wall clock. Retry waits and App token expiry use it. */
  readonly clock?: ForgeClock;
  /** In [0, 1), for retry jitter. Default `Math.random`. */
  readonly random?: () => number;
  /** Retry bounds. Default `defaultRetryPolicy` (4 attempts, rate-limit waits up to 60 s). */
  readonly retry?: Partial<RetryPolicy>;
  /** Timeout of one HTTP attempt, in ms. Default 30,000. */
  readonly requestTimeoutMs?: number;
  /** The underlying fetch. Default `globalThis.fetch`. */
  readonly fetch?: (url: string, init?: RequestInit) => Promise<Response>;
}

const perPage = 100;

/** Creates the GitHub adapter. Makes no request until a method is called (except none: App keys are parsed here, so a bad key fails now). */
export function createGitHubProvider(options: GitHubProviderOptions): ForgeProvider {
  const parts = options.repository.split('/');
  if (parts.length !== 2 || parts.some((p) => p === '')) throw new ForgeError('config', `GitHub repository must be "owner/name", got ${JSON.stringify(options.repository)}`);
  const owner: string = parts[0] ?? '';
  const repo: string = parts[1] ?? '';
  const baseUrl = (options.baseUrl ?? 'https://api.github.com').replace(/\/+$/, '');
  const clock = options.clock ?? systemClock;
  const log = options.logger;
  const forgeFetch: ForgeFetch = createForgeFetch({
    forge: 'github',
    logger: log,
    clock,
    ...(options.random !== undefined ? { random: options.random } : {}),
    ...(options.retry !== undefined ? { retry: options.retry } : {}),
    ...(options.requestTimeoutMs !== undefined ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
    ...(options.fetch !== undefined ? { fetch: options.fetch } : {}),
  });
  const auth = options.auth;
  const app = auth.kind === 'app' ? createInstallationTokens({ credentials: auth, baseUrl, fetch: forgeFetch, clock }) : undefined;
  const secrets = (): string[] => (auth.kind === 'token' ? [auth.token] : [...(app?.secrets() ?? [])]);
  const quiet = (message: string): void => log.debug({ forge: 'github', detail: message.slice(0, 300) }, 'github client message');
  const octokit = new Octokit({
    baseUrl,
    userAgent: 'rollgate',
    request: { fetch: forgeFetch },
    log: { debug: () => undefined, info: () => undefined, warn: quiet, error: quiet },
    ...(auth.kind === 'token' ? { auth: auth.token } : {}),
  });
  if (app !== undefined) {
    octokit.hook.before('request', async (request) => {
      request.headers.authorization = `token ${await app.token()}`;
    });
    octokit.hook.error('request', (err) => {
      // A revoked or expired installation token: the next request exchanges a new one.
      if ((err as { status?: unknown }).status === 401) app.invalidate();
      throw err;
    });
  }
  const where = (route: string): string => `github ${route}`;

  async function call<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      throw toForgeError(err, 'github', secrets());
    }
  }

  const listIssueComments = (pr: number): Promise<Fields[]> =>
    call(async () => list(await octokit.paginate(octokit.rest.issues.listComments, { owner, repo, issue_number: pr, per_page: perPage }), where(`GET /repos/${owner}/${repo}/issues/${pr}/comments`)));

  function pullRef(f: Fields): PullRequestRef {
    const mergedAt = optStr(f, 'merged_at');
    const mergeSha = optStr(f, 'merge_commit_sha');
    const state = mergedAt !== undefined || flag(f, 'merged') ? 'merged' : str(f, 'state') === 'open' ? 'open' : 'closed';
    return {
      number: num(f, 'number'),
      headSha: str(sub(f, 'head'), 'sha'),
      baseRef: str(sub(f, 'base'), 'ref'),
      state,
      ...(state === 'merged' && mergeSha !== undefined ? { mergeSha } : {}),
      ...(mergedAt !== undefined ? { mergedAt } : {}),
    };
  }

  async function changedFiles(pr: number): Promise<string[]> {
    const files = await call(async () => list(await octokit.paginate(octokit.rest.pulls.listFiles, { owner, repo, pull_number: pr, per_page: perPage }), where(`GET /repos/${owner}/${repo}/pulls/${pr}/files`)));
    return [...new Set(files.flatMap((f) => [str(f, 'filename'), optStr(f, 'previous_filename')].filter((p): p is string => p !== undefined)))];
  }

  return {
    kind: 'github',
    repository: `${owner}/${repo}`,

    async ensureComment(pr, marker, body) {
      const existing = (await listIssueComments(pr)).find((c) => findMarker(str(c, 'body'), marker) !== undefined);
      const full = markedBody(marker, body);
      if (existing === undefined) {
        const created = await call(async () => fields((await octokit.rest.issues.createComment({ owner, repo, issue_number: pr, body: full })).data, where('POST comment')));
        return { action: 'created', commentId: id(created, 'id') };
      }
      const commentId = id(existing, 'id');
      if (sameContent(str(existing, 'body'), marker, body)) return { action: 'unchanged', commentId };
      await call(() => octokit.rest.issues.updateComment({ owner, repo, comment_id: Number(commentId), body: full }));
      return { action: 'updated', commentId };
    },

    async setCommitStatus(sha, context, state, description, targetUrl) {
      const text = statusDescription(description);
      const combined = await call(async () => fields((await octokit.rest.repos.getCombinedStatusForRef({ owner, repo, ref: sha, per_page: perPage })).data, where(`GET /repos/${owner}/${repo}/commits/${sha}/status`)));
      // The combined status lists the latest status of each context.
      const current = list(combined.value['statuses'], `${combined.where} .statuses`).find((s) => str(s, 'context') === context);
      if (current !== undefined && str(current, 'state') === state && (optStr(current, 'description') ?? '') === text && (optStr(current, 'target_url') ?? undefined) === targetUrl) return 'unchanged';
      await call(() => octokit.rest.repos.createCommitStatus({ owner, repo, sha, state: state satisfies CommitState, context, description: text, ...(targetUrl !== undefined ? { target_url: targetUrl } : {}) }));
      return 'set';
    },

    async listOpenPullRequests(baseRef) {
      const pulls = await call(async () => list(await octokit.paginate(octokit.rest.pulls.list, { owner, repo, state: 'open', base: baseRef, per_page: perPage }), where(`GET /repos/${owner}/${repo}/pulls`)));
      const out: PullRequest[] = [];
      for (const p of pulls) {
        const ref = pullRef(p);
        out.push({ ...ref, changedFiles: await changedFiles(ref.number) });
      }
      return out;
    },

    async getPullRequest(pr) {
      return pullRef(await call(async () => fields((await octokit.rest.pulls.get({ owner, repo, pull_number: pr })).data, where(`GET /repos/${owner}/${repo}/pulls/${pr}`))));
    },

    listChangedFiles: changedFiles,

    async pullRequestsForCommit(sha) {
      const pulls = await call(async () => list((await octokit.rest.repos.listPullRequestsAssociatedWithCommit({ owner, repo, commit_sha: sha, per_page: perPage })).data, where(`GET /repos/${owner}/${repo}/commits/${sha}/pulls`)));
      return pulls.map(pullRef);
    },

    async hasWritePermission(user) {
      try {
        const data = fields((await octokit.rest.repos.getCollaboratorPermissionLevel({ owner, repo, username: user })).data, where(`GET /repos/${owner}/${repo}/collaborators/{user}/permission`));
        // `permission` is the legacy summary: maintain reads as write, triage as read.
        const permission = str(data, 'permission');
        return permission === 'admin' || permission === 'write';
      } catch (err) {
        const e = toForgeError(err, 'github', secrets());
        if (e.code === 'not-found') return false;
        throw e;
      }
    },

    async reply(pr, body) {
      const created = await call(async () => fields((await octokit.rest.issues.createComment({ owner, repo, issue_number: pr, body })).data, where('POST comment')));
      return id(created, 'id');
    },

    async listComments(pr) {
      return (await listIssueComments(pr)).map((c): ForgeComment => ({ id: id(c, 'id'), author: str(sub(c, 'user'), 'login'), body: str(c, 'body'), createdAt: str(c, 'created_at') }));
    },
  };
}
