/**
 * The composition root of `rollgate run`: the one place where the source
 * poller, the webhook receiver, the reconcile loop, the rollout executors,
 * leader election, the reporters and the ops server are wired together.
 * Everything else receives what it needs as arguments.
 */
import { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { RolloutOutcome } from './rollout/executor.ts';
import type { RolloutClock } from './rollout/gates.ts';
import type { Reporter } from './rollout/reporter.ts';
import { createAgent, type Agent, type ReconcileResult } from './runtime/agent.ts';
import { ConfigError, type AgentConfig } from './runtime/config.ts';
import { createPollSchedule } from './source/index.ts';

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
  const loadBase = (): KubeConfig => {
    if (base !== undefined) return base;
    base = new KubeConfig();
    try {
      if (config.kubeconfig !== undefined) base.loadFromFile(config.kubeconfig);
      else base.loadFromDefault();
    } catch (err) {
      throw new ConfigError([`kubeconfig ${config.kubeconfig ?? '(default)'}: cannot be read: ${err instanceof Error ? err.message : String(err)}`]);
    }
    return base;
  };
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

/**
 * Runs the agent until `stopped` (or, with `once`, one reconcile and the
 * rollouts it starts). Returns the exit code.
 */
export async function runAgent(options: RunOptions): Promise<number> {
  const { config, logger } = options;
  const agent = createAgent({
    config,
    kubeConfigFor: kubeConfigResolver(config),
    logger,
    env: options.env,
    ...(options.reporters !== undefined ? { reporters: options.reporters } : {}),
    ...(options.rolloutClock !== undefined ? { rolloutClock: options.rolloutClock } : {}),
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
    }
  }

  const schedule = createPollSchedule(config.schedule !== undefined ? { cron: config.schedule } : { intervalMs: config.intervalMs ?? 60_000 });
  void agent.reconcile();
  schedule.start(() => agent.reconcile());
  logger.info({ repo: config.repo, branch: config.branch, interval: config.intervalMs, schedule: config.schedule }, 'rollgate agent started');
  await options.stopped;
  logger.info('stopping: finishing the write in flight and recording progress');
  schedule.stop();
  await agent.stop();
  return exitCodes.matches;
}
