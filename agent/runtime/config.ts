/**
 * The agent's configuration: a YAML file (schema `schemas/v1alpha1/agent.schema.json`),
 * then environment variables, then flags, each overriding the one before.
 * Every bad value is reported with where it came from (`config.yaml:7:13`,
 * `ROLLGATE_INTERVAL`, `--interval`) and what to write instead; nothing
 * starts with a configuration that has a problem.
 */
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { defaultLimits, parseDuration } from '../manifests/index.ts';
import { loadSchemas } from '../manifests/schemas.ts';
import { formatPath, parseYaml } from '../manifests/yaml.ts';
import type { SourceAuth } from '../source/index.ts';

/** How a cluster of rollgate.yaml is reached. */
export type ClusterAccessConfig = { readonly context: string } | { readonly inCluster: true };

/** The agent's configuration, with every default filled in. */
export interface AgentConfig {
  readonly repo: string;
  readonly branch: string;
  /** Exactly one of `intervalMs` and `schedule`. */
  readonly intervalMs?: number;
  readonly schedule?: string;
  readonly auth?: { readonly tokenEnv?: string; readonly tokenFile?: string; readonly username?: string; readonly sshKeyFile?: string; readonly knownHostsFile?: string };
  readonly verify?: { readonly openpgpKeys?: readonly string[]; readonly sshAllowedSigners?: string };
  readonly dataDir: string;
  /** Kubeconfig file; undefined: `KUBECONFIG`, the in-cluster service account, then `~/.kube/config`. */
  readonly kubeconfig?: string;
  readonly clusters: Readonly<Record<string, ClusterAccessConfig>>;
  readonly concurrency: number;
  readonly status: { readonly enabled: boolean; readonly author: { readonly name: string; readonly email: string }; readonly sign?: { readonly format: 'openpgp' | 'ssh'; readonly key: string } };
  /** Undefined: do not listen. */
  readonly listen?: { readonly host: string; readonly port: number };
  readonly webhooks: { readonly githubSecretEnv?: string; readonly gitlabTokenEnv?: string };
  readonly forge?: { readonly type: 'github' | 'gitlab'; readonly repository: string; readonly baseUrl?: string; readonly tokenEnv?: string; readonly appId?: number; readonly installationId?: number; readonly privateKeyFile?: string };
  readonly leaderElection: {
    readonly enabled: boolean;
    readonly namespace: string;
    readonly name: string;
    readonly identity: string;
    readonly leaseDurationMs: number;
    readonly renewDeadlineMs: number;
    readonly retryPeriodMs: number;
    readonly shards: number;
    readonly maxShardsPerReplica?: number;
  };
  readonly logLevel: string;
  /** `--once`: one reconcile, wait for the rollouts, exit. */
  readonly once: boolean;
}

/** A configuration problem: where it is and what is wrong. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** One `where: message` line per problem. */
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(problems.length === 1 ? (problems[0]) : `${problems.length} problems in the configuration:\n  ${problems.join('\n  ')}`);
    this.problems = problems;
  }
}

/** Flags of `rollgate run` that override the configuration. */
export interface RunFlags {
  readonly config?: string;
  readonly repo?: string;
  readonly branch?: string;
  readonly kubeconfig?: string;
  readonly interval?: string;
  readonly schedule?: string;
  readonly once?: boolean;
}

/** The environment variables the configuration reads, with the field each sets. */
export const environmentVariables: Readonly<Record<string, string>> = {
  ROLLGATE_REPO: 'repo',
  ROLLGATE_BRANCH: 'branch',
  ROLLGATE_INTERVAL: 'interval',
  ROLLGATE_SCHEDULE: 'schedule',
  ROLLGATE_DATA_DIR: 'dataDir',
  ROLLGATE_KUBECONFIG: 'kubeconfig',
  ROLLGATE_CONCURRENCY: 'concurrency',
  ROLLGATE_LISTEN: 'listen',
  ROLLGATE_LOG_LEVEL: 'logLevel',
};

type Raw = Record<string, unknown>;

/** Reads and checks the configuration file; problems carry `file:line:col`. */
async function readConfigFile(path: string): Promise<Raw> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError([`${path}: cannot read the configuration file${code === 'ENOENT' ? ': it does not exist' : code !== undefined ? ` (${code})` : ''}`]);
  }
  const parsed = parseYaml(text, defaultLimits);
  if (parsed.problems.length > 0) throw new ConfigError(parsed.problems.map((p) => `${path}:${p.line}:${p.column}: ${p.message}`));
  const documents = parsed.documents.filter((d) => d.value !== undefined);
  if (documents.length !== 1) throw new ConfigError([`${path}:1:1: expected one YAML document (an AgentConfig), found ${documents.length}`]);
  const document = documents[0] as (typeof documents)[number];
  const value = document.value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError([`${path}:${document.start.line}:${document.start.column}: expected a mapping (apiVersion: rollgate.dev/v1alpha1, kind: AgentConfig, …)`]);
  const errors = (await loadSchemas()).validate('agent', value);
  if (errors.length > 0) {
    throw new ConfigError(errors.map((e) => {
      const at = parsed.locate(document.index, e.path, e.part);
      return `${path}:${at.line}:${at.column}: ${e.path.length > 0 ? `${formatPath(e.path)}: ` : ''}${e.message}`;
    }));
  }
  return value as Raw;
}

