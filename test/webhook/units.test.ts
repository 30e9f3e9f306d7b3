/**
 * The receiver's pure parts as tables: signature and token checks, the
 * delivery LRU, and payload normalisation edge cases the end-to-end tests
 * do not reach.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDeliveryLru } from '../../agent/webhook/dedupe.ts';
import { normaliseGitHub, normaliseGitLab, parseJsonBody, WebhookPayloadError } from '../../agent/webhook/normalise.ts';
import { checkGitHubSignatureFormat, signGitHubBody, tokenDigest, verifyGitHubSignature, verifyGitLabToken } from '../../agent/webhook/verify.ts';
import { fixture, setField } from './helpers.ts';

describe('verifyGitHubSignature', () => {
  const body = Buffer.from('{"zen":"Keep it logically awesome."}');
  const good = signGitHubBody('s3cret', body);
  const table: [string, string | undefined, ReturnType<typeof verifyGitHubSignature>][] = [
    ['the right signature', good, { ok: true }],
    ['upper-case hex', `sha256=${good.slice(7).toUpperCase()}`, { ok: true }],
    ['absent', undefined, { ok: false, reason: 'missing' }],
    ['empty', '', { ok: false, reason: 'missing' }],
    ['no prefix', good.slice(7), { ok: false, reason: 'malformed' }],
    ['too short', good.slice(0, -2), { ok: false, reason: 'malformed' }],
    ['too long', `${good}00`, { ok: false, reason: 'malformed' }],
    ['not hex', `sha256=${'z'.repeat(64)}`, { ok: false, reason: 'malformed' }],
    ['another body', signGitHubBody('s3cret', 'other'), { ok: false, reason: 'mismatch' }],
    ['another secret', signGitHubBody('s3cret2', body), { ok: false, reason: 'mismatch' }],
  ];
  for (const [name, header, expected] of table) {
    it(name, () => assert.deepEqual(verifyGitHubSignature('s3cret', body, header), expected));
  }
  it('checks the format alone without the body', () => {
    assert.deepEqual(checkGitHubSignatureFormat(good), { ok: true });
    assert.deepEqual(checkGitHubSignatureFormat('sha1=abc'), { ok: false, reason: 'malformed' });
  });
});

describe('verifyGitLabToken', () => {
  const digest = tokenDigest('glpat-like-token');
  const table: [string | undefined, ReturnType<typeof verifyGitLabToken>][] = [
    ['glpat-like-token', { ok: true }],
    [undefined, { ok: false, reason: 'missing' }],
    ['', { ok: false, reason: 'missing' }],
    ['glpat-like-toke', { ok: false, reason: 'mismatch' }],
    ['glpat-like-token ', { ok: false, reason: 'mismatch' }],
    ['x'.repeat(10_000), { ok: false, reason: 'mismatch' }],
  ];
  for (const [header, expected] of table) {
    it(`${JSON.stringify(header?.slice(0, 20))} → ${JSON.stringify(expected)}`, () => assert.deepEqual(verifyGitLabToken(digest, header), expected));
  }
});

describe('createDeliveryLru', () => {
  it('forgets the least recently used id, a hit counting as a use', () => {
    const lru = createDeliveryLru(2);
    lru.add('a');
    lru.add('b');
    assert.equal(lru.has('a'), true);
    lru.add('c');
    assert.equal(lru.has('b'), false);
    assert.equal(lru.has('a'), true);
    assert.equal(lru.has('c'), true);
    assert.equal(lru.size, 2);
  });
  it('refuses a capacity below 1', () => {
    assert.throws(() => createDeliveryLru(0), RangeError);
  });
});

describe('normalisation', () => {
  it('refuses bodies that are not JSON objects, naming what they are', () => {
    const table: [string, string][] = [
      ['', 'body is empty, expected a JSON object'],
      ['null', 'body is null, expected a JSON object'],
      ['"push"', 'body is a string ("push"), expected a JSON object'],
      ['42', 'body is a number (42), expected a JSON object'],
    ];
    for (const [text, message] of table) {
      assert.throws(
        () => parseJsonBody(Buffer.from(text)),
        (err: unknown) => err instanceof WebhookPayloadError && err.message === message,
        text,
      );
    }
  });

  it('accepts SHA-256 object names and lowercases commit ids', () => {
    const sha256 = 'A'.repeat(64);
    const result = normaliseGitHub('push', 'd', setField(fixture('github/push'), 'after', sha256));
    assert.equal(result.kind === 'event' && result.event.type === 'push' && result.event.after, 'a'.repeat(64));
  });

  it('keeps a branch deletion as a push to all zeros', () => {
    const payload = setField(setField(fixture('github/push'), 'after', '0'.repeat(40)), 'deleted', true);
    const result = normaliseGitHub('push', 'd', payload);
    assert.equal(result.kind === 'event' && result.event.type === 'push' && result.event.after, '0'.repeat(40));
  });

  it('requires the merge commit of a merged GitHub pull request', () => {
    const payload = setField(fixture('github/pull_request.closed-merged'), 'pull_request.merge_commit_sha', null);
    assert.throws(
      () => normaliseGitHub('pull_request', 'd', payload),
      (err: unknown) => err instanceof WebhookPayloadError && err.code === 'missing-field' && err.field === 'pull_request.merge_commit_sha',
    );
  });

  it('strips refs/heads/ from a target branch and uses the squash commit of a squashed fast-forward merge', () => {
    const payload = fixture('gitlab/merge_request.merge');
    setField(payload, 'object_attributes.target_branch', 'refs/heads/release');
    setField(payload, 'object_attributes.merge_commit_sha', null);
    setField(payload, 'object_attributes.squash_commit_sha', 'e'.repeat(40));
    const result = normaliseGitLab('Merge Request Hook', 'd', payload);
    assert.ok(result.kind === 'event' && result.event.type === 'pull_request');
    assert.equal(result.event.baseRef, 'release');
    assert.equal(result.event.mergeSha, 'e'.repeat(40));
  });

  it('keeps a comment id that is a string', () => {
    const result = normaliseGitHub('issue_comment', 'd', setField(fixture('github/issue_comment.created-on-pr'), 'comment.id', 'IC_kwDOA'));
    assert.equal(result.kind === 'event' && result.event.type === 'comment' && result.event.commentId, 'IC_kwDOA');
  });
});
