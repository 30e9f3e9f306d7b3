/**
 * Helpers of the live cache tests: a kube-sim with a namespace, a typed
 * client-node client for writes, a log sink, and a gate that holds watch
 * requests at the server so a test decides when a cache re-watches.
 */
import { Writable } from 'node:stream';
import type { V1Pod } from '@kubernetes/client-node';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { pino } from 'pino';
import type { SimulationOptions } from '../../sim/simulation.ts';
import type { SimFixture } from '../helpers/sim.ts';
import { startSimFixture } from '../helpers/sim.ts';
import type { LiveCacheOptions, WatchedResource } from '../../agent/live/index.ts';

/** Fast retries for tests: 10 ms doubling to 200 ms, half jitter. */
export const testBackoff = { initialMs: 10, maxMs: 200, factor: 2, jitter: 0.5 } as const;

/** A pod manifest in `namespace`. */
export function pod(namespace: string, name: string, labels: Record<string, string> = {}): V1Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels }, spec: { containers: [{ name: 'app', image: 'busybox:1.36' }] } };
}

/** What a watch or list request looked like at the server. */
export interface SeenRequest {
  verb: 'list' | 'watch';
  path: string;
  resourceVersion: string | null;
  timeoutSeconds: string | null;
}

/** A simulation fixture plus a client-node KubeConfig, a CoreV1Api and the list/watch requests it served. */
export interface LiveFixture extends SimFixture {
  kc: KubeConfig;
  core: CoreV1Api;
  /** GET list and watch requests, in arrival order. */
  requests: SeenRequest[];
  /**
   * While closed, watch requests whose path ends with `suffix` wait at the
   * server (before they are served); `open()` lets them through.
   */
  holdWatches(suffix: string): { open(): void };
}

/** Starts kube-sim (no controllers) with `namespaces` created. */
export async function startLiveFixture(namespaces: readonly string[], options: SimulationOptions = {}): Promise<LiveFixture> {
  const requests: SeenRequest[] = [];
  const holds = new Set<{ suffix: string; opened: Promise<void> }>();
  const userHook = options.beforeRequest;
  const f = await startSimFixture({
    ...options,
    beforeRequest: async (cluster, req, url) => {
      if (req.method === 'GET') {
        const watching = url.searchParams.get('watch') === '1' || url.searchParams.get('watch') === 'true';
        requests.push({ verb: watching ? 'watch' : 'list', path: url.pathname, resourceVersion: url.searchParams.get('resourceVersion'), timeoutSeconds: url.searchParams.get('timeoutSeconds') });
        if (watching) for (const hold of [...holds]) if (url.pathname.endsWith(hold.suffix)) await hold.opened;
      }
      await userHook?.(cluster, req, url);
    },
  });
  const kc = new KubeConfig();
  kc.loadFromFile(f.kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  for (const name of namespaces) await core.createNamespace({ body: { metadata: { name } } });
  return {
    ...f,
    kc,
    core,
    requests,
    holdWatches(suffix) {
      let open = (): void => {};
      const hold = { suffix, opened: new Promise<void>((resolve) => (open = resolve)) };
      holds.add(hold);
      return {
        open: () => {
          holds.delete(hold);
          open();
        },
      };
    },
  };
}

/** Options of a cache for `f`'s cluster, with test backoff. */
export function cacheOptions(f: LiveFixture, resources: readonly WatchedResource[], extra: Partial<LiveCacheOptions> = {}): LiveCacheOptions {
  return { kubeConfig: f.kc, resources, backoff: testBackoff, ...extra };
}

/** A pino logger writing JSON lines into memory, at every level. */
export function memoryLogger(): { logger: Logger; text: () => string } {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      text += chunk.toString();
      callback();
    },
  });
  return { logger: pino({ level: 'trace' }, sink), text: () => text };
}

/** Name and resourceVersion of each object, sorted by name: what "the same state" means in these tests. */
export function versions(objects: readonly { metadata?: { name?: string; resourceVersion?: string } }[]): string[] {
  return objects.map((o) => `${o.metadata?.name ?? ''}@${o.metadata?.resourceVersion ?? ''}`).sort();
}
