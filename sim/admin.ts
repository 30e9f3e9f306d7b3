/**
 * The admin endpoint of kube-sim, under `/rollgate-sim/clusters/<name>/`,
 * for tests, benchmarks and demos that change the simulation while it runs.
 * Every request needs the cluster's bearer token (the one in the
 * kubeconfig). Errors are Kubernetes Status objects.
 *
 * | method | path (after `/rollgate-sim/clusters/<name>`) | what |
 * |---|---|---|
 * | GET | `/images` | the image catalogue (JSON; YAML with `Accept: application/yaml`) |
 * | PUT | `/images` | replaces it (YAML or JSON body) |
 * | GET | `/faults` | the API fault configuration |
 * | PUT | `/faults` | replaces it; counters restart |
 * | GET | `/faults/stats` | `{fired: [per rule], watchesDropped}` |
 * | GET | `/events?since=&namespace=&name=&kind=&type=&actor=` | `{lastSeq, items}` of the event record; `type` may repeat; `name` ending in `*` is a prefix |
 * | POST | `/drop-watches` | closes every open watch: `{dropped}` |
 * | POST | `/pods/<namespace>/<pod>/fail` | fails a pod as an eviction would; optional body `{reason, message}` |
 * | PUT, DELETE | `/tidbclusters/<namespace>/<name>/pd-unavailable` | PD of that TidbCluster unavailable (until a newer PD revision rolls out), or healthy again |
 * | PUT, DELETE | `/redisenterpriseclusters/<namespace>/<name>/held-out-node` | body `{ordinal}`: that node will not rejoin (its pod stays not Ready); DELETE lets it back |
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { ApiError, badRequest, notFound, unauthorized } from './api/errors.ts';
import { isPlainObject } from './api/object.ts';
import type { ClusterRuntime } from './controllers/runtime.ts';
import type { SimEventType } from './controllers/event-record.ts';
import { FaultConfigError } from './faults.ts';
import { ImageCatalogueError } from './images.ts';
import { readBody, sendError, sendJson } from './server/http-util.ts';

/** What the admin endpoint needs of a cluster. */
export interface AdminCluster {
  token: string;
  runtime: ClusterRuntime;
}

function authorized(header: string | undefined, token: string): boolean {
  const m = /^Bearer (.+)$/.exec(header ?? '');
  if (!m?.[1]) return false;
  const a = Buffer.from(m[1]);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

async function readDocument(req: IncomingMessage): Promise<unknown> {
  const text = (await readBody(req)).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    throw badRequest(`the body is neither JSON nor YAML: ${(err as Error).message.split('\n')[0] ?? ''}`);
  }
}

function invalidConfig(kind: string, problems: readonly string[]): ApiError {
  return new ApiError(422, 'Invalid', `${kind} is invalid: ${problems.join('; ')}`, { causes: problems.map((message) => ({ type: 'FieldValueInvalid', message })) });
}

