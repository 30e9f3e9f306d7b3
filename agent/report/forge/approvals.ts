/**
 * Approvals and holds from pull-request comments: an {@link ApprovalSource}
 * fed by comment webhooks (`handleComment`) and, as a fallback, by reading
 * the thread (`poll`). Its state is rebuilt from the thread, so it survives
 * a restart: the first question about a merge commit reads its pull
 * request's comments once.
 *
 * Rules:
 * - `/rollgate approve [target]`, `/rollgate hold`, `/rollgate resume`, each on a line of its own.
 * - Only users with write permission count (asked through the API, cached
 *   `permissionTtlMs`); others get a reply saying why nothing happened.
 * - An approval applies to the rollout of that pull request's merge commit
 *   only: it is recorded with the merge commit, and counts only when given
 *   after the merge (an approval before the merge would approve a rollout
 *   nobody has seen yet; the reply says so). Holds count at any time.
 * - A comment is handled once, whether it comes by webhook, by polling, or
 *   both, and a refusal is replied to once (the reply carries a marker
 *   naming the comment, so a restart does not reply again).
 * - A forge outage never blocks or changes a rollout: when the forge
 *   cannot say which pull request a commit belongs to within
 *   `lookupTimeoutMs`, the answer is "not approved" and "not held", and
 *   listeners are called again after `retryMs` so the executor asks again.
 */
import type { Logger } from 'pino';
import type { ApprovalSource } from '../../rollout/gates.ts';
import type { CommentEvent } from '../../webhook/events.ts';
import { systemClock, within, type ForgeClock } from './clock.ts';
import { toForgeError } from './errors.ts';
import { approvalCovers, commandUsage, parseCommands, type RollgateCommand } from './commands.ts';
import { findMarker, isRollgateComment, markedBody } from './marker.ts';
import type { ForgeProvider } from './provider.ts';
import { createPullRequestIndex, type PullRequestIndex } from './pull-requests.ts';

/** Options of {@link createCommentApprovals}. */
export interface CommentApprovalsOptions {
  readonly provider: ForgeProvider;
  readonly logger: Logger;
  /** Shared with the forge reporter. Default: a new index over `provider`. */
  readonly pullRequests?: PullRequestIndex;
  /** Default: the wall clock. */
  readonly clock?: ForgeClock;
  /** How long a user's permission is believed, in ms. Default 60,000. */
  readonly permissionTtlMs?: number;
  /** Longest time `isApproved`/`isHeld` wait for the forge, in ms. Default 10,000. */
  readonly lookupTimeoutMs?: number;
  /** After a failed lookup, listeners are called again after this long, in ms. Default 30,000. */
  readonly retryMs?: number;
}

/** What one command led to. */
export type CommandOutcome =
  | { readonly action: 'approved' | 'held' | 'resumed'; readonly pr: number; readonly user: string }
  | { readonly action: 'refused'; readonly pr: number; readonly user: string; readonly reason: 'permission' | 'not-merged' | 'unknown-command' }
  | { readonly action: 'duplicate' | 'failed'; readonly pr: number; readonly user: string };

/** Comment approvals, with their inputs. */
export interface CommentApprovals extends ApprovalSource {
  isHeld(request: { readonly target: string; readonly source: string }): Promise<boolean>;
  /** Handles a comment webhook: the outcome of each command in it (none when it has none). Never throws: a forge failure is logged, and the comment is left for `poll` to handle. */
  handleComment(event: CommentEvent): Promise<CommandOutcome[]>;
  /** Reads the threads of `prs` (default: every pull request asked about so far) and handles comments not yet handled. Never throws. */
  poll(prs?: readonly number[]): Promise<void>;
  /** Stops retry timers. */
  close(): void;
}

interface Approval {
  readonly target: string | undefined;
  readonly mergeSha: string;
  readonly by: string;
}

interface Thread {
  readonly approvals: Approval[];
  held: boolean;
  /** Comments handled (commands applied, refused, or none in them), with what their commands led to. */
  readonly handled: Map<string, CommandOutcome[]>;
  /** Comments that came by webhook: a second delivery is a duplicate. */
  readonly delivered: Set<string>;
  /** Whether the whole thread was read once. */
  synced: boolean;
}

const replyKey = (commentId: string): string => `reply:${commentId.replace(/[^A-Za-z0-9_-]/g, '')}`;

