/**
 * Tables for the source stage's pure functions: backoff and jitter, URL
 * redaction, the SSH command and its quoting (checked by a real shell),
 * remote and branch validation, git output parsing, error classification
 * and signature verdicts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { backoffDelay, defaultBackoff, intervalDelay } from '../../agent/source/backoff.ts';
import { classifyGitFailure, gitMessage, redact, sanitizeUrl } from '../../agent/source/errors.ts';
import { parseLsRemote, parseNameList } from '../../agent/source/mirror.ts';
import { parseRemoteUrl, shellQuote, sshCommand, validateBranch } from '../../agent/source/remote.ts';
import type { SignatureFields } from '../../agent/source/signature.ts';
import { judgeSignature, parseSignatureFields } from '../../agent/source/signature.ts';

describe('backoffDelay', () => {
  const table: { failures: number; random: number; want: number }[] = [
    { failures: 1, random: 0, want: 1_000 },
    { failures: 2, random: 0, want: 2_000 },
    { failures: 3, random: 0, want: 4_000 },
    { failures: 9, random: 0, want: 256_000 },
    { failures: 10, random: 0, want: 300_000 },
    { failures: 1_000_000, random: 0, want: 300_000 },
    // Jitter takes up to 20 % off, but never below the base.
    { failures: 1, random: 0.999, want: 1_000 },
    { failures: 2, random: 0.5, want: 1_800 },
    { failures: 10, random: 0.5, want: 270_000 },
    { failures: 10, random: 0.999999, want: 240_000 },
    // Nonsense in, sane out.
    { failures: 0, random: 0, want: 1_000 },
    { failures: -3, random: 0, want: 1_000 },
    { failures: 3, random: Number.NaN, want: 4_000 },
  ];
  for (const { failures, random, want } of table) {
    it(`failures=${failures} random=${random} → ${want} ms`, () => {
      assert.equal(backoffDelay(failures, () => random), want);
    });
  }

  it('grows with every failure until the cap, whatever the jitter draws, and stays within 1 s–5 min', () => {
    for (let failures = 1; failures < 40; failures++) {
      const longestNow = backoffDelay(failures, () => 0);
      const shortestNext = backoffDelay(failures + 1, () => 0.999999);
      if (longestNow * 2 <= defaultBackoff.maxMs) assert.ok(shortestNext > longestNow, `failure ${failures}: ${shortestNext} after ${longestNow}`);
      for (const r of [0, 0.3, 0.999999]) {
        const d = backoffDelay(failures, () => r);
        assert.ok(d >= defaultBackoff.baseMs && d <= defaultBackoff.maxMs, `${d}`);
      }
    }
  });
});

describe('intervalDelay', () => {
  const table = [
    { interval: 60_000, jitter: 0.1, random: 0, want: 60_000 },
    { interval: 60_000, jitter: 0.1, random: 0.5, want: 63_000 },
    { interval: 120_000, jitter: 0.5, random: 0.999999, want: 180_000 },
    { interval: 60_000, jitter: 0, random: 0.7, want: 60_000 },
    { interval: 60_000, jitter: 5, random: 0.5, want: 90_000 },
  ];
  for (const { interval, jitter, random, want } of table) {
    it(`${interval} ms, jitter ${jitter}, random ${random} → ${want} ms`, () => assert.equal(intervalDelay(interval, jitter, () => random), want));
  }
});

describe('sanitizeUrl and redact', () => {
  const urls: [string, string][] = [
    ['https://user:pass@github.com/org/repo.git', 'https://***@github.com/org/repo.git'],
    ['https://ghp_abcdef123456@github.com/org/repo.git', 'https://***@github.com/org/repo.git'],
    ['HTTP://u:p@127.0.0.1:8080/r', 'HTTP://***@127.0.0.1:8080/r'],
    ['https://github.com/org/repo.git', 'https://github.com/org/repo.git'],
    ['ssh://git@github.com/org/repo.git', 'ssh://***@github.com/org/repo.git'],
    ['git@github.com:org/repo.git', 'git@github.com:org/repo.git'],
    ['/srv/git/repo.git', '/srv/git/repo.git'],
    ['https://github.com/org/repo.git?x=a@b', 'https://github.com/org/repo.git?x=a@b'],
  ];
  for (const [input, want] of urls) it(`sanitizeUrl(${input})`, () => assert.equal(sanitizeUrl(input), want));

  it('redacts URLs inside text, authorization headers, and literal secrets', () => {
    const text = "fatal: unable to access 'https://bot:tok3n-value@git.example.com/x.git/': 403\n> Authorization: Bearer tok3n-value\nauthorization: Basic Ym90OnRvazNu";
    const out = redact(text, ['tok3n-value']);
    assert.ok(!out.includes('tok3n-value'));
    assert.ok(!out.includes('Ym90OnRvazNu'));
    assert.match(out, /'https:\/\/\*\*\*@git\.example\.com\/x\.git\/'/);
    assert.match(out, /Authorization: \*\*\*/);
  });

  it('leaves short secrets alone rather than blanking ordinary words', () => {
    assert.equal(redact('fatal: the end', ['the']), 'fatal: the end');
  });
});

