/**
 * A real Git server on loopback for tests, and helpers that make
 * repositories with commits.
 *
 * The server is `git http-backend` (part of git) behind a node:http server,
 * spoken to as CGI. It counts requests by kind, so a test can assert that a
 * poll of an unchanged branch made one ref advertisement and no fetch; it
 * can require a bearer or basic token; it can be stopped and started on the
 * same port to simulate an outage, or made to hang to test timeouts.
 *
 * Every git this file runs has `GIT_CONFIG_GLOBAL=/dev/null`,
 * `GIT_CONFIG_NOSYSTEM=1`, no proxy and a fixed author and committer, so
 * the developer's machine cannot change a test's result (STYLE.md §16).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rename as renameFile, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { runCommand } from './sim.ts';

/** The environment every git of the tests runs with: nothing from the machine but PATH. */
export function testGitEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: '/nonexistent',
    LANG: 'C',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: 'Test Author',
    GIT_AUTHOR_EMAIL: 'author@example.com',
    GIT_AUTHOR_DATE: '2026-01-01T00:00:00Z',
    GIT_COMMITTER_NAME: 'Test Committer',
    GIT_COMMITTER_EMAIL: 'committer@example.com',
    GIT_COMMITTER_DATE: '2026-01-01T00:00:00Z',
    ...extra,
  };
}

/** Runs a program (git, gpg, ssh-keygen…) and resolves with its stdout; rejects with its stderr on a non-zero exit. */
export async function run(file: string, args: readonly string[], options: { env?: Record<string, string>; input?: string } = {}): Promise<string> {
  const result = await runCommand(file, args, { env: options.env ?? testGitEnv(), timeoutMs: 300_000, ...(options.input !== undefined ? { input: options.input } : {}) });
  if (result.code !== 0) throw new Error(`${file} ${args.join(' ')} failed (exit ${result.code}): ${result.stderr}`);
  return result.stdout;
}

/** How a commit is signed. */
export type CommitSigning = { gpg: { home: string; keyId: string } } | { ssh: { keyFile: string } };

/** A working repository whose commits are pushed to a bare repository that a server serves. */
export interface TestRepository {
  /** The working tree. */
  readonly workDir: string;
  /** The bare repository (the remote). */
  readonly bareDir: string;
  /** The bare repository's name under the server's project root, e.g. `repo.git`. */
  readonly name: string;
  /** Writes files (relative paths, parents created). */
  write(files: Record<string, string>): Promise<void>;
  /** Removes files. */
  remove(...paths: string[]): Promise<void>;
  /** Renames a file with `git mv`. */
  rename(from: string, to: string): Promise<void>;
  /** Commits everything in the working tree; returns the new commit. Each commit gets a later date so shas never repeat. */
  commit(message: string, options?: { sign?: CommitSigning }): Promise<string>;
  /** Pushes the branch to the bare repository (`force` for a rewritten history). */
  push(options?: { force?: boolean }): Promise<void>;
  /** Moves the branch back to `commit` (for a force-push). */
  resetHard(commit: string): Promise<void>;
  /** Runs git in the working tree. */
  git(args: readonly string[], env?: Record<string, string>): Promise<string>;
}

/**
 * Creates `<projectRoot>/<name>` (bare) and a working repository beside it,
 * with branch `branch` (default `main`), and returns helpers to commit and
 * push. Nothing is committed yet.
 */
