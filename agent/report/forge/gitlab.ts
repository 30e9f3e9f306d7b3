/**
 * The GitLab adapter of {@link ForgeProvider}, through @gitbeaker/rest's
 * resource classes over rollgate's own requester (see
 * `gitlab-requester.ts`): merge requests, their notes, commit statuses and
 * project members; `host` points it at a self-managed instance.
 *
 * Routes used (GitLab REST v4, `:id` the URL-encoded project path):
 * - `GET/POST /projects/:id/merge_requests/:iid/notes`, `PUT …/notes/:note_id`
 * - `GET /projects/:id/repository/commits/:sha/statuses`, `POST /projects/:id/statuses/:sha`
 * - `GET /projects/:id/merge_requests?state=opened&target_branch=`, `GET …/merge_requests/:iid`, `GET …/merge_requests/:iid/diffs`
 * - `GET /projects/:id/repository/commits/:sha/merge_requests`
 * - `GET /projects/:id/members/all?query=`
 *
 * Status mapping: neutral `pending` is GitLab's `running` (rollgate is
 * working on it), `success` is `success`, `failure` and `error` are
 * `failed` (GitLab has no `error`). GitLab refuses to post a status in the
 * state it is already in while that state is `pending` or `running`
 * ("Cannot transition status via :run from :running"), so a new
 * description alone on a running status is not written.
 */
import { Commits, MergeRequestNotes, MergeRequests, ProjectMembers } from '@gitbeaker/rest';
import type { Logger } from 'pino';
import { systemClock, type ForgeClock } from './clock.ts';
import { ForgeError, toForgeError } from './errors.ts';
import { createGitLabRequester } from './gitlab-requester.ts';
import { createForgeFetch } from './http.ts';
import { findMarker, markedBody, sameContent } from './marker.ts';
import { fields, flag, id, list, num, optStr, str, sub, type Fields } from './parse.ts';
import { statusDescription, type CommitState, type ForgeComment, type ForgeProvider, type PullRequestRef } from './provider.ts';
import type { RetryPolicy } from './retry.ts';

/** GitLab's commit status states rollgate writes. */
export type GitLabStatusState = 'running' | 'success' | 'failed';

/** The GitLab state for a neutral {@link CommitState}. */
export function gitlabState(state: CommitState): GitLabStatusState {
  switch (state) {
    case 'pending':
      return 'running';
    case 'success':
      return 'success';
    case 'failure':
    case 'error':
      return 'failed';
  }
}

/** GitLab's access levels: Developer (30) may push to unprotected branches, Maintainer (40) to protected ones. */
export const gitlabAccessLevel = { developer: 30, maintainer: 40, owner: 50 } as const;

/** Options of {@link createGitLabProvider}. */
export interface GitLabProviderOptions {
  /** The project's full path, `group/sub/name` (or its numeric id as a string). */
  readonly project: string;
  /** A personal, project or group access token (sent as `PRIVATE-TOKEN`), or an OAuth token with `tokenKind: 'oauth'` (sent as `Authorization: Bearer`). Never logged. */
  readonly token: string;
  /** Default `private`. */
  readonly tokenKind?: 'private' | 'oauth';
  /** Instance URL without `/api/v4`. Default `https://gitlab.com`. */
  readonly host?: string;
  /** Lowest access level that counts as write permission. Default 30 (Developer, who can push). */
  readonly minAccessLevel?: number;
  readonly logger: Logger;
  /** Default: the wall clock. Retry waits use it. */
  readonly clock?: ForgeClock;
  /** In [0, 1), for retry jitter. Default `Math.random`. */
  readonly random?: () => number;
  /** Retry bounds. Default `defaultRetryPolicy`. */
  readonly retry?: Partial<RetryPolicy>;
  /** Timeout of one HTTP attempt, in ms. Default 30,000. */
  readonly requestTimeoutMs?: number;
  /** The underlying fetch. Default `globalThis.fetch`. */
  readonly fetch?: (url: string, init?: RequestInit) => Promise<Response>;
}

const perPage = 100;

