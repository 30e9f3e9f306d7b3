/**
 * The one small interface rollgate's review, rollout reporting and comment
 * approvals need from a forge, in neutral terms; `github.ts` and
 * `gitlab.ts` map it onto each forge's REST API (STYLE.md §6, after
 * Renovate's platform interface). Every method throws a `ForgeError` with a
 * stable code on failure, after the adapter's own retries.
 */

/** A commit status in neutral terms; each adapter maps it (GitLab has `running` and `failed`, no `error`). */
export type CommitState = 'pending' | 'success' | 'failure' | 'error';

/** What an "ensure" did. `unchanged` means no write was made. */
export type EnsureAction = 'created' | 'updated' | 'unchanged';

/** A pull request (GitHub) or merge request (GitLab), without its files. */
export interface PullRequestRef {
  /** The PR number (GitHub) or the MR's iid (GitLab). */
  readonly number: number;
  /** Head commit, 40 hex. */
  readonly headSha: string;
  /** The branch it merges into, without `refs/heads/`. */
  readonly baseRef: string;
  readonly state: 'open' | 'closed' | 'merged';
  /** The commit the merge put on the base branch (merge, squash or the rebased head), once merged. */
  readonly mergeSha?: string;
  /** RFC 3339, once merged. */
  readonly mergedAt?: string;
}

/** An open pull request and the paths it changes. */
export interface PullRequest extends PullRequestRef {
  /** Repository-relative paths the PR adds, changes, deletes or renames (both names of a rename). */
  readonly changedFiles: readonly string[];
}

/** A comment on a pull request, system notes excluded. */
export interface ForgeComment {
  /** The forge's id of the comment (note), as a string. */
  readonly id: string;
  /** Login (GitHub) or username (GitLab). */
  readonly author: string;
  readonly body: string;
  /** RFC 3339. */
  readonly createdAt: string;
}

/** The result of {@link ForgeProvider.ensureComment}. */
export interface EnsureCommentResult {
  readonly action: EnsureAction;
  readonly commentId: string;
}

/** A forge, as rollgate uses it: one repository (GitHub) or project (GitLab). */
export interface ForgeProvider {
  /** `github` or `gitlab`. */
  readonly kind: 'github' | 'gitlab';
  /** `owner/name` or the GitLab project path, for messages. */
  readonly repository: string;
  /**
   * Makes pull request `pr` carry exactly one rollgate comment for
   * `marker` (a key such as `plan` or `rollout`) whose content is `body`:
   * finds the comment by its hidden marker, creates it when there is none,
   * edits it when the hash in its marker differs from `body`'s, and
   * otherwise writes nothing.
   */
  ensureComment(pr: number, marker: string, body: string): Promise<EnsureCommentResult>;
  /**
   * Makes the status `context` of commit `sha` say `state` and
   * `description` (cut to 140 characters, GitHub's limit): reads the
   * commit's statuses first and writes only when they differ.
   * `targetUrl` links the status to a page (a dashboard, the PR comment).
   */
  setCommitStatus(sha: string, context: string, state: CommitState, description: string, targetUrl?: string): Promise<'set' | 'unchanged'>;
  /** Open pull requests into `baseRef` (a branch name), each with its changed files. */
  listOpenPullRequests(baseRef: string): Promise<PullRequest[]>;
  /** One pull request, without its files. */
  getPullRequest(pr: number): Promise<PullRequestRef>;
  /** The paths pull request `pr` changes. */
  listChangedFiles(pr: number): Promise<string[]>;
  /** Pull requests the forge associates with commit `sha`: the merged one whose merge commit it is, and open ones that contain it. */
  pullRequestsForCommit(sha: string): Promise<PullRequestRef[]>;
  /** Whether `user` may push to the repository (GitHub `write` or `admin`; GitLab Developer or above by default). An unknown user has none. */
  hasWritePermission(user: string): Promise<boolean>;
  /** Posts a new comment on pull request `pr`; returns its id. */
  reply(pr: number, body: string): Promise<string>;
  /** The comments of pull request `pr`, oldest first. */
  listComments(pr: number): Promise<ForgeComment[]>;
}

/** GitHub's limit on a status description; GitLab's is larger, one limit keeps both the same. */
export const maxStatusDescription = 140;

/** `description` cut to {@link maxStatusDescription} characters, with an ellipsis when cut. */
export function statusDescription(description: string): string {
  const flat = description.replace(/\s+/g, ' ').trim();
  return flat.length <= maxStatusDescription ? flat : `${flat.slice(0, maxStatusDescription - 1)}…`;
}