/** Creates the comment approvals. Makes no request until asked. */
export function createCommentApprovals(options: CommentApprovalsOptions): CommentApprovals {
  const { provider, logger: log } = options;
  const clock = options.clock ?? systemClock;
  const ttl = options.permissionTtlMs ?? 60_000;
  const lookupTimeout = options.lookupTimeoutMs ?? 10_000;
  const retryMs = options.retryMs ?? 30_000;
  const index = options.pullRequests ?? createPullRequestIndex({ provider, clock });
  const threads = new Map<number, Thread>();
  const permissions = new Map<string, { allowed: boolean; at: number }>();
  const permissionsInFlight = new Map<string, Promise<boolean>>();
  const listeners = new Set<() => void>();
  const timers = new Set<unknown>();
  const syncing = new Map<number, Promise<void>>();

  const thread = (pr: number): Thread => {
    let t = threads.get(pr);
    if (t === undefined) {
      t = { approvals: [], held: false, handled: new Map(), delivered: new Set(), synced: false };
      threads.set(pr, t);
    }
    return t;
  };

  function notify(): void {
    for (const listener of [...listeners]) {
      try {
        listener();
      } catch (err) {
        log.error({ err: err instanceof Error ? err.message : String(err) }, 'approval listener threw');
      }
    }
  }

  function notifyLater(): void {
    const handle = clock.setTimeout(() => {
      timers.delete(handle);
      notify();
    }, retryMs);
    timers.add(handle);
  }

  async function mayWrite(user: string): Promise<boolean> {
    const cached = permissions.get(user);
    if (cached !== undefined && clock.now() - cached.at < ttl) return cached.allowed;
    let pending = permissionsInFlight.get(user);
    if (pending === undefined) {
      pending = provider.hasWritePermission(user).then((allowed) => {
        permissions.set(user, { allowed, at: clock.now() });
        return allowed;
      });
      pending = pending.finally(() => permissionsInFlight.delete(user));
      permissionsInFlight.set(user, pending);
    }
    return pending;
  }

  async function refuse(pr: number, commentId: string, user: string, text: string, mayReply: boolean): Promise<void> {
    if (!mayReply) return;
    await provider.reply(pr, markedBody(replyKey(commentId), `@${user} ${text}`));
  }

  /** Applies one command of comment `commentId`. Throws a ForgeError when the forge cannot be asked. */
  async function apply(pr: number, commentId: string, user: string, command: RollgateCommand, createdAt: string | undefined, mayReply: boolean): Promise<CommandOutcome> {
    const t = thread(pr);
    if (command.kind === 'unknown') {
      await refuse(pr, commentId, user, `rollgate does not know \`${command.text.replace(/`/g, "'")}\`, so nothing happened. ${commandUsage}`, mayReply);
      return { action: 'refused', pr, user, reason: 'unknown-command' };
    }
    if (!(await mayWrite(user))) {
      await refuse(pr, commentId, user, `\`/rollgate ${command.kind}\` was ignored: only people with write permission on ${provider.repository} can approve, hold or resume a rollout.`, mayReply);
      log.info({ pr, user, command: command.kind }, 'rollgate command refused: no write permission');
      return { action: 'refused', pr, user, reason: 'permission' };
    }
    if (command.kind === 'hold' || command.kind === 'resume') {
      t.held = command.kind === 'hold';
      log.info({ pr, user, command: command.kind }, 'rollgate command accepted');
      notify();
      return { action: command.kind === 'hold' ? 'held' : 'resumed', pr, user };
    }
    const merge = await index.mergeOf(pr);
    const before = merge?.mergedAt !== undefined && createdAt !== undefined && Date.parse(createdAt) < Date.parse(merge.mergedAt);
    if (merge === undefined || before) {
      await refuse(pr, commentId, user, '`/rollgate approve` was ignored: an approval applies to the rollout of this pull request\'s merge commit, so it counts only once the pull request is merged. Comment again when the rollout waits for it.', mayReply);
      return { action: 'refused', pr, user, reason: 'not-merged' };
    }
    t.approvals.push({ target: command.target, mergeSha: merge.mergeSha, by: user });
    log.info({ pr, user, command: 'approve', target: command.target, mergeSha: merge.mergeSha }, 'rollgate command accepted');
    notify();
    return { action: 'approved', pr, user };
  }

  /** Handles one comment once. A forge failure un-marks it, so a later poll handles it. */
  async function handle(pr: number, commentId: string, user: string, body: string, createdAt: string | undefined, mayReply: boolean): Promise<CommandOutcome[]> {
    const t = thread(pr);
    const known = t.handled.get(commentId);
    if (known !== undefined) return known;
    const outcomes: CommandOutcome[] = [];
    t.handled.set(commentId, outcomes);
    if (isRollgateComment(body)) return outcomes;
    for (const command of parseCommands(body)) {
      try {
        outcomes.push(await apply(pr, commentId, user, command, createdAt, mayReply));
      } catch (err) {
        t.handled.delete(commentId);
        const e = toForgeError(err, provider.kind);
        log.warn({ pr, user, commentId, code: e.code, err: e.message }, 'rollgate command could not be handled; left for the next poll');
        outcomes.push({ action: 'failed', pr, user });
        break;
      }
    }
    return outcomes;
  }

  async function sync(pr: number): Promise<void> {
    const comments = await provider.listComments(pr);
    const replied = new Set(comments.filter((c) => isRollgateComment(c.body)).map((c) => c.body));
    const answered = (commentId: string): boolean => [...replied].some((body) => findMarker(body, replyKey(commentId)) !== undefined);
    const ordered = [...comments].sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt));
    for (const c of ordered) await handle(pr, c.id, c.author, c.body, c.createdAt, !answered(c.id));
    thread(pr).synced = true;
  }

  function syncOnce(pr: number): Promise<void> {
    let pending = syncing.get(pr);
    if (pending === undefined) {
      pending = sync(pr).finally(() => syncing.delete(pr));
      syncing.set(pr, pending);
    }
    return pending;
  }

  /** The thread of merge commit `source`, read at least once; undefined when there is none or the forge cannot say in time. */
  async function threadOf(source: string): Promise<Thread | undefined> {
    const work = (async () => {
      const pr = await index.forCommit(source);
      if (pr === undefined) return undefined;
      if (!thread(pr).synced) await syncOnce(pr);
      return thread(pr);
    })();
    try {
      const found = await within(clock, work, lookupTimeout, 'timeout' as const);
      if (found === 'timeout') {
        log.warn({ source }, 'forge did not answer in time; treating the rollout as neither approved nor held');
        notifyLater();
        return undefined;
      }
      return found;
    } catch (err) {
      const e = toForgeError(err, provider.kind);
      log.warn({ source, code: e.code, err: e.message }, 'forge lookup failed; treating the rollout as neither approved nor held');
      notifyLater();
      return undefined;
    }
  }

  return {
    async isApproved({ target, source, gate }) {
      if (!gate.comment) return false;
      const t = await threadOf(source);
      return t !== undefined && t.approvals.some((a) => a.mergeSha === source && approvalCovers(a.target, target));
    },

    async isHeld({ source }) {
      return (await threadOf(source))?.held ?? false;
    },

    onChange(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },

    async handleComment(event) {
      if (parseCommands(event.body).length === 0 || isRollgateComment(event.body)) return [];
      const t = thread(event.number);
      if (t.delivered.has(event.commentId)) return [{ action: 'duplicate', pr: event.number, user: event.author }];
      t.delivered.add(event.commentId);
      // Older commands first: a thread never read would otherwise apply an old `hold` after this `resume`.
      if (!t.synced) {
        try {
          await syncOnce(event.number);
        } catch (err) {
          const e = toForgeError(err, provider.kind);
          log.warn({ pr: event.number, code: e.code, err: e.message }, 'reading pull request comments failed; handling the new comment alone');
        }
      }
      const outcomes = await handle(event.number, event.commentId, event.author, event.body, undefined, true);
      if (outcomes.some((o) => o.action === 'failed')) t.delivered.delete(event.commentId);
      return outcomes;
    },

    async poll(prs) {
      for (const pr of prs ?? [...threads.keys()]) {
        try {
          await syncOnce(pr);
        } catch (err) {
          const e = toForgeError(err, provider.kind);
          log.warn({ pr, code: e.code, err: e.message }, 'reading pull request comments failed');
        }
      }
    },

    close() {
      for (const handle of timers) clock.clearTimeout(handle);
      timers.clear();
      listeners.clear();
    },
  };
}
