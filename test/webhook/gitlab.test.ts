/**
 * GitLab deliveries end to end: payloads in GitLab's documented shapes with
 * the secret token, through a real node:http server.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { fixture, GITLAB_TOKEN, newDeliveryId, postGitLab, rawExchange, setField, startReceiver, type ReceiverFixture } from './helpers.ts';

describe('GitLab webhooks', () => {
  let f: ReceiverFixture;
  before(async () => {
    f = await startReceiver();
  });
  after(async () => {
    await f.close();
  });

  async function deliver(event: string, body: Record<string, unknown>, status: number) {
    const deliveryId = newDeliveryId('gl');
    const res = await postGitLab(f.base, { event, body, eventUuid: deliveryId });
    assert.equal(res.status, status, await res.clone().text());
    await res.arrayBuffer();
    await f.receiver.idle();
    return { deliveryId, events: f.events.filter((e) => e.deliveryId === deliveryId) };
  }

  it('passes a Push Hook on with the project path as repository', async () => {
    const { deliveryId, events } = await deliver('Push Hook', fixture('gitlab/push'), 202);
    assert.deepEqual(events, [
      { type: 'push', forge: 'gitlab', deliveryId, repository: 'platform/gitops/clusters', ref: 'refs/heads/main', after: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7' },
    ]);
  });

  it('normalises merge request actions in GitHub words', async () => {
    const open = await deliver('Merge Request Hook', fixture('gitlab/merge_request.open'), 202);
    assert.deepEqual(open.events, [
      {
        type: 'pull_request',
        forge: 'gitlab',
        deliveryId: open.deliveryId,
        repository: 'platform/gitops/clusters',
        number: 7,
        action: 'opened',
        headSha: 'b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327',
        baseRef: 'main',
      },
    ]);
    const cases: [string, (p: Record<string, unknown>) => void, string][] = [
      // GitLab sets oldrev only when the code changed: that is GitHub's synchronize.
      ['update', (p) => setField(p, 'object_attributes.oldrev', '95790bf891e76fee5e1747ab589903a6a1f80f22'), 'synchronize'],
      ['update', () => undefined, 'update'],
      ['reopen', () => undefined, 'reopened'],
      ['close', () => undefined, 'closed'],
      ['approved', () => undefined, 'approved'],
    ];
    for (const [action, change, expected] of cases) {
      const payload = setField(fixture('gitlab/merge_request.open'), 'object_attributes.action', action);
      change(payload);
      const { events } = await deliver('Merge Request Hook', payload, 202);
      assert.equal(events.length, 1, action);
      assert.equal(events[0]?.type === 'pull_request' && events[0].action, expected, action);
    }
  });

  it('gives a merge its merge commit, or the head commit after a fast-forward merge', async () => {
    const merged = await deliver('Merge Request Hook', fixture('gitlab/merge_request.merge'), 202);
    assert.equal(merged.events[0]?.type === 'pull_request' && merged.events[0].action, 'merged');
    assert.equal(merged.events[0]?.type === 'pull_request' && merged.events[0].mergeSha, '562e173be03b8ff2efb05345d12df18815438a4b');

    const fastForward = await deliver('Merge Request Hook', setField(fixture('gitlab/merge_request.merge'), 'object_attributes.merge_commit_sha', null), 202);
    assert.equal(fastForward.events[0]?.type === 'pull_request' && fastForward.events[0].mergeSha, 'b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327');
  });

  it('passes a new note on a merge request on, and ignores other notes', async () => {
    const note = await deliver('Note Hook', fixture('gitlab/note.merge_request'), 202);
    assert.deepEqual(note.events, [
      { type: 'comment', forge: 'gitlab', deliveryId: note.deliveryId, repository: 'platform/gitops/clusters', number: 7, commentId: '1244', author: 'lee-sre', body: '/rollgate approve staging/redis' },
    ]);
    // Before GitLab 16.11 notes carry no action: still a new note.
    const old = await deliver('Note Hook', setField(fixture('gitlab/note.merge_request'), 'object_attributes.action', undefined), 202);
    assert.equal(old.events.length, 1);

    assert.deepEqual((await deliver('Note Hook', fixture('gitlab/note.commit'), 204)).events, []);
    assert.deepEqual((await deliver('Note Hook', setField(fixture('gitlab/note.merge_request'), 'object_attributes.action', 'update'), 204)).events, []);
    assert.deepEqual((await deliver('Note Hook', setField(fixture('gitlab/note.merge_request'), 'object_attributes.system', true), 204)).events, []);
  });

  it('answers tag pushes and unknown events 204', async () => {
    const tag = setField(setField(fixture('gitlab/push'), 'object_kind', 'tag_push'), 'ref', 'refs/tags/v1.0.0');
    assert.deepEqual((await deliver('Tag Push Hook', tag, 204)).events, []);
    assert.deepEqual((await deliver('Pipeline Hook', { object_kind: 'pipeline', project: { path_with_namespace: 'platform/gitops/clusters' } }, 204)).events, []);
  });

  describe('delivery ids', () => {
    it('prefers Idempotency-Key, the same on every resend, over X-Gitlab-Event-UUID', async () => {
      const key = newDeliveryId('idem');
      const first = await postGitLab(f.base, { event: 'Push Hook', body: fixture('gitlab/push'), idempotencyKey: key });
      assert.equal(first.status, 202);
      assert.deepEqual(await first.json(), { message: 'accepted', deliveryId: key });
      // A resend from GitLab's UI: same Idempotency-Key, fresh X-Gitlab-Event-UUID.
      const resend = await postGitLab(f.base, { event: 'Push Hook', body: fixture('gitlab/push'), idempotencyKey: key });
      assert.equal(resend.status, 200);
      await f.receiver.idle();
      assert.equal(f.events.filter((e) => e.deliveryId === key).length, 1);
    });

    it('falls back to the SHA-256 of the body when GitLab sends no id', async () => {
      const body = JSON.stringify(setField(fixture('gitlab/push'), 'after', 'c'.repeat(40)));
      const expected = `sha256:${createHash('sha256').update(body).digest('hex')}`;
      const first = await postGitLab(f.base, { event: 'Push Hook', body, eventUuid: null });
      assert.equal(first.status, 202);
      assert.deepEqual(await first.json(), { message: 'accepted', deliveryId: expected });
      const again = await postGitLab(f.base, { event: 'Push Hook', body, eventUuid: null });
      assert.equal(again.status, 200);
    });
  });

  describe('token', () => {
    it('refuses a missing or wrong X-Gitlab-Token with 401', async () => {
      const before = f.events.length;
      const missing = await postGitLab(f.base, { event: 'Push Hook', body: fixture('gitlab/push'), token: null });
      assert.equal(missing.status, 401);
      assert.match(((await missing.json()) as { message: string }).message, /missing X-Gitlab-Token header/);
      for (const token of ['wrong-token', `${GITLAB_TOKEN}x`, GITLAB_TOKEN.slice(0, -1)]) {
        const res = await postGitLab(f.base, { event: 'Push Hook', body: fixture('gitlab/push'), token });
        assert.equal(res.status, 401, token);
        assert.match(((await res.json()) as { message: string }).message, /X-Gitlab-Token does not match/);
      }
      await f.receiver.idle();
      assert.equal(f.events.length, before);
    });

    it('refuses a wrong token before reading the body at all', async () => {
      // The body is declared but never sent: an answer can only come from checking the headers alone.
      const head = ['POST /gitlab HTTP/1.1', 'Host: 127.0.0.1', 'Content-Type: application/json', 'X-Gitlab-Event: Push Hook', 'X-Gitlab-Token: wrong-token', 'Content-Length: 5000', '', ''].join('\r\n');
      const { status, text } = await rawExchange(f.port, head);
      assert.equal(status, 401);
      assert.match(text, /connection: close/i);
    });

    it('checks the token before parsing: malformed JSON with a wrong token is 401', async () => {
      const res = await postGitLab(f.base, { event: 'Push Hook', body: '{"ref": ', token: 'wrong-token' });
      assert.equal(res.status, 401);
    });
  });

  describe('bad payloads after a valid token', () => {
    it('names the missing field and logs a warning with the delivery id', async () => {
      const deliveryId = newDeliveryId('gl-no-commit');
      const res = await postGitLab(f.base, { event: 'Merge Request Hook', body: setField(fixture('gitlab/merge_request.open'), 'object_attributes.last_commit', undefined), eventUuid: deliveryId });
      assert.equal(res.status, 400);
      assert.deepEqual(await res.json(), { message: 'Merge Request Hook: field `object_attributes.last_commit.id` missing' });
      const line = f.logs.lines().find((l) => l.deliveryId === deliveryId);
      assert.equal(line?.level, 40);
      assert.equal(line?.msg, 'webhook payload rejected');
      assert.equal(line?.field, 'object_attributes.last_commit.id');
    });

    it('answers malformed JSON and a missing X-Gitlab-Event 400', async () => {
      const bad = await postGitLab(f.base, { event: 'Push Hook', body: 'not json' });
      assert.equal(bad.status, 400);
      assert.match(((await bad.json()) as { message: string }).message, /^body is not valid JSON/);
      const noEvent = await postGitLab(f.base, { event: '', body: fixture('gitlab/push') });
      assert.equal(noEvent.status, 400);
      assert.deepEqual(await noEvent.json(), { message: 'missing X-Gitlab-Event header' });
      const noPath = await postGitLab(f.base, { event: 'Push Hook', body: setField(fixture('gitlab/push'), 'project.path_with_namespace', '') });
      assert.equal(noPath.status, 400);
      assert.deepEqual(await noPath.json(), { message: 'Push Hook: field `project.path_with_namespace` is an empty string, expected a non-empty string' });
    });
  });

  it('never logs the token, right or wrong', async () => {
    await f.receiver.idle();
    const text = f.logs.text();
    assert.ok(text.length > 0);
    assert.ok(!text.includes(GITLAB_TOKEN), 'token in logs');
    assert.ok(!text.includes('wrong-token'), 'presented token in logs');
  });
});
