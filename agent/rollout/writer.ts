/**
 * The executor's writes to a cluster: merge patches, creates and pod
 * deletions, each retried with backoff on errors a retry can mend (409
 * conflicts, 429, 5xx, network), because every write the executor makes is
 * idempotent: it sets a value, it never increments one.
 */
import type { KubeConfig} from '@kubernetes/client-node';
import { KubernetesObjectApi, PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { backoffDelay, defaultBackoff } from '../live/index.ts';
import { agentUserAgent, userAgentOf, withUserAgent } from '../live/http.ts';
import type { KubeObject } from '../manifests/index.ts';
import { sleep, Stopped, type RolloutClock } from './gates.ts';

/** The field manager rollgate writes as (shown in managedFields). */
export const fieldManager = 'rollgate';

/** A write the API server refused for good (400, 403, 404, 422…), or that kept failing. */
export class WriteError extends Error {
  override readonly name = 'WriteError';
  readonly status: number | undefined;
  constructor(message: string, status: number | undefined, options?: { cause?: unknown }) {
    super(message, options);
    this.status = status;
  }
}

/** Writes to one cluster. */
export interface ClusterWriter {
  /** Applies a JSON merge patch to the object `ref` names. Returns the object as the server stored it. */
  mergePatch(ref: ObjectRef, patch: object): Promise<KubeObject>;
  /** Creates an object; an object that already exists counts as created. */
  create(object: KubeObject): Promise<void>;
  /** Deletes a pod, but only the one with this uid (a replacement is never deleted); a pod already gone counts as deleted. */
  deletePod(namespace: string, name: string, uid: string): Promise<void>;
}

/** What a write addresses. */
export interface ObjectRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
}

function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

function reasonOf(err: unknown): string {
  const body = (err as { body?: unknown } | null)?.body;
  if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body) as { message?: unknown };
      if (typeof parsed.message === 'string') return parsed.message;
    } catch {
      // not a Status object
    }
  }
  if (typeof body === 'object' && body !== null && typeof (body as { message?: unknown }).message === 'string') return (body as { message: string }).message;
  return err instanceof Error ? (err.message.split('\n', 1)[0] ?? err.message) : String(err);
}

/** Whether retrying a failed write may succeed. */
export function retryable(status: number | undefined): boolean {
  return status === undefined || status === 409 || status === 429 || status >= 500;
}

/** Options of {@link createClusterWriter}. */
export interface WriterOptions {
  /** The cluster's kubeconfig, its context current. Its User-Agent (see `withUserAgent` in agent/live/http.ts) is kept; without one the writer sends `rollgate/<version>`. */
  readonly kubeConfig: KubeConfig;
  readonly clock: RolloutClock;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /** Attempts per write before it fails. Default 10 (about a minute of backoff). */
  readonly attempts?: number;
  readonly random?: () => number;
}

/** A writer for the cluster of `kubeConfig`'s current context. */
export function createClusterWriter(options: WriterOptions): ClusterWriter {
  // The agent hands over a KubeConfig that names its replica (agent/runtime/agent.ts); any other still says it is rollgate.
  const kubeConfig = userAgentOf(options.kubeConfig) !== undefined ? options.kubeConfig : withUserAgent(options.kubeConfig, agentUserAgent());
  const api = KubernetesObjectApi.makeApiClient(kubeConfig);
  const attempts = options.attempts ?? 10;
  const random = options.random ?? Math.random;

  async function withRetry<T>(what: string, write: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await write();
      } catch (err) {
        if (err instanceof Stopped) throw err;
        const status = statusOf(err);
        if (!retryable(status) || attempt + 1 >= attempts) throw new WriteError(`${what} failed${status !== undefined ? ` (HTTP ${status})` : ''}: ${reasonOf(err)}`, status, { cause: err });
        const delay = backoffDelay(attempt, defaultBackoff, random);
        options.logger.warn({ what, status, attempt, delayMs: Math.round(delay), err: reasonOf(err) }, 'write failed, retrying');
        await sleep(options.clock, delay, options.signal);
      }
    }
  }

  return {
    mergePatch: (ref, patch) =>
      withRetry(`patching ${ref.kind} ${ref.namespace}/${ref.name}`, async () => {
        const body = { ...patch, apiVersion: ref.apiVersion, kind: ref.kind, metadata: { ...((patch as { metadata?: object }).metadata ?? {}), name: ref.name, namespace: ref.namespace } } as KubernetesObject;
        return (await api.patch(body, undefined, undefined, fieldManager, undefined, PatchStrategy.MergePatch)) as unknown as KubeObject;
      }),
    create: async (object) => {
      await withRetry(
        `creating ${object.kind} ${object.metadata.namespace ?? ''}/${object.metadata.name}`,
        async () => {
          await api.create(object, undefined, undefined, fieldManager);
        },
      ).catch((err: unknown) => {
        // AlreadyExists on a retry after a create whose answer was lost: the object is there.
        if (err instanceof WriteError && err.status === 409) return;
        throw err;
      });
    },
    deletePod: async (namespace, name, uid) => {
      await withRetry(
        `deleting pod ${namespace}/${name}`,
        async () => {
          await api.delete({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace } }, undefined, undefined, undefined, undefined, undefined, { preconditions: { uid } });
        },
      ).catch((err: unknown) => {
        // Gone already, or replaced (the uid precondition fails with 409): either way this pod is not deleted twice.
        if (err instanceof WriteError && (err.status === 404 || err.status === 409)) return;
        throw err;
      });
    },
  };
}