function send(req: IncomingMessage, res: ServerResponse, body: unknown): void {
  if ((req.headers.accept ?? '').includes('yaml')) {
    const text = toYaml(body);
    res.writeHead(200, { 'Content-Type': 'application/yaml', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
    return;
  }
  sendJson(res, 200, body);
}

/**
 * The `admin` hook of the API server. Answers false (falling through to
 * 404) for paths it does not serve and for unknown clusters.
 */
export function createAdminHandler(lookup: (cluster: string) => AdminCluster | undefined): (req: IncomingMessage, res: ServerResponse, path: string) => Promise<boolean> {
  return async (req, res, path) => {
    const m = /^\/rollgate-sim\/clusters\/([^/]+)(\/.*)$/.exec(path);
    if (!m) return false;
    const cluster = lookup(decodeURIComponent(m[1] ?? ''));
    if (!cluster) return false;
    const rest = m[2] ?? '';
    const method = req.method ?? 'GET';
    const { runtime } = cluster;
    try {
      if (!authorized(req.headers.authorization, cluster.token)) throw unauthorized();
      if (rest === '/images' && method === 'GET') return (send(req, res, runtime.images.get()), true);
      if (rest === '/images' && method === 'PUT') {
        try {
          runtime.images.set((await readDocument(req)) ?? {});
        } catch (err) {
          if (err instanceof ImageCatalogueError) throw invalidConfig('image catalogue', err.problems);
          throw err;
        }
        return (send(req, res, runtime.images.get()), true);
      }
      if (rest === '/faults' && method === 'GET') return (send(req, res, runtime.faults.get()), true);
      if (rest === '/faults' && method === 'PUT') {
        try {
          runtime.faults.set((await readDocument(req)) ?? {});
        } catch (err) {
          if (err instanceof FaultConfigError) throw invalidConfig('fault configuration', err.problems);
          throw err;
        }
        return (send(req, res, runtime.faults.get()), true);
      }
      if (rest === '/faults/stats' && method === 'GET') return (send(req, res, runtime.faults.stats()), true);
      if (rest === '/events' && method === 'GET') {
        const q = new URL(req.url ?? '/', 'http://127.0.0.1').searchParams;
        const since = Number(q.get('since') ?? '0');
        if (!Number.isInteger(since) || since < 0) throw badRequest('since: must be a whole number');
        const types = q.getAll('type') as SimEventType[];
        const items = runtime.events.list({
          since,
          ...(q.get('namespace') !== null ? { namespace: q.get('namespace') ?? '' } : {}),
          ...(q.get('name') !== null ? { name: q.get('name') ?? '' } : {}),
          ...(q.get('kind') !== null ? { kind: q.get('kind') ?? '' } : {}),
          ...(q.get('actor') !== null ? { actor: q.get('actor') ?? '' } : {}),
          ...(types.length > 0 ? { types } : {}),
        });
        return (send(req, res, { lastSeq: runtime.events.lastSeq, items }), true);
      }
      if (rest === '/drop-watches' && method === 'POST') return (send(req, res, { dropped: runtime.faults.dropNow() }), true);
      const fail = /^\/pods\/([^/]+)\/([^/]+)\/fail$/.exec(rest);
      if (fail && method === 'POST') {
        const body = await readDocument(req);
        const opts = isPlainObject(body) ? body : {};
        const ns = decodeURIComponent(fail[1] ?? '');
        const name = decodeURIComponent(fail[2] ?? '');
        const done = runtime.failPod(ns, name, typeof opts['reason'] === 'string' ? opts['reason'] : undefined, typeof opts['message'] === 'string' ? opts['message'] : undefined);
        if (!done) throw notFound({ group: '', resource: 'pods' }, name);
        return (send(req, res, { failed: true }), true);
      }
      // Component faults: PD unavailable for a TidbCluster; a Redis Enterprise node that will not rejoin.
      const pd = /^\/tidbclusters\/([^/]+)\/([^/]+)\/pd-unavailable$/.exec(rest);
      if (pd && (method === 'PUT' || method === 'DELETE') && runtime.tidb) {
        runtime.tidb.setPdUnavailable(decodeURIComponent(pd[1] ?? ''), decodeURIComponent(pd[2] ?? ''), method === 'PUT');
        return (send(req, res, { pdUnavailable: method === 'PUT' }), true);
      }
      const node = /^\/redisenterpriseclusters\/([^/]+)\/([^/]+)\/held-out-node$/.exec(rest);
      if (node && (method === 'PUT' || method === 'DELETE') && runtime.redis) {
        const body = method === 'PUT' ? await readDocument(req) : {};
        const ordinal = isPlainObject(body) ? body['ordinal'] : undefined;
        if (method === 'PUT' && (typeof ordinal !== 'number' || !Number.isInteger(ordinal) || ordinal < 0)) throw badRequest('ordinal: must be a whole number of 0 or more');
        runtime.redis.setNodeWillNotRejoin(decodeURIComponent(node[1] ?? ''), decodeURIComponent(node[2] ?? ''), method === 'PUT' ? (ordinal as number) : undefined);
        return (send(req, res, { heldOutNode: method === 'PUT' ? ordinal : null }), true);
      }
      return false;
    } catch (err) {
      sendError(res, err instanceof ApiError ? err : badRequest(err instanceof Error ? err.message : String(err)));
      return true;
    }
  };
}