describe('sshCommand', () => {
  it('builds the command with only the given key and strict host checking', () => {
    assert.equal(
      sshCommand('/etc/rollgate/ssh/id_ed25519', '/etc/rollgate/ssh/known_hosts'),
      `ssh -F /dev/null -i '/etc/rollgate/ssh/id_ed25519' -o IdentitiesOnly=yes -o 'UserKnownHostsFile="/etc/rollgate/ssh/known_hosts"' -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=30`,
    );
  });

  it('quotes paths with spaces, quotes and shell syntax so that the shell yields exactly the intended arguments', () => {
    const key = "/tmp/it's a key; rm -rf $HOME `id`";
    const hosts = '/tmp/known hosts $(id)';
    const command = sshCommand(key, hosts);
    // Let a real shell split it, with printf in place of ssh.
    const argv = execFileSync('sh', ['-c', `${command.replace(/^ssh /, "printf '%s\\n' ")}`], { encoding: 'utf8' }).split('\n').slice(0, -1);
    assert.deepEqual(argv, ['-F', '/dev/null', '-i', key, '-o', 'IdentitiesOnly=yes', '-o', `UserKnownHostsFile="${hosts}"`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=30']);
  });

  it('makes relative paths absolute', () => {
    assert.match(sshCommand('keys/id', 'keys/known_hosts'), new RegExp(`-i '${process.cwd().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/keys/id'`));
  });

  for (const bad of ['/k"ey', '/k%h', '/k\ney', '']) {
    it(`refuses the path ${JSON.stringify(bad)}`, () => assert.throws(() => sshCommand(bad, '/known_hosts'), { code: 'config' }));
  }

  it('shellQuote', () => {
    assert.equal(shellQuote("a'b"), `'a'\\''b'`);
  });
});

describe('parseRemoteUrl', () => {
  const table: { url: string; kind: string; origin?: string; gitUrl?: string }[] = [
    { url: 'https://github.com/org/repo.git', kind: 'https', origin: 'https://github.com/' },
    { url: 'https://u:p@git.example.com:8443/a/b.git', kind: 'https', origin: 'https://git.example.com:8443/' },
    { url: 'http://127.0.0.1:9000/repo.git', kind: 'http', origin: 'http://127.0.0.1:9000/' },
    { url: 'ssh://git@github.com/org/repo.git', kind: 'ssh' },
    { url: 'git@github.com:org/repo.git', kind: 'ssh' },
    { url: 'github.com:org/repo.git', kind: 'ssh' },
    { url: 'file:///srv/git/repo.git', kind: 'file' },
    { url: '/srv/git/repo.git', kind: 'local', gitUrl: '/srv/git/repo.git' },
    { url: 'repos/infra.git', kind: 'local', gitUrl: '/base/repos/infra.git' },
    { url: './a:b/repo', kind: 'local', gitUrl: '/base/a:b/repo' },
  ];
  for (const c of table) {
    it(`${c.url} → ${c.kind}`, () => {
      const remote = parseRemoteUrl(c.url, '/base');
      assert.equal(remote.kind, c.kind);
      if (c.origin !== undefined) assert.equal(remote.origin, c.origin);
      assert.equal(remote.url, c.gitUrl ?? c.url);
      assert.ok(!remote.display.includes(':p@'));
    });
  }
});

describe('validateBranch', () => {
  for (const [input, want] of [
    ['main', 'main'],
    ['refs/heads/release/v1.2', 'release/v1.2'],
    ['feature/TICKET-12_x+y', 'feature/TICKET-12_x+y'],
    ['user@team', 'user@team'],
  ] as const) {
    it(`${input} → ${want}`, () => assert.equal(validateBranch(input), want));
  }
  for (const bad of ['a b', 'a;b', 'a&b', 'a|b', 'a>b', 'a*b', 'a?b', 'a~b', 'a^b', 'a:b', 'a\\b', '.hidden', 'a/.b', 'a//b', 'a/', '/a', '@', 'a.', 'x'.repeat(201)]) {
    it(`refuses ${JSON.stringify(bad.length > 20 ? `${bad.slice(0, 10)}…` : bad)}`, () => assert.throws(() => validateBranch(bad), { code: 'config' }));
  }
});

describe('parseLsRemote', () => {
  const sha = 'a'.repeat(40);
  const other = 'b'.repeat(40);
  it('finds the exact ref only', () => {
    assert.equal(parseLsRemote(`${other}\trefs/heads/x/refs/heads/main\n${sha}\trefs/heads/main\n`, 'refs/heads/main'), sha);
    assert.equal(parseLsRemote(`${other}\trefs/heads/x/refs/heads/main\n`, 'refs/heads/main'), undefined);
    assert.equal(parseLsRemote('', 'refs/heads/main'), undefined);
    assert.equal(parseLsRemote(`not-a-sha\trefs/heads/main\n`, 'refs/heads/main'), undefined);
    assert.equal(parseLsRemote(`${'c'.repeat(64)}\trefs/heads/main\n`, 'refs/heads/main'), 'c'.repeat(64));
  });
});

describe('parseNameList', () => {
  it('splits -z output, sorts, dedupes, keeps odd names intact', () => {
    assert.deepEqual(parseNameList('b.yaml\0a dir/new\nline.yaml\0b.yaml\0'), ['a dir/new\nline.yaml', 'b.yaml']);
    assert.deepEqual(parseNameList(''), []);
  });
});

describe('classifyGitFailure', () => {
  const table: [string, string][] = [
    ["fatal: could not read Username for 'https://github.com': terminal prompts disabled", 'auth'],
    ["fatal: Authentication failed for 'https://git.example.com/x.git/'", 'auth'],
    ["fatal: unable to access 'https://git.example.com/x.git/': The requested URL returned error: 403", 'auth'],
    ['git@github.com: Permission denied (publickey).\nfatal: Could not read from remote repository.', 'auth'],
    ['Host key verification failed.\nfatal: Could not read from remote repository.', 'host-key'],
    ['No ED25519 host key is known for github.com and you have requested strict checking.\nHost key verification failed.', 'host-key'],
    ["fatal: repository 'https://github.com/org/nope.git/' not found", 'not-found'],
    ["fatal: '/srv/none.git' does not appear to be a git repository", 'not-found'],
    ["fatal: unable to access 'https://git.example.com/x.git/': Could not resolve host: git.example.com", 'network'],
    ["fatal: unable to access 'http://127.0.0.1:1/x.git/': Failed to connect to 127.0.0.1 port 1: Connection refused", 'network'],
    ['error: RPC failed; curl 18 transfer closed with outstanding read data remaining\nfatal: early EOF', 'network'],
    ["fatal: unable to access 'https://x/': The requested URL returned error: 502", 'network'],
    ["fatal: transport 'ext' not allowed", 'config'],
    ['fatal: bad object 0123456789abcdef0123456789abcdef01234567', 'git'],
    ['error: object file .git/objects/ab/cdef is empty', 'git'],
  ];
  for (const [stderr, code] of table) it(`${code}: ${stderr.slice(0, 60)}`, () => assert.equal(classifyGitFailure(stderr), code));

  it('gitMessage keeps the fatal and error lines', () => {
    assert.equal(gitMessage('hint: something\nerror: RPC failed\nfatal: early EOF\n'), 'error: RPC failed; fatal: early EOF');
    assert.equal(gitMessage('just one line\n'), 'just one line');
  });
});

describe('judgeSignature', () => {
  const commit = '0123456789abcdef0123456789abcdef01234567';
  const gpgFpr = '99741FBC9FE48373B4563AC72410BCA151734EEA';
  const trusted = new Set([gpgFpr]);
  const fields = (over: Partial<SignatureFields>): SignatureFields => ({ status: 'G', fingerprint: gpgFpr, primaryFingerprint: gpgFpr, key: '2410BCA151734EEA', signer: 'Bot <bot@x>', ...over });
  const sshKey = 'SHA256:S39vdLpQMR40xKHTLUYyJsZc6E/nNV1i4bkYwzUilfI';
  const table: { name: string; f: SignatureFields; want: string }[] = [
    { name: 'good trusted OpenPGP', f: fields({}), want: 'ok' },
    { name: 'good OpenPGP by a key outside the policy', f: fields({ fingerprint: 'F'.repeat(40), primaryFingerprint: 'F'.repeat(40) }), want: 'untrusted-key' },
    { name: 'good signature, unknown validity', f: fields({ status: 'U' }), want: 'untrusted-key' },
    { name: 'key missing', f: fields({ status: 'E', fingerprint: '', primaryFingerprint: '' }), want: 'untrusted-key' },
    { name: 'unsigned', f: fields({ status: 'N', fingerprint: '', primaryFingerprint: '', key: '', signer: '' }), want: 'unsigned' },
    { name: 'bad', f: fields({ status: 'B' }), want: 'bad-signature' },
    { name: 'expired signature', f: fields({ status: 'X' }), want: 'expired' },
    { name: 'expired key', f: fields({ status: 'Y' }), want: 'expired' },
    { name: 'revoked', f: fields({ status: 'R' }), want: 'revoked' },
    { name: 'good SSH from allowed signers', f: { status: 'G', fingerprint: sshKey, primaryFingerprint: '', key: sshKey, signer: 'release@example.com' }, want: 'ok' },
    { name: 'SSH not in allowed signers', f: { status: 'U', fingerprint: sshKey, primaryFingerprint: '', key: sshKey, signer: '' }, want: 'untrusted-key' },
  ];
  for (const c of table) {
    it(c.name, () => {
      const verdict = judgeSignature(commit, c.f, trusted);
      assert.equal(verdict.ok ? 'ok' : verdict.reason, c.want);
      if (!verdict.ok) assert.match(verdict.message, /commit 0123456789ab/);
    });
  }

  it('parses git --format output', () => {
    assert.deepEqual(parseSignatureFields(`G\0${gpgFpr}\0${gpgFpr}\0ABC\0Bot <bot@x>\n`), { status: 'G', fingerprint: gpgFpr, primaryFingerprint: gpgFpr, key: 'ABC', signer: 'Bot <bot@x>' });
    assert.equal(parseSignatureFields('N\0\0\0\0\n').status, 'N');
  });
});
