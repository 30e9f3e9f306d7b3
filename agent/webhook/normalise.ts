/**
 * From a forge's webhook payload to a {@link ForgeEvent}: the fields
 * rollgate needs, checked and normalised, or a clear reason why the
 * delivery is not one rollgate acts on. Pure functions of (event name,
 * delivery id, parsed body); run only after the delivery was authenticated.
 *
 * Payload shapes follow the forges' documentation: GitHub's "Webhook events
 * and payloads" (`push`, `pull_request`, `issue_comment`, `ping`) and
 * GitLab's "Webhook events" (`Push Hook`, `Merge Request Hook`, `Note Hook`).
 */
import type { CommentEvent, ForgeEvent, PullRequestEvent, PushEvent } from './events.ts';

/** Codes of {@link WebhookPayloadError}. */
export type WebhookPayloadErrorCode =
  /** The body is not JSON at all (or is empty). */
  | 'malformed-json'
  /** The body is JSON, but not an object. */
  | 'not-an-object'
  /** A field rollgate needs is absent or null. */
  | 'missing-field'
  /** A field is present with the wrong type or form (a commit id that is not hex, a number that is not whole). */
  | 'invalid-field';

/**
 * A delivery whose signature was valid but whose body rollgate cannot use.
 * The message names the event and the field (``push event: field `after` missing``);
 * it is safe to return to the forge and to log, as it holds no secret.
 */
export class WebhookPayloadError extends Error {
  readonly code: WebhookPayloadErrorCode;
  /** The dotted path of the field at fault, when one is (`pull_request.head.sha`). */
  readonly field: string | undefined;

  constructor(code: WebhookPayloadErrorCode, message: string, field?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WebhookPayloadError';
    this.code = code;
    this.field = field;
  }
}

/**
 * What a delivery amounts to:
 * - `event`: pass it on;
 * - `ping`: GitHub checking the webhook works (answered 200, nothing passed on);
 * - `ignored`: a valid delivery rollgate does not act on (an unknown event, a tag push, a comment on an issue), with the reason for the log.
 */
export type Normalised =
  | { readonly kind: 'event'; readonly event: ForgeEvent }
  | { readonly kind: 'ping' }
  | { readonly kind: 'ignored'; readonly reason: string };

/**
 * Parses a delivery's body as a JSON object.
 *
 * @throws {@link WebhookPayloadError} `malformed-json` or `not-an-object`.
 */
export function parseJsonBody(body: Buffer): Record<string, unknown> {
  if (body.length === 0) throw new WebhookPayloadError('malformed-json', 'body is empty, expected a JSON object');
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new WebhookPayloadError('malformed-json', `body is not valid JSON: ${(err as Error).message}`, undefined, { cause: err });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new WebhookPayloadError('not-an-object', `body is ${describe(value)}, expected a JSON object`);
  return value as Record<string, unknown>;
}

/**
 * Normalises a GitHub delivery.
 *
 * - `push` to a branch: a {@link PushEvent}; pushes of tags are ignored
 *   (rollgate follows branches, and GitLab sends tags as a separate event).
 * - `pull_request`: a {@link PullRequestEvent}; `closed` with `merged: true`
 *   becomes `merged` with `mergeSha` (GitHub's `merge_commit_sha`: the merge,
 *   squash or last rebased commit); other actions keep GitHub's word.
 * - `issue_comment` `created` on a pull request (`issue.pull_request`
 *   present): a {@link CommentEvent}; edits, deletions and comments on plain
 *   issues are ignored, so editing an old comment never replays a command.
 * - `ping`: `ping`. Anything else: ignored.
 *
 * @param eventName - The `X-GitHub-Event` header.
 * @param deliveryId - The `X-GitHub-Delivery` header.
 * @throws {@link WebhookPayloadError} when a field rollgate needs is missing or malformed.
 */