const durationField = (problems: string[], where: string, text: string | undefined, fallback: number, min = 1): number => {
  if (text === undefined) return fallback;
  const ms = parseDuration(text);
  if (ms === undefined || ms < min) {
    problems.push(`${where}: "${text}" is not a duration of at least ${min} ms; write e.g. 30s, 1m or 1h30m`);
    return fallback;
  }
  return ms;
};

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const obj = (value: unknown): Raw => (typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Raw) : {});

/** Parses `host:port` (`:8080` listens on every interface). */
function parseListen(problems: string[], where: string, text: string): { host: string; port: number } | undefined {
  if (text === '') return undefined;
  const match = /^(.*):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (match === null || !Number.isInteger(port) || port > 65_535) {
    problems.push(`${where}: "${text}" is not host:port; write e.g. 0.0.0.0:8080 or :8080 (an empty value turns the server off)`);
    return undefined;
  }
  return { host: (match[1] ?? '') === '' ? '0.0.0.0' : (match[1] as string).replace(/^\[(.*)\]$/, '$1'), port };
}

/**
 * The configuration of `rollgate run` from its file (if any), the
 * environment and the flags. Throws a {@link ConfigError} listing every
 * problem at once.
 */
export async function loadAgentConfig(flags: RunFlags, env: Readonly<Record<string, string | undefined>>): Promise<AgentConfig> {
  const file = flags.config !== undefined ? await readConfigFile(flags.config) : {};
  const problems: string[] = [];
  const fileWhere = (field: string): string => (flags.config !== undefined ? `${flags.config}: ${field}` : field);

  /** The value of a field and where it came from: the flag, then the environment, then the file. */
  const pick = (field: string, flag: string | undefined, flagName?: string): { value: string | undefined; where: string } => {
    if (flag !== undefined) return { value: flag, where: flagName ?? `--${field}` };
    const variable = Object.entries(environmentVariables).find(([, f]) => f === field)?.[0];
    const fromEnv = variable !== undefined ? env[variable] : undefined;
    if (variable !== undefined && fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, where: variable };
    const fromFile = file[field];
    return { value: typeof fromFile === 'string' || typeof fromFile === 'number' ? String(fromFile) : undefined, where: fileWhere(field) };
  };

  const repo = pick('repo', flags.repo);
  if (repo.value === undefined || repo.value === '') problems.push('repo: no repository to follow; give --repo URL|DIR, ROLLGATE_REPO, or repo: in the configuration file');
  const branch = pick('branch', flags.branch).value ?? 'main';

  // An interval and a schedule from the same level conflict; a higher level's choice replaces a lower one's.
  if (flags.interval !== undefined && flags.schedule !== undefined) problems.push('--interval and --schedule: give one of them');
  const level = (field: 'interval' | 'schedule'): number => {
    const flag = field === 'interval' ? flags.interval : flags.schedule;
    if (flag !== undefined) return 3;
    if ((env[field === 'interval' ? 'ROLLGATE_INTERVAL' : 'ROLLGATE_SCHEDULE'] ?? '') !== '') return 2;
    return file[field] !== undefined ? 1 : 0;
  };
  if (level('interval') === level('schedule') && level('interval') > 0 && flags.interval === undefined) problems.push(`${level('interval') === 2 ? 'ROLLGATE_INTERVAL and ROLLGATE_SCHEDULE' : fileWhere('interval and schedule')}: give one of them`);
  const useSchedule = level('schedule') > level('interval');
  const interval = pick('interval', flags.interval);
  const intervalMs = useSchedule ? undefined : durationField(problems, interval.where, interval.value, 60_000, 1_000);
  const schedule = useSchedule ? pick('schedule', flags.schedule).value : undefined;

  const concurrencyPick = pick('concurrency', undefined);
  const concurrency = concurrencyPick.value === undefined ? 4 : Number(concurrencyPick.value);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1_000) problems.push(`${concurrencyPick.where}: "${concurrencyPick.value ?? ''}" is not a whole number from 1 to 1000`);

  const listenPick = pick('listen', undefined);
  const listen = listenPick.value === undefined ? { host: '0.0.0.0', port: 8080 } : parseListen(problems, listenPick.where, listenPick.value);

  const logLevel = pick('logLevel', undefined);
  const levels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
  if (logLevel.value !== undefined && !levels.includes(logLevel.value)) problems.push(`${logLevel.where}: "${logLevel.value}" is not a log level; use one of ${levels.join(', ')}`);

  const status = obj(file['status']);
  const signingKey = str(status['signingKey']);
  const election = obj(file['leaderElection']);
  const forge = file['forge'] === undefined ? undefined : (obj(file['forge']) as unknown as NonNullable<AgentConfig['forge']>);
  if (forge?.type === 'github' && forge.tokenEnv === undefined && (forge.appId === undefined || forge.installationId === undefined || forge.privateKeyFile === undefined)) {
    problems.push(`${fileWhere('forge')}: GitHub needs tokenEnv, or appId, installationId and privateKeyFile of a GitHub App`);
  }
  if (forge?.type === 'gitlab' && forge.tokenEnv === undefined) problems.push(`${fileWhere('forge')}: GitLab needs tokenEnv`);
  const clusters: Record<string, ClusterAccessConfig> = {};
  for (const [name, raw] of Object.entries(obj(file['clusters']))) {
    const access = obj(raw);
    if (access['inCluster'] === true) clusters[name] = { inCluster: true };
    else if (typeof access['context'] === 'string') clusters[name] = { context: access['context'] };
    else problems.push(`${fileWhere(`clusters.${name}`)}: give context: NAME or inCluster: true`);
  }
  const leaseDurationMs = durationField(problems, fileWhere('leaderElection.leaseDuration'), str(election['leaseDuration']), 15_000);
  const renewDeadlineMs = durationField(problems, fileWhere('leaderElection.renewDeadline'), str(election['renewDeadline']), 10_000);
  const retryPeriodMs = durationField(problems, fileWhere('leaderElection.retryPeriod'), str(election['retryPeriod']), 2_000);
  // client-go's own checks: a leader must be able to renew before its lease runs out.
  if (renewDeadlineMs >= leaseDurationMs) problems.push(`${fileWhere('leaderElection')}: renewDeadline must be shorter than leaseDuration`);
  if (retryPeriodMs >= renewDeadlineMs) problems.push(`${fileWhere('leaderElection')}: retryPeriod must be shorter than renewDeadline`);

  if (problems.length > 0) throw new ConfigError(problems);
  const auth = file['auth'] === undefined ? undefined : (obj(file['auth']) as AgentConfig['auth']);
  const verify = file['verify'] === undefined ? undefined : (obj(file['verify']) as AgentConfig['verify']);
  const kubeconfig = pick('kubeconfig', flags.kubeconfig).value;
  const maxShards = election['maxShardsPerReplica'];
  return {
    repo: repo.value as string,
    branch,
    ...(intervalMs !== undefined ? { intervalMs } : {}),
    ...(schedule !== undefined ? { schedule } : {}),
    ...(auth !== undefined ? { auth } : {}),
    ...(verify !== undefined ? { verify } : {}),
    dataDir: pick('dataDir', undefined).value ?? '.rollgate',
    ...(kubeconfig !== undefined ? { kubeconfig } : {}),
    clusters,
    concurrency,
    status: {
      enabled: status['enabled'] !== false,
      author: { name: str(status['authorName']) ?? 'rollgate', email: str(status['authorEmail']) ?? 'rollgate@localhost' },
      ...(signingKey !== undefined ? { sign: { format: status['signingFormat'] === 'ssh' ? 'ssh' : 'openpgp', key: signingKey } } : {}),
    },
    ...(listen !== undefined ? { listen } : {}),
    webhooks: obj(file['webhooks']),
    ...(forge !== undefined ? { forge } : {}),
    leaderElection: {
      enabled: election['enabled'] === true,
      namespace: str(election['namespace']) ?? env['POD_NAMESPACE'] ?? 'default',
      name: str(election['name']) ?? 'rollgate',
      identity: str(election['identity']) ?? env['POD_NAME'] ?? `${hostname()}-${process.pid}`,
      leaseDurationMs,
      renewDeadlineMs,
      retryPeriodMs,
      shards: typeof election['shards'] === 'number' ? election['shards'] : 1,
      ...(typeof maxShards === 'number' ? { maxShardsPerReplica: maxShards } : {}),
    },
    logLevel: logLevel.value ?? 'info',
    once: flags.once === true,
  };
}

/** How the agent authenticates to its Git remote: an SSH key, a token, or nothing. */
export function sourceAuthOf(config: AgentConfig): SourceAuth | undefined {
  const auth = config.auth;
  if (auth?.sshKeyFile !== undefined && auth.knownHostsFile !== undefined) return { type: 'ssh', keyFile: auth.sshKeyFile, knownHostsFile: auth.knownHostsFile };
  if (auth?.tokenEnv === undefined && auth?.tokenFile === undefined) return undefined;
  return { type: 'token', ...(auth.tokenEnv !== undefined ? { env: auth.tokenEnv } : {}), ...(auth.tokenFile !== undefined ? { file: auth.tokenFile } : {}), ...(auth.username !== undefined ? { username: auth.username } : {}) };
}

/**
 * The environment variables of the configuration that hold secrets: the Git
 * token, the forge token, the webhook secrets. git never inherits them.
 */
export function secretVariablesOf(config: AgentConfig): string[] {
  return [config.auth?.tokenEnv, config.forge?.tokenEnv, config.webhooks.githubSecretEnv, config.webhooks.gitlabTokenEnv].filter((name): name is string => name !== undefined);
}
