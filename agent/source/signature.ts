/**
 * Opt-in verification of the head commit's signature, OpenPGP or SSH,
 * against keys the agent's configuration trusts, and nothing else: the
 * OpenPGP keys are imported into a GnuPG home of the agent's own (never the
 * user's keyring), and SSH signers come from an allowed_signers file.
 *
 * git does the verification (`%G?` and friends, which call gpg or
 * `ssh-keygen -Y verify`); `judgeSignature` turns what it reports into a
 * verdict, as a pure function.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SourceError } from './errors.ts';

/**
 * Which signatures make a head commit acceptable. When a policy is given,
 * the head commit must carry a good signature by one of these keys, or the
 * poll returns `rejected` and nothing from that commit is used.
 */
export interface SignaturePolicy {
  /** OpenPGP public keys: each an armored key block (`-----BEGIN PGP PUBLIC KEY BLOCK-----`) or the path of a key file. */
  openpgpKeys?: readonly string[];
  /** SSH signers: the content of an allowed_signers file (`principal key-type key` lines, see ssh-keygen(1)) or its path (read at every verification). */
  sshAllowedSigners?: string;
}

/** Why a commit was rejected. */
export type RejectionReason = 'unsigned' | 'untrusted-key' | 'bad-signature' | 'expired' | 'revoked';

/** A good, trusted signature. */
export interface SignatureInfo {
  readonly format: 'openpgp' | 'ssh';
  /** The signer as the key names it (OpenPGP user ID or SSH principal). */
  readonly signer: string;
  /** OpenPGP primary key fingerprint, or the SSH key's `SHA256:` fingerprint. */
  readonly fingerprint: string;
}

/** What git reported about a commit's signature (`%G?`, `%GF`, `%GP`, `%GK`, `%GS`). */
export interface SignatureFields {
  status: string;
  fingerprint: string;
  primaryFingerprint: string;
  key: string;
  signer: string;
}

/** The verdict on a head commit. */
export type Verdict = { ok: true; signature: SignatureInfo } | { ok: false; reason: RejectionReason; message: string };

/** The git `--format` that yields `SignatureFields`, NUL-separated. */
export const signatureFormat = '%G?%x00%GF%x00%GP%x00%GK%x00%GS';

/** Parses the output of `git log -1 --format=<signatureFormat>`. */
export function parseSignatureFields(output: string): SignatureFields {
  const [status = '', fingerprint = '', primaryFingerprint = '', key = '', signer = ''] = output.replace(/\n$/, '').split('\0');
  return { status: status.trim(), fingerprint, primaryFingerprint, key, signer };
}

/**
 * Judges a commit by what git reported. Accepted only when git says `G`
 * (good and valid) and, for OpenPGP, the key is one of `trusted` (the
 * fingerprints imported from the policy; git's `G` already implies it, the
 * check guards against a keyring that holds more than we put in). SSH keys
 * are trusted through the allowed_signers file alone, which git consults.
 */
export function judgeSignature(commit: string, fields: SignatureFields, trusted: ReadonlySet<string>): Verdict {
  const ssh = fields.key.startsWith('SHA256:') || fields.fingerprint.startsWith('SHA256:');
  const keyName = fields.primaryFingerprint || fields.fingerprint || fields.key || 'unknown key';
  const short = commit.slice(0, 12);
  switch (fields.status) {
    case 'G': {
      if (!ssh && !trusted.has(fields.primaryFingerprint.toUpperCase()) && !trusted.has(fields.fingerprint.toUpperCase())) {
        return { ok: false, reason: 'untrusted-key', message: `commit ${short} is signed by OpenPGP key ${keyName}, which is not one of the trusted keys` };
      }
      return { ok: true, signature: { format: ssh ? 'ssh' : 'openpgp', signer: fields.signer, fingerprint: ssh ? fields.key || fields.fingerprint : keyName } };
    }
    case 'N':
      return { ok: false, reason: 'unsigned', message: `commit ${short} is not signed, and the source requires a signature by a trusted key` };
    case 'B':
      return { ok: false, reason: 'bad-signature', message: `commit ${short} has a bad signature (key ${keyName}): its content does not match what was signed` };
    case 'X':
    case 'Y':
      return { ok: false, reason: 'expired', message: `commit ${short} is signed by ${keyName}, but the ${fields.status === 'X' ? 'signature' : 'key'} has expired` };
    case 'R':
      return { ok: false, reason: 'revoked', message: `commit ${short} is signed by ${keyName}, which has been revoked` };
    default:
      // U: a good signature by a key with no trust (an SSH key not in allowed_signers);
      // E: the key is missing, so the signature cannot be checked.
      return { ok: false, reason: 'untrusted-key', message: `commit ${short} is signed by ${ssh ? 'SSH' : 'OpenPGP'} key ${keyName}, which is not one of the trusted keys` };
  }
}

