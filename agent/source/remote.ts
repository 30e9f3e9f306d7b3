/**
 * The remote: validation of the URL and branch (both hostile input: they
 * come from a configuration file that a repository may itself carry), the
 * credentials handed to git, and the environment every git runs in.
 *
 * Credentials never appear in a URL, a config file or a command line: a
 * token travels as an `Authorization` header set through `GIT_CONFIG_*`
 * environment variables (readable by the same user and root only, unlike
 * argv, which every user can list); an SSH key is named by path in
 * `GIT_SSH_COMMAND`.
 */
import { constants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { SourceError, sanitizeUrl } from './errors.ts';

/** How the source authenticates to the remote. */
export type SourceAuth =
  | {
      type: 'token';
      /** Name of the environment variable holding the token (read at every poll, so a rotated secret is picked up). */
      env?: string;
      /** Path of a file holding the token (trailing whitespace ignored; read at every poll). */
      file?: string;
      /**
       * With a username, the token is sent as HTTP basic credentials
       * (`username:token`, e.g. `x-access-token` for GitHub, `oauth2` for
       * GitLab); without one, as `Authorization: Bearer <token>`.
       */
      username?: string;
    }
  | {
      type: 'ssh';
      /** Path of the private key (unencrypted; ssh refuses a key other users can read). */
      keyFile: string;
      /** Path of the known_hosts file; host keys are checked strictly against it. */
      knownHostsFile: string;
    };

/** The transports rollgate speaks; `local` is a filesystem path. */
export type RemoteKind = 'https' | 'http' | 'ssh' | 'file' | 'local';

/** A validated remote. */
export interface Remote {
  /** What git is given: the URL as configured, or an absolute path for a local repository. */
  readonly url: string;
  readonly kind: RemoteKind;
  /** The URL without credentials, for logs and messages. */
  readonly display: string;
  /** For HTTP(S): `scheme://host[:port]/`, the scope of the `http.<url>.extraHeader` that carries a token. */
  readonly origin?: string;
  /** For HTTP(S): whether the host is a loopback address. */
  readonly loopback?: boolean;
}

/** The only transports git may use, whatever a URL or a redirect asks for (git's GIT_ALLOW_PROTOCOL). */
export const allowedProtocols = 'file:http:https:ssh';

// Control characters (C0 and DEL) in a URL or a path: nothing legitimate carries them.
// eslint-disable-next-line no-control-regex
const controlChars = /[\u0000-\u001f\u007f]/;

function configError(message: string): SourceError {
  return new SourceError('config', message);
}

/**
 * Validates a remote URL and says which transport it uses. Refused, with a
 * message saying why: an empty URL, control characters, a leading `-` (git
 * would read it as an option, CVE-2017-1000117), git's `<transport>::`
 * helper syntax (`ext::` runs commands), `git://` (unauthenticated and
 * unencrypted), SSH hosts starting with `-`, and unknown schemes. A
 * relative path is made absolute against `cwd`.
 */
export function parseRemoteUrl(url: string, cwd: string = process.cwd()): Remote {
  if (url.trim() === '') throw configError('the source URL is empty: set it to an https://, ssh:// or file:// URL or a path');
  if (controlChars.test(url)) throw configError(`the source URL ${JSON.stringify(sanitizeUrl(url))} contains control characters`);
  if (url.startsWith('-')) throw configError(`the source URL ${JSON.stringify(sanitizeUrl(url))} starts with '-', which git would read as an option; refusing it`);
  const helper = /^([a-z0-9+.-]+)::/i.exec(url);
  if (helper) {
    throw configError(`the source URL uses git's '${helper[1]}::' remote-helper syntax, which can run commands (ext::) or open descriptors (fd::); only https://, http://, ssh://, file:// URLs and paths are accepted`);
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw configError(`the source URL ${JSON.stringify(sanitizeUrl(url))} is not a valid URL`);
    }
    const display = sanitizeUrl(url);
    if (scheme === 'https' || scheme === 'http') {
      if (parsed.hostname === '') throw configError(`the source URL ${display} has no host`);
      const host = parsed.hostname.replace(/^\[|\]$/g, '');
      const loopback = host === 'localhost' || host === '::1' || /^127\./.test(host);
      return { url, kind: scheme, display, origin: `${parsed.protocol}//${parsed.host}/`, loopback };
    }
    if (scheme === 'ssh') {
      if (parsed.hostname === '' || parsed.hostname.startsWith('-')) throw configError(`the SSH URL ${display} has no host or a host starting with '-'`);
      return { url, kind: 'ssh', display };
    }
    if (scheme === 'file') return { url, kind: 'file', display };
    if (scheme === 'git') throw configError(`the source URL ${display} uses git://, which is neither authenticated nor encrypted; use https:// or ssh://`);
    throw configError(`the source URL ${display} uses the unsupported scheme '${scheme}:'; use https://, ssh:// or file://`);
  }
  // git reads `[user@]host:path` as SSH when no slash comes before the first colon.
  const scp = /^(?:([^@/:]+)@)?([^/:]+):(.*)$/.exec(url);
  if (scp && !isAbsolute(url)) {
    const host = scp[2] ?? '';
    if (host.startsWith('-') || (scp[1] ?? '').startsWith('-')) throw configError(`the SSH address ${JSON.stringify(url)} has a user or host starting with '-'; refusing it`);
    if ((scp[3] ?? '') === '') throw configError(`the SSH address ${JSON.stringify(url)} has no repository path after ':'`);
    return { url, kind: 'ssh', display: url };
  }
  const path = resolve(cwd, url);
  return { url: path, kind: 'local', display: path };
}

