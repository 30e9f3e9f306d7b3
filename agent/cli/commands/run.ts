/**
 * `rollgate run [--config FILE] [--repo URL] [--branch B] [--kubeconfig FILE]
 * [--interval DURATION | --schedule CRON] [--once]`: the long-running agent.
 * With `--once`: one reconcile, then wait for the rollouts it started;
 * exit 0 when the cluster matches Git, 3 when a rollout halted (or waits
 * for a person, or was refused), 1 on error.
 */
import { parseArgs } from 'node:util';
import { runAgent } from '../../main.ts';
import { ConfigError, loadAgentConfig } from '../../runtime/config.ts';
import { createLogger, type LogLevel } from '../../runtime/logger.ts';
import type { Command } from '../command.ts';
import { UsageError } from '../command.ts';

const usage = `usage: rollgate run [--config FILE] [--repo URL|DIR] [--branch B] [--kubeconfig FILE]
                    [--interval DURATION | --schedule CRON] [--once]

Follows a rollgate repository and rolls every change out, staged and gated.
Configuration comes from FILE (schemas/v1alpha1/agent.schema.json), then
ROLLGATE_* environment variables, then these flags.

options:
  -c, --config FILE       the agent configuration (YAML)
  -r, --repo URL|DIR      the desired-state repository
  -b, --branch B          the branch to follow (default main)
      --kubeconfig FILE   default: KUBECONFIG, in-cluster, ~/.kube/config
      --interval DURATION time between polls (default 1m)
      --schedule CRON     poll on a cron schedule instead
      --once              one reconcile; wait for its rollouts; exit 0 (matches Git), 3 (halted), 1 (error)
  -h, --help              show this help
`;

/** The `run` command. */
export const run: Command = async (argv, io) => {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        config: { type: 'string', short: 'c' },
        repo: { type: 'string', short: 'r' },
        branch: { type: 'string', short: 'b' },
        kubeconfig: { type: 'string' },
        interval: { type: 'string' },
        schedule: { type: 'string' },
        once: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError(`${err instanceof Error ? err.message : String(err)}\n${usage}`);
  }
  if (values.help) {
    io.stdout.write(usage);
    return 0;
  }
  let config;
  try {
    config = await loadAgentConfig(
      {
        ...(values.config !== undefined ? { config: values.config } : {}),
        ...(values.repo !== undefined ? { repo: values.repo } : {}),
        ...(values.branch !== undefined ? { branch: values.branch } : {}),
        ...(values.kubeconfig !== undefined ? { kubeconfig: values.kubeconfig } : {}),
        ...(values.interval !== undefined ? { interval: values.interval } : {}),
        ...(values.schedule !== undefined ? { schedule: values.schedule } : {}),
        once: values.once,
      },
      io.env,
    );
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const line of err.problems) io.stderr.write(`rollgate run: ${line}\n`);
      return 1;
    }
    throw err;
  }
  // Secrets the configuration points at are blanked wherever they appear, besides the logger's own redaction of credential fields.
  const secrets = [config.auth?.tokenEnv, config.forge?.tokenEnv, config.webhooks.githubSecretEnv, config.webhooks.gitlabTokenEnv].flatMap((name) => (name !== undefined && io.env[name] !== undefined ? [io.env[name]] : []));
  const logger = createLogger({ level: config.logLevel as LogLevel, destination: io.stderr, secrets });
  try {
    return await runAgent({ config, logger, env: io.env, stopped: io.stopped });
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const line of err.problems) io.stderr.write(`rollgate run: ${line}\n`);
      return 1;
    }
    throw err;
  }
};
