/**
 * `createPlanFor`, the planner the pull-request reviewer is given, against
 * real repositories: the comment it produces is a function of what the plan
 * shows, not of the head commit, so a push that changes nothing the plan
 * shows leaves the sticky comment alone; a pull request's head is found
 * where the forges keep it (`refs/pull/N/head`, `refs/merge-requests/N/head`),
 * also when no branch holds it (a fork).
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import type { KubeObject } from '../../../agent/manifests/index.ts';
import { loadRepository } from '../../../agent/manifests/index.ts';
import { liveStateFrom } from '../../../agent/plan/live-state.ts';
import { createPlanFor } from '../../../agent/runtime/review.ts';
import { createTestRepository, startGitHttpServer, testGitEnv, type GitHttpServer, type TestRepository } from '../../helpers/git-server.ts';
import { statefulSetManifest } from '../../helpers/manifests.ts';
import { liveObjects } from '../../plan/helpers.ts';

const config = 'apiVersion: rollgate.dev/v1alpha1\nkind: Config\nclusters:\n  - name: sim\n    paths: [manifests]\n';
const web = (image: string): string => statefulSetManifest({ name: 'web', namespace: 'apps', image, replicas: 3 });

describe('createPlanFor: the plan of a pull request head', () => {
  let server: GitHttpServer;
  let repo: TestRepository;
  let base: string;
  let live: ReturnType<typeof liveStateFrom>;

  before(async () => {
    server = await startGitHttpServer();
    repo = await createTestRepository(server.root);
    await repo.write({ 'rollgate.yaml': config, 'manifests/web.yaml': web('example/web:1.0.0'), 'README.md': '# deploy\n' });
    base = await repo.commit('web 1.0.0');
    await repo.push();
    // The cluster runs what main says, its pods Running and Ready.
    const loaded = await loadRepository(repo.workDir);
    assert.equal(loaded.valid, true);
    live = liveStateFrom(new Map<string, readonly KubeObject[]>([['sim', liveObjects(loaded.targets.map((t) => t.object as unknown as Record<string, unknown>))]]));
    await repo.git(['checkout', '-q', '-b', 'feature']);
  });
  after(async () => {
    await server.close();
    await rm(repo.workDir, { recursive: true, force: true });
  });

  const planFor = (repoUrl: string) => createPlanFor({ repo: repoUrl, env: testGitEnv(), live: () => live, now: () => Date.parse('2026-11-20T10:00:00Z') });

  /** Commits on the feature branch and makes the commit a pull request's head (only), as a fork's pull request is. */
  async function head(files: Record<string, string>, message: string, ref: string): Promise<string> {
    await repo.write(files);
    const commit = await repo.commit(message);
    await repo.git(['push', '-q', repo.bareDir, `HEAD:${ref}`]);
    return commit;
  }

  it('gives the same comment for a head that changes nothing the plan shows, and names no commit in it', async () => {
    const first = await head({ 'manifests/web.yaml': web('example/web:1.1.0') }, 'web 1.1.0', 'refs/pull/1/head');
    const second = await head({ 'README.md': '# deploy\n\nweb 1.1.0 from now on.\n' }, 'readme', 'refs/pull/1/head');
    const plan = planFor(repo.bareDir);
    const a = await plan(first, ['manifests/web.yaml']);
    const b = await plan(second, ['manifests/web.yaml', 'README.md']);
    assert.deepEqual({ touches: a.touchesTargets, outcome: a.outcome, description: a.description }, { touches: true, outcome: 'success', description: '1 target change, 3 pod restarts' });
    assert.match(a.markdown, /\| 1 \| web \| 1\.0\.0 → 1\.1\.0 \| `web-2`, `web-1`, `web-0` \|/);
    // Before the fix the markdown carried "Desired state: `<head>`", so every push edited the sticky comment.
    assert.equal(b.markdown, a.markdown);
    for (const sha of [first, second]) {
      assert.ok(!a.markdown.includes(sha.slice(0, 12)), 'the head commit is not in the comment');
    }
    // A head whose plan does change gives another comment.
    const third = await head({ 'manifests/web.yaml': web('example/web:1.2.0') }, 'web 1.2.0', 'refs/pull/1/head');
    assert.notEqual((await plan(third, ['manifests/web.yaml', 'README.md'])).markdown, a.markdown);
    await repo.git(['reset', '-q', '--hard', base]);
  });

  it('says when a pull request touches no target, and reports invalid manifests with file:line as a failure', async () => {
    const plan = planFor(repo.bareDir);
    const readme = await head({ 'README.md': '# deploy\n\nonly words.\n' }, 'readme only', 'refs/pull/2/head');
    assert.deepEqual(await plan(readme, ['README.md']), { touchesTargets: false, markdown: '', outcome: 'success', description: 'no managed target changes' });
    const broken = await head({ 'manifests/web.yaml': web('example/web:1.1.0').replace('replicas: 3', 'replicas: three') }, 'broken', 'refs/pull/2/head');
    const result = await plan(broken, ['manifests/web.yaml']);
    assert.equal(result.outcome, 'failure');
    assert.equal(result.touchesTargets, true);
    assert.equal(result.description, '1 problem in the manifests');
    assert.match(result.markdown, /`manifests\/web\.yaml:7:\d+: /);
    await repo.git(['reset', '-q', '--hard', base]);
  });

  it('fetches a head only refs/pull/N/head or refs/merge-requests/N/head holds, over HTTP', async () => {
    const plan = planFor(server.repoUrl(repo.name));
    const github = await head({ 'manifests/web.yaml': web('example/web:1.3.0') }, 'web 1.3.0', 'refs/pull/3/head');
    assert.match((await plan(github, ['manifests/web.yaml'])).markdown, /1\.0\.0 → 1\.3\.0/);
    const gitlab = await head({ 'manifests/web.yaml': web('example/web:1.4.0') }, 'web 1.4.0', 'refs/merge-requests/4/head');
    assert.match((await plan(gitlab, ['manifests/web.yaml'])).markdown, /1\.0\.0 → 1\.4\.0/);
    await repo.git(['reset', '-q', '--hard', base]);
  });
});