/** Characters a branch name may contain here: a strict subset of git's rules, so that no name can be read as an option, a revision expression or shell syntax. */
const branchChars = /^[A-Za-z0-9._/+@-]+$/;

/**
 * Validates a branch name and returns its short form (`refs/heads/` is
 * stripped). Stricter than `git check-ref-format`: only letters, digits and
 * `. _ / + @ -`, no leading `-` or `/`, no `..`, `//`, `@{`, no component
 * starting with `.` or ending with `.lock`, at most 200 characters.
 */
export function validateBranch(branch: string): string {
  const short = branch.startsWith('refs/heads/') ? branch.slice('refs/heads/'.length) : branch;
  const shown = JSON.stringify(branch);
  if (short === '') throw configError('the source branch is empty: set it to a branch name such as main');
  if (!branchChars.test(short)) {
    const bad = [...new Set([...short].filter((c) => !/[A-Za-z0-9._/+@-]/.test(c)))].map((c) => JSON.stringify(c)).join(' ');
    throw configError(`the source branch ${shown} contains characters rollgate does not accept (${bad}); a branch name may use letters, digits and . _ / + @ -`);
  }
  if (short.length > 200) throw configError(`the source branch ${shown} is longer than 200 characters`);
  if (short.startsWith('-')) throw configError(`the source branch ${shown} starts with '-', which git would read as an option`);
  if (short.startsWith('/') || short.endsWith('/') || short.includes('//')) throw configError(`the source branch ${shown} has an empty path component`);
  if (short.includes('..')) throw configError(`the source branch ${shown} contains '..', which git reads as a range`);
  if (short === '@' || short.includes('@{')) throw configError(`the source branch ${shown} is a revision expression, not a branch name`);
  for (const component of short.split('/')) {
    if (component.startsWith('.') || component.endsWith('.lock') || component.endsWith('.')) {
      throw configError(`the source branch ${shown} has a component starting with '.' or ending with '.' or '.lock', which git does not allow`);
    }
  }
  return short;
}

/**
 * Validates the shape of `auth` against the remote: a token needs HTTP(S)
 * (and HTTPS unless the host is loopback, so it never crosses a network in
 * clear), exactly one of `env` and `file`, and a username without ':'; SSH
 * auth needs an SSH remote. Files are checked at every poll, not here.
 */