export function normaliseGitHub(eventName: string, deliveryId: string, payload: Record<string, unknown>): Normalised {
  switch (eventName) {
    case 'ping':
      return { kind: 'ping' };
    case 'push': {
      const r = reader('push event', payload);
      const ref = r.text('ref');
      const after = r.commit('after');
      const repository = r.text('repository.full_name');
      if (!ref.startsWith('refs/heads/')) return { kind: 'ignored', reason: `push to ${ref}, not a branch` };
      return event({ type: 'push', forge: 'github', deliveryId, repository, ref, after } satisfies PushEvent);
    }
    case 'pull_request': {
      const r = reader('pull_request event', payload);
      const gitHubAction = r.text('action');
      const number = r.count('pull_request.number');
      const headSha = r.commit('pull_request.head.sha');
      const baseRef = stripHeads(r.text('pull_request.base.ref'));
      const repository = r.text('repository.full_name');
      const base = { type: 'pull_request', forge: 'github', deliveryId, repository, number, headSha, baseRef } as const;
      if (gitHubAction === 'closed' && r.flag('pull_request.merged')) {
        return event({ ...base, action: 'merged', mergeSha: r.commit('pull_request.merge_commit_sha') } satisfies PullRequestEvent);
      }
      return event({ ...base, action: gitHubAction } satisfies PullRequestEvent);
    }
    case 'issue_comment': {
      const r = reader('issue_comment event', payload);
      const action = r.text('action');
      if (action !== 'created') return { kind: 'ignored', reason: `comment ${action}, only new comments are read` };
      if (!r.present('issue.pull_request')) return { kind: 'ignored', reason: 'comment on an issue, not a pull request' };
      return event({
        type: 'comment',
        forge: 'github',
        deliveryId,
        repository: r.text('repository.full_name'),
        number: r.count('issue.number'),
        commentId: r.id('comment.id'),
        author: r.text('comment.user.login'),
        body: r.text('comment.body', { allowEmpty: true }),
      } satisfies CommentEvent);
    }
    default:
      return { kind: 'ignored', reason: `GitHub event ${eventName} is not one rollgate acts on` };
  }
}

// GitLab's merge request actions (webhook_events.md, "Merge request events") in GitHub's words.
const GITLAB_MR_ACTIONS: Readonly<Record<string, string>> = { open: 'opened', reopen: 'reopened', close: 'closed', merge: 'merged' };

/**
 * Normalises a GitLab delivery.
 *
 * - `Push Hook`: a {@link PushEvent} (GitLab sends tags as `Tag Push Hook`, ignored).
 * - `Merge Request Hook`: a {@link PullRequestEvent}; `open`, `reopen`,
 *   `close`, `merge` become `opened`, `reopened`, `closed`, `merged`;
 *   `update` becomes `synchronize` only when `object_attributes.oldrev` is
 *   present (GitLab sets it only when the code changed), and stays `update`
 *   for edits of the title, labels or target branch; approvals keep GitLab's word.
 *   A merge's `mergeSha` is `merge_commit_sha`, or, for fast-forward merges
 *   that make no merge commit, `squash_commit_sha` or the head commit, which
 *   is then what the target branch points at.
 * - `Note Hook` on a merge request (`noteable_type: MergeRequest`), newly
 *   created (`object_attributes.action` absent, as before GitLab 16.11, or
 *   `create`) and not a system note: a {@link CommentEvent}.
 * - Anything else: ignored.
 *
 * @param eventName - The `X-Gitlab-Event` header.
 * @param deliveryId - The delivery's id as the receiver chose it (`Idempotency-Key`, else `X-Gitlab-Event-UUID`, else a hash of the body).
 * @throws {@link WebhookPayloadError} when a field rollgate needs is missing or malformed.
 */
export function normaliseGitLab(eventName: string, deliveryId: string, payload: Record<string, unknown>): Normalised {
  switch (eventName) {
    case 'Push Hook': {
      const r = reader('Push Hook', payload);
      const ref = r.text('ref');
      const after = r.commit('after');
      const repository = r.text('project.path_with_namespace');
      if (!ref.startsWith('refs/heads/')) return { kind: 'ignored', reason: `push to ${ref}, not a branch` };
      return event({ type: 'push', forge: 'gitlab', deliveryId, repository, ref, after } satisfies PushEvent);
    }
    case 'Merge Request Hook': {
      const r = reader('Merge Request Hook', payload);
      const gitLabAction = r.text('object_attributes.action');
      const number = r.count('object_attributes.iid');
      const headSha = r.commit('object_attributes.last_commit.id');
      const baseRef = stripHeads(r.text('object_attributes.target_branch'));
      const repository = r.text('project.path_with_namespace');
      const base = { type: 'pull_request', forge: 'gitlab', deliveryId, repository, number, headSha, baseRef } as const;
      if (gitLabAction === 'merge') {
        const mergeSha = r.optionalCommit('object_attributes.merge_commit_sha') ?? r.optionalCommit('object_attributes.squash_commit_sha') ?? headSha;
        return event({ ...base, action: 'merged', mergeSha } satisfies PullRequestEvent);
      }
      const action = gitLabAction === 'update' ? (r.present('object_attributes.oldrev') ? 'synchronize' : 'update') : (GITLAB_MR_ACTIONS[gitLabAction] ?? gitLabAction);
      return event({ ...base, action } satisfies PullRequestEvent);
    }
    case 'Note Hook': {
      const r = reader('Note Hook', payload);
      const noteableType = r.text('object_attributes.noteable_type');
      if (noteableType !== 'MergeRequest') return { kind: 'ignored', reason: `note on a ${noteableType}, not a merge request` };
      const action = r.optionalText('object_attributes.action');
      if (action !== undefined && action !== 'create') return { kind: 'ignored', reason: `note ${action}, only new notes are read` };
      if (r.present('object_attributes.system') && r.flag('object_attributes.system')) return { kind: 'ignored', reason: 'system note' };
      return event({
        type: 'comment',
        forge: 'gitlab',
        deliveryId,
        repository: r.text('project.path_with_namespace'),
        number: r.count('merge_request.iid'),
        commentId: r.id('object_attributes.id'),
        author: r.text('user.username'),
        body: r.text('object_attributes.note', { allowEmpty: true }),
      } satisfies CommentEvent);
    }
    default:
      return { kind: 'ignored', reason: `GitLab event ${eventName} is not one rollgate acts on` };
  }
}

