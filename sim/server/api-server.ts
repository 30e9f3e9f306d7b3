/**
 * kube-sim's HTTPS front: one listener on 127.0.0.1 serving several
 * clusters, each under its own path prefix (`/clusters/<name>`) and bearer
 * token. kubectl and client-node both honour a path in the server URL, and
 * kubectl keys its discovery cache by that URL, so clusters stay separate in
 * every client cache too.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:https';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { ApiError, internalError, unauthorized } from '../api/errors.ts';
import type { ClusterStore } from '../api/store.ts';
import { apiGroup, apiGroupList, apiResourceList, apiVersions, openApiV2Json, openApiV2Protobuf, openApiV3Document, openApiV3Index, parseV3Key, versionInfo } from '../api/discovery.ts';
import { PatchError } from '../patch/index.ts';
import { boolParam, sendError, sendJson } from './http-util.ts';
import { createServingCertificate } from './tls.ts';
import { handleResource, parseResourcePath } from './resource-handler.ts';

/** One cluster as the HTTP layer sees it. */
export interface ServedCluster {
  name: string;
  token: string;
  store: ClusterStore;
}

export interface ApiServerOptions {
  clusters: () => ReadonlyMap<string, ServedCluster>;
  /** Wall-clock interval of watch bookmarks; default 5 s. */
  bookmarkIntervalMs?: number;
  /**
   * Requests under `/rollgate-sim/` go here (the admin endpoint no Kubernetes
   * client uses); answer false to fall through to 404.
   */
  admin?: (req: IncomingMessage, res: ServerResponse, path: string) => Promise<boolean>;
  /** Called before every API request; throwing an ApiError fails it (fault injection). */
  beforeRequest?: (cluster: ServedCluster, req: IncomingMessage, url: URL) => Promise<void> | void;
  /**
   * Observes every authenticated API request, before `beforeRequest` and
   * before it is served, with what Kubernetes would authorize it as (see
   * {@link requestAttributes}): the RBAC test records what the agent asks
   * for. Called synchronously; it must not throw (an exception fails the
   * request with 500). Requests with a wrong token and admin-endpoint
   * requests are not observed: a real API server never authorizes them.
   */
  onRequest?: (request: ObservedRequest) => void;
}

/**
 * What a request asks for, in the terms of Kubernetes authorization: the
 * fields of the API server's `RequestInfo` that RBAC rules match, with `''`
 * for a field that does not apply, as in `authorizer.Attributes` and a
 * SubjectAccessReview.
 */
export interface RequestAttributes {
  /** True for `/api/<v>/...` and `/apis/<g>/<v>/...` paths that name a resource; false for discovery, `/version`, `/openapi/...` and other paths (matched by `nonResourceURLs`). */
  readonly resourceRequest: boolean;
  /**
   * The authorization verb. Resource requests: `get`, `list`, `watch`,
   * `create`, `update`, `patch`, `delete`, `deletecollection`. Non-resource
   * requests: the HTTP method in lower case (`get`).
   */
  readonly verb: string;
  /** The request path as the API server sees it (without kube-sim's `/clusters/<name>` prefix). */
  readonly path: string;
  /** API group; `''` for the core group and non-resource requests. */
  readonly group: string;
  readonly version: string;
  /** Plural resource, e.g. `statefulsets`. */
  readonly resource: string;
  /** e.g. `status`, `scale`. */
  readonly subresource: string;
  readonly namespace: string;
  /** The object's name; for a list or watch, the name a `metadata.name=` field selector pins, as the API server sets it. */
  readonly name: string;
}

/** One request as {@link ApiServerOptions.onRequest} sees it. */
export interface ObservedRequest extends RequestAttributes {
  /** The kube-sim cluster it was sent to. */
  readonly cluster: string;
  /** Its User-Agent header (`''` when none), so a test can tell kubectl's requests from the agent's. */
  readonly userAgent: string;
}

/** Namespace subresources, which `/namespaces/<name>/<sub>` addresses instead of a namespaced resource. */
const namespaceSubresources = new Set(['status', 'finalize']);