export function validateAuth(auth: SourceAuth | undefined, remote: Remote): void {
  if (auth === undefined) return;
  if (auth.type === 'token') {
    if (remote.kind !== 'https' && remote.kind !== 'http') throw configError(`token authentication needs an https:// URL, but the source URL is ${remote.display}`);
    if (remote.kind === 'http' && remote.loopback !== true) throw configError(`refusing to send a token over plain http:// to ${remote.display}; use https://`);
    if ((auth.env === undefined) === (auth.file === undefined)) throw configError("token authentication needs exactly one of 'env' (a variable name) and 'file' (a path)");
    if (auth.env !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(auth.env)) throw configError(`${JSON.stringify(auth.env)} is not a valid environment variable name`);
    if (auth.username !== undefined && (auth.username === '' || /[:\r\n]/.test(auth.username))) throw configError('the token username must be non-empty and contain no ":" or line break');
    return;
  }
  if (remote.kind !== 'ssh') throw configError(`SSH authentication needs an ssh:// URL or a user@host:path address, but the source URL is ${remote.display}`);
  sshCommand(auth.keyFile, auth.knownHostsFile);
}

/** Quotes a string for POSIX sh (git runs GIT_SSH_COMMAND through the shell). */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * The `GIT_SSH_COMMAND` for a key and a known_hosts file: only that key
 * (`IdentitiesOnly`, so an ssh-agent's keys are not tried), host keys
 * checked strictly against that file, no prompt (`BatchMode`), and no
 * ssh_config from the machine (`-F /dev/null`), so the agent behaves the
 * same everywhere. Paths are made absolute and shell-quoted; the known_hosts
 * path is also double-quoted for ssh's own option parser, which would split
 * it at spaces. Paths with `"`, `%` (ssh expands `%` tokens in both) or
 * control characters are refused.
 */
export function sshCommand(keyFile: string, knownHostsFile: string): string {
  for (const [what, path] of [
    ['SSH key file', keyFile],
    ['known_hosts file', knownHostsFile],
  ] as const) {
    if (path === '') throw configError(`the ${what} path is empty`);
    if (/["%]/.test(path) || controlChars.test(path)) throw configError(`the ${what} path ${JSON.stringify(path)} contains '"', '%' or a control character, which ssh would misread`);
  }
  const key = resolve(keyFile);
  const knownHosts = resolve(knownHostsFile);
  return [
    'ssh',
    '-F /dev/null',
    `-i ${shellQuote(key)}`,
    '-o IdentitiesOnly=yes',
    `-o ${shellQuote(`UserKnownHostsFile="${knownHosts}"`)}`,
    '-o StrictHostKeyChecking=yes',
    '-o BatchMode=yes',
    '-o ConnectTimeout=30',
  ].join(' ');
}

/** What a git process needs to authenticate: config entries, environment variables, and the secrets to redact from its output. */
export interface Credentials {
  readonly config: readonly (readonly [string, string])[];
  readonly env: Readonly<Record<string, string>>;
  readonly secrets: readonly string[];
}

const noCredentials: Credentials = { config: [], env: {}, secrets: [] };

/**
 * Reads the credentials for one poll: the token from its variable or file
 * (a missing, empty or multi-line token is a `config` error naming where it
 * was looked for, never its value), or checks that the SSH key and
 * known_hosts files exist and that the key is private to its owner.
 */
export async function loadCredentials(auth: SourceAuth | undefined, remote: Remote, env: Readonly<Record<string, string | undefined>>): Promise<Credentials> {
  if (auth === undefined) return noCredentials;
  if (auth.type === 'token') {
    let token: string;
    let where: string;
    if (auth.env !== undefined) {
      where = `environment variable ${auth.env}`;
      token = env[auth.env] ?? '';
    } else {
      where = `token file ${auth.file ?? ''}`;
      try {
        token = await readFile(auth.file ?? '', 'utf8');
      } catch (err) {
        throw configError(`the ${where} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}); mount the secret there or fix auth.file`);
      }
    }
    token = token.replace(/\s+$/, '').replace(/^\s+/, '');
    if (token === '') throw configError(`the ${where} is empty or unset; put the Git token there`);
    if (/[\r\n\0]/.test(token)) throw configError(`the ${where} holds more than one line; it must hold the token alone`);
    const header =
      auth.username === undefined ? `Authorization: Bearer ${token}` : `Authorization: Basic ${Buffer.from(`${auth.username}:${token}`).toString('base64')}`;
    const secrets = [token, header.slice('Authorization: '.length)];
    return { config: [[`http.${remote.origin ?? ''}.extraHeader`, header]], env: {}, secrets };
  }
  const command = sshCommand(auth.keyFile, auth.knownHostsFile);
  await readableFile(auth.keyFile, 'SSH private key file', 'auth.keyFile');
  await readableFile(auth.knownHostsFile, 'known_hosts file', 'auth.knownHostsFile');
  const info = await stat(auth.keyFile);
  if (typeof process.getuid === 'function' && info.uid === process.getuid() && (info.mode & 0o077) !== 0) {
    throw configError(`the SSH private key file ${auth.keyFile} can be read by other users (mode ${(info.mode & 0o777).toString(8)}), and ssh refuses such keys: chmod 600 it (Kubernetes: defaultMode 0400)`);
  }
  return { config: [], env: { GIT_SSH_COMMAND: command }, secrets: [] };
}

async function readableFile(path: string, what: string, option: string): Promise<void> {
  try {
    await access(path, constants.R_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable by the agent' : `cannot be read (${code ?? 'error'})`;
    throw configError(`the ${what} ${path} ${reason}; mount it there or fix ${option}`);
  }
}

/** Variables git and its helpers read that the agent sets itself or must not inherit (git would otherwise take them from the machine). */
const droppedVariables = new Set(['EDITOR', 'VISUAL', 'PAGER', 'SSH_ASKPASS', 'PREFIX', 'LANGUAGE', 'LC_ALL', 'LC_MESSAGES']);
/** GIT_* variables that may pass from the agent's environment to git: TLS trust settings for private CAs. */
const passedGitVariables = new Set(['GIT_SSL_CAINFO', 'GIT_SSL_CAPATH', 'GIT_HTTP_USER_AGENT']);

/**
 * The environment of every git the source runs: the agent's own
 * environment minus every GIT_* variable (a stray GIT_DIR or GIT_TRACE
 * would redirect or log the command), minus the token's own variable and
 * prompt helpers, plus the fixed settings below and the given config
 * entries (as GIT_CONFIG_COUNT/KEY/VALUE: git ≥ 2.31 reads them like `-c`
 * without exposing them in the process list).
 *
 * Fixed: no system or global git config (the machine cannot change what the
 * agent does), no repository discovery above `ceiling` (a work directory
 * inside someone's checkout must not pick up its config), no prompts, messages in English (errors are classified by
 * their text), only the transports in `allowedProtocols`, `ext::` disabled
 * once more, credential helpers reset, objects fsck'ed as they arrive, and
 * automatic gc in the foreground (a detached gc would outlive the poll).
 */
export function gitEnvironment(
  base: Readonly<Record<string, string | undefined>>,
  options: { config?: readonly (readonly [string, string])[]; env?: Readonly<Record<string, string>>; dropVariables?: readonly string[]; ceiling?: string } = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  const dropped = new Set(options.dropVariables ?? []);
  for (const [name, value] of Object.entries(base)) {
    if (value === undefined || dropped.has(name) || droppedVariables.has(name)) continue;
    if (name.toUpperCase().startsWith('GIT_') && !passedGitVariables.has(name)) continue;
    env[name] = value;
  }
  const config: (readonly [string, string])[] = [
    ['protocol.ext.allow', 'never'],
    ['credential.helper', ''],
    ['fetch.fsckObjects', 'true'],
    ['gc.autoDetach', 'false'],
    ...(options.config ?? []),
  ];
  Object.assign(env, {
    LC_ALL: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_ALLOW_PROTOCOL: allowedProtocols,
    GCM_INTERACTIVE: 'never',
    GIT_CONFIG_COUNT: String(config.length),
  });
  if (options.ceiling !== undefined) env['GIT_CEILING_DIRECTORIES'] = options.ceiling;
  config.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  Object.assign(env, options.env ?? {});
  return env;
}
