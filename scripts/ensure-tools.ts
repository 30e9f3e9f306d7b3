/**
 * Makes sure the tools the test suite runs are on this machine before any
 * test starts: kubectl (the conformance suite drives the real one) and git.
 * On a fresh Debian machine, as root, it installs what is missing from
 * Debian's packages (`kubernetes-client`, `git`); otherwise it says exactly
 * what to install and fails, rather than letting tests skip.
 */
import { execFileSync, spawnSync } from 'node:child_process';

const required: { command: string; debianPackage: string }[] = [
  { command: 'kubectl', debianPackage: 'kubernetes-client' },
  { command: 'git', debianPackage: 'git' },
];

function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

const missing = required.filter((tool) => !onPath(tool.command));
if (missing.length > 0) {
  const packages = missing.map((t) => t.debianPackage);
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !onPath('apt-get')) {
    process.stderr.write(`missing tools: ${missing.map((t) => t.command).join(', ')}; install them first (Debian: apt-get install ${packages.join(' ')})\n`);
    process.exit(1);
  }
  process.stdout.write(`installing ${packages.join(', ')} from Debian's packages\n`);
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  const still = missing.filter((tool) => !onPath(tool.command));
  if (still.length > 0) {
    process.stderr.write(`still missing after install: ${still.map((t) => t.command).join(', ')}\n`);
    process.exit(1);
  }
}
