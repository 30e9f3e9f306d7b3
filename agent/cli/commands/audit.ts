/**
 * `rollgate audit --repo DIR|URL [--branch B] [--format table|json]`: who
 * changed which desired version when (author, date, signature), and what
 * each rollout of that commit did (start, duration, outcome, halts with
 * their reasons), from the repository's history and rollgate's status
 * commits. Exit 0 with the report; 1 with one line when the repository
 * cannot be audited; 2 when the command line is wrong. Never a stack trace.
 */
import { parseArgs } from 'node:util';
import type { Command } from '../command.ts';
import { UsageError } from '../command.ts';
import { AuditError, formatAuditTable, runAudit } from '../../report/audit/index.ts';
import { GitError } from '../../report/git/exec.ts';

const usage = `usage: rollgate audit --repo DIR|URL [--branch BRANCH] [--format table|json]

Walks the history of the tracked branch (default: the repository's HEAD
branch, else main) and reports, per target, every commit that changed its
desired versions (author, date, signature, from → to) joined with the
rollouts rollgate recorded for that commit (started, duration, outcome,
halts and why).

options:
  -r, --repo DIR|URL   the rollgate repository (required)
  -b, --branch BRANCH  the tracked branch
  -f, --format FORMAT  table (default) or json
  -h, --help           show this help
`;

/** The `audit` command. */
export const audit: Command = async (argv, io) => {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        repo: { type: 'string', short: 'r' },
        branch: { type: 'string', short: 'b' },
        format: { type: 'string', short: 'f', default: 'table' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: false,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(`${err instanceof Error ? err.message : String(err)}\n${usage}`);
  }
  if (parsed.values.help) {
    io.stdout.write(usage);
    return 0;
  }
  const { repo, branch, format } = parsed.values;
  if (repo === undefined || repo === '') throw new UsageError(`--repo is required\n${usage}`);
  if (format !== 'table' && format !== 'json') throw new UsageError(`unknown format "${format}"; use table or json`);
  if (branch !== undefined && (branch === '' || branch.startsWith('-'))) throw new UsageError(`--branch ${JSON.stringify(branch)} is not a branch name`);

  try {
    const { report } = await runAudit({ repo, cwd: io.cwd, env: io.env, ...(branch !== undefined ? { branch } : {}) });
    io.stdout.write(format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : formatAuditTable(report));
    return 0;
  } catch (err) {
    // Both carry messages fit for people, with credentials removed.
    if (err instanceof AuditError || err instanceof GitError) {
      io.stderr.write(`rollgate audit: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
};

/** The `audit` command, under the name the lead registers. */
export const auditCommand: Command = audit;