/** A policy made ready for git: the environment and config entries of the verifying git, and the trusted OpenPGP fingerprints. */
export interface PreparedPolicy {
  readonly env: Readonly<Record<string, string>>;
  readonly config: readonly (readonly [string, string])[];
  readonly fingerprints: ReadonlySet<string>;
}

function signatureError(message: string): SourceError {
  return new SourceError('signature', message);
}

function runGpg(args: readonly string[], home: string, input: string | Buffer, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'gpg',
      ['--homedir', home, '--batch', '--no-tty', '--no-autostart', '--status-fd', '1', ...args],
      { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', LC_ALL: 'C', GNUPGHOME: home }, timeout: timeoutMs, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`gpg ${args[0] ?? ''} failed: ${stderr.trim() || err.message}`));
        else resolve(stdout);
      },
    );
    child.stdin?.end(input);
  });
}

/**
 * Prepares `policy` under `dir` (emptied first): a GnuPG home (mode 0700,
 * `no-autostart`, so verifying never starts an agent) holding exactly the
 * policy's OpenPGP keys, each trusted ultimately, and the allowed_signers
 * file. A private key, an unreadable file or a block with no key is a
 * `signature` error naming the entry.
 */
export async function preparePolicy(policy: SignaturePolicy, dir: string, timeoutMs = 30_000): Promise<PreparedPolicy> {
  await rm(dir, { recursive: true, force: true });
  const home = join(dir, 'gnupg');
  await mkdir(home, { recursive: true, mode: 0o700 });
  await chmod(home, 0o700);
  await writeFile(join(home, 'gpg.conf'), 'no-autostart\n');
  const fingerprints = new Set<string>();
  for (const [i, entry] of (policy.openpgpKeys ?? []).entries()) {
    const where = `signature policy openpgpKeys[${i}]`;
    let data: Buffer;
    if (entry.includes('-----BEGIN PGP')) {
      data = Buffer.from(entry);
    } else {
      try {
        data = await readFile(entry);
      } catch (err) {
        throw signatureError(`${where}: the key file ${entry} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}); give an armored public key or a readable file`);
      }
    }
    if (data.includes('PRIVATE KEY BLOCK')) throw signatureError(`${where} is a private key; give the public key only (gpg --armor --export KEYID)`);
    let status: string;
    try {
      status = await runGpg(['--import'], home, data, timeoutMs);
    } catch (err) {
      throw signatureError(`${where} could not be imported: ${(err as Error).message}`);
    }
    const imported = [...status.matchAll(/^\[GNUPG:\] IMPORT_OK \d+ ([0-9A-F]+)$/gm)].map((m) => m[1] ?? '');
    if (imported.length === 0) throw signatureError(`${where} holds no OpenPGP public key`);
    for (const fpr of imported) fingerprints.add(fpr.toUpperCase());
  }
  if (fingerprints.size > 0) {
    await runGpg(['--import-ownertrust'], home, [...fingerprints].map((f) => `${f}:6:\n`).join(''), timeoutMs).catch((err: unknown) => {
      throw signatureError(`the trusted OpenPGP keys could not be marked trusted: ${(err as Error).message}`);
    });
  }
  let signersFile = '/dev/null';
  const signers = policy.sshAllowedSigners;
  if (signers !== undefined) {
    // Content has a space or a line break (`principal key-type key`); a path rarely has either.
    if (/[\s]/.test(signers.trim()) || signers.includes('\n')) {
      signersFile = join(dir, 'allowed_signers');
      await writeFile(signersFile, signers.endsWith('\n') ? signers : `${signers}\n`, { mode: 0o600 });
    } else {
      try {
        await readFile(signers);
      } catch (err) {
        throw signatureError(`signature policy sshAllowedSigners: the file ${signers} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      }
      signersFile = signers;
    }
  }
  return {
    env: { GNUPGHOME: home },
    config: [['gpg.ssh.allowedSignersFile', signersFile]],
    fingerprints,
  };
}
