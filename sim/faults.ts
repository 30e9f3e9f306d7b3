/**
 * API fault injection: what a flaky API server does to its clients. Errors
 * by verb and resource at a given rate (5xx, 429 with Retry-After, forced
 * 409 Conflict), added latency, and watches dropped every N seconds. It runs
 * in the API server's `beforeRequest` hook, so it applies to HTTP clients
 * (kubectl, the agent) and never to the simulated controllers, which write
 * to the store directly. Randomness comes from the simulation's seed.
 *
 * Configuration (YAML or JSON, `PUT /rollgate-sim/clusters/<name>/faults`):
 *
 * ```yaml
 * latencyMs: 20                 # simulated ms added to every resource request
 * latencyJitterMs: 30           # plus up to this much, uniformly
 * dropWatchesEverySeconds: 30   # close every open watch this often (simulated seconds)
 * rules:                        # first matching rule that fires wins
 *   - verbs: [update, patch]    # get list watch create update patch delete deletecollection, or '*'
 *     resources: [statefulsets] # plural, group/plural, plural/subresource, or '*'
 *     namespaces: [prod]        # optional
 *     status: 409               # 409, 429, 500, 503 or 504
 *     rate: 0.5                 # probability, default 1
 *     times: 3                  # fire at most this often (optional)
 *     retryAfterSeconds: 2      # 429 and 503: the Retry-After header
 * ```
 */
import type { IncomingMessage } from 'node:http';
import { ApiError, conflict, internalError, tooManyRequests } from './api/errors.ts';
import { isPlainObject } from './api/object.ts';
import type { SimClock } from './clock.ts';
import type { Random } from './random.ts';
import { seededRandom } from './random.ts';
import { parseResourcePath } from './server/resource-handler.ts';

/** The API verbs, as RBAC names them. */
export type ApiVerb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

const verbs: readonly ApiVerb[] = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'];

/** The status codes a rule can answer with. */
export type FaultStatus = 409 | 429 | 500 | 503 | 504;

const statuses: readonly FaultStatus[] = [409, 429, 500, 503, 504];

/** One fault: which requests, how often, and the error they get. */
export interface FaultRule {
  /** Default: every verb. */
  verbs?: (ApiVerb | '*')[];
  /** `pods`, `apps/statefulsets`, `statefulsets/status`, or `*`; a plain plural covers its subresources. Default: every resource. */
  resources?: string[];
  /** Default: every namespace (and cluster-scoped requests). */
  namespaces?: string[];
  status: FaultStatus;
  /** Probability that a matching request fails, 0–1. Default 1. */
  rate?: number;
  /** Fire at most this many times. Default: no limit. */
  times?: number;
  /** Retry-After for 429 and 503, seconds. Default 1. */
  retryAfterSeconds?: number;
  /** Message of a 500 or 503. */
  message?: string;
}

/** The API faults of one cluster. */
export interface ApiFaults {
  /** Simulated ms added to every resource request. Default 0. */
  latencyMs?: number;
  /** Extra simulated latency, uniform in [0, latencyJitterMs). Default 0. */
  latencyJitterMs?: number;
  /** Close every open watch of the cluster this often, in simulated seconds. Default never. */
  dropWatchesEverySeconds?: number;
  rules?: FaultRule[];
}

/** What has fired so far, per rule index, and how many watches were dropped. */
export interface FaultStats {
  fired: number[];
  watchesDropped: number;
}

/** A fault configuration that could not be read. */
export class FaultConfigError extends Error {
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`invalid fault configuration: ${problems.join('; ')}`);
    this.name = 'FaultConfigError';
    this.problems = problems;
  }
}

function nonNegative(v: unknown): boolean {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}