function event(e: ForgeEvent): Normalised {
  return { kind: 'event', event: e };
}

function stripHeads(ref: string): string {
  return ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : ref;
}

// SHA-1 object names are 40 hex digits; repositories in SHA-256 mode use 64.
const COMMIT_ID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** Typed, path-addressed reads of one payload, each throwing a message that names the event and the field. */
function reader(what: string, root: Record<string, unknown>) {
  const lookup = (path: string): unknown => {
    let value: unknown = root;
    for (const key of path.split('.')) {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
      value = (value as Record<string, unknown>)[key];
    }
    return value ?? undefined;
  };
  const missing = (path: string) => new WebhookPayloadError('missing-field', `${what}: field \`${path}\` missing`, path);
  const invalid = (path: string, value: unknown, expected: string) =>
    new WebhookPayloadError('invalid-field', `${what}: field \`${path}\` is ${describe(value)}, expected ${expected}`, path);
  const text = (path: string, options: { allowEmpty?: boolean } = {}): string => {
    const value = lookup(path);
    if (value === undefined) throw missing(path);
    if (typeof value !== 'string') throw invalid(path, value, 'a string');
    if (value === '' && !options.allowEmpty) throw invalid(path, value, 'a non-empty string');
    return value;
  };
  const commitOf = (path: string, value: unknown): string => {
    if (typeof value !== 'string' || !COMMIT_ID.test(value.toLowerCase())) throw invalid(path, value, 'a commit id (40 or 64 hex digits)');
    return value.toLowerCase();
  };
  return {
    present: (path: string): boolean => lookup(path) !== undefined,
    text,
    optionalText: (path: string): string | undefined => (lookup(path) === undefined ? undefined : text(path, { allowEmpty: true })),
    commit: (path: string): string => {
      const value = lookup(path);
      if (value === undefined) throw missing(path);
      return commitOf(path, value);
    },
    /** A commit id, or undefined when absent, null or empty (GitLab sends null for "no such commit"). */
    optionalCommit: (path: string): string | undefined => {
      const value = lookup(path);
      return value === undefined || value === '' ? undefined : commitOf(path, value);
    },
    /** A whole number of 1 or more: pull request numbers and merge request iids. */
    count: (path: string): number => {
      const value = lookup(path);
      if (value === undefined) throw missing(path);
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw invalid(path, value, 'a whole number of 1 or more');
      return value;
    },
    /** An object id, numeric on both forges today, kept as a string so ids past 2^53 need no change of type. */
    id: (path: string): string => {
      const value = lookup(path);
      if (value === undefined) throw missing(path);
      if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
      if (typeof value === 'string' && value !== '') return value;
      throw invalid(path, value, 'an id (a whole number or a non-empty string)');
    },
    flag: (path: string): boolean => {
      const value = lookup(path);
      if (value === undefined) throw missing(path);
      if (typeof value !== 'boolean') throw invalid(path, value, 'true or false');
      return value;
    },
  };
}

/** A short description of a JSON value for messages: its type and, for scalars, a truncated rendering. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return value === '' ? 'an empty string' : `a string (${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)})`;
  if (typeof value === 'number') return `a number (${value})`;
  if (typeof value === 'boolean') return `${value}`;
  return typeof value;
}
