/**
 * The source stage: follows one branch of one Git repository with one
 * `ls-remote` per poll, fetches into a mirror kept between runs only when
 * the head moved, checks out immutable snapshots, optionally verifies
 * signatures, and says which files changed since the last applied commit.
 *
 * This is the stage's public surface; the other modules of the folder are
 * its implementation.
 */
export { createGitSource, type GitSource, type GitSourceOptions, type PollResult, type Revision, type SourceState } from './source.ts';
export { createPollSchedule, type PollSchedule, type PollScheduleSpec } from './schedule.ts';
export { SourceError, sanitizeUrl, redact, type SourceErrorCode } from './errors.ts';
export { backoffDelay, defaultBackoff, intervalDelay, type BackoffOptions } from './backoff.ts';
export { sshCommand, allowedProtocols, type SourceAuth } from './remote.ts';
export type { SignaturePolicy, SignatureInfo, RejectionReason } from './signature.ts';
export type { CommitAuthor } from './mirror.ts';
export { systemClock, type Clock } from './clock.ts';
