/**
 * The composition root of `rollgate run`: the one place where the source
 * poller, the webhook receiver, the reconcile loop, the rollout executors,
 * leader election, the reporters and the ops server are wired together.
 * Everything else receives what it needs as arguments.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { agentUserAgent, withUserAgent } from './live/http.ts';
import { createCommentApprovals, createForgeReporter, createGitHubProvider, createGitLabProvider, createPullRequestIndex, createPullRequestReviewer, type ForgeProvider } from './report/forge/index.ts';
import type { RolloutOutcome } from './rollout/executor.ts';
import type { RolloutClock } from './rollout/gates.ts';
import type { Reporter } from './rollout/reporter.ts';
import { createAgent, type Agent, type ReconcileResult } from './runtime/agent.ts';
import { ConfigError, secretVariablesOf, sourceAuthOf, type AgentConfig } from './runtime/config.ts';
import { createLeaseClient } from './runtime/leader.ts';
import { createMetrics, type Metrics } from './runtime/metrics.ts';
import { startOpsServer, type OpsServer, type RouteHandler } from './runtime/ops-server.ts';
import { createPlanFor } from './runtime/review.ts';
import { createShardedLeadership, type ShardedLeadership } from './runtime/shards.ts';
import { createPollSchedule } from './source/index.ts';
import { gitEnvironment, loadCredentials, parseRemoteUrl } from './source/remote.ts';
import { createWebhookReceiver, type WebhookReceiver } from './webhook/index.ts';

/** What `runAgent` needs from its caller. */
export interface RunOptions {
  readonly config: AgentConfig;
  readonly logger: Logger;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Resolves when the process is asked to stop (SIGTERM, SIGINT). */
  readonly stopped: Promise<void>;
  /** Extra reporters (the demo's live view). */
  readonly reporters?: readonly Reporter[];
  /** The rollout clock (the demo's runs on kube-sim's). */
  readonly rolloutClock?: RolloutClock;
  /** Called once the agent exists, for callers that drive it (the demo). */
  readonly onAgent?: (agent: Agent) => void;
}

/** Exit codes of `rollgate run`, per the CLI contract. */
export const exitCodes = { matches: 0, error: 1, halted: 3 } as const;

/**
 * The kubeconfig of each cluster: the context the agent configuration maps
 * it to, or the in-cluster service account, or the context of the
 * cluster's own name in the kubeconfig file (`kubeconfig`, else
 * `KUBECONFIG`, else in-cluster, else `~/.kube/config`).
 */
export function kubeConfigResolver(config: AgentConfig): (cluster: string) => KubeConfig {
  let base: KubeConfig | undefined;
  const loadBase = (): KubeConfig => (base ??= loadKubeConfig(config));
  return (cluster) => {
    const access = config.clusters[cluster];
    if (access !== undefined && 'inCluster' in access) {
      const inCluster = new KubeConfig();
      inCluster.loadFromCluster();
      return inCluster;
    }
    const context = access?.context ?? cluster;
    const kubeConfig = loadBase();
    if (kubeConfig.getContextObject(context) === null) {
      const known = kubeConfig.getContexts().map((c) => c.name);
      throw new ConfigError([`cluster "${cluster}" of rollgate.yaml: the kubeconfig has no context "${context}" (it has: ${known.join(', ') || 'none'}); add it, or map the cluster in the agent configuration (clusters.${cluster}.context)`]);
    }
    const copy = new KubeConfig();
    copy.loadFromString(kubeConfig.exportConfig());
    copy.setCurrentContext(context);
    return copy;
  };
}

/** The exit code for a finished `--once` run. */
export function onceExitCode(result: ReconcileResult, outcomes: ReadonlyMap<string, RolloutOutcome>): number {
  if (result.type === 'failed' || result.type === 'invalid' || result.type === 'rejected') return exitCodes.error;
  return [...outcomes.values()].every((o) => o === 'succeeded') ? exitCodes.matches : exitCodes.halted;
}

