/**
 * Signed status commits: with an OpenPGP key from a fresh GNUPGHOME and
 * with an SSH key, each verified by git itself (`%G?`).
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createGitStatusReporter } from '../../agent/report/git/index.ts';
import { createGpgKey, createSshKey, type TestGpgKey } from '../helpers/git-server.ts';
import { memoryLogger, examplesRemote, git, gitEnv, tempDir, testClock, tidbTransition } from './helpers.ts';

describe('signed status commits', () => {
  let root: string;
  let remove: () => Promise<void>;
  let key: TestGpgKey;
  let env: NodeJS.ProcessEnv;
  let remote: string;
  let source: string;

  before(async () => {
    ({ dir: root, remove } = await tempDir('status-signing'));
    key = await createGpgKey('Rollgate Bot');
    env = gitEnv(root, { GNUPGHOME: key.home });
    ({ remote, initial: source } = await examplesRemote(root, env, { name: 'Ann Admin', email: 'ann@example.com' }, '2024-05-01T10:00:00Z'));
  });
  after(async () => {
    await key.remove();
    await remove();
  });

  const write = async (branch: string, sign: { format: 'openpgp' | 'ssh'; key: string }): Promise<void> => {
    const reporter = createGitStatusReporter({
      repoUrl: remote,
      workDir: join(root, `agent-${sign.format}`),
      mode: { mode: 'branch', branch },
      author: { name: 'Rollgate Bot', email: 'rollgate.bot@example.com' },
      sign,
      env,
      clock: testClock('2024-05-02T09:10:00Z'),
      logger: memoryLogger().logger,
    });
    await reporter.report(tidbTransition(source));
    await reporter.flush();
    await reporter.close();
  };

  test('openpgp: git verifies a good signature by the bot key', async () => {
    await write('status-gpg', { format: 'openpgp', key: key.fingerprint });
    assert.equal(git(remote, ['log', '-1', '--format=%G?|%GF|%GS', 'status-gpg'], env), `G|${key.fingerprint}|Rollgate Bot <rollgate.bot@example.com>`);
  });

  test('ssh: git verifies a good signature against the allowed signers', async () => {
    const ssh = await createSshKey(root, 'bot_ed25519');
    await write('status-ssh', { format: 'ssh', key: ssh.keyFile });
    const allowed = join(root, 'allowed_signers');
    await writeFile(allowed, `rollgate.bot@example.com ${ssh.publicKey}\n`);
    assert.equal(git(remote, ['-c', `gpg.ssh.allowedSignersFile=${allowed}`, 'log', '-1', '--format=%G?|%GS', 'status-ssh'], env), 'G|rollgate.bot@example.com');
  });
});