export async function createTestRepository(projectRoot: string, options: { name?: string; branch?: string } = {}): Promise<TestRepository> {
  const name = options.name ?? 'repo.git';
  const branch = options.branch ?? 'main';
  const bareDir = join(projectRoot, name);
  const workDir = await mkdtemp(join(tmpdir(), 'rollgate-work-'));
  await run('git', ['init', '-q', '--bare', '-b', branch, bareDir]);
  await run('git', ['init', '-q', '-b', branch, workDir]);
  let commits = 0;
  const git = (args: readonly string[], env: Record<string, string> = {}): Promise<string> => {
    // A later date per commit: identical trees and messages must still give new commits.
    const date = new Date(Date.UTC(2026, 0, 1) + commits * 60_000).toISOString();
    return run('git', ['-C', workDir, ...args], { env: testGitEnv({ GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date, ...env }) });
  };
  return {
    workDir,
    bareDir,
    name,
    write: async (files) => {
      for (const [path, content] of Object.entries(files)) {
        await mkdir(dirname(join(workDir, path)), { recursive: true });
        await writeFile(join(workDir, path), content);
      }
    },
    remove: async (...paths) => {
      for (const path of paths) await rm(join(workDir, path));
    },
    rename: async (from, to) => {
      await mkdir(dirname(join(workDir, to)), { recursive: true });
      await renameFile(join(workDir, from), join(workDir, to));
    },
    commit: async (message, commitOptions = {}) => {
      commits++;
      await git(['add', '-A']);
      const sign = commitOptions.sign;
      if (sign === undefined) {
        await git(['commit', '-q', '--allow-empty', '-m', message]);
      } else if ('gpg' in sign) {
        await git(['-c', `user.signingkey=${sign.gpg.keyId}`, 'commit', '-q', '--allow-empty', '-S', '-m', message], { GNUPGHOME: sign.gpg.home });
      } else {
        await git(['-c', 'gpg.format=ssh', '-c', `user.signingkey=${sign.ssh.keyFile}`, 'commit', '-q', '--allow-empty', '-S', '-m', message]);
      }
      return (await git(['rev-parse', 'HEAD'])).trim();
    },
    push: async (pushOptions = {}) => {
      await git(['push', '-q', ...(pushOptions.force ? ['--force'] : []), bareDir, `${branch}:refs/heads/${branch}`]);
    },
    resetHard: async (commit) => {
      await git(['reset', '-q', '--hard', commit]);
    },
    git,
  };
}

/** What the server saw, by kind of request. */
export interface RequestCounts {
  /** `GET …/info/refs?service=git-upload-pack`: the start of every ls-remote and fetch. */
  infoRefs: number;
  /** Protocol v2 `ls-refs` commands (the ref listing of an ls-remote or a fetch). */
  lsRefs: number;
  /** Pack negotiations: protocol v2 `fetch` commands, or protocol v0 `POST git-upload-pack`. */
  fetch: number;
  /** Requests answered 401 because the token was missing or wrong. */
  unauthorized: number;
  /** Anything else. */
  other: number;
}

/** One request as the server saw it. */
export interface SeenRequest {
  method: string;
  url: string;
  kind: keyof RequestCounts;
  /** The Authorization header, if any (tests assert tokens never travel in URLs). */
  authorization?: string;
}

/** What the server requires of every request: a bearer token, or basic credentials. */
export type ServerAuth = { type: 'bearer'; token: string } | { type: 'basic'; username: string; password: string };

/** A git smart-HTTP server on 127.0.0.1. */
export interface GitHttpServer {
  /** The project root: bare repositories under it are served as `<url>/<name>`. */
  readonly root: string;
  /** `http://127.0.0.1:<port>`; stays the same across stop() and start(). */
  readonly url: string;
  /** The URL of a repository under the root. */
  repoUrl(name?: string): string;
  /** Counts since the start or the last reset. */
  counts(): RequestCounts;
  /** Every request since the start or the last reset. */
  requests(): readonly SeenRequest[];
  resetCounts(): void;
  /** When set, requests are accepted and never answered (for timeout tests). */
  setHang(hang: boolean): void;
  /** Closes the listener and every open connection (an outage). */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /** Stops the server and removes the project root. */
  close(): Promise<void>;
}

function emptyCounts(): RequestCounts {
  return { infoRefs: 0, lsRefs: 0, fetch: 0, unauthorized: 0, other: 0 };
}

