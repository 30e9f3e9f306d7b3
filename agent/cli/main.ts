/**
 * `rollgate` entry point: picks the subcommand, wires process signals and
 * streams into it, and turns any error into a one-line message (never a stack
 * trace) and an exit code.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command, CommandIO } from './command.ts';
import { UsageError } from './command.ts';

const commands: Record<string, { summary: string; load: () => Promise<Command> }> = {
  demo: { summary: 'see rollgate upgrade a simulated TiDB cluster from a Git push, end to end', load: async () => (await import('./commands/demo.ts')).demo },
  audit: { summary: 'who changed which version when, and what each rollout did', load: async () => (await import('./commands/audit.ts')).audit },
  sim: { summary: 'serve kube-sim, a simulated Kubernetes API server', load: async () => (await import('./commands/sim.ts')).sim },
  run: { summary: 'the agent: follow a repository and roll every change out, staged and gated', load: async () => (await import('./commands/run.ts')).run },
  plan: { summary: 'show the staged upgrade plan of a repository against its live clusters', load: async () => (await import('./commands/plan.ts')).plan },
  validate: { summary: 'check a rollgate repository; one file:line:col: message per problem', load: async () => (await import('./commands/validate.ts')).validate },
};

function usage(): string {
  const lines = ['usage: rollgate <command> [options]', '', 'commands:'];
  for (const [name, { summary }] of Object.entries(commands)) lines.push(`  ${name.padEnd(10)} ${summary}`);
  return lines.join('\n') + '\n';
}

/** Runs one invocation of the CLI and returns its exit code. */
export async function main(argv: readonly string[], io: CommandIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const entry = commands[name];
  if (!entry) {
    io.stderr.write(`rollgate: unknown command "${name}"\n${usage()}`);
    return 2;
  }
  try {
    const command = await entry.load();
    return await command(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`rollgate ${name}: ${err.message}\n`);
      return 2;
    }
    const message = err instanceof Error ? err.message : String(err);
    io.stderr.write(`rollgate ${name}: error: ${message}\n`);
    return 1;
  }
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  const self = fileURLToPath(import.meta.url);
  try {
    const target = realpathSync(script);
    return target === self || target.endsWith('/bin/rollgate.js');
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const stopped = new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  const io: CommandIO = { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd(), stopped };
  main(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`rollgate: ${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
