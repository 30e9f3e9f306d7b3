/**
 * Method and size limits: refused before the body is read when the
 * request says how big it is, and reading stopped mid-stream when it does
 * not, so an oversized body is never drained nor held.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { signGitHubBody } from '../../agent/webhook/index.ts';
import { eventually } from '../helpers/sim.ts';
import { countingStream, fixture, GITHUB_SECRET, GITLAB_TOKEN, newDeliveryId, postGitHub, rawExchange, startReceiver, type ReceiverFixture } from './helpers.ts';

const LIMIT = 64 * 1024;
// Far more than the limit plus every socket buffer on the way: a server that drained the body would pull all of it.
const OFFERED = 64 * 1024 * 1024;

describe('request limits', () => {
  let f: ReceiverFixture;
  before(async () => {
    f = await startReceiver({ maxBodyBytes: LIMIT });
  });
  after(async () => {
    await f.close();
  });

  it('answers anything but POST 405 with Allow: POST', async () => {
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const res = await fetch(`${f.base}/github`, { method });
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.get('allow'), 'POST');
      assert.deepEqual(await res.json(), { message: `webhooks are delivered with POST, not ${method}` });
    }
    assert.deepEqual(f.events, []);
  });

  it('answers a Content-Length over the limit 413 before reading the body', async () => {
    // Headers only: the body is declared and never sent, so only a check of the header can answer.
    const head = ['POST /github HTTP/1.1', 'Host: 127.0.0.1', 'Content-Type: application/json', 'X-GitHub-Event: push', `X-Hub-Signature-256: sha256=${'0'.repeat(64)}`, `Content-Length: ${LIMIT + 1}`, '', ''].join('\r\n');
    const { status, text } = await rawExchange(f.port, head);
    assert.equal(status, 413);
    assert.match(text, /connection: close/i);
    assert.match(text, new RegExp(`body of ${LIMIT + 1} bytes is over the limit of ${LIMIT} bytes`));

    // The same through fetch, which sends the body at once.
    const res = await postGitHub(f.base, { event: 'push', body: Buffer.alloc(4 * LIMIT, 0x20) });
    assert.equal(res.status, 413);
  });

  it('accepts a body of exactly the limit', async () => {
    const json = JSON.stringify(fixture('github/push'));
    const body = json + ' '.repeat(LIMIT - Buffer.byteLength(json));
    assert.equal(Buffer.byteLength(body), LIMIT);
    const res = await postGitHub(f.base, { event: 'push', body });
    assert.equal(res.status, 202);
  });

  for (const forge of ['github', 'gitlab'] as const) {
    it(`answers a chunked ${forge} body that passes the limit 413 and stops reading the connection`, async () => {
      const testId = newDeliveryId('chunked');
      const { stream, pulled } = countingStream(OFFERED);
      const headers: Record<string, string> =
        forge === 'github'
          ? // A well-formed signature gets the body read; it cannot match, but the limit is met first.
            { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': newDeliveryId('chunked'), 'X-Hub-Signature-256': signGitHubBody(GITHUB_SECRET, 'anything') }
          : { 'X-Gitlab-Event': 'Push Hook', 'X-Gitlab-Token': GITLAB_TOKEN };
      const res = await fetch(`${f.base}/${forge}`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Test-Id': testId, ...headers }, body: stream, duplex: 'half' });
      assert.equal(res.status, 413);
      assert.equal(res.headers.get('connection'), 'close');
      assert.deepEqual(await res.json(), { message: `body is over the limit of ${LIMIT} bytes; stopped reading` });

      const socket = f.socketOf.get(testId);
      assert.ok(socket, 'the server saw the delivery');
      await eventually(() => assert.ok(socket.destroyed, 'connection closed by the server'));
      // Read: the limit plus what was already in flight in node's buffers (and any earlier request on a reused connection), nowhere near what was offered.
      assert.ok(socket.bytesRead < LIMIT + 1024 * 1024, `server read ${socket.bytesRead} bytes`);
      assert.ok(pulled() < OFFERED / 2, `client could send ${pulled()} of ${OFFERED} bytes`);
    });
  }

  it('still serves deliveries after refusing oversized ones', async () => {
    const res = await postGitHub(f.base, { event: 'push', body: fixture('github/push') });
    assert.equal(res.status, 202);
    await f.receiver.idle();
    assert.ok(f.events.length >= 1);
  });
});