function authorized(auth: ServerAuth | undefined, header: string | undefined): boolean {
  if (auth === undefined) return true;
  if (auth.type === 'bearer') return header === `Bearer ${auth.token}`;
  return header === `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
}

/** The v2 command of an upload-pack request body (pkt-lines: `0014command=ls-refs\n`…). */
function uploadPackCommand(body: Buffer, encoding: string | undefined): string | undefined {
  let text: Buffer = body;
  if (encoding === 'gzip') {
    try {
      text = gunzipSync(body);
    } catch {
      return undefined;
    }
  }
  return /^[0-9a-f]{4}command=([a-z-]+)/.exec(text.subarray(0, 64).toString('latin1'))?.[1];
}

function classify(method: string, path: string, query: string, command: string | undefined): keyof RequestCounts {
  if (method === 'GET' && path.endsWith('/info/refs') && query.includes('service=git-upload-pack')) return 'infoRefs';
  if (method === 'POST' && path.endsWith('/git-upload-pack')) {
    if (command === 'ls-refs') return 'lsRefs';
    if (command === 'fetch' || command === undefined) return 'fetch';
  }
  return 'other';
}

/** Parses the CGI header block (`Status: 200 OK`, `Content-Type: …`). */
function parseCgiHeaders(block: string): { status: number; headers: Record<string, string> } {
  let status = 200;
  const headers: Record<string, string> = {};
  for (const line of block.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10) || 500;
    else headers[name] = value;
  }
  return { status, headers };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function serveCgi(root: string, req: IncomingMessage, res: ServerResponse, path: string, query: string, body: Buffer): void {
  const env: Record<string, string> = {
    ...testGitEnv(),
    GIT_PROJECT_ROOT: root,
    GIT_HTTP_EXPORT_ALL: '1',
    PATH_INFO: decodeURIComponent(path),
    QUERY_STRING: query,
    REQUEST_METHOD: req.method ?? 'GET',
    CONTENT_TYPE: req.headers['content-type'] ?? '',
    CONTENT_LENGTH: String(body.length),
    REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
  };
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined) env['HTTP_CONTENT_ENCODING'] = encoding;
  // http-backend turns the Git-Protocol header into GIT_PROTOCOL, which selects protocol v2.
  const protocol = req.headers['git-protocol'];
  if (typeof protocol === 'string') env['HTTP_GIT_PROTOCOL'] = protocol;
  const child = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.on('error', () => undefined);
  child.stdin.end(body);
  let head = Buffer.alloc(0);
  let started = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (started) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const text = head.toString('latin1');
    const crlf = text.indexOf('\r\n\r\n');
    const lf = text.indexOf('\n\n');
    const end = crlf >= 0 && (lf < 0 || crlf < lf) ? crlf + 4 : lf >= 0 ? lf + 2 : -1;
    if (end < 0) return;
    const { status, headers } = parseCgiHeaders(text.slice(0, end));
    res.writeHead(status, headers);
    started = true;
    res.write(head.subarray(end));
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.on('close', (code) => {
    if (!started) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`http-backend exited ${code}: ${stderr}`);
      return;
    }
    res.end();
  });
}

/**
 * Starts a smart-HTTP git server on 127.0.0.1 (a free port) serving the bare
 * repositories under a fresh temporary project root. With `auth`, every
 * request must carry that bearer token or basic credential.
 */
export async function startGitHttpServer(options: { auth?: ServerAuth } = {}): Promise<GitHttpServer> {
  const root = await mkdtemp(join(tmpdir(), 'rollgate-git-server-'));
  let counts = emptyCounts();
  let seen: SeenRequest[] = [];
  let hang = false;
  const sockets = new Set<Socket>();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    const body = method === 'POST' ? await readBody(req) : Buffer.alloc(0);
    const header = req.headers.authorization;
    if (hang) return;
    if (!authorized(options.auth, header)) {
      counts.unauthorized++;
      seen.push({ method, url: req.url ?? '', kind: 'unauthorized', ...(header !== undefined ? { authorization: header } : {}) });
      res.writeHead(401, { 'www-authenticate': options.auth?.type === 'basic' ? 'Basic realm="git"' : 'Bearer realm="git"', 'content-type': 'text/plain' });
      res.end('unauthorized\n');
      return;
    }
    const encoding = req.headers['content-encoding'];
    const kind = classify(method, url.pathname, url.search, method === 'POST' ? uploadPackCommand(body, typeof encoding === 'string' ? encoding : undefined) : undefined);
    counts[kind]++;
    seen.push({ method, url: req.url ?? '', kind, ...(header !== undefined ? { authorization: header } : {}) });
    serveCgi(root, req, res, url.pathname, url.search.replace(/^\?/, ''), body);
  };

  let server: Server | undefined;
  let port = 0;
  const listen = async (): Promise<void> => {
    const created = createServer((req, res) => {
      handle(req, res).catch((err: unknown) => {
        res.writeHead(500);
        res.end(String(err));
      });
    });
    created.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    created.listen(port, '127.0.0.1');
    await once(created, 'listening');
    port = (created.address() as AddressInfo).port;
    server = created;
  };
  const stop = async (): Promise<void> => {
    const current = server;
    if (current === undefined) return;
    server = undefined;
    const closed = new Promise<void>((resolve) => current.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  await listen();
  const url = `http://127.0.0.1:${port}`;
  return {
    root,
    url,
    repoUrl: (name = 'repo.git') => `${url}/${name}`,
    counts: () => ({ ...counts }),
    requests: () => [...seen],
    resetCounts: () => {
      counts = emptyCounts();
      seen = [];
    },
    setHang: (value) => {
      hang = value;
    },
    stop,
    start: async () => {
      if (server === undefined) await listen();
    },
    close: async () => {
      await stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** A GnuPG home with one fresh signing key (ed25519, no passphrase). */
export interface TestGpgKey {
  home: string;
  fingerprint: string;
  /** The armored public key. */
  publicKey: string;
  /** Stops the gpg-agent that signing started, and removes the home. */
  remove(): Promise<void>;
}

/** Generates an OpenPGP signing key in a fresh GNUPGHOME. */
export async function createGpgKey(name: string): Promise<TestGpgKey> {
  // A short path: gpg-agent's socket lives in the home and Unix socket paths are limited to 108 bytes.
  const home = await mkdtemp(join(tmpdir(), 'rg-gpg-'));
  const env = { ...testGitEnv(), GNUPGHOME: home };
  await run('gpg', ['--batch', '--passphrase', '', '--quick-gen-key', `${name} <${name.toLowerCase().replace(/\W+/g, '.')}@example.com>`, 'ed25519', 'sign', 'never'], { env });
  const colons = await run('gpg', ['--batch', '--with-colons', '--list-keys'], { env });
  const fingerprint = /^fpr:+([0-9A-F]{40,64}):/m.exec(colons)?.[1];
  if (fingerprint === undefined) throw new Error(`no fingerprint in gpg output: ${colons}`);
  const publicKey = await run('gpg', ['--batch', '--armor', '--export', fingerprint], { env });
  return {
    home,
    fingerprint,
    publicKey,
    remove: async () => {
      await run('gpgconf', ['--kill', 'gpg-agent'], { env }).catch(() => undefined);
      await rm(home, { recursive: true, force: true });
    },
  };
}

/** An SSH signing key pair (ed25519, no passphrase). */
export interface TestSshKey {
  keyFile: string;
  publicKey: string;
}

/** Generates an ed25519 key with ssh-keygen in `dir`. */
export async function createSshKey(dir: string, name: string): Promise<TestSshKey> {
  const keyFile = join(dir, name);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', keyFile]);
  const publicKey = (await readFile(`${keyFile}.pub`, 'utf8')).trim();
  return { keyFile, publicKey };
}