/** Creates the GitLab adapter. Makes no request until a method is called. */
export function createGitLabProvider(options: GitLabProviderOptions): ForgeProvider {
  const project = options.project.replace(/^\/+|\/+$/g, '');
  if (project === '') throw new ForgeError('config', 'GitLab project must be its path (group/name) or id, got an empty string');
  if (options.token === '') throw new ForgeError('config', 'GitLab token is empty');
  const host = (options.host ?? 'https://gitlab.com').replace(/\/+$/, '').replace(/\/api\/v4$/, '');
  const minAccess = options.minAccessLevel ?? gitlabAccessLevel.developer;
  const fetch = createForgeFetch({
    forge: 'gitlab',
    logger: options.logger,
    clock: options.clock ?? systemClock,
    ...(options.random !== undefined ? { random: options.random } : {}),
    ...(options.retry !== undefined ? { retry: options.retry } : {}),
    ...(options.requestTimeoutMs !== undefined ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
    ...(options.fetch !== undefined ? { fetch: options.fetch } : {}),
  });
  const authHeader = options.tokenKind === 'oauth' ? (['authorization', `Bearer ${options.token}`] as const) : (['private-token', options.token] as const);
  // queryTimeout 0: gitbeaker would otherwise put one deadline over all our retries; http.ts times each attempt.
  const config = { host, requesterFn: createGitLabRequester({ fetch, authHeader }), queryTimeout: 0 };
  const mergeRequests = new MergeRequests(config);
  const notes = new MergeRequestNotes(config);
  const commits = new Commits(config);
  const members = new ProjectMembers(config);
  const where = (route: string): string => `gitlab ${route}`;

  async function call<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      throw toForgeError(err, 'gitlab', [options.token]);
    }
  }

  function mergeRef(f: Fields): PullRequestRef {
    const state = str(f, 'state');
    const merged = state === 'merged';
    const mergeSha = optStr(f, 'merge_commit_sha') ?? optStr(f, 'squash_commit_sha') ?? (merged ? str(f, 'sha') : undefined);
    const mergedAt = optStr(f, 'merged_at');
    return {
      number: num(f, 'iid'),
      headSha: str(f, 'sha'),
      baseRef: str(f, 'target_branch'),
      state: merged ? 'merged' : state === 'opened' ? 'open' : 'closed',
      ...(merged && mergeSha !== undefined ? { mergeSha } : {}),
      ...(merged && mergedAt !== undefined ? { mergedAt } : {}),
    };
  }

  async function allNotes(mr: number): Promise<Fields[]> {
    const all = await call(async () => list(await notes.all(project, mr, { perPage, sort: 'asc', orderBy: 'created_at' }), where(`GET notes of !${mr}`)));
    // System notes ("added 1 commit") are GitLab's, not anyone's comments.
    return all.filter((n) => !flag(n, 'system'));
  }

  async function changedFiles(mr: number): Promise<string[]> {
    const diffs = await call(async () => list(await mergeRequests.allDiffs(project, mr, { perPage }), where(`GET diffs of !${mr}`)));
    return [...new Set(diffs.flatMap((d) => [str(d, 'new_path'), str(d, 'old_path')]))];
  }

  return {
    kind: 'gitlab',
    repository: project,

    async ensureComment(pr, marker, body) {
      const existing = (await allNotes(pr)).find((n) => findMarker(str(n, 'body'), marker) !== undefined);
      const full = markedBody(marker, body);
      if (existing === undefined) {
        const created = await call(async () => fields(await notes.create(project, pr, full), where(`POST note on !${pr}`)));
        return { action: 'created', commentId: id(created, 'id') };
      }
      const noteId = id(existing, 'id');
      if (sameContent(str(existing, 'body'), marker, body)) return { action: 'unchanged', commentId: noteId };
      await call(() => notes.edit(project, pr, Number(noteId), { body: full }));
      return { action: 'updated', commentId: noteId };
    },

    async setCommitStatus(sha, context, state, description, targetUrl) {
      const wanted = gitlabState(state);
      const text = statusDescription(description);
      const statuses = await call(async () => list(await commits.allStatuses(project, sha, { name: context, all: true }), where(`GET statuses of ${sha}`)));
      // Several statuses of one name accumulate on a commit; the newest (highest id) is the current one.
      const current = statuses.filter((s) => str(s, 'name') === context).sort((a, b) => num(b, 'id') - num(a, 'id'))[0];
      if (current !== undefined) {
        const status = str(current, 'status');
        if (status === wanted && wanted === 'running') return 'unchanged';
        if (status === wanted && (optStr(current, 'description') ?? '') === text && optStr(current, 'target_url') === targetUrl) return 'unchanged';
      }
      await call(() => commits.editStatus(project, sha, wanted, { name: context, description: text, ...(targetUrl !== undefined ? { targetUrl } : {}) }));
      return 'set';
    },

    async listOpenPullRequests(baseRef) {
      const mrs = await call(async () => list(await mergeRequests.all({ projectId: project, state: 'opened', targetBranch: baseRef, perPage }), where('GET merge_requests')));
      const out = [];
      for (const mr of mrs) {
        const ref = mergeRef(mr);
        out.push({ ...ref, changedFiles: await changedFiles(ref.number) });
      }
      return out;
    },

    async getPullRequest(pr) {
      return mergeRef(await call(async () => fields(await mergeRequests.show(project, pr), where(`GET merge request !${pr}`))));
    },

    listChangedFiles: changedFiles,

    async pullRequestsForCommit(sha) {
      const mrs = await call(async () => list(await commits.allMergeRequests(project, sha), where(`GET merge requests of ${sha}`)));
      return mrs.map(mergeRef);
    },

    async hasWritePermission(user) {
      const found = await call(async () => list(await members.all(project, { includeInherited: true, query: user, perPage }), where('GET members/all')));
      // `query` matches names and usernames by substring: only the exact username counts.
      const member = found.find((m) => str(m, 'username').toLowerCase() === user.toLowerCase());
      if (member === undefined) return false;
      if ((optStr(member, 'state') ?? 'active') !== 'active') return false;
      return num(member, 'access_level') >= minAccess;
    },

    async reply(pr, body) {
      return id(await call(async () => fields(await notes.create(project, pr, body), where(`POST note on !${pr}`))), 'id');
    },

    async listComments(pr) {
      return (await allNotes(pr)).map((n): ForgeComment => ({ id: id(n, 'id'), author: str(sub(n, 'author'), 'username'), body: str(n, 'body'), createdAt: str(n, 'created_at') }));
    },
  };
}
