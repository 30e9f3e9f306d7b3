/**
 * What a forge's webhook delivery means to rollgate, whichever forge sent
 * it: plain data, checked and normalised by the receiver, consumed by the
 * agent (a push starts a reconcile) and by the pull-request reviewer
 * (a pull request to plan, a comment that may be a command).
 */

/** The forges rollgate speaks to. */
export type ForgeKind = 'github' | 'gitlab';

/** Fields every event carries. */
interface EventBase {
  readonly forge: ForgeKind;
  /**
   * The delivery's id: the receiver drops repeats. GitHub: `X-GitHub-Delivery`.
   * GitLab: `Idempotency-Key` (GitLab 17.4+, the same on every resend of an
   * event), else `X-Gitlab-Event-UUID`, else `sha256:` and the hex SHA-256 of the body.
   */
  readonly deliveryId: string;
  /** `owner/name` on GitHub, the project's full path (`group/sub/name`) on GitLab. */
  readonly repository: string;
}

/** A push to a branch. */
export interface PushEvent extends EventBase {
  readonly type: 'push';
  /** Fully qualified: `refs/heads/main`. */
  readonly ref: string;
  /** The new head commit (40 hex), or all zeros when the branch was deleted. */
  readonly after: string;
}

/** A pull (merge) request opened, updated, closed or merged. */
export interface PullRequestEvent extends EventBase {
  readonly type: 'pull_request';
  readonly number: number;
  /** Normalised: `opened`, `synchronize` (head moved), `reopened`, `closed`, `merged`, or the forge's own word for anything else. */
  readonly action: string;
  readonly headSha: string;
  /** The branch it merges into, without `refs/heads/`. */
  readonly baseRef: string;
  /** The merge commit, once merged. */
  readonly mergeSha?: string;
}

/** A comment on a pull (merge) request. */
export interface CommentEvent extends EventBase {
  readonly type: 'comment';
  readonly number: number;
  readonly commentId: string;
  /** The author's login (GitHub) or username (GitLab). */
  readonly author: string;
  readonly body: string;
}

/** Any event the receiver passes on. */
export type ForgeEvent = PushEvent | PullRequestEvent | CommentEvent;