/** The authorization verb of an HTTP method on a named resource, as the API server maps it. */
const methodVerbs: Readonly<Record<string, string>> = { POST: 'create', GET: 'get', HEAD: 'get', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };

/**
 * What Kubernetes authorizes a request as: a port of the API server's
 * `RequestInfoFactory.NewRequestInfo` (k8s.io/apiserver/pkg/endpoints/request):
 * a GET without a name is `list`, or `watch` with `watch=true` (or the
 * deprecated `/watch/` prefix); a list or watch whose field selector pins
 * `metadata.name` carries that name; a DELETE without a name is
 * `deletecollection`; `/api/v1/namespaces/<name>` is the namespace
 * `<name>` in namespace `<name>`. Pure.
 * @param path the request path without kube-sim's `/clusters/<name>` prefix.
 */
export function requestAttributes(method: string, path: string, query: URLSearchParams): RequestAttributes {
  const nonResource: RequestAttributes = { resourceRequest: false, verb: method.toLowerCase(), path, group: '', version: '', resource: '', subresource: '', namespace: '', name: '' };
  let parts = path.split('/').filter((s) => s !== '').map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
  let group = '';
  if (parts[0] === 'api') parts = parts.slice(1);
  else if (parts[0] === 'apis') {
    // `/apis/<group>` alone is discovery.
    if (parts.length < 3) return nonResource;
    group = parts[1] ?? '';
    parts = parts.slice(2);
  } else return nonResource;
  // `/api/<version>` alone is discovery too.
  if (parts.length < 2) return nonResource;
  const version = parts[0] ?? '';
  parts = parts.slice(1);

  let verb = methodVerbs[method.toUpperCase()] ?? '';
  if (parts[0] === 'watch') {
    verb = 'watch';
    parts = parts.slice(1);
  }
  let namespace = '';
  if (parts[0] === 'namespaces' && parts.length > 1) {
    namespace = parts[1] ?? '';
    if (parts.length > 2 && !namespaceSubresources.has(parts[2] ?? '')) parts = parts.slice(2);
  }
  const resource = parts[0] ?? '';
  let name = parts[1] ?? '';
  // What follows the name is the subresource: `status`, `scale`, `log`, or `finalize` of a namespace.
  const subresource = parts.length >= 3 ? (parts[2] ?? '') : '';
  if (name === '' && verb === 'get') {
    verb = boolParam(query.get('watch')) ? 'watch' : 'list';
    for (const term of (query.get('fieldSelector') ?? '').split(',')) {
      const pinned = /^\s*metadata\.name\s*==?\s*([^\s!=]+)\s*$/.exec(term);
      if (pinned?.[1] !== undefined) name = pinned[1];
    }
  }
  if (name === '' && verb === 'delete') verb = 'deletecollection';
  return { resourceRequest: true, verb, path, group, version, resource, subresource, namespace, name };
}

export interface RunningApiServer {
  server: Server;
  /** PEM of the CA that signed the serving certificate. */
  caPem: string;
  port: number;
  /** Base URL of one cluster, as written into the kubeconfig. */
  clusterUrl(name: string): string;
  /** Closes every open watch stream of a cluster (all when omitted). */
  dropWatches(cluster?: string): number;
  close(): Promise<void>;
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer (.+)$/.exec(header ?? '');
  if (!match?.[1]) return false;
  const given = Buffer.from(match[1]);
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function notFoundPath(): ApiError {
  return new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});
}

