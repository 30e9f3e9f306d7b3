/**
 * The agent's pino logger: JSON lines, or pino-pretty's readable lines when
 * the output is a terminal, with credentials removed by the logger itself
 * (STYLE.md §12), so no call site has to remember to:
 *
 * - values under keys that name a secret (`token`, `password`, `secret`,
 *   `privateKey`, `authorization` headers, …), at the top level and two
 *   levels down, are replaced by `[Redacted]` (pino's `redact`);
 * - every string logged (the message, metadata at any depth, error
 *   messages and stacks, causes included) is scrubbed of URL credentials
 *   (`https://user:token@host` → `https://***@host`), credential query
 *   parameters (`?access_token=…`), `Authorization:` and `Bearer` values,
 *   PEM private key blocks, and any literal secret given in `secrets`.
 *
 * pino-pretty runs in-process as a stream (no worker thread), after the
 * redaction, so the pretty output is as clean as the JSON.
 */
import pretty from 'pino-pretty';
import type { Bindings, ChildLoggerOptions, DestinationStream, Logger, LoggerOptions as PinoOptions } from 'pino';
import { pino, stdSerializers } from 'pino';
import { redact } from '../source/index.ts';

/** pino's levels, most to least severe, and `silent`. */
export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** A level of {@link logLevels}. */
export type LogLevel = (typeof logLevels)[number];

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Default `info`. */
  readonly level?: LogLevel;
  /** Human-readable lines through pino-pretty. Default: when the destination (stdout unless given) is a terminal. */
  readonly pretty?: boolean;
  /** Where lines go; default standard output. */
  readonly destination?: NodeJS.WritableStream | DestinationStream;
  /** Literal secrets (tokens, passwords read from files or the environment) blanked wherever they appear; values under 4 characters are ignored. */
  readonly secrets?: readonly string[];
  /** Fields on every line; default `{ name: 'rollgate' }` (pino's pid and hostname are left out: a pod has its own). */
  readonly base?: Readonly<Record<string, unknown>>;
}

/** An option of {@link createLogger} that cannot be used. */
export class LoggerOptionsError extends Error {
  readonly code = 'invalid-logger-options';

  constructor(message: string) {
    super(message);
    this.name = 'LoggerOptionsError';
  }
}

/** Keys whose values are credentials, wherever they appear in logged metadata. */
const secretKeys = [
  'token',
  'accessToken',
  'access_token',
  'refreshToken',
  'bearerToken',
  'idToken',
  'password',
  'passwd',
  'passphrase',
  'secret',
  'clientSecret',
  'client_secret',
  'webhookSecret',
  'privateKey',
  'private_key',
  'apiKey',
  'api_key',
  'authorization',
  'Authorization',
  'cookie',
  'Cookie',
];

/** Headers that carry credentials, by the names HTTP clients and forges use. */
const secretHeaders = ['authorization', 'Authorization', 'cookie', 'Cookie', 'x-gitlab-token', 'X-Gitlab-Token', 'private-token', 'PRIVATE-TOKEN', 'proxy-authorization', 'Proxy-Authorization'];

/**
 * The pino `redact` paths: each secret key at the top level and two levels
 * down (fast-redact has no deep wildcard), and secret headers under
 * `headers` at the same depths.
 */
export const redactPaths: readonly string[] = [
  ...secretKeys.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]),
  ...secretHeaders.flatMap((h) => [`headers["${h}"]`, `*.headers["${h}"]`, `*.*.headers["${h}"]`]),
];