/** The forge's provider, from the agent configuration; undefined without one. Throws a ConfigError for a missing credential. */
function forgeProvider(config: AgentConfig, env: Readonly<Record<string, string | undefined>>, logger: Logger): ForgeProvider | undefined {
  const forge = config.forge;
  if (forge === undefined) return undefined;
  const token = forge.tokenEnv !== undefined ? env[forge.tokenEnv] : undefined;
  if (forge.tokenEnv !== undefined && (token === undefined || token === '')) throw new ConfigError([`forge.tokenEnv: the environment variable ${forge.tokenEnv} is empty or unset; put the ${forge.type === 'github' ? 'GitHub' : 'GitLab'} token there`]);
  const log = logger.child({ component: 'forge' });
  if (forge.type === 'gitlab') return createGitLabProvider({ project: forge.repository, token: token ?? '', ...(forge.baseUrl !== undefined ? { host: forge.baseUrl } : {}), logger: log });
  if (token !== undefined) return createGitHubProvider({ repository: forge.repository, auth: { kind: 'token', token }, ...(forge.baseUrl !== undefined ? { baseUrl: forge.baseUrl } : {}), logger: log });
  let privateKey: string;
  try {
    privateKey = readFileSync(forge.privateKeyFile ?? '', 'utf8');
  } catch (err) {
    throw new ConfigError([`forge.privateKeyFile: ${forge.privateKeyFile ?? ''} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}); mount the GitHub App's private key there`]);
  }
  return createGitHubProvider({ repository: forge.repository, auth: { kind: 'app', appId: String(forge.appId ?? ''), installationId: forge.installationId ?? 0, privateKey }, ...(forge.baseUrl !== undefined ? { baseUrl: forge.baseUrl } : {}), logger: log });
}

/** The secret of a webhook from the variable the configuration names; a named but empty variable is a configuration error. */
function webhookSecret(name: string | undefined, env: Readonly<Record<string, string | undefined>>): string | undefined {
  if (name === undefined) return undefined;
  const value = env[name];
  if (value === undefined || value === '') throw new ConfigError([`webhooks: the environment variable ${name} is empty or unset; put the webhook secret there`]);
  return value;
}

/** A reporter that keeps each target's phase in the metrics. */
function metricsReporter(metrics: Metrics): Reporter {
  return {
    report: (transition) => {
      metrics.setRolloutPhase(transition.target, transition.phase);
      return Promise.resolve();
    },
  };
}

/**
 * Runs the agent until `stopped` (or, with `once`, one reconcile and the
 * rollouts it starts). Returns the exit code.
 */