/** Validates a parsed fault configuration; throws FaultConfigError listing every problem. */
export function validateFaults(value: unknown): ApiFaults {
  if (value === null || value === undefined) return {};
  if (!isPlainObject(value)) throw new FaultConfigError(['(root): must be a mapping']);
  const problems: string[] = [];
  const known = ['latencyMs', 'latencyJitterMs', 'dropWatchesEverySeconds', 'rules'];
  for (const key of Object.keys(value)) if (!known.includes(key)) problems.push(`${key}: unknown field (known: ${known.join(', ')})`);
  for (const key of ['latencyMs', 'latencyJitterMs'] as const) if (value[key] !== undefined && !nonNegative(value[key])) problems.push(`${key}: must be a number, 0 or more`);
  const drop = value['dropWatchesEverySeconds'];
  if (drop !== undefined && !(typeof drop === 'number' && drop > 0)) problems.push('dropWatchesEverySeconds: must be a number above 0');
  const rules = value['rules'];
  if (rules !== undefined && !Array.isArray(rules)) problems.push('rules: must be a list');
  (Array.isArray(rules) ? rules : []).forEach((r: unknown, i) => {
    const path = `rules[${i}]`;
    if (!isPlainObject(r)) return problems.push(`${path}: must be a mapping`);
    const ruleKeys = ['verbs', 'resources', 'namespaces', 'status', 'rate', 'times', 'retryAfterSeconds', 'message'];
    for (const key of Object.keys(r)) if (!ruleKeys.includes(key)) problems.push(`${path}.${key}: unknown field (known: ${ruleKeys.join(', ')})`);
    if (!statuses.includes(r['status'] as FaultStatus)) problems.push(`${path}.status: must be one of ${statuses.join(', ')}`);
    if (r['verbs'] !== undefined && !(Array.isArray(r['verbs']) && r['verbs'].every((v) => v === '*' || verbs.includes(v as ApiVerb)))) problems.push(`${path}.verbs: must list verbs from ${verbs.join(', ')} or '*'`);
    for (const key of ['resources', 'namespaces'] as const) if (r[key] !== undefined && !(Array.isArray(r[key]) && r[key].every((v) => typeof v === 'string'))) problems.push(`${path}.${key}: must be a list of strings`);
    if (r['rate'] !== undefined && !(typeof r['rate'] === 'number' && r['rate'] >= 0 && r['rate'] <= 1)) problems.push(`${path}.rate: must be a number from 0 to 1`);
    if (r['times'] !== undefined && !(Number.isInteger(r['times']) && (r['times'] as number) >= 0)) problems.push(`${path}.times: must be a whole number, 0 or more`);
    if (r['retryAfterSeconds'] !== undefined && !nonNegative(r['retryAfterSeconds'])) problems.push(`${path}.retryAfterSeconds: must be a number, 0 or more`);
    if (r['message'] !== undefined && typeof r['message'] !== 'string') problems.push(`${path}.message: must be a string`);
    return undefined;
  });
  if (problems.length > 0) throw new FaultConfigError(problems);
  return structuredClone(value);
}

/** The verb, resource and namespace of an API request, or undefined for non-resource paths. */
export interface RequestAttributes {
  verb: ApiVerb;
  group: string;
  resource: string;
  subresource: string | undefined;
  namespace: string | undefined;
  name: string | undefined;
}

/** Parses a cluster-relative URL (`/api/v1/...`, `/apis/g/v/...`) as the API server's RequestInfo resolver does. */
export function requestAttributes(method: string, url: URL): RequestAttributes | undefined {
  const path = url.pathname.replace(/^\/clusters\/[^/]+/, '');
  const segments = path.split('/').filter((s) => s !== '').map(decodeURIComponent);
  let group: string;
  let version: string;
  let tail: string[];
  if (segments[0] === 'api' && segments.length >= 3) {
    group = '';
    version = segments[1] ?? '';
    tail = segments.slice(2);
  } else if (segments[0] === 'apis' && segments.length >= 4) {
    group = segments[1] ?? '';
    version = segments[2] ?? '';
    tail = segments.slice(3);
  } else return undefined;
  const p = parseResourcePath(group, version, tail);
  if (!p) return undefined;
  const watching = p.legacyWatch || url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
  let verb: ApiVerb;
  switch (method) {
    case 'GET':
      verb = watching ? 'watch' : p.name !== undefined ? 'get' : 'list';
      break;
    case 'POST':
      verb = 'create';
      break;
    case 'PUT':
      verb = 'update';
      break;
    case 'PATCH':
      verb = 'patch';
      break;
    case 'DELETE':
      verb = p.name !== undefined ? 'delete' : 'deletecollection';
      break;
    default:
      return undefined;
  }
  return { verb, group: p.group, resource: p.plural, subresource: p.subresource, namespace: p.namespace, name: p.name };
}

