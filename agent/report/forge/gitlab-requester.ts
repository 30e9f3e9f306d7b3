/**
 * The HTTP layer under @gitbeaker/rest's resource classes. gitbeaker's own
 * requester retries 429 and 502 ten times within about 250 ms and drops
 * `Retry-After`, which is the opposite of what a rate limit asks; its
 * classes accept a `requesterFn`, so this one sends their requests through
 * rollgate's retrying fetch instead. It does what gitbeaker's default
 * options handler does for the calls rollgate makes: snake_case keys in
 * queries and JSON bodies, `key[]=` for arrays, JSON answers parsed.
 */
import type { MergeRequests } from '@gitbeaker/rest';
import { codeForStatus, ForgeError, requestLabel } from './errors.ts';
import type { ForgeFetch } from './http.ts';

/** The `requesterFn` option of gitbeaker's resource classes. */
export type GitbeakerRequesterFn = NonNullable<NonNullable<ConstructorParameters<typeof MergeRequests>[0]>['requesterFn']>;
type ResourceOptions = Parameters<GitbeakerRequesterFn>[0];
type Requester = ReturnType<GitbeakerRequesterFn>;
type RequestOptions = NonNullable<Parameters<Requester['get']>[1]>;

/** `perPage` → `per_page`, as GitLab's API spells its parameters. */
export function snakeCase(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

/** A query string for GitLab: snake_case keys, `key[]=v` for arrays, absent and null values left out. */
export function gitlabQuery(params: Record<string, unknown> | undefined): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params ?? {})) {
    if (value === undefined || value === null) continue;
    const name = snakeCase(key);
    if (Array.isArray(value)) for (const v of value) query.append(`${name}[]`, String(v));
    else query.append(name, typeof value === 'string' ? value : JSON.stringify(value));
  }
  return query.toString();
}

/** Options of {@link createGitLabRequester}. */
export interface GitLabRequesterOptions {
  readonly fetch: ForgeFetch;
  /** The authentication header: `PRIVATE-TOKEN` for personal, project and group access tokens, `Authorization: Bearer` for OAuth tokens. */
  readonly authHeader: readonly [name: string, value: string];
}

/** Creates the `requesterFn` to pass to gitbeaker's resource classes. */
export function createGitLabRequester(options: GitLabRequesterOptions): GitbeakerRequesterFn {
  return (service: ResourceOptions): Requester => {
    const base = service.url.endsWith('/') ? service.url : `${service.url}/`;
    const send = async (method: string, endpoint: string, request: RequestOptions = {}): Promise<{ body: unknown; headers: Record<string, string>; status: number }> => {
      const url = new URL(endpoint, base);
      url.search = gitlabQuery(request.searchParams);
      const headers: Record<string, string> = { ...service.headers, accept: 'application/json', [options.authHeader[0]]: options.authHeader[1] };
      let body: string | undefined;
      if (request.body !== undefined && !(request.body instanceof FormData)) {
        body = JSON.stringify(Object.fromEntries(Object.entries(request.body).map(([k, v]) => [snakeCase(k), v])));
        headers['content-type'] = 'application/json';
      }
      const response = await options.fetch(url.toString(), { method, headers, ...(body !== undefined ? { body } : {}) });
      const type = (response.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
      const text = response.status === 204 ? '' : await response.text();
      let parsed: unknown = text;
      if (type === 'application/json' && text !== '') {
        try {
          parsed = JSON.parse(text);
        } catch {
          throw new ForgeError('protocol', `gitlab ${requestLabel(method, url.toString())} answered invalid JSON`, { status: response.status, request: requestLabel(method, url.toString()) });
        }
      }
      if (!response.ok) {
        const label = requestLabel(method, url.toString());
        const message = typeof parsed === 'object' && parsed !== null ? JSON.stringify((parsed as { message?: unknown; error?: unknown }).message ?? (parsed as { error?: unknown }).error ?? '') : String(parsed);
        throw new ForgeError(codeForStatus(response.status), `gitlab answered ${response.status} to ${label}: ${message.slice(0, 300)}`, { status: response.status, request: label });
      }
      return { body: parsed, headers: Object.fromEntries(response.headers.entries()), status: response.status };
    };
    // gitbeaker types each method generically over the body it expects; the bodies are checked by parse.ts where they are used.
    const method = (name: string) => send.bind(undefined, name) as Requester['get'];
    return { get: method('GET'), post: method('POST'), put: method('PUT'), patch: method('PATCH'), delete: method('DELETE') };
  };
}
