/**
 * One pull request through the whole agent, per forge (issue 8): the real
 * `runAgent` in-process with its configuration from `loadAgentConfig`,
 * kube-sim with a StatefulSet whose rollout waits for an approval comment,
 * a real Git server with the pull request's head ref, and a fake forge that
 * answers like GitHub's (then GitLab's) REST API for exactly the requests
 * each step expects, driven by signed (or token-carrying) webhooks:
 *
 * 1. opened: one sticky plan comment, `rollgate/plan` pending then success;
 * 2. pushed to twice: the plan changes once (one edit), then only a README
 *    changes (no edit, no second comment; statuses on the new head still);
 * 3. merged: the rollout starts, reports in the same pull request and waits
 *    at the approval gate with no pod touched. The forges do not order the
 *    push and pull-request webhooks of a merge, so GitHub's scenario sends
 *    the pull request's first and GitLab's the push first, while the forge
 *    does not yet link the merge commit to its merge request;
 * 4. a reader's `/rollgate approve` is answered and changes nothing; a
 *    writer's lets the rollout finish, `rollgate/rollout` ends `success`;
 * 5. every expected request was made, nothing else, no comment duplicated.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runAgent } from '../../agent/main.ts';
import { loadRepository } from '../../agent/manifests/index.ts';
import { loadAgentConfig } from '../../agent/runtime/config.ts';
import { createTestRepository, run, startGitHttpServer, testGitEnv, type GitHttpServer, type TestRepository } from '../helpers/git-server.ts';
import { statefulSetManifest } from '../helpers/manifests.ts';
import { memoryLogger } from '../helpers/memory-logger.ts';
import { eventually } from '../helpers/sim.ts';
import { startFakeForge, type Expectation, type FakeForge, type RecordedRequest } from '../report/forge/fake-forge.ts';
import { addComment, forgeModel, github, gitlab, type ForgeModel } from '../report/forge/forge-models.ts';
import { startControllerFixture, type ControllerFixture } from '../sim/controllers/helpers.ts';
import { fixture, postGitHub, postGitLab, setField } from '../webhook/helpers.ts';

const forgeToken = 'forge-token-9c41e7d2a0b35f68';
const gitToken = 'git-token-5e2b7c90d1f4a836';
const hookSecret = 'hook-secret-3e8b1f07c6d94a25';
const pr = 7;
const target = 'sim/apps/StatefulSet/web';

const rollgateYaml = `apiVersion: rollgate.dev/v1alpha1
kind: Config
clusters:
  - name: sim
    paths: [manifests]
defaults:
  gates:
    - approval: {comment: true}
    - podReady: {}
    - rolloutStatus: {}
`;
const web = (image: string): string => statefulSetManifest({ name: 'web', namespace: 'apps', image, replicas: 3 });

/** What differs between the forges: where the requests go, how statuses are named, what the webhooks look like. */
interface Dialect {
  readonly kind: 'github' | 'gitlab';
  /** Whether the merge's push webhook arrives before the pull request's (the forge then does not link the merge commit yet). */
  readonly pushFirst: boolean;
  /** The ref the forge keeps a pull request's head under. */
  headRef(number: number): string;
  /** The stored state of a neutral `pending` (GitLab says `running`). */
  readonly pending: string;
  /** Expectations, as the forge's routes. */
  listOpen(times?: Expectation['times']): Expectation;
  files(number: number, files: string[]): Expectation;
  listComments(m: ForgeModel, number: number, times?: Expectation['times']): Expectation;
  createComment(m: ForgeModel, number: number, check: (body: string) => void): Expectation;
  editComment(m: ForgeModel, number: number, times?: Expectation['times']): Expectation;
  /** Whether `request` edits comment `id`. */
  edits(request: RecordedRequest, id: number): boolean;
  readStatuses(m: ForgeModel, sha: string, times?: Expectation['times']): Expectation;
  writeStatus(m: ForgeModel, sha: string, times?: Expectation['times']): Expectation;
  permission(user: string, may: 'read' | 'write'): Expectation;
  /** The pull requests of commit `sha`, before the forge has linked it to its merge: none. */
  unlinked(sha: string): Expectation;
  /** Webhooks, posted to the agent at `base` (its ops server URL). */
  opened(base: string, head: string): Promise<Response>;
  synchronized(base: string, before: string, head: string): Promise<Response>;
  merged(base: string, head: string, merge: string): Promise<Response>;
  pushed(base: string, before: string, after: string): Promise<Response>;
  commented(base: string, id: number, author: string, body: string): Promise<Response>;
}

