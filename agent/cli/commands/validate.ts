/**
 * `rollgate validate [--format text|json|github] [DIR]`: checks a rollgate
 * repository (default: the current directory) the way the agent reads it.
 * Exit 0 when it is valid; 1 with every problem listed, one
 * `file:line:col: message` per line; 2 when the command line is wrong.
 * Never prints a stack trace: problems in the repository are output, not
 * errors.
 */
import { isAbsolute, join, posix } from 'node:path';
import { parseArgs } from 'node:util';
import type { Command } from '../command.ts';
import { UsageError } from '../command.ts';
import {
  formatGithubAnnotation,
  formatProblemLine,
  loadRepository,
  problemFormats,
  RepositoryRootError,
  validationReport,
  type DisplayPath,
  type ProblemFormat,
} from '../../manifests/index.ts';

const usage = `usage: rollgate validate [--format text|json|github] [DIR]

Checks the rollgate repository in DIR (default: .): rollgate.yaml and every
manifest in its clusters' paths. Prints one "file:line:col: message" line per
problem and exits 1 if there are any, 0 if there are none.

options:
  -f, --format FORMAT  text (default), json, or github (workflow annotations)
  -h, --help           show this help
`;

function isFormat(value: string): value is ProblemFormat {
  return (problemFormats as readonly string[]).includes(value);
}

/** The `validate` command. */
export const validate: Command = async (argv, io) => {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { format: { type: 'string', short: 'f', default: 'text' }, help: { type: 'boolean', short: 'h', default: false } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(`${err instanceof Error ? err.message : String(err)}\n${usage}`);
  }
  if (parsed.values.help) {
    io.stdout.write(usage);
    return 0;
  }
  const format = parsed.values.format;
  if (!isFormat(format)) throw new UsageError(`unknown format "${format}"; use text, json or github`);
  if (parsed.positionals.length > 1) throw new UsageError(`one directory at a time, got ${parsed.positionals.length}\n${usage}`);
  const dir = parsed.positionals[0] ?? '.';

  let result;
  try {
    result = await loadRepository(isAbsolute(dir) ? dir : join(io.cwd, dir));
  } catch (err) {
    if (err instanceof RepositoryRootError) throw new UsageError(`${dir}: ${err.reason}`);
    throw err;
  }
  // Paths as the user would type them: relative to where they ran the command, like compilers print them.
  const display: DisplayPath = (file) => (dir === '.' || dir === './' ? file : posix.join(dir.split('\\').join('/'), file));

  if (format === 'json') {
    io.stdout.write(`${JSON.stringify(validationReport(result, display), null, 2)}\n`);
  } else {
    const line = format === 'github' ? formatGithubAnnotation : formatProblemLine;
    for (const problem of result.problems) io.stdout.write(`${line(problem, display)}\n`);
    const count = result.problems.length;
    if (count > 0) {
      io.stderr.write(`${count} problem${count === 1 ? '' : 's'} in ${dir}\n`);
    } else {
      const n = result.targets.length;
      io.stderr.write(`${dir}: valid, ${n} target${n === 1 ? '' : 's'} in ${result.clusters.length} cluster${result.clusters.length === 1 ? '' : 's'}\n`);
    }
  }
  return result.valid ? 0 : 1;
};
