/**
 * Signature verification with real keys: a GPG key made in a temporary
 * GNUPGHOME and SSH keys made by ssh-keygen sign real commits; a trusted
 * signature is accepted, an unsigned commit, an untrusted key and a
 * tampered commit are rejected, and the last good revision stays.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { GitSource } from '../../agent/source/index.ts';
import { createGitSource } from '../../agent/source/index.ts';
import type { TestGpgKey, TestSshKey } from '../helpers/git-server.ts';
import { createGpgKey, createSshKey, run, testGitEnv } from '../helpers/git-server.ts';
import type { SourceFixture } from './fixture.ts';
import { expectPoll, manualClock, memoryLogger, startSourceFixture } from './fixture.ts';



describe('git source: OpenPGP signatures', () => {
  let fx: SourceFixture & { first: string };
  let trusted: TestGpgKey;
  let stranger: TestGpgKey;
  let source: GitSource;
  const log = memoryLogger();

  before(async () => {
    [fx, trusted, stranger] = await Promise.all([startSourceFixture(), createGpgKey('Release Bot'), createGpgKey('Stranger')]);
    source = createGitSource({ url: fx.server.repoUrl(), branch: 'main', workDir: fx.workDir, env: fx.env, clock: manualClock(), logger: log.logger, verify: { openpgpKeys: [trusted.publicKey] } });
  });
  after(async () => {
    await Promise.all([fx.close(), trusted.remove(), stranger.remove()]);
  });

  it('rejects an unsigned head, uses nothing of it, and says why', async () => {
    const result = expectPoll(await source.poll(), 'rejected');
    assert.equal(result.commit, fx.first);
    assert.equal(result.reason, 'unsigned');
    assert.match(result.message, /is not signed/);
    assert.equal(source.lastGood(), undefined);
    assert.deepEqual(await readdir(join(fx.workDir, 'snapshots')).catch(() => []), [], 'no snapshot of a rejected commit');
    assert.equal(source.state().degraded, true);
    assert.ok(log.lines().some((l) => l['msg'] === 'source commit rejected' && l['reason'] === 'unsigned'));
  });

  it('accepts a commit signed by a trusted key', async () => {
    await fx.repo.write({ 'prod/app.yaml': 'kind: StatefulSet\nversion: 2\n' });
    const signed = await fx.repo.commit('signed release', { sign: { gpg: { home: trusted.home, keyId: trusted.fingerprint } } });
    await fx.repo.push();
    const result = expectPoll(await source.poll(), 'changed');
    assert.equal(result.revision.commit, signed);
    assert.deepEqual(result.revision.signature, { format: 'openpgp', signer: 'Release Bot <release.bot@example.com>', fingerprint: trusted.fingerprint });
    assert.equal(source.state().degraded, false);
  });

  it('rejects a commit signed by a key that is not trusted, keeping the last good revision, without fetching it again', async () => {
    const good = source.lastGood();
    await fx.repo.write({ 'prod/app.yaml': 'kind: StatefulSet\nversion: 3\n' });
    const bad = await fx.repo.commit('signed by a stranger', { sign: { gpg: { home: stranger.home, keyId: stranger.fingerprint } } });
    await fx.repo.push();
    const result = expectPoll(await source.poll(), 'rejected');
    assert.equal(result.commit, bad);
    assert.equal(result.reason, 'untrusted-key');
    assert.deepEqual(source.lastGood(), good);

    fx.server.resetCounts();
    const again = expectPoll(await source.poll(), 'rejected');
    assert.equal(again.reason, 'untrusted-key');
    assert.equal(fx.server.counts().fetch, 0);
    assert.equal(fx.server.counts().infoRefs, 1);
  });

  it('rejects a signed commit whose content was altered after signing', async () => {
    const signed = await fx.repo.commit('to be tampered with', { sign: { gpg: { home: trusted.home, keyId: trusted.fingerprint } } });
    const raw = await fx.repo.git(['cat-file', 'commit', signed]);
    const tampered = (await run('git', ['-C', fx.repo.workDir, 'hash-object', '-t', 'commit', '-w', '--stdin'], { env: testGitEnv(), input: raw.replace('to be tampered with', 'tampered') })).trim();
    await fx.repo.resetHard(tampered);
    await fx.repo.push({ force: true });
    const result = expectPoll(await source.poll(), 'rejected');
    assert.equal(result.commit, tampered);
    assert.equal(result.reason, 'bad-signature');
  });

  it('refuses a private key in the policy', async () => {
    const exported = await run('gpg', ['--batch', '--armor', '--export-secret-keys', '--pinentry-mode', 'loopback', '--passphrase', '', trusted.fingerprint], { env: { ...testGitEnv(), GNUPGHOME: trusted.home } });
    const withPrivate = createGitSource({ url: fx.server.repoUrl(), branch: 'main', workDir: `${fx.workDir}-private`, env: fx.env, clock: manualClock(), verify: { openpgpKeys: [exported] } });
    const result = await withPrivate.poll();
    assert.equal(result.type, 'failed');
    assert.equal(result.type === 'failed' && result.error.code, 'signature');
    assert.match(result.type === 'failed' ? result.error.message : '', /openpgpKeys\[0\] is a private key/);
    assert.ok(!JSON.stringify(result).includes('PRIVATE KEY BLOCK-----\n'));
  });
});

describe('git source: SSH signatures', () => {
  let fx: SourceFixture & { first: string };
  let dir: string;
  let signer: TestSshKey;
  let other: TestSshKey;

  before(async () => {
    fx = await startSourceFixture();
    dir = await mkdtemp(join(tmpdir(), 'rollgate-sshsig-'));
    [signer, other] = await Promise.all([createSshKey(dir, 'signer'), createSshKey(dir, 'other')]);
  });
  after(async () => {
    await fx.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('accepts a commit signed by an allowed signer (allowed_signers given as content)', async () => {
    await fx.repo.write({ 'prod/app.yaml': 'kind: StatefulSet\nversion: ssh-1\n' });
    const signed = await fx.repo.commit('ssh signed', { sign: { ssh: { keyFile: signer.keyFile } } });
    await fx.repo.push();
    const source = createGitSource({ url: fx.server.repoUrl(), branch: 'main', workDir: fx.workDir, env: fx.env, clock: manualClock(), verify: { sshAllowedSigners: `release@example.com ${signer.publicKey}\n` } });
    const result = expectPoll(await source.poll(), 'changed');
    assert.equal(result.revision.commit, signed);
    assert.equal(result.revision.signature?.format, 'ssh');
    assert.equal(result.revision.signature?.signer, 'release@example.com');
    assert.match(result.revision.signature?.fingerprint ?? '', /^SHA256:/);
  });

  it('rejects a commit signed by an SSH key that is not an allowed signer (allowed_signers given as a path)', async () => {
    const signers = join(dir, 'allowed_signers');
    await writeFile(signers, `release@example.com ${signer.publicKey}\n`);
    await fx.repo.write({ 'prod/app.yaml': 'kind: StatefulSet\nversion: ssh-2\n' });
    const bad = await fx.repo.commit('signed by someone else', { sign: { ssh: { keyFile: other.keyFile } } });
    await fx.repo.push();
    const source = createGitSource({ url: fx.server.repoUrl(), branch: 'main', workDir: `${fx.workDir}-2`, env: fx.env, clock: manualClock(), verify: { sshAllowedSigners: signers } });
    const result = expectPoll(await source.poll(), 'rejected');
    assert.equal(result.commit, bad);
    assert.equal(result.reason, 'untrusted-key');
    assert.match(result.message, /SSH key SHA256:/);
  });

  it('rejects an unsigned commit under an SSH-only policy, and an SSH signature under an OpenPGP-only policy', async () => {
    await fx.repo.write({ 'prod/app.yaml': 'kind: StatefulSet\nversion: ssh-3\n' });
    await fx.repo.commit('unsigned');
    await fx.repo.push();
    const sshOnly = createGitSource({ url: fx.server.repoUrl(), branch: 'main', workDir: `${fx.workDir}-3`, env: fx.env, clock: manualClock(), verify: { sshAllowedSigners: `release@example.com ${signer.publicKey}` } });
    assert.equal(expectPoll(await sshOnly.poll(), 'rejected').reason, 'unsigned');

    await fx.repo.write({ 'prod/app.yaml': 'kind: StatefulSet\nversion: ssh-4\n' });
    await fx.repo.commit('ssh signed again', { sign: { ssh: { keyFile: signer.keyFile } } });
    await fx.repo.push();
    const gpg = await createGpgKey('Only');
    try {
      const gpgOnly = createGitSource({ url: fx.server.repoUrl(), branch: 'main', workDir: `${fx.workDir}-4`, env: fx.env, clock: manualClock(), verify: { openpgpKeys: [gpg.publicKey] } });
      assert.equal(expectPoll(await gpgOnly.poll(), 'rejected').reason, 'untrusted-key');
    } finally {
      await gpg.remove();
    }
  });
});