const githubDialect: Dialect = {
  kind: 'github',
  pushFirst: false,
  headRef: (number) => `refs/pull/${number}/head`,
  pending: 'pending',
  listOpen: (times) => github.listPulls([], 'main', times),
  files: (number, files) => github.listFiles(number, files),
  listComments: (m, number, times) => github.listComments(m, number, times),
  createComment: (m, number, check) => github.createComment(m, number, 1, check),
  editComment: (m, _number, times) => github.updateComment(m, times),
  edits: (r, id) => r.method === 'PATCH' && r.path === `/repos/acme/db/issues/comments/${id}`,
  readStatuses: (m, sha, times) => github.combinedStatus(m, sha, times),
  writeStatus: (m, sha, times) => github.createStatus(m, sha, times),
  permission: (user, may) => github.permission(user, may),
  unlinked: (sha) => github.commitPulls(sha, []),
  opened: (base, head) => postGitHub(`${base}/webhooks`, { event: 'pull_request', secret: hookSecret, body: githubPull('opened', head) }),
  synchronized: (base, _before, head) => postGitHub(`${base}/webhooks`, { event: 'pull_request', secret: hookSecret, body: githubPull('synchronize', head) }),
  merged: (base, head, merge) => {
    const body = githubPull('closed', head, 'github/pull_request.closed-merged');
    setField(body, 'pull_request.merge_commit_sha', merge);
    return postGitHub(`${base}/webhooks`, { event: 'pull_request', secret: hookSecret, body });
  },
  pushed: (base, before, after) => {
    const body = setField(setField(setField(fixture('github/push'), 'repository.full_name', 'acme/db'), 'before', before), 'after', after);
    setField(body, 'head_commit.id', after);
    return postGitHub(`${base}/webhooks`, { event: 'push', secret: hookSecret, body });
  },
  commented: (base, id, author, text) => {
    const body = fixture('github/issue_comment.created-on-pr');
    for (const [path, value] of Object.entries({ 'repository.full_name': 'acme/db', 'issue.number': pr, 'comment.id': id, 'comment.user.login': author, 'comment.body': text })) setField(body, path, value);
    return postGitHub(`${base}/webhooks`, { event: 'issue_comment', secret: hookSecret, body });
  },
};

/** A `pull_request` delivery for pull request 7 of acme/db at `head`. */
function githubPull(action: string, head: string, name = 'github/pull_request.opened'): Record<string, unknown> {
  const body = fixture(name);
  for (const [path, value] of Object.entries({ action, number: pr, 'pull_request.number': pr, 'pull_request.head.sha': head, 'pull_request.base.ref': 'main', 'repository.full_name': 'acme/db' })) setField(body, path, value);
  return body;
}

const gitlabDialect: Dialect = {
  kind: 'gitlab',
  pushFirst: true,
  headRef: (number) => `refs/merge-requests/${number}/head`,
  pending: 'running',
  listOpen: (times) => gitlab.listMergeRequests([], 'main', times),
  files: (number, files) => gitlab.diffs(number, files),
  listComments: (m, number, times) => gitlab.listNotes(m, number, times),
  createComment: (m, number, check) => gitlab.createNote(m, number, 1, check),
  editComment: (m, number, times) => gitlab.editNote(m, number, times),
  edits: (r, id) => r.method === 'PUT' && r.path.endsWith(`/notes/${id}`),
  readStatuses: (m, sha, times) => gitlab.listStatuses(m, sha, times),
  writeStatus: (m, sha, times) => gitlab.postStatus(m, sha, times),
  // Reporter (20) may read; Developer (30) may push.
  permission: (user, may) => gitlab.members(user, may === 'write' ? 30 : 20),
  unlinked: (sha) => gitlab.commitMergeRequests(sha, []),
  opened: (base, head) => postGitLab(`${base}/webhooks`, { event: 'Merge Request Hook', token: hookSecret, body: gitlabMergeRequest('open', head) }),
  synchronized: (base, before, head) => postGitLab(`${base}/webhooks`, { event: 'Merge Request Hook', token: hookSecret, body: setField(gitlabMergeRequest('update', head), 'object_attributes.oldrev', before) }),
  merged: (base, head, merge) => postGitLab(`${base}/webhooks`, { event: 'Merge Request Hook', token: hookSecret, body: setField(gitlabMergeRequest('merge', head, 'gitlab/merge_request.merge'), 'object_attributes.merge_commit_sha', merge) }),
  pushed: (base, before, after) => {
    const body = fixture('gitlab/push');
    for (const [path, value] of Object.entries({ 'project.path_with_namespace': 'acme/db', before, after, checkout_sha: after })) setField(body, path, value);
    return postGitLab(`${base}/webhooks`, { event: 'Push Hook', token: hookSecret, body });
  },
  commented: (base, id, author, text) => {
    const body = fixture('gitlab/note.merge_request');
    for (const [path, value] of Object.entries({ 'project.path_with_namespace': 'acme/db', 'object_attributes.id': id, 'object_attributes.note': text, 'user.username': author, 'merge_request.iid': pr })) setField(body, path, value);
    return postGitLab(`${base}/webhooks`, { event: 'Note Hook', token: hookSecret, body });
  },
};

