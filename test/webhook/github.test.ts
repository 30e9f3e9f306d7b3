/**
 * GitHub deliveries end to end: signed payloads in GitHub's documented
 * shapes through a real node:http server, and what reaches the callback.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { signGitHubBody } from '../../agent/webhook/index.ts';
import { eventually } from '../helpers/sim.ts';
import { fixture, GITHUB_SECRET, newDeliveryId, postGitHub, setField, startReceiver, type ReceiverFixture } from './helpers.ts';

describe('GitHub webhooks', () => {
  let f: ReceiverFixture;
  before(async () => {
    f = await startReceiver();
  });
  after(async () => {
    await f.close();
  });

  /** Posts, expects `status`, and returns the events passed on by this delivery. */
  async function deliver(event: string, body: Record<string, unknown>, status: number) {
    const deliveryId = newDeliveryId('gh');
    const res = await postGitHub(f.base, { event, body, deliveryId });
    assert.equal(res.status, status, await res.clone().text());
    await res.arrayBuffer();
    await f.receiver.idle();
    return { deliveryId, events: f.events.filter((e) => e.deliveryId === deliveryId) };
  }

  it('passes a branch push on, answering 202', async () => {
    const deliveryId = newDeliveryId('gh');
    const res = await postGitHub(f.base, { event: 'push', body: fixture('github/push'), deliveryId });
    assert.equal(res.status, 202);
    assert.deepEqual(await res.json(), { message: 'accepted', deliveryId });
    await eventually(() => assert.ok(f.events.some((e) => e.deliveryId === deliveryId)));
    assert.deepEqual(
      f.events.find((e) => e.deliveryId === deliveryId),
      { type: 'push', forge: 'github', deliveryId, repository: 'acme/clusters', ref: 'refs/heads/main', after: 'a10867b14bb761a232cd80139fbd4c0d33264240' },
    );
  });

  it('answers a tag push 204 and passes nothing on', async () => {
    const { events } = await deliver('push', fixture('github/push-tag-deleted'), 204);
    assert.deepEqual(events, []);
  });

  it('normalises pull_request actions; closed and merged becomes merged with the merge commit', async () => {
    const opened = await deliver('pull_request', fixture('github/pull_request.opened'), 202);
    assert.deepEqual(opened.events, [
      { type: 'pull_request', forge: 'github', deliveryId: opened.deliveryId, repository: 'acme/clusters', number: 42, action: 'opened', headSha: 'ec26c3e57ca3a959ca5aad62de7213c562f8c821', baseRef: 'main' },
    ]);
    for (const action of ['synchronize', 'reopened', 'labeled']) {
      const { events } = await deliver('pull_request', setField(fixture('github/pull_request.opened'), 'action', action), 202);
      assert.equal(events.length, 1);
      assert.equal(events[0]?.type === 'pull_request' && events[0].action, action);
    }
    const closed = await deliver('pull_request', setField(setField(fixture('github/pull_request.opened'), 'action', 'closed'), 'pull_request.state', 'closed'), 202);
    assert.equal(closed.events[0]?.type === 'pull_request' && closed.events[0].action, 'closed');
    assert.equal(closed.events[0]?.type === 'pull_request' && closed.events[0].mergeSha, undefined);

    const merged = await deliver('pull_request', fixture('github/pull_request.closed-merged'), 202);
    assert.deepEqual(merged.events, [
      {
        type: 'pull_request',
        forge: 'github',
        deliveryId: merged.deliveryId,
        repository: 'acme/clusters',
        number: 42,
        action: 'merged',
        headSha: 'ec26c3e57ca3a959ca5aad62de7213c562f8c821',
        baseRef: 'main',
        mergeSha: 'c4295bd74fb0f4fda03689c3df3f2803b658fd85',
      },
    ]);
  });

  it('passes a new comment on a pull request on, and ignores comments on issues and edits', async () => {
    const created = await deliver('issue_comment', fixture('github/issue_comment.created-on-pr'), 202);
    assert.deepEqual(created.events, [
      { type: 'comment', forge: 'github', deliveryId: created.deliveryId, repository: 'acme/clusters', number: 42, commentId: '492700400', author: 'lee-sre', body: '/rollgate approve prod/tidb' },
    ]);
    const onIssue = await deliver('issue_comment', setField(fixture('github/issue_comment.created-on-pr'), 'issue.pull_request', undefined), 204);
    assert.deepEqual(onIssue.events, []);
    const edited = await deliver('issue_comment', setField(fixture('github/issue_comment.created-on-pr'), 'action', 'edited'), 204);
    assert.deepEqual(edited.events, []);
  });

  it('answers ping 200 and unknown events 204, passing nothing on', async () => {
    const res = await postGitHub(f.base, { event: 'ping', body: fixture('github/ping') });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { message: 'pong' });
    const star = await deliver('star', { action: 'created', repository: { full_name: 'acme/clusters' } }, 204);
    assert.deepEqual(star.events, []);
  });

  describe('signature', () => {
    it('refuses a delivery without X-Hub-Signature-256 with 401', async () => {
      const before = f.events.length;
      // GitHub's legacy SHA-1 header alone is not enough.
      const body = JSON.stringify(fixture('github/push'));
      const res = await postGitHub(f.base, { event: 'push', body, signature: null, headers: { 'X-Hub-Signature': 'sha1=0000000000000000000000000000000000000000' } });
      assert.equal(res.status, 401);
      assert.match(((await res.json()) as { message: string }).message, /missing X-Hub-Signature-256 header/);
      await f.receiver.idle();
      assert.equal(f.events.length, before);
    });

    it('refuses a malformed signature, a wrong secret and a tampered body with 401', async () => {
      const body = JSON.stringify(fixture('github/push'));
      const cases = [
        { signature: 'sha256=xyz', message: /not of the form sha256=<64 hex digits>/ },
        { signature: `sha1=${'0'.repeat(40)}`, message: /not of the form/ },
        { signature: signGitHubBody('another-secret', body), message: /does not match the body/ },
        { signature: signGitHubBody(GITHUB_SECRET, body.replace('refs/heads/main', 'refs/heads/prod')), message: /does not match the body/ },
      ];
      for (const c of cases) {
        const res = await postGitHub(f.base, { event: 'push', body, signature: c.signature });
        assert.equal(res.status, 401, c.signature);
        assert.match(((await res.json()) as { message: string }).message, c.message);
      }
    });

    it('checks the signature before parsing: malformed JSON with a bad signature is 401, not 400', async () => {
      const deliveryId = newDeliveryId('gh-unsigned-bad-json');
      const res = await postGitHub(f.base, { event: 'push', body: '{"ref": ', deliveryId, signature: signGitHubBody('another-secret', '{"ref": ') });
      assert.equal(res.status, 401);
      const lines = f.logs.lines().filter((l) => l.deliveryId === deliveryId);
      assert.deepEqual(
        lines.map((l) => [l.msg, l.status, l.reason]),
        [['webhook delivery refused', 401, 'mismatch']],
      );
    });
  });

  describe('bad payloads after a valid signature', () => {
    it('answers malformed JSON 400 and logs a warning with the delivery id', async () => {
      const deliveryId = newDeliveryId('gh-bad-json');
      const res = await postGitHub(f.base, { event: 'push', body: '{"ref": "refs/heads/main",', deliveryId });
      assert.equal(res.status, 400);
      assert.match(((await res.json()) as { message: string }).message, /^body is not valid JSON: /);
      const line = f.logs.lines().find((l) => l.deliveryId === deliveryId && l.msg === 'webhook payload rejected');
      assert.ok(line, 'a warning for the delivery');
      assert.equal(line.level, 40);
      assert.equal(line.code, 'malformed-json');
    });

    it('names the missing field: push event: field `after` missing', async () => {
      const deliveryId = newDeliveryId('gh-no-after');
      const res = await postGitHub(f.base, { event: 'push', body: setField(fixture('github/push'), 'after', undefined), deliveryId });
      assert.equal(res.status, 400);
      assert.deepEqual(await res.json(), { message: 'push event: field `after` missing' });
      const line = f.logs.lines().find((l) => l.deliveryId === deliveryId);
      assert.equal(line?.level, 40);
      assert.equal(line?.field, 'after');
      assert.equal(line?.event, 'push');
      assert.equal(line?.problem, 'push event: field `after` missing');
    });

    it('names nested fields and wrong types', async () => {
      const cases: [string, Record<string, unknown>, string][] = [
        ['pull_request', setField(fixture('github/pull_request.opened'), 'pull_request.head.sha', undefined), 'pull_request event: field `pull_request.head.sha` missing'],
        ['push', setField(fixture('github/push'), 'after', 'not-a-commit'), 'push event: field `after` is a string ("not-a-commit"), expected a commit id (40 or 64 hex digits)'],
        ['push', setField(fixture('github/push'), 'repository', null), 'push event: field `repository.full_name` missing'],
        ['pull_request', setField(fixture('github/pull_request.opened'), 'pull_request.number', '42'), 'pull_request event: field `pull_request.number` is a string ("42"), expected a whole number of 1 or more'],
        ['issue_comment', setField(fixture('github/issue_comment.created-on-pr'), 'comment.user', undefined), 'issue_comment event: field `comment.user.login` missing'],
        ['push', [] as unknown as Record<string, unknown>, 'body is an array, expected a JSON object'],
      ];
      for (const [event, body, message] of cases) {
        const res = await postGitHub(f.base, { event, body });
        assert.equal(res.status, 400, message);
        assert.deepEqual(await res.json(), { message });
      }
    });

    it('refuses a form-encoded delivery with 415 and says which content type to choose', async () => {
      const body = `payload=${encodeURIComponent(JSON.stringify(fixture('github/push')))}`;
      const res = await postGitHub(f.base, { event: 'push', body, headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
      assert.equal(res.status, 415);
      assert.match(((await res.json()) as { message: string }).message, /set the webhook's content type to application\/json/);
    });

    it('refuses a delivery without X-GitHub-Event or X-GitHub-Delivery with 400', async () => {
      const noEvent = await postGitHub(f.base, { event: 'push', body: fixture('github/push'), headers: { 'X-GitHub-Event': '' } });
      assert.equal(noEvent.status, 400);
      assert.deepEqual(await noEvent.json(), { message: 'missing X-GitHub-Event header' });
      const noDelivery = await postGitHub(f.base, { event: 'push', body: fixture('github/push'), deliveryId: null });
      assert.equal(noDelivery.status, 400);
      assert.deepEqual(await noDelivery.json(), { message: 'missing X-GitHub-Delivery header' });
    });
  });

  it('never logs the secret or a signature', async () => {
    await f.receiver.idle();
    const text = f.logs.text();
    assert.ok(text.length > 0);
    assert.ok(!text.includes(GITHUB_SECRET), 'secret in logs');
    assert.ok(!text.includes('sha256='), 'signature in logs');
  });
});
