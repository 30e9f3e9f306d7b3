/**
 * Gates that are not the workload's own status: a minimum soak, an HTTP
 * check, a person's approval, a maintenance window. Each wait reports what
 * it waits for and since when, and ends when its condition holds, its
 * deadline passes (a {@link GateFailure}), or the rollout is stopped.
 */
import type { Gate } from '../manifests/index.ts';
import { windowState } from '../plan/index.ts';

/** Time as the executor sees it: injected, so tests and the demo can run it faster. */
export interface RolloutClock {
  /** ms since the epoch. */
  now(): number;
  /** Runs `callback` after `delayMs`; returns a cancel function. */
  setTimeout(callback: () => void, delayMs: number): () => void;
}

/** The process clock. */
export const realClock: RolloutClock = {
  now: () => Date.now(),
  setTimeout: (callback, delayMs) => {
    const timer = setTimeout(callback, delayMs);
    return () => clearTimeout(timer);
  },
};

/** A gate that failed: it will not pass without a person, or its deadline passed. */
export class GateFailure extends Error {
  override readonly name = 'GateFailure';
  readonly code: 'deadline' | 'http' | 'pod-failed' | 'operator' | 'pd-unavailable' | 'apply';
  constructor(code: GateFailure['code'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** The rollout was asked to stop (shutdown, a newer revision at a step boundary). */
export class Stopped extends Error {
  override readonly name = 'Stopped';
}

/** Sleeps on the rollout clock; rejects with {@link Stopped} when `signal` aborts. */
export function sleep(clock: RolloutClock, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Stopped('stopped'));
    const cancel = clock.setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    const onAbort = (): void => {
      cancel();
      reject(new Stopped('stopped'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Who approves rollouts. The pull-request form arrives with the forge adapters; a file in the repository is one source. */
export interface ApprovalSource {
  /** Whether the rollout of `source` for `target` is approved (for `file` gates: by that repository file). */
  isApproved(request: { readonly target: string; readonly source: string; readonly stage: string; readonly gate: Gate & { kind: 'approval' } }): Promise<boolean>;
  /**
   * Whether a person put the rollout of `source` for `target` on hold (a
   * `/rollgate hold` comment not yet followed by `/rollgate resume`). A held
   * rollout finishes the step in flight and starts no other. Optional: a
   * source without holds never holds.
   */
  isHeld?(request: { readonly target: string; readonly source: string }): Promise<boolean>;
  /** Calls `listener` when approvals may have changed (a new revision, a comment); returns the unsubscribe function. */
  onChange(listener: () => void): () => void;
}

/** Substitutes `{namespace}`, `{name}` and `{pod}` in an HTTP gate's URL. */
export function gateUrl(template: string, values: { readonly namespace: string; readonly name: string; readonly pod?: string }): string {
  return template.replace(/\{(namespace|name|pod)\}/g, (_, key: 'namespace' | 'name' | 'pod') => encodeURIComponent(values[key] ?? ''));
}

/** Reads a JSON value at a path (`['health']`, `['members', 0, 'ok']`). */
function jsonAt(value: unknown, path: readonly (string | number)[]): unknown {
  return path.reduce<unknown>((v, key) => (typeof v === 'object' && v !== null ? (v as Record<string | number, unknown>)[key] : undefined), value);
}

/** One HTTP check: undefined when it passes, else why not. Never throws. */
export async function checkHttp(gate: Gate & { kind: 'http' }, url: string, fetchFn: typeof fetch = fetch): Promise<string | undefined> {
  try {
    const response = await fetchFn(url, { signal: AbortSignal.timeout(gate.timeout), redirect: 'manual' });
    const text = await response.text();
    if (response.status !== gate.expectStatus) return `GET ${url} answered ${response.status}, expected ${gate.expectStatus}`;
    if (gate.expectJSON === undefined) return undefined;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return `GET ${url} did not answer JSON`;
    }
    const actual = jsonAt(body, gate.expectJSON.path);
    // A string "true" and the boolean true both read as true: health endpoints differ.
    if (actual === gate.expectJSON.equals || String(actual) === String(gate.expectJSON.equals)) return undefined;
    return `GET ${url}: ${gate.expectJSON.path.join('.')} is ${JSON.stringify(actual)}, expected ${JSON.stringify(gate.expectJSON.equals)}`;
  } catch (err) {
    return `GET ${url} failed: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** How often a failing HTTP check is tried again, in ms. */
export const httpRetryMs = 2_000;

/**
 * Waits until the HTTP gate passes, retrying every {@link httpRetryMs}, or
 * fails with the last reason at `deadline` (ms since the epoch).
 */
export async function waitForHttp(gate: Gate & { kind: 'http' }, url: string, deadline: number, clock: RolloutClock, signal: AbortSignal, fetchFn?: typeof fetch): Promise<void> {
  for (;;) {
    const problem = await checkHttp(gate, url, fetchFn);
    if (problem === undefined) return;
    if (clock.now() + httpRetryMs > deadline) throw new GateFailure('http', problem);
    await sleep(clock, httpRetryMs, signal);
  }
}

/** Waits until every maintenance window of `gates` is open (they must all be); returns at once if there is none. */
export async function waitForWindows(gates: readonly Gate[], clock: RolloutClock, signal: AbortSignal, onWait: (description: string, until: number | undefined) => void): Promise<void> {
  const windows = gates.filter((g): g is Gate & { kind: 'maintenanceWindow' } => g.kind === 'maintenanceWindow');
  for (;;) {
    const now = clock.now();
    const closed = windows.map((w) => ({ w, state: windowState(w, now) })).find(({ state }) => !state.open);
    if (closed === undefined) return;
    const opensAt = closed.state.open ? undefined : closed.state.opensAt;
    onWait(`maintenance window "${closed.w.schedule}" (${closed.w.timeZone})`, opensAt);
    // A window that never opens within a year still ends the wait only by a person or a new revision.
    await sleep(clock, opensAt === undefined ? 24 * 3_600_000 : opensAt - now, signal);
  }
}
