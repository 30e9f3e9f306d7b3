/**
 * Small stateful models of the GitHub and GitLab routes rollgate uses, as
 * expectations for the fake forge: comments and statuses written by one
 * request are read back by the next, as on the real forge, while each test
 * still says exactly which requests it expects and how many.
 */
import type { Expectation, RecordedRequest } from './fake-forge.ts';

/** Stored comments and statuses. */
export interface ForgeModel {
  /** Comments (notes) per pull request, oldest first. */
  readonly comments: Map<number, { id: number; body: string; author: string; createdAt: string; system?: boolean }[]>;
  /** Statuses per commit, oldest first. */
  readonly statuses: Map<string, { id: number; context: string; state: string; description: string; targetUrl?: string }[]>;
  nextId: number;
  /** Login of the forge user rollgate's token belongs to. */
  readonly self: string;
  /** RFC 3339 time stamped on new comments. */
  now: string;
}

/** An empty model. */
export function forgeModel(self = 'rollgate-bot'): ForgeModel {
  return { comments: new Map(), statuses: new Map(), nextId: 1000, self, now: '2026-11-20T10:00:00Z' };
}

/** Adds a comment by `author`; returns its id. */
export function addComment(m: ForgeModel, pr: number, author: string, body: string, createdAt = m.now): number {
  const id = m.nextId++;
  m.comments.set(pr, [...(m.comments.get(pr) ?? []), { id, body, author, createdAt }]);
  return id;
}

type Times = Expectation['times'];
const bodyOf = (r: RecordedRequest): Record<string, unknown> => r.json() as Record<string, unknown>;
const repoPath = '/repos/acme/db';

/** A GitHub pull request as the REST API shows it. */
export function ghPull(number: number, head: string, options: { base?: string; state?: 'open' | 'closed'; mergedAt?: string; mergeSha?: string } = {}): Record<string, unknown> {
  return {
    number,
    state: options.state ?? (options.mergedAt !== undefined ? 'closed' : 'open'),
    head: { sha: head, ref: `feature-${number}` },
    base: { ref: options.base ?? 'main' },
    merged_at: options.mergedAt ?? null,
    merge_commit_sha: options.mergeSha ?? null,
  };
}

/** GitHub routes for repository `acme/db`. */
export const github = {
  listComments: (m: ForgeModel, pr: number, times?: Times): Expectation => ({
    method: 'GET',
    path: `${repoPath}/issues/${pr}/comments`,
    times,
    reply: () => ({ json: (m.comments.get(pr) ?? []).map((c) => ({ id: c.id, body: c.body, user: { login: c.author }, created_at: c.createdAt })) }),
  }),
  createComment: (m: ForgeModel, pr: number, times?: Times, check?: (body: string) => void): Expectation => ({
    method: 'POST',
    path: `${repoPath}/issues/${pr}/comments`,
    times,
    reply: (r) => {
      const body = String(bodyOf(r)['body']);
      check?.(body);
      const id = addComment(m, pr, m.self, body);
      return { status: 201, json: { id, body, user: { login: m.self }, created_at: m.now } };
    },
  }),
  updateComment: (m: ForgeModel, times?: Times): Expectation => ({
    method: 'PATCH',
    path: new RegExp(`^${repoPath}/issues/comments/\\d+$`),
    times,
    reply: (r) => {
      const id = Number(r.path.split('/').pop());
      const comment = [...m.comments.values()].flat().find((c) => c.id === id);
      if (comment === undefined) return { status: 404, json: { message: 'Not Found' } };
      comment.body = String(bodyOf(r)['body']);
      return { json: { id, body: comment.body, user: { login: comment.author }, created_at: comment.createdAt } };
    },
  }),
  combinedStatus: (m: ForgeModel, sha: string, times?: Times): Expectation => ({
    method: 'GET',
    path: `${repoPath}/commits/${sha}/status`,
    times,
    reply: () => {
      const latest = new Map<string, { context: string; state: string; description: string; targetUrl?: string }>();
      for (const s of m.statuses.get(sha) ?? []) latest.set(s.context, s);
      return { json: { state: 'pending', sha, statuses: [...latest.values()].map((s) => ({ context: s.context, state: s.state, description: s.description, target_url: s.targetUrl ?? null })) } };
    },
  }),
  createStatus: (m: ForgeModel, sha: string, times?: Times): Expectation => ({
    method: 'POST',
    path: `${repoPath}/statuses/${sha}`,
    times,
    reply: (r) => {
      const b = bodyOf(r);
      const status = { id: m.nextId++, context: String(b['context']), state: String(b['state']), description: typeof b['description'] === 'string' ? b['description'] : '', ...(typeof b['target_url'] === 'string' ? { targetUrl: b['target_url'] } : {}) };
      m.statuses.set(sha, [...(m.statuses.get(sha) ?? []), status]);
      return { status: 201, json: { id: status.id, state: status.state, context: status.context } };
    },
  }),
  listPulls: (pulls: Record<string, unknown>[], base = 'main', times?: Times): Expectation => ({ method: 'GET', path: `${repoPath}/pulls`, query: { state: 'open', base }, times, reply: { json: pulls } }),
  listFiles: (pr: number, files: string[], times?: Times): Expectation => ({ method: 'GET', path: `${repoPath}/pulls/${pr}/files`, times, reply: { json: files.map((filename) => ({ filename, status: 'modified' })) } }),
  getPull: (pull: Record<string, unknown>, times?: Times): Expectation => ({ method: 'GET', path: `${repoPath}/pulls/${String(pull['number'])}`, times, reply: { json: pull } }),
  commitPulls: (sha: string, pulls: Record<string, unknown>[], times?: Times): Expectation => ({ method: 'GET', path: `${repoPath}/commits/${sha}/pulls`, times, reply: { json: pulls } }),
  permission: (user: string, permission: 'admin' | 'write' | 'read' | 'none', times?: Times): Expectation => ({
    method: 'GET',
    path: `${repoPath}/collaborators/${user}/permission`,
    times,
    reply: { json: { permission, role_name: permission, user: { login: user } } },
  }),
};