/** `pods`, `apps/statefulsets`, `statefulsets/status`, `apps/statefulsets/status` or `*`. */
function resourceMatches(pattern: string, a: RequestAttributes): boolean {
  if (pattern === '*') return true;
  const parts = pattern.split('/');
  if (parts.length === 1) return parts[0] === a.resource;
  if (parts.length === 3) return parts[0] === a.group && parts[1] === a.resource && parts[2] === a.subresource;
  const [first, second] = parts;
  // `plural/subresource` when the first part names the resource, else `group/plural`.
  if (first === a.resource) return second === a.subresource;
  return first === a.group && second === a.resource;
}

function ruleMatches(rule: FaultRule, a: RequestAttributes): boolean {
  if (rule.verbs && !rule.verbs.some((v) => v === '*' || v === a.verb)) return false;
  if (rule.resources && !rule.resources.some((r) => resourceMatches(r, a))) return false;
  if (rule.namespaces && (a.namespace === undefined || !rule.namespaces.includes(a.namespace))) return false;
  return true;
}

function errorFor(rule: FaultRule, a: RequestAttributes): ApiError {
  switch (rule.status) {
    case 409:
      return conflict({ group: a.group, resource: a.resource }, a.name ?? '');
    case 429:
      return tooManyRequests(rule.retryAfterSeconds ?? 1);
    case 500:
      return internalError(rule.message ?? 'injected fault (rollgate-sim)');
    case 503:
      return new ApiError(503, 'ServiceUnavailable', rule.message ?? 'the server is currently unable to handle the request', { retryAfterSeconds: rule.retryAfterSeconds ?? 1 });
    case 504:
      return new ApiError(504, 'Timeout', 'the server was unable to return a response in the time allotted, but may still be processing the request');
  }
}

/** Applies one cluster's API faults to requests; reconfigurable while it runs. */
export class FaultInjector {
  private faults: ApiFaults = {};
  private fired: number[] = [];
  private dropped = 0;
  private cancelDrop: (() => void) | undefined;
  private readonly clock: SimClock;
  private readonly seed: number;
  private random: Random;
  private readonly dropWatches: () => number;

  /**
   * @param seed every `set` restarts the random sequence from this seed, so
   *   the same configuration and the same requests fail the same way.
   */
  constructor(clock: SimClock, seed: number, dropWatches: () => number, faults: ApiFaults = {}) {
    this.clock = clock;
    this.seed = seed;
    this.random = seededRandom(seed);
    this.dropWatches = dropWatches;
    this.set(faults);
  }

  /** The configuration in force. */
  get(): ApiFaults {
    return structuredClone(this.faults);
  }

  /** Counters since the last `set`. */
  stats(): FaultStats {
    return { fired: [...this.fired], watchesDropped: this.dropped };
  }

  /** Replaces the configuration (validated first), resets the counters and restarts the random sequence. */
  set(faults: ApiFaults): void {
    const valid = validateFaults(faults);
    this.faults = valid;
    this.random = seededRandom(this.seed);
    this.fired = (valid.rules ?? []).map(() => 0);
    this.dropped = 0;
    this.cancelDrop?.();
    this.cancelDrop = undefined;
    if (valid.dropWatchesEverySeconds !== undefined) this.armDrop(valid.dropWatchesEverySeconds * 1000);
  }

  private armDrop(everyMs: number): void {
    this.cancelDrop = this.clock.after(everyMs, () => {
      this.dropNow();
      this.armDrop(everyMs);
    });
  }

  /** The `beforeRequest` hook: waits out the latency, then throws the fault's ApiError if one fires. */
  async beforeRequest(req: IncomingMessage, url: URL): Promise<void> {
    const a = requestAttributes(req.method ?? 'GET', url);
    if (!a) return;
    const f = this.faults;
    const latency = (f.latencyMs ?? 0) + (f.latencyJitterMs ? this.random.next() * f.latencyJitterMs : 0);
    if (latency > 0) await new Promise<void>((resolve) => this.clock.after(latency, resolve));
    const rules = f.rules ?? [];
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i] as FaultRule;
      if (!ruleMatches(rule, a)) continue;
      if (rule.times !== undefined && (this.fired[i] ?? 0) >= rule.times) continue;
      if (this.random.next() >= (rule.rate ?? 1)) continue;
      this.fired[i] = (this.fired[i] ?? 0) + 1;
      throw errorFor(rule, a);
    }
  }

  /** Closes every open watch of the cluster now; returns how many. */
  dropNow(): number {
    const n = this.dropWatches();
    this.dropped += n;
    return n;
  }

  /** Cancels the watch-dropping timer. */
  stop(): void {
    this.cancelDrop?.();
    this.cancelDrop = undefined;
  }
}