/** Starts the HTTP server on 127.0.0.1 (`port` 0 picks a free one). */
export async function startApiServer(port: number, options: ApiServerOptions): Promise<RunningApiServer> {
  const watches = new Map<string, Set<() => void>>();
  const bookmarkIntervalMs = options.bookmarkIntervalMs ?? 5000;

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname;
    if (path.startsWith('/rollgate-sim/') && options.admin && (await options.admin(req, res, path))) return;
    const m = /^\/clusters\/([^/]+)(\/.*)?$/.exec(path);
    const cluster = m ? options.clusters().get(decodeURIComponent(m[1] ?? '')) : undefined;
    if (!cluster) throw notFoundPath();
    if (!tokenMatches(req.headers.authorization, cluster.token)) throw unauthorized();
    const rest = (m?.[2] ?? '/').replace(/\/+$/, '') || '/';
    options.onRequest?.({ cluster: cluster.name, userAgent: req.headers['user-agent'] ?? '', ...requestAttributes(req.method ?? 'GET', rest, url.searchParams) });
    await options.beforeRequest?.(cluster, req, url);
    const segments = rest.split('/').filter((s) => s !== '').map(decodeURIComponent);
    const registry = cluster.store.registry;
    const isGet = req.method === 'GET';

    if (isGet && rest === '/version') return sendJson(res, 200, versionInfo());
    if (isGet && rest === '/api') return sendJson(res, 200, apiVersions(req.headers.host ?? '127.0.0.1'));
    if (isGet && rest === '/apis') return sendJson(res, 200, apiGroupList(registry));
    if (isGet && rest === '/healthz') return sendJson(res, 200, 'ok');
    if (isGet && rest === '/openapi/v2') {
      const accept = req.headers.accept ?? '';
      if (accept.includes('protobuf')) {
        const body = openApiV2Protobuf();
        res.writeHead(200, { 'Content-Type': 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf', 'Content-Length': body.length });
        res.end(body);
        return;
      }
      return sendJson(res, 200, openApiV2Json());
    }
    if (isGet && rest === '/openapi/v3') return sendJson(res, 200, openApiV3Index(registry));
    if (isGet && segments[0] === 'openapi' && segments[1] === 'v3') {
      const gv = parseV3Key(segments.slice(2).join('/'));
      const doc = gv && openApiV3Document(registry, gv.group, gv.version);
      if (!doc) throw notFoundPath();
      return sendJson(res, 200, doc);
    }

    let group: string;
    let version: string;
    let tail: string[];
    if (segments[0] === 'api') {
      if (segments.length < 2) throw notFoundPath();
      group = '';
      version = segments[1] ?? '';
      tail = segments.slice(2);
    } else if (segments[0] === 'apis') {
      if (segments.length === 2 && isGet) {
        const doc = apiGroup(registry, segments[1] ?? '');
        if (!doc) throw notFoundPath();
        return sendJson(res, 200, doc);
      }
      if (segments.length < 3) throw notFoundPath();
      group = segments[1] ?? '';
      version = segments[2] ?? '';
      tail = segments.slice(3);
    } else throw notFoundPath();

    if (tail.length === 0) {
      if (!isGet) throw notFoundPath();
      const list = apiResourceList(registry, group, version);
      if (!list) throw notFoundPath();
      return sendJson(res, 200, list);
    }
    const resourcePath = parseResourcePath(group, version, tail);
    if (!resourcePath) throw notFoundPath();
    await handleResource(
      {
        store: cluster.store,
        watch: {
          bookmarkIntervalMs,
          track: (close) => {
            let set = watches.get(cluster.name);
            if (!set) watches.set(cluster.name, (set = new Set()));
            set.add(close);
            return () => set.delete(close);
          },
        },
      },
      req,
      res,
      resourcePath,
      url.searchParams,
    );
  }

  const tls = createServingCertificate();
  const server = createServer({ key: tls.keyPem, cert: tls.certPem }, (req, res) => {
    route(req, res).catch((err: unknown) => {
      if (err instanceof ApiError) sendError(res, err);
      else if (err instanceof PatchError) sendJson(res, err.code, err.toStatus());
      else sendError(res, internalError(err instanceof Error ? err.message : String(err)));
    });
  });
  // Watches are long-lived; the defaults would cut them after 5 minutes.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actualPort = (server.address() as AddressInfo).port;

  const dropWatches = (cluster?: string): number => {
    let dropped = 0;
    for (const [name, set] of watches) {
      if (cluster !== undefined && name !== cluster) continue;
      for (const close of [...set]) {
        close();
        dropped++;
      }
    }
    return dropped;
  };

  return {
    server,
    caPem: tls.caPem,
    port: actualPort,
    clusterUrl: (name) => `https://127.0.0.1:${actualPort}/clusters/${encodeURIComponent(name)}`,
    dropWatches,
    close: async () => {
      dropWatches();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
