/**
 * The source stage's typed error, the redaction of credentials from every
 * text that may reach a log, an event or a comment, and the pure mapping
 * from git's stderr to a stable error code.
 *
 * Argo CD and Flux both leaked repository credentials through error
 * messages (CVE-2021-23135, CVE-2023-25163), so nothing from git leaves
 * this folder without going through `redact`.
 */

/**
 * Stable codes of a `SourceError`; status, metrics and the runtime branch on
 * these, never on messages.
 * - `config`: the source's own options are wrong (URL, branch, auth, keys); a person must fix them.
 * - `auth`: the remote refused the credentials.
 * - `host-key`: the SSH host key is unknown or changed.
 * - `not-found`: the repository or the branch does not exist.
 * - `network`: the remote could not be reached or the transfer broke.
 * - `timeout`: a git process ran past its deadline and was stopped.
 * - `corrupt-mirror`: the local mirror is unusable even after re-cloning it.
 * - `signature`: signature verification could not run (bad key material, gpg failure).
 * - `io`: the work directory could not be written.
 * - `git`: anything else git reported.
 */
export type SourceErrorCode = 'config' | 'auth' | 'host-key' | 'not-found' | 'network' | 'timeout' | 'corrupt-mirror' | 'signature' | 'io' | 'git';

/** An error of the source stage: a stable `code` and a message, free of credentials, that says what to fix. */
export class SourceError extends Error {
  override readonly name = 'SourceError';
  readonly code: SourceErrorCode;
  /** The remote's URL with any credentials removed. */
  readonly url: string | undefined;

  constructor(code: SourceErrorCode, message: string, options: { url?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.url = options.url;
  }
}

const redacted = '***';

/**
 * Removes credentials from a URL: the whole userinfo of `scheme://user:pass@host`
 * becomes `***` (a token is often the user part alone, as in
 * `https://<token>@github.com`). scp-like SSH addresses (`git@host:path`) and
 * paths are returned unchanged: their user is not a secret.
 */
export function sanitizeUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, `$1${redacted}@`);
}

/**
 * Removes credentials from any text (git's stderr, an error message): the
 * userinfo of every URL in it, the value of any `Authorization` header, and
 * each literal secret given (a token, and its base64 form in a basic
 * credential). Secrets shorter than 4 characters are not searched for, as
 * they would blank out ordinary words.
 */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^/\s'"@]*@/gi, `$1${redacted}@`);
  out = out.replace(/(authorization:\s*)(\S+\s+)?\S+/gi, `$1${redacted}`);
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join(redacted);
  }
  return out;
}

/** Patterns of git's and its helpers' stderr, in the order they are tried. */
const patterns: readonly { code: SourceErrorCode; pattern: RegExp }[] = [
  { code: 'host-key', pattern: /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|No [A-Z0-9-]+ host key is known/i },
  {
    code: 'auth',
    pattern:
      /Authentication failed|could not read (Username|Password)|terminal prompts disabled|returned error: 40[13]|HTTP 40[13]|Permission denied \(|Invalid username or password|access denied|not authorized|Load key .*: (invalid format|Permission denied)|bad permissions/i,
  },
  { code: 'not-found', pattern: /repository '.*' not found|does not appear to be a git repository|returned error: 404|HTTP 404|Repository not found|No such file or directory.*\.git|not a git repository: '.*'$/im },
  {
    code: 'network',
    pattern:
      /Could not resolve (host|hostname|proxy)|Failed to connect|Connection refused|Connection reset|Connection timed out|Operation timed out|Network is unreachable|No route to host|Empty reply from server|unable to access|RPC failed|early EOF|remote end hung up|Could not read from remote repository|returned error: 5\d\d|SSL|TLS|transfer closed|unexpected disconnect/i,
  },
  { code: 'config', pattern: /transport '.*' not allowed|unsupported URL protocol|Unable to find remote helper|protocol '.*' is not supported/i },
];

/**
 * Maps git's stderr from a command that talked to the remote to a stable
 * code; `git` when nothing matches. Pure: the order of `patterns` decides
 * between overlapping messages (an SSH `Permission denied (publickey)` is
 * followed by "Could not read from remote repository", and must stay `auth`).
 */
export function classifyGitFailure(stderr: string): SourceErrorCode {
  for (const { code, pattern } of patterns) if (pattern.test(stderr)) return code;
  return 'git';
}

/** What went wrong, in words, for an error of each code; the start of every message a person reads. */
export function summary(code: SourceErrorCode): string {
  switch (code) {
    case 'auth':
      return 'the Git server refused the credentials';
    case 'host-key':
      return "the SSH server's host key could not be verified";
    case 'not-found':
      return 'the repository or branch was not found';
    case 'network':
      return 'the Git server could not be reached';
    case 'timeout':
      return 'git took too long';
    case 'corrupt-mirror':
      return 'the local mirror is unusable';
    case 'signature':
      return 'signatures could not be verified';
    case 'io':
      return 'the work directory could not be written';
    case 'config':
      return 'git refused the configuration';
    case 'git':
      return 'git failed';
  }
}

/** What to do about an error of each code; the end of every message a person reads. */
export function remedy(code: SourceErrorCode): string {
  switch (code) {
    case 'auth':
      return 'check the token or SSH key the source is configured with, and that it may read the repository';
    case 'host-key':
      return "add the server's host key to the known_hosts file the source is configured with (ssh-keyscan HOST), after checking its fingerprint";
    case 'not-found':
      return 'check the repository URL and branch, and that the credentials can see the repository';
    case 'network':
      return 'check that the Git server is reachable from the agent (DNS, proxy, firewall); the agent keeps the last good revision and retries';
    case 'timeout':
      return 'the Git server answered too slowly; the agent retries with backoff (raise timeoutMs for very large repositories)';
    case 'corrupt-mirror':
      return 'the local mirror was re-cloned and still fails: check the disk of the work directory';
    case 'signature':
      return 'check the trusted keys of the signature policy';
    case 'io':
      return 'check that the work directory is writable and has free space';
    case 'config':
      return "fix the source's configuration";
    case 'git':
      return 'see the git message above';
  }
}

/** One line of git's stderr worth showing: the `fatal:`/`error:` lines, else the last non-empty line. */
export function gitMessage(stderr: string): string {
  const lines = stderr
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const important = lines.filter((l) => /^(fatal|error|remote|ssh|Permission|Host key)/i.test(l));
  const chosen = important.length > 0 ? important : lines.slice(-1);
  const text = chosen.join('; ');
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}
