/**
 * The plan of a pull request's head commit against the live cluster, as the
 * pull-request reviewer asks for it: check the commit out, load it, plan the
 * targets its changes touch, and say whether it may be merged as it is.
 */
import { checkout } from '../cli/checkout.ts';
import { configFile, formatProblemLine, loadRepository, type Target } from '../manifests/index.ts';
import { createPlan, formatPlan, type LiveState } from '../plan/index.ts';

/** What the reviewer needs for one head commit (see agent/report/forge `PlanFor`). */
export interface PullRequestPlan {
  readonly touchesTargets: boolean;
  readonly markdown: string;
  readonly outcome: 'success' | 'failure';
  readonly description: string;
}

/** Options of {@link createPlanFor}. */
export interface PlanForOptions {
  /** The repository (URL or path), as the agent follows it. */
  readonly repo: string;
  /** git's environment, with credentials. */
  readonly env: NodeJS.ProcessEnv;
  /** The live state of the clusters. */
  readonly live: () => LiveState;
  /** Now, in ms: windows in the plan are worked out from it. */
  readonly now: () => number;
}

const isManifest = (path: string): boolean => /\.ya?ml$/i.test(path) || path === configFile;

/** The files a target is read from: its manifest, or its Helm release and values files. */
function filesOf(target: Target): string[] {
  return [target.position.file, ...(target.source.type === 'helm' ? target.source.valuesFiles : [])];
}

/** A `planFor` for the reviewer. Never throws for a bad repository: problems become the comment. */
export function createPlanFor(options: PlanForOptions): (headSha: string, changedFiles: readonly string[]) => Promise<PullRequestPlan> {
  return async (headSha, changedFiles) => {
    const changed = new Set(changedFiles);
    const snapshot = await checkout(options.repo, headSha, process.cwd(), options.env);
    try {
      const result = await loadRepository(snapshot.dir);
      if (!result.valid) {
        const lines = result.problems.map((p) => `- \`${formatProblemLine(p)}\``);
        return {
          touchesTargets: changedFiles.some(isManifest),
          markdown: `### rollgate: this change does not validate\n\n${result.problems.length} problem${result.problems.length === 1 ? '' : 's'}; nothing of it would be rolled out until they are fixed:\n\n${lines.join('\n')}\n`,
          outcome: 'failure',
          description: `${result.problems.length} problem${result.problems.length === 1 ? '' : 's'} in the manifests`,
        };
      }
      const everything = changed.has(configFile);
      const touched = result.targets.filter((t) => everything || filesOf(t).some((f) => changed.has(f)));
      if (touched.length === 0) return { touchesTargets: false, markdown: '', outcome: 'success', description: 'no managed target changes' };
      // No `source`: the markdown would then name the head commit, so every push (a README fix too) would
      // change the comment and the reviewer would edit it, when only the plan's content should. The head's
      // commit status already ties the plan to its commit.
      const plan = createPlan({ targets: touched, live: options.live(), now: options.now() });
      const refused = plan.summary.refused;
      return {
        touchesTargets: true,
        markdown: formatPlan(plan, 'markdown'),
        outcome: refused > 0 ? 'failure' : 'success',
        description: refused > 0 ? `${refused} target${refused === 1 ? '' : 's'} refused` : `${plan.summary.changed} target${plan.summary.changed === 1 ? '' : 's'} change, ${plan.summary.restarts} pod restart${plan.summary.restarts === 1 ? '' : 's'}`,
      };
    } finally {
      await snapshot.cleanup();
    }
  };
}
