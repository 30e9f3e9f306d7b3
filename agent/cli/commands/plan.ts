/**
 * `rollgate plan --repo DIR|URL [--ref REF] [--kubeconfig FILE] [--context NAME] [--format text|markdown|json]`:
 * the plan of a repository against its live clusters. Exit 0 with the plan;
 * 3 when the plan refuses a change (a downgrade without policy, an immutable
 * field); 1 when the repository is invalid or a cluster cannot be read; 2
 * when the command line is wrong.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { isAbsolute, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Command } from '../command.ts';
import { UsageError } from '../command.ts';
import { checkout, CheckoutError } from '../checkout.ts';
import { ClusterReadError, readClusters } from '../../live/read-once.ts';
import { formatProblemLine, loadRepository, RepositoryRootError } from '../../manifests/index.ts';
import { createPlan, formatPlan, liveStateFrom, planFormats, type PlanFormat } from '../../plan/index.ts';

const usage = `usage: rollgate plan --repo DIR|URL [--ref REF] [--kubeconfig FILE] [--context NAME] [--format text|markdown|json]

Plans what rollgate would do to bring the clusters of the repository to the
state in Git: which targets change, the stages and the pods in the order they
restart, the gates between them, and warnings. Changes nothing.

Each cluster of rollgate.yaml is read through the kubeconfig context of its
name. --context NAME plans only the cluster NAME; in a repository with one
cluster, a NAME that is no cluster's name is the context to read it through.

options:
  --repo DIR|URL       the repository (default: .)
  --ref REF            a branch, tag or commit (default: the directory as it is, or the remote's HEAD)
  --kubeconfig FILE    default: $KUBECONFIG, then ~/.kube/config
  --context NAME       see above
  -f, --format FORMAT  text (default), markdown (for pull requests) or json
  -h, --help           show this help

exit status: 0 planned; 3 a change is refused; 1 error; 2 usage error
`;

function isFormat(value: string): value is PlanFormat {
  return (planFormats as readonly string[]).includes(value);
}

/** The `plan` command. */
export const plan: Command = async (argv, io) => {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        repo: { type: 'string', default: '.' },
        ref: { type: 'string' },
        kubeconfig: { type: 'string' },
        context: { type: 'string' },
        format: { type: 'string', short: 'f', default: 'text' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: false,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(`${err instanceof Error ? err.message : String(err)}\n${usage}`);
  }
  const { values } = parsed;
  if (values.help) {
    io.stdout.write(usage);
    return 0;
  }
  if (!isFormat(values.format)) throw new UsageError(`unknown format "${values.format}"; use text, markdown or json`);
  const format = values.format;

  let snapshot;
  try {
    snapshot = await checkout(values.repo, values.ref, io.cwd, io.env);
  } catch (err) {
    if (err instanceof CheckoutError) {
      io.stderr.write(`rollgate plan: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  try {
    let result;
    try {
      result = await loadRepository(snapshot.dir);
    } catch (err) {
      if (err instanceof RepositoryRootError) throw new UsageError(`${values.repo}: ${err.reason}`);
      throw err;
    }
    if (!result.valid) {
      for (const problem of result.problems) io.stdout.write(`${formatProblemLine(problem)}\n`);
      io.stderr.write(`rollgate plan: ${values.repo} is not a valid rollgate repository (${result.problems.length} problem${result.problems.length === 1 ? '' : 's'}); nothing was planned\n`);
      return 1;
    }
    let targets = result.targets;
    const contexts = new Map<string, string>();
    if (values.context !== undefined) {
      const named = result.clusters.find((c) => c === values.context);
      if (named !== undefined) targets = targets.filter((t) => t.cluster === named);
      else if (result.clusters.length === 1 && result.clusters[0] !== undefined) contexts.set(result.clusters[0], values.context);
      else throw new UsageError(`--context ${values.context} names no cluster of rollgate.yaml (${result.clusters.join(', ')})`);
    }
    const kubeConfig = new KubeConfig();
    const kubeconfigPath = values.kubeconfig !== undefined ? (isAbsolute(values.kubeconfig) ? values.kubeconfig : join(io.cwd, values.kubeconfig)) : undefined;
    try {
      if (kubeconfigPath !== undefined) kubeConfig.loadFromFile(kubeconfigPath);
      else if (io.env['KUBECONFIG'] !== undefined && io.env['KUBECONFIG'] !== '') kubeConfig.loadFromFile(io.env['KUBECONFIG'].split(':')[0] ?? '');
      else kubeConfig.loadFromDefault();
    } catch (err) {
      io.stderr.write(`rollgate plan: cannot read the kubeconfig ${kubeconfigPath ?? io.env['KUBECONFIG'] ?? ''}: ${err instanceof Error ? err.message : String(err)}\n`);
      return 1;
    }
    let objects;
    try {
      objects = await readClusters(kubeConfig, targets, contexts);
    } catch (err) {
      if (err instanceof ClusterReadError) {
        io.stderr.write(`rollgate plan: ${err.message}\n`);
        return 1;
      }
      throw err;
    }
    const planned = createPlan({ targets, live: liveStateFrom(objects), now: Date.now(), ...(snapshot.commit !== undefined ? { source: snapshot.commit } : {}) });
    io.stdout.write(formatPlan(planned, format));
    if (planned.summary.refused > 0) {
      io.stderr.write(`rollgate plan: ${planned.summary.refused} target${planned.summary.refused === 1 ? '' : 's'} refused; see the plan\n`);
      return 3;
    }
    return 0;
  } finally {
    await snapshot.cleanup();
  }
};