const credentialQuery = /([?&;](?:access_token|private_token|token|password|passwd|secret|client_secret|api_key|apikey|key|sig|signature)=)[^&;\s"'#]+/gi;
const bearer = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{4,}/g;
const pemBlock = /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?(?:-----END \1PRIVATE KEY-----|$)/g;

/**
 * Removes credentials from text: URL user-info, credential query
 * parameters, `Authorization:`/`Bearer`/`Basic` values, PEM private key
 * blocks (also cut-off ones), and each literal secret given (4 characters or more).
 */
export function scrubText(text: string, secrets: readonly string[] = []): string {
  let out = redact(text, secrets);
  out = out.replace(credentialQuery, '$1***');
  out = out.replace(bearer, '$1 ***');
  out = out.replace(pemBlock, '[private key redacted]');
  return out;
}

/** How deep the scrubber follows nested objects; deeper values are logged as a placeholder, not unscrubbed. */
const maxDepth = 10;

/** A copy of a logged value with every string scrubbed; errors are serialised first (so their message and stack are scrubbed too). */
function scrubValue(value: unknown, secrets: readonly string[], depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return scrubText(value, secrets);
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof URL) return scrubText(value.href, secrets);
  if (seen.has(value)) return '[Circular]';
  if (depth >= maxDepth) return '[Too deep]';
  seen.add(value);
  try {
    if (value instanceof Error) return scrubValue({ ...stdSerializers.err(value) }, secrets, depth + 1, seen);
    if (Array.isArray(value)) return value.map((v) => scrubValue(v, secrets, depth + 1, seen));
    const proto = Object.getPrototypeOf(value) as unknown;
    // Class instances (Date, Buffer, a client) keep their own JSON form; plain records are walked.
    if (proto !== Object.prototype && proto !== null) {
      const json = (value as { toJSON?: unknown }).toJSON;
      if (typeof json === 'function') return scrubValue((json as () => unknown).call(value), secrets, depth + 1, seen);
      return value;
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = scrubValue(v, secrets, depth + 1, seen);
    return out;
  } finally {
    seen.delete(value);
  }
}

/** Whether a destination is a terminal (pino-pretty's colours and layout are for people). */
function isTerminal(destination: NodeJS.WritableStream | DestinationStream | undefined): boolean {
  const target = destination ?? process.stdout;
  return (target as { isTTY?: unknown }).isTTY === true;
}

/**
 * Creates the agent's logger. Child loggers (`log.child({ target })`)
 * inherit the redaction and scrubbing.
 * @throws LoggerOptionsError for an unknown level.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  if (!(logLevels as readonly string[]).includes(level)) throw new LoggerOptionsError(`log level ${JSON.stringify(level)} is not one of ${logLevels.join(', ')}`);
  const secrets = (options.secrets ?? []).filter((s) => typeof s === 'string' && s.length >= 4);
  const scrub = (value: unknown): unknown => scrubValue(value, secrets, 0, new WeakSet());
  const pinoOptions: PinoOptions = {
    level,
    base: { name: 'rollgate', ...options.base },
    redact: { paths: [...redactPaths], censor: '[Redacted]' },
    serializers: {
      // pino hands an Error logged alone (`log.error(err)`) to this serializer, after formatters.log.
      err: (err: unknown) => scrub(err instanceof Error ? stdSerializers.err(err) : err),
      // The message after interpolation (`log.info('cloning %s', url)`) and an Error's message used as the message.
      msg: (msg: unknown) => (typeof msg === 'string' ? scrubText(msg, secrets) : msg),
    },
    formatters: {
      log: (object) => scrub(object) as Record<string, unknown>,
      bindings: (bindings) => scrub(bindings) as Record<string, unknown>,
    },
  };
  const destination = options.destination;
  let logger: Logger;
  if (options.pretty ?? isTerminal(destination)) {
    const colorize = isTerminal(destination);
    logger = pino(pinoOptions, pretty({ destination: destination ?? 1, sync: true, colorize, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name' }));
  } else logger = destination ? pino(pinoOptions, destination) : pino(pinoOptions);
  // pino applies `formatters.bindings` to the root's base only and resets it for children, so child
  // bindings (`log.child({ remote })`) are scrubbed here. Children are created with Object.create(parent),
  // so grandchildren inherit this override.
  type ChildFn = (this: Logger, bindings: Bindings, childOptions?: ChildLoggerOptions) => Logger;
  // pino types child() generically over custom levels; rollgate uses none, so the plain signature is the real one.
  const protoChild = Reflect.get(logger, 'child') as unknown as ChildFn;
  const scrubbingChild: ChildFn = function (bindings, childOptions) {
    return protoChild.call(this, scrub(bindings) as Bindings, childOptions);
  };
  Object.defineProperty(logger, 'child', { value: scrubbingChild, writable: true, configurable: true });
  return logger;
}
