/**
 * `rollgate demo`: kube-sim, a local Git remote made from examples-repo/,
 * the agent, a pushed version bump of the staging TidbCluster, the plan,
 * the staged upgrade live, then the status branch and the audit table.
 * No flags needed; exits 0 when the upgrade succeeded.
 */
import { parseArgs } from 'node:util';
import { runDemo } from '../../demo/run.ts';
import type { Command } from '../command.ts';
import { UsageError } from '../command.ts';

const usage = `usage: rollgate demo [--time-scale X]

Shows rollgate end to end on a simulated cluster, offline, in under two
minutes, and leaves nothing running.

options:
      --time-scale X  simulated seconds per wall second (default 20)
  -h, --help          show this help
`;

/** The `demo` command. */
export const demo: Command = async (argv, io) => {
  let values;
  try {
    ({ values } = parseArgs({ args: [...argv], options: { 'time-scale': { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } }, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new UsageError(`${err instanceof Error ? err.message : String(err)}\n${usage}`);
  }
  if (values.help) {
    io.stdout.write(usage);
    return 0;
  }
  const scale = values['time-scale'] === undefined ? 20 : Number(values['time-scale']);
  if (!Number.isFinite(scale) || scale < 1 || scale > 1_000) throw new UsageError(`--time-scale must be a number from 1 to 1000, got "${values['time-scale'] ?? ''}"\n${usage}`);
  const tty = (io.stdout as NodeJS.WriteStream).isTTY === true && io.env['CI'] !== 'true';
  return runDemo({ out: io.stdout, err: io.stderr, tty, env: io.env, stopped: io.stopped, timeScale: scale });
};
