/**
 * Status in Git: the writer of status commits, and the functions the source
 * poller and the auditor use to recognise them.
 */
export {
  createGitStatusReporter,
  StatusWriteError,
  type GitIdentity,
  type GitStatusReporter,
  type GitStatusReporterOptions,
  type StatusTarget,
  type StatusWriteErrorCode,
} from './reporter.ts';
export {
  changedOnlyStatus,
  checkTransition,
  commitMessage,
  defaultHistoryLimit,
  InvalidTransitionError,
  isStatusCommit,
  nextStatusDocument,
  normalizeFolder,
  parseStatusDocument,
  parseTrailers,
  renderStatusDocument,
  statusFilePath,
  statusTrailers,
  targetOfStatusPath,
  terminalPhases,
  trailerNames,
  transitionKey,
  type RecordedTransition,
  type SkipReason,
  type StatusDocument,
  type StatusLocation,
  type StatusTrailers,
  type Trailer,
} from './status-file.ts';
export { defaultBackoff, retryDelay, sleep, systemClock, type BackoffPolicy, type ReporterClock } from './backoff.ts';
export { displayRemote, GitError, gitOk, readBlobs, runGit, sanitize, secretsOf, type GitErrorCode, type GitResult, type GitRunOptions } from './exec.ts';