/** A `Merge Request Hook` delivery for merge request !7 of acme/db at `head`. */
function gitlabMergeRequest(action: string, head: string, name = 'gitlab/merge_request.open'): Record<string, unknown> {
  const body = fixture(name);
  for (const [path, value] of Object.entries({ 'object_attributes.action': action, 'object_attributes.iid': pr, 'object_attributes.last_commit.id': head, 'object_attributes.target_branch': 'main', 'project.path_with_namespace': 'acme/db' })) setField(body, path, value);
  return body;
}

/** The scenario, for one forge. */
function pullRequestFlow(dialect: Dialect): void {
  let f: ControllerFixture;
  let server: GitHttpServer;
  let repo: TestRepository;
  let fake: FakeForge;
  let root: string;
  let agentUrl: string;
  let stop: () => void = () => undefined;
  let agentExit: Promise<number> | undefined;
  const log = memoryLogger();
  const m = forgeModel();
  /** Every request of the finished steps: `verify()` forgets them. */
  const seen: RecordedRequest[] = [];
  let base = '';
  const heads: string[] = [];
  let merge = '';
  let planCommentId = 0;
  let beforeApproval = 0;

  /** Records the step's requests, then checks that it made exactly the expected ones. */
  const verifyStep = (): void => {
    seen.push(...fake.requests);
    fake.verify();
  };
  const statesOf = (sha: string, context: string): string[] => (m.statuses.get(sha) ?? []).filter((s) => s.context === context).map((s) => s.state);
  const commentsOf = (marker: RegExp) => (m.comments.get(pr) ?? []).filter((c) => marker.test(c.body));
  const changedFiles = async (head: string): Promise<string[]> => (await repo.git(['diff', '--name-only', `${base}...${head}`])).trim().split('\n').filter((l) => l !== '');
  /** Commits on the pull request's branch and pushes its head ref, as the forge keeps it. */
  const pushHead = async (files: Record<string, string>, message: string): Promise<string> => {
    await repo.write(files);
    const head = await repo.commit(message);
    await repo.git(['push', '-q', repo.bareDir, `HEAD:${dialect.headRef(pr)}`]);
    heads.push(head);
    return head;
  };
  const podImages = async (): Promise<string[]> => (await f.ok(['--context', 'sim', 'get', 'pods', '-n', 'apps', '-o', 'jsonpath={range .items[*]}{.spec.containers[0].image} {end}'])).trim().split(' ').sort();
  const accepted = (response: Response): void => assert.equal(response.status, 202, `webhook answered ${response.status}`);

  before(async () => {
    f = await startControllerFixture({ clusters: ['sim'] });
    // The Git server wants a token: the agent fetches pull-request heads for their plans with its own credentials.
    server = await startGitHttpServer({ auth: { type: 'bearer', token: gitToken } });
    root = await mkdtemp(join(tmpdir(), `rollgate-pr-flow-${dialect.kind}-`));
    repo = await createTestRepository(server.root);
    // The status reporter pushes rollgate/status over HTTP; http-backend takes pushes only when told to.
    await run('git', ['--git-dir', repo.bareDir, 'config', 'http.receivepack', 'true']);
    await repo.write({ 'rollgate.yaml': rollgateYaml, 'manifests/ns.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n', 'manifests/web.yaml': web('example/web:v1'), 'README.md': '# deploy\n' });
    base = await repo.commit('web v1');
    await repo.push();
    const installed = await loadRepository(repo.workDir);
    assert.deepEqual(f.sim.load('sim', [...installed.resources.map((r) => r.object), ...installed.targets.map((t) => t.object)] as never).errors, []);
    await f.ok(['--context', 'sim', 'rollout', 'status', 'sts/web', '-n', 'apps', '--timeout=30s']);

    fake = await startFakeForge();
    const configFile = join(root, 'agent.yaml');
    const webhooks = dialect.kind === 'github' ? 'githubSecretEnv: HOOK_SECRET' : 'gitlabTokenEnv: HOOK_SECRET';
    await writeFile(
      configFile,
      `apiVersion: rollgate.dev/v1alpha1\nkind: AgentConfig\nrepo: ${server.repoUrl()}\nbranch: main\ninterval: 1h\ndataDir: ${join(root, 'data')}\nkubeconfig: ${f.kubeconfigPath}\nlisten: 127.0.0.1:0\nwebhooks:\n  ${webhooks}\nforge:\n  type: ${dialect.kind}\n  repository: acme/db\n  baseUrl: ${fake.url}\n  tokenEnv: FORGE_TOKEN\nauth:\n  tokenEnv: GIT_TOKEN\n`,
    );
    const env = { ...testGitEnv(), FORGE_TOKEN: forgeToken, HOOK_SECRET: hookSecret, GIT_TOKEN: gitToken };
    const config = await loadAgentConfig({ config: configFile }, env);

    // Starting: one reconcile (the cluster matches Git), then one look for open pull requests (none yet).
    fake.expect(dialect.listOpen());
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    agentExit = runAgent({ config, logger: log.logger, env, stopped });
    agentUrl = await eventually(() => {
      const url = log.lines().find((l) => l.msg === 'ops server listening')?.['url'];
      assert.equal(typeof url, 'string');
      return url as string;
    });
    await eventually(async () => assert.equal((await fetch(`${agentUrl}/readyz`)).status, 200), 30_000);
    await eventually(() => assert.equal(fake.requests.length, 1));
    verifyStep();
  });

  after(async () => {
    stop();
    await agentExit?.catch(() => undefined);
    await fake?.close();
    await f?.close();
    await server?.close();
    if (repo !== undefined) await rm(repo.workDir, { recursive: true, force: true });
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  it('opened: posts one sticky plan comment and rollgate/plan pending, then success, on the head', async () => {
    await repo.git(['checkout', '-q', '-b', 'upgrade-web']);
    const head = await pushHead({ 'manifests/web.yaml': web('example/web:v2') }, 'web v2');
    fake.expect(
      dialect.files(pr, await changedFiles(head)),
      dialect.readStatuses(m, head, 2),
      dialect.writeStatus(m, head, 2),
      dialect.listComments(m, pr),
      dialect.createComment(m, pr, (body) => {
        assert.match(body, /^<!-- rollgate:plan sha256:[0-9a-f]{16} -->\n### rollgate plan\n/);
        assert.match(body, /v1 → v2/);
      }),
    );
    accepted(await dialect.opened(agentUrl, head));
    await eventually(() => assert.deepEqual(statesOf(head, 'rollgate/plan'), [dialect.pending, 'success']), 30_000);
    verifyStep();
    const plan = commentsOf(/<!-- rollgate:plan /);
    assert.equal(plan.length, 1);
    planCommentId = plan[0]?.id ?? 0;
    assert.match(plan[0]?.body ?? '', /`web-2`, `web-1`, `web-0`/, 'pods in restart order');
  });

  it('pushed to: a changed plan edits the comment once; a README change leaves it alone', async () => {
    const second = await pushHead({ 'manifests/web.yaml': web('example/web:v3') }, 'web v3 instead');
    fake.expect(dialect.files(pr, await changedFiles(second)), dialect.readStatuses(m, second, 2), dialect.writeStatus(m, second, 2), dialect.listComments(m, pr), dialect.editComment(m, pr, 1));
    accepted(await dialect.synchronized(agentUrl, heads[0] ?? '', second));
    await eventually(() => assert.deepEqual(statesOf(second, 'rollgate/plan'), [dialect.pending, 'success']), 30_000);
    verifyStep();
    assert.match(commentsOf(/<!-- rollgate:plan /)[0]?.body ?? '', /v1 → v3/);

    const third = await pushHead({ 'README.md': '# deploy\n\nweb runs v3 from now on.\n' }, 'readme');
    const files = await changedFiles(third);
    assert.deepEqual(files.sort(), ['README.md', 'manifests/web.yaml']);
    // The plan is the same: statuses on the new head, no comment request at all.
    fake.expect(dialect.files(pr, files), dialect.readStatuses(m, third, 2), dialect.writeStatus(m, third, 2));
    accepted(await dialect.synchronized(agentUrl, second, third));
    await eventually(() => assert.deepEqual(statesOf(third, 'rollgate/plan'), [dialect.pending, 'success']), 30_000);
    verifyStep();
    assert.equal(commentsOf(/<!-- rollgate:plan /).length, 1, 'one plan comment');
    assert.equal(seen.filter((r) => dialect.edits(r, planCommentId)).length, 1, 'the plan comment was edited exactly once');
  });

  it('merged: the rollout starts, reports in the same pull request, and waits at the approval gate', async () => {
    const head = heads.at(-1) ?? '';
    await repo.git(['checkout', '-q', 'main']);
    await repo.git(['merge', '-q', '--no-ff', '-m', `Merge pull request #${pr} from acme/upgrade-web`, 'upgrade-web']);
    merge = (await repo.git(['rev-parse', 'HEAD'])).trim();
    await repo.push();

    const since = f.sim.runtime('sim').events.lastSeq;
    const rolloutComment = dialect.createComment(m, pr, (body) => {
      assert.match(body, /^<!-- rollgate:rollout sha256:[0-9a-f]{16} -->\n/);
      assert.match(body, /Waiting/);
      assert.match(body, /Comment `\/rollgate approve sim\/apps\/StatefulSet\/web`/);
    });
    const pullRequestEvents = async (n: number): Promise<void> => {
      await eventually(async () => assert.match(await (await fetch(`${agentUrl}/metrics`)).text(), new RegExp(`rollgate_webhook_deliveries_total\\{forge="${dialect.kind}",result="pull_request"\\} ${n}`)));
    };
    if (dialect.pushFirst) {
      // The push first, and the forge does not link the merge commit yet: the rollout waits, only the status says so.
      fake.expect(dialect.unlinked(merge), dialect.readStatuses(m, merge), dialect.writeStatus(m, merge));
      accepted(await dialect.pushed(agentUrl, base, merge));
      await eventually(() => assert.deepEqual(statesOf(merge, 'rollgate/rollout'), [dialect.pending]), 30_000);
      verifyStep();
      assert.equal(commentsOf(/<!-- rollgate:rollout /).length, 0);
      // The merge request's event names the merge commit: the waiting rollout's comment follows without a new transition.
      fake.expect(dialect.listComments(m, pr), rolloutComment);
      accepted(await dialect.merged(agentUrl, head, merge));
      await pullRequestEvents(4);
      await eventually(() => assert.equal(commentsOf(/<!-- rollgate:rollout /).length, 1), 30_000);
      verifyStep();
    } else {
      // The pull request's event first, as the forge sends it when the merge button is pressed: the agent learns the merge commit from it.
      accepted(await dialect.merged(agentUrl, head, merge));
      await pullRequestEvents(4);
      verifyStep();
      // Then the push: the thread is read once for approvals before the gate, once for the rollout comment.
      fake.expect(dialect.listComments(m, pr, 2), rolloutComment, dialect.readStatuses(m, merge), dialect.writeStatus(m, merge));
      accepted(await dialect.pushed(agentUrl, base, merge));
      await eventually(() => assert.deepEqual(statesOf(merge, 'rollgate/rollout'), [dialect.pending]), 30_000);
      verifyStep();
    }
    const status = (m.statuses.get(merge) ?? []).at(-1);
    assert.equal(status?.description, `Waiting: ${target} for approval`);
    assert.equal(commentsOf(/<!-- rollgate:rollout /).length, 1);
    // Nothing moved: the template is v1 and no pod was touched since the merge.
    assert.equal((await f.ok(['--context', 'sim', 'get', 'sts', 'web', '-n', 'apps', '-o', 'jsonpath={.spec.template.spec.containers[0].image}'])).trim(), 'example/web:v1');
    assert.deepEqual(f.sim.runtime('sim').events.list({ since, kind: 'Pod', namespace: 'apps', types: ['PodTerminating', 'PodCreated'] }), []);
  });

  it('a reader\'s /rollgate approve is answered and changes nothing; a writer\'s lets the rollout finish', async () => {
    const reader = addComment(m, pr, 'bob', '/rollgate approve');
    fake.expect(
      // A thread the approvals never read (the forge did not link the merge commit when the gate asked) is read first.
      ...(dialect.pushFirst ? [dialect.listComments(m, pr)] : []),
      dialect.permission('bob', 'read'),
      dialect.createComment(m, pr, (body) => {
        assert.match(body, /^<!-- rollgate:reply:\d+ sha256:[0-9a-f]{16} -->\n@bob `\/rollgate approve` was ignored: only people with write permission on acme\/db/);
      }),
    );
    accepted(await dialect.commented(agentUrl, reader, 'bob', '/rollgate approve'));
    await eventually(() => assert.equal(commentsOf(/<!-- rollgate:reply:/).length, 1));
    verifyStep();
    assert.deepEqual(statesOf(merge, 'rollgate/rollout'), [dialect.pending], 'still waiting');
    assert.deepEqual(await podImages(), ['example/web:v1', 'example/web:v1', 'example/web:v1']);

    beforeApproval = f.sim.runtime('sim').events.lastSeq;
    const writer = addComment(m, pr, 'alice', '/rollgate approve');
    fake.expect(
      dialect.permission('alice', 'write'),
      // Each progress write reads the thread and the statuses; how many there are depends on how transitions coalesce.
      dialect.listComments(m, pr, 'any'),
      dialect.editComment(m, pr, 'any'),
      dialect.readStatuses(m, merge, 'any'),
      dialect.writeStatus(m, merge, 'any'),
    );
    accepted(await dialect.commented(agentUrl, writer, 'alice', '/rollgate approve'));
    await eventually(() => assert.equal(statesOf(merge, 'rollgate/rollout').at(-1), 'success'), 60_000);
    verifyStep();
    assert.deepEqual(await podImages(), ['example/web:v3', 'example/web:v3', 'example/web:v3']);
    const states = statesOf(merge, 'rollgate/rollout');
    assert.ok(states.slice(0, -1).every((s) => s === dialect.pending), `pending until success: ${states.join(', ')}`);
    assert.equal((m.statuses.get(merge) ?? []).at(-1)?.description, 'Rolled out: 1 target match Git');
    const rollout = commentsOf(/<!-- rollgate:rollout /);
    assert.equal(rollout.length, 1);
    assert.match(rollout[0]?.body ?? '', /Succeeded/);
    assert.ok(seen.some((r) => dialect.edits(r, rollout[0]?.id ?? 0)), 'progress edits the rollout comment');
    // No pod was touched before the writer's approval, and all three restarted after it, in reverse ordinal order.
    const terminating = f.sim.runtime('sim').events.list({ kind: 'Pod', namespace: 'apps', types: ['PodTerminating'] }).filter((e) => e.seq > beforeApproval);
    assert.deepEqual(terminating.map((e) => e.name), ['web-2', 'web-1', 'web-0']);
  });

  it('stops cleanly; the forge saw every expected request and nothing else, and no comment twice', async () => {
    stop();
    assert.equal(await agentExit, 0);
    fake.verify();
    const comments = m.comments.get(pr) ?? [];
    assert.deepEqual(comments.map((c) => [c.author, /<!-- rollgate:([a-z]+)/.exec(c.body)?.[1] ?? c.body]), [
      ['rollgate-bot', 'plan'],
      ['rollgate-bot', 'rollout'],
      ['bob', '/rollgate approve'],
      ['rollgate-bot', 'reply'],
      ['alice', '/rollgate approve'],
    ]);
    assert.equal(seen.filter((r) => dialect.edits(r, planCommentId)).length, 1, 'the plan comment was edited once in all');
    const text = log.text();
    assert.ok(!text.includes(forgeToken), 'the forge token never reaches a log line');
    assert.ok(!text.includes(gitToken), 'the Git token never reaches a log line');
    assert.ok(!text.includes(hookSecret), 'the webhook secret never reaches a log line');
    assert.equal(seen.every((r) => (dialect.kind === 'github' ? r.headers.authorization === `token ${forgeToken}` : r.headers['private-token'] === forgeToken)), true, 'every request carries the token');
  });
}

describe('a pull request through the agent: GitHub', () => pullRequestFlow(githubDialect));
describe('a pull request through the agent: GitLab', () => pullRequestFlow(gitlabDialect));