export async function runAgent(options: RunOptions): Promise<number> {
  const { config, logger, env } = options;
  const metrics = createMetrics();
  const kubeConfigFor = kubeConfigResolver(config);

  // Pull-request review, when a forge is configured: plan comments, rollout progress, approvals from comments.
  const provider = forgeProvider(config, env, logger);
  const pullRequests = provider !== undefined ? createPullRequestIndex({ provider }) : undefined;
  const forgeReporter = provider !== undefined ? createForgeReporter({ provider, logger: logger.child({ component: 'forge' }), ...(pullRequests !== undefined ? { pullRequests } : {}) }) : undefined;
  const commentApprovals = provider !== undefined ? createCommentApprovals({ provider, logger: logger.child({ component: 'forge' }), ...(pullRequests !== undefined ? { pullRequests } : {}) }) : undefined;

  // Leader election: only the leader of a target's shard rolls it.
  let leadership: ShardedLeadership | undefined;
  if (config.leaderElection.enabled && !config.once) {
    const election = config.leaderElection;
    leadership = createShardedLeadership({
      api: createLeaseClient(withUserAgent(loadKubeConfig(config), agentUserAgent(election.identity))),
      namespace: election.namespace,
      identity: election.identity,
      shards: election.shards,
      ...(election.maxShardsPerReplica !== undefined ? { maxHeld: election.maxShardsPerReplica } : {}),
      leaseName: (shard) => (election.shards === 1 ? election.name : `${election.name}-shard-${shard}`),
      leaseDurationMs: election.leaseDurationMs,
      renewDeadlineMs: election.renewDeadlineMs,
      retryPeriodMs: election.retryPeriodMs,
      logger: logger.child({ component: 'leader' }),
    });
  }
  const elected = leadership;

  const agent = createAgent({
    config,
    kubeConfigFor,
    logger,
    env,
    reporters: [metricsReporter(metrics), ...(forgeReporter !== undefined ? [forgeReporter] : []), ...(options.reporters ?? [])],
    ...(commentApprovals !== undefined ? { approvals: commentApprovals } : {}),
    ...(options.rolloutClock !== undefined ? { rolloutClock: options.rolloutClock } : {}),
    ...(elected !== undefined ? { owns: (target: string) => elected.owns(target) } : {}),
    observer: {
      polled: (result) => metrics.countGitPoll(result),
      reconciled: (result, ms) => {
        metrics.observeReconcile(ms / 1000, result === 'failed' || result === 'invalid' || result === 'rejected' ? 'error' : 'success');
        metrics.setSourceDegraded(config.repo, result === 'failed' || result === 'rejected');
      },
    },
  });
  options.onAgent?.(agent);

  if (config.once) {
    try {
      const result = await agent.reconcile({ force: true });
      if (result.type === 'invalid') for (const line of result.problems) logger.error(line);
      const outcomes = await Promise.race([agent.settled(), options.stopped.then(() => new Map<string, RolloutOutcome>())]);
      const code = onceExitCode(result, outcomes);
      logger.info({ result: result.type, outcomes: Object.fromEntries(outcomes), exitCode: code }, 'one reconcile done');
      return code;
    } finally {
      await agent.stop();
      await forgeReporter?.flush().catch(() => undefined);
    }
  }

  const reviewer =
    provider !== undefined
      ? createPullRequestReviewer({
          provider,
          baseBranch: config.branch,
          logger: logger.child({ component: 'review' }),
          // Pull-request heads are fetched with the agent's own Git credentials, read afresh each time (a token file may be rotated).
          planFor: async (headSha, changedFiles) => {
            const credentials = await loadCredentials(sourceAuthOf(config), parseRemoteUrl(config.repo), env);
            const gitEnv = gitEnvironment(env, { config: credentials.config, env: credentials.env, dropVariables: secretVariablesOf(config) });
            return createPlanFor({ repo: config.repo, env: gitEnv, live: () => agent.live(), now: () => Date.now() })(headSha, changedFiles);
          },
        })
      : undefined;

  // Webhooks: a push starts a reconcile at once; pull-request and comment events feed the reviewer and approvals.
  let receiver: WebhookReceiver | undefined;
  const githubSecret = webhookSecret(config.webhooks.githubSecretEnv, env);
  const gitlabToken = webhookSecret(config.webhooks.gitlabTokenEnv, env);
  if (githubSecret !== undefined || gitlabToken !== undefined) {
    receiver = createWebhookReceiver({
      ...(githubSecret !== undefined ? { github: { secret: githubSecret } } : {}),
      ...(gitlabToken !== undefined ? { gitlab: { token: gitlabToken } } : {}),
      ...(config.forge !== undefined ? { repositories: [config.forge.repository] } : {}),
      logger: logger.child({ component: 'webhook' }),
      onEvent: async (event) => {
        metrics.countWebhookDelivery(event.forge, event.type);
        if (event.type === 'push') {
          if (event.ref === `refs/heads/${config.branch}`) await agent.reconcile({ force: true });
        } else if (event.type === 'pull_request') {
          pullRequests?.handleEvent(event);
          await reviewer?.handleEvent(event);
        } else {
          await commentApprovals?.handleComment(event);
        }
      },
    });
  }

  let server: OpsServer | undefined;
  if (config.listen !== undefined) {
    const routes = new Map<string, RouteHandler>();
    if (receiver !== undefined) {
      routes.set('/webhooks/github', receiver.github);
      routes.set('/webhooks/gitlab', receiver.gitlab);
    }
    server = await startOpsServer({ host: config.listen.host, port: config.listen.port, registry: metrics.registry, ready: () => agent.readiness(), routes, logger: logger.child({ component: 'ops' }) });
    logger.info({ url: server.url }, 'serving /healthz, /readyz, /metrics and webhooks');
  }

  if (leadership !== undefined) {
    leadership.subscribe((event) => {
      metrics.setLeader(String(event.shard), event.type === 'acquired');
      if (event.type === 'acquired') void agent.reapply();
      // A lost shard: stop every rollout at its next safe point, then go on with the shards still held.
      else void agent.resetRollouts().then(() => agent.reapply());
    });
    leadership.start();
  }

  const schedule = createPollSchedule(config.schedule !== undefined ? { cron: config.schedule } : { intervalMs: config.intervalMs ?? 60_000 });
  const tick = async (): Promise<void> => {
    await agent.reconcile();
    // The forge catches up on every tick: comments after an outage, approvals without webhooks.
    await Promise.allSettled([reviewer?.refreshAll(), commentApprovals?.poll(), forgeReporter?.flush(), leadership?.rebalance()]);
  };
  void tick();
  schedule.start(tick);
  logger.info({ repo: config.repo, branch: config.branch, interval: config.intervalMs, schedule: config.schedule }, 'rollgate agent started');
  await options.stopped;
  logger.info('stopping: finishing the write in flight and recording progress');
  schedule.stop();
  await receiver?.close();
  await agent.stop();
  await leadership?.release();
  await forgeReporter?.flush().catch(() => undefined);
  await server?.close();
  return exitCodes.matches;
}

/**
 * The agent's own kubeconfig: `kubeconfig`, else `KUBECONFIG`, the
 * in-cluster service account, `~/.kube/config`. Its current context is
 * where the Leases live.
 */
function loadKubeConfig(config: AgentConfig): KubeConfig {
  const kubeConfig = new KubeConfig();
  try {
    if (config.kubeconfig !== undefined) kubeConfig.loadFromFile(config.kubeconfig);
    else kubeConfig.loadFromDefault();
  } catch (err) {
    throw new ConfigError([`kubeconfig ${config.kubeconfig ?? '(default)'}: cannot be read: ${err instanceof Error ? err.message : String(err)}`]);
  }
  return kubeConfig;
}