/** GitLab routes for project `acme/db` (`acme%2Fdb` in paths). */
const projectPath = '/api/v4/projects/acme%2Fdb';

/** A GitLab merge request as the REST API shows it. */
export function glMergeRequest(iid: number, sha: string, options: { target?: string; state?: 'opened' | 'closed' | 'merged'; mergeSha?: string; mergedAt?: string } = {}): Record<string, unknown> {
  return {
    id: 50_000 + iid,
    iid,
    sha,
    target_branch: options.target ?? 'main',
    source_branch: `feature-${iid}`,
    state: options.state ?? 'opened',
    merge_commit_sha: options.mergeSha ?? null,
    squash_commit_sha: null,
    merged_at: options.mergedAt ?? null,
  };
}

/** GitLab routes for project `acme/db`. */
export const gitlab = {
  listNotes: (m: ForgeModel, mr: number, times?: Times): Expectation => ({
    method: 'GET',
    path: `${projectPath}/merge_requests/${mr}/notes`,
    times,
    reply: () => ({ json: (m.comments.get(mr) ?? []).map((c) => ({ id: c.id, body: c.body, author: { username: c.author }, created_at: c.createdAt, system: c.system ?? false })) }),
  }),
  createNote: (m: ForgeModel, mr: number, times?: Times, check?: (body: string) => void): Expectation => ({
    method: 'POST',
    path: `${projectPath}/merge_requests/${mr}/notes`,
    times,
    reply: (r) => {
      const body = String(bodyOf(r)['body']);
      check?.(body);
      const id = addComment(m, mr, m.self, body);
      return { status: 201, json: { id, body, author: { username: m.self }, created_at: m.now, system: false } };
    },
  }),
  editNote: (m: ForgeModel, mr: number, times?: Times): Expectation => ({
    method: 'PUT',
    path: new RegExp(`^${projectPath}/merge_requests/${mr}/notes/\\d+$`),
    times,
    reply: (r) => {
      const id = Number(r.path.split('/').pop());
      const note = (m.comments.get(mr) ?? []).find((c) => c.id === id);
      if (note === undefined) return { status: 404, json: { message: '404 Not found' } };
      note.body = String(bodyOf(r)['body']);
      return { json: { id, body: note.body, author: { username: note.author }, created_at: note.createdAt, system: false } };
    },
  }),
  listStatuses: (m: ForgeModel, sha: string, times?: Times): Expectation => ({
    method: 'GET',
    path: `${projectPath}/repository/commits/${sha}/statuses`,
    times,
    reply: (r) => ({
      json: (m.statuses.get(sha) ?? [])
        .filter((s) => r.query.get('name') === null || s.context === r.query.get('name'))
        .map((s) => ({ id: s.id, name: s.context, status: s.state, description: s.description, target_url: s.targetUrl ?? null, sha })),
    }),
  }),
  postStatus: (m: ForgeModel, sha: string, times?: Times): Expectation => ({
    method: 'POST',
    path: `${projectPath}/statuses/${sha}`,
    times,
    reply: (r) => {
      const b = bodyOf(r);
      const current = (m.statuses.get(sha) ?? []).filter((s) => s.context === b['name']).at(-1);
      // GitLab refuses a transition to the state a running or pending status is already in.
      if (current !== undefined && current.state === b['state'] && (current.state === 'running' || current.state === 'pending')) return { status: 400, json: { message: `Cannot transition status via :run from :${current.state}` } };
      const status = { id: m.nextId++, context: String(b['name']), state: String(b['state']), description: typeof b['description'] === 'string' ? b['description'] : '', ...(typeof b['target_url'] === 'string' ? { targetUrl: b['target_url'] } : {}) };
      m.statuses.set(sha, [...(m.statuses.get(sha) ?? []), status]);
      return { status: 201, json: { id: status.id, name: status.context, status: status.state, sha } };
    },
  }),
  listMergeRequests: (mrs: Record<string, unknown>[], target = 'main', times?: Times): Expectation => ({ method: 'GET', path: `${projectPath}/merge_requests`, query: { state: 'opened', target_branch: target }, times, reply: { json: mrs } }),
  diffs: (mr: number, files: string[], times?: Times): Expectation => ({ method: 'GET', path: `${projectPath}/merge_requests/${mr}/diffs`, times, reply: { json: files.map((f) => ({ old_path: f, new_path: f, new_file: false, deleted_file: false, renamed_file: false, diff: '' })) } }),
  showMergeRequest: (mr: Record<string, unknown>, times?: Times): Expectation => ({ method: 'GET', path: `${projectPath}/merge_requests/${String(mr['iid'])}`, times, reply: { json: mr } }),
  commitMergeRequests: (sha: string, mrs: Record<string, unknown>[], times?: Times): Expectation => ({ method: 'GET', path: `${projectPath}/repository/commits/${sha}/merge_requests`, times, reply: { json: mrs } }),
  members: (user: string, accessLevel: number | undefined, times?: Times): Expectation => ({
    method: 'GET',
    path: `${projectPath}/members/all`,
    query: { query: user },
    times,
    reply: { json: accessLevel === undefined ? [] : [{ id: 7, username: user, name: user, state: 'active', access_level: accessLevel }] },
  }),
};
