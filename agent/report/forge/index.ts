/**
 * Forges in rollgate's report stage: the provider interface and its GitHub
 * and GitLab adapters, the pull-request reviewer (plan comments and the
 * `rollgate/plan` status), the rollout reporter (progress comment and the
 * `rollgate/rollout` status after merge), and approvals from comments.
 * The agent wires them; nothing here reads the environment or starts work
 * on import.
 */
export { createCommentApprovals, type CommandOutcome, type CommentApprovals, type CommentApprovalsOptions } from './approvals.ts';
export { systemClock, type ForgeClock } from './clock.ts';
export { approvalCovers, parseCommands, type RollgateCommand } from './commands.ts';
export { ForgeError, isTransient, type ForgeErrorCode } from './errors.ts';
export { appJwt, type GitHubAppCredentials } from './github-app.ts';
export { createGitHubProvider, type GitHubAuth, type GitHubProviderOptions } from './github.ts';
export { createGitLabProvider, gitlabAccessLevel, gitlabState, type GitLabProviderOptions } from './gitlab.ts';
export type { CommitState, EnsureAction, EnsureCommentResult, ForgeComment, ForgeProvider, PullRequest, PullRequestRef } from './provider.ts';
export { createPullRequestIndex, type MergeInfo, type PullRequestIndex, type PullRequestIndexOptions } from './pull-requests.ts';
export { createForgeReporter, rolloutContext, rolloutMarker, type FlushResult, type ForgeReporter, type ForgeReporterOptions } from './reporter.ts';
export { defaultRetryPolicy, type RetryPolicy } from './retry.ts';
export { createPullRequestReviewer, planContext, planMarker, type PlanFor, type PlanForResult, type PullRequestReviewer, type PullRequestReviewerOptions, type RefreshSummary, type ReviewResult } from './reviewer.ts';
export { phaseState, rolloutMarkdown, rolloutStatus } from './rollout-comment.ts';
