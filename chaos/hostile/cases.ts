/**
 * The hostile input campaign's corpus (issue 10): repositories and webhook
 * deliveries built to break rollgate, beyond the earlier corpus in
 * test/manifests/corpus/cases.ts (which covers the first billion-laughs file,
 * `__proto__` in metadata, 70-level nesting, one FIFO, symlinks to /etc, the
 * common rollgate.yaml mistakes) and the webhook tests under test/webhook/
 * (one bad signature, one form-encoded body, Content-Length over the limit).
 *
 * Each repository case is a valid base repository (below) with files
 * replaced, added or removed; hostile files that would be large or dangerous
 * to commit are generated when a case is materialised, never stored. Each
 * delivery case builds the raw HTTP requests from the receiver's secrets, so
 * a case can sign exactly what it wants signed.
 *
 * Nothing here does work at import time: {@link repositoryCases} and
 * {@link deliveryCases} build the lists when called.
 */
import { createHmac } from 'node:crypto';

// ---------------------------------------------------------------------------
// Repository cases

/** What to put at a path of a case's repository. */
export type FileSpec =
  | string
  | Uint8Array
  /** Remove the base file at this path. */
  | null
  | { readonly symlink: string }
  | { readonly fifo: true }
  /** A character device (`mknod c 1 3`, /dev/null's numbers). */
  | { readonly device: true }
  /** A directory with this name (created empty if nothing else is put in it), with these permission bits when given. */
  | { readonly directory: true; readonly mode?: number }
  /** Content made when materialised (large or generated files). */
  | { readonly generate: () => string | Uint8Array }
  /** A regular file with these permission bits (e.g. 0o000: unreadable to anyone but root). */
  | { readonly content: string; readonly mode: number };

/** What validate must conclude about a case. */
export type Verdict = 'invalid' | 'valid';

/** One repository built to break the loader, the planner or the agent. */
export interface RepositoryCase {
  readonly kind: 'repository';
  /** Unique; becomes a directory name. */
  readonly name: string;
  /** What it attacks, for the table. */
  readonly group: 'yaml' | 'encoding' | 'files' | 'config' | 'objects' | 'helm' | 'scale';
  readonly files: Readonly<Record<string, FileSpec>>;
  /** Whether validate must refuse the repository (`invalid`) or accept it (`valid`: strange but legal). */
  readonly expect: Verdict;
  /**
   * Also run `node agent/cli/main.ts validate` and `plan` as child processes
   * (the representative subset): `root` as the current user, `nobody` as uid
   * 65534 (for permission-denied files, which root can always read).
   */
  readonly spawn?: 'root' | 'nobody';
}

const helmValues = `pd: {image: pingcap/pd:v7.5.1, replicas: 3}
tikv: {image: pingcap/tikv:v7.5.1, replicas: 3}
tidb: {image: pingcap/tidb:v7.5.1, replicas: 2}
`;

/** The base repository every case starts from; valid, two clusters, every target kind. */
export const baseRepository: Readonly<Record<string, string>> = {
  'rollgate.yaml': config(''),
  'staging/cache.yaml': statefulSet('cache', 'cache'),
  'staging/web.yaml': deployment('web'),
  'prod/cache.yaml': statefulSet('cache', 'cache'),
  'prod/db.yaml': tidbCluster('db', '  version: v7.5.1\n  pd: {baseImage: pingcap/pd, replicas: 3}\n  tikv: {baseImage: pingcap/tikv, replicas: 3}\n  tidb: {baseImage: pingcap/tidb, replicas: 2}\n'),
  'prod/rec.yaml': redisCluster('  nodes: 3\n  redisEnterpriseImageSpec: {repository: redislabs/redis, versionTag: 7.4.6-22}\n'),
  'prod/analytics/release.yaml': helmRelease(''),
  'prod/analytics/values.yaml': helmValues,
};

/** `rollgate.yaml` of the base with `extra` appended (top-level keys). */
export function config(extra: string): string {
  return `apiVersion: rollgate.dev/v1alpha1
kind: Config
clusters:
  - name: staging
    paths: [staging]
  - name: prod
    paths: [prod]
    dependsOn: [staging]
defaults:
  progressDeadline: 2m
  gates:
    - podReady: {}
    - rolloutStatus: {}
${extra}`;
}

/** A StatefulSet in namespace `namespace`; `extraSpec` lines are appended to its spec. */
export function statefulSet(name: string, namespace: string, image = 'memcached:1.6.29', extraSpec = ''): string {
  return `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  replicas: 3
  serviceName: ${name}
  selector:
    matchLabels: {app: ${name}}
  template:
    metadata:
      labels: {app: ${name}}
    spec:
      containers:
        - name: main
          image: ${image}
${extraSpec}`;
}

function deployment(name: string, image = 'nginx:1.27.0'): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: ${name}}
  template:
    metadata:
      labels: {app: ${name}}
    spec:
      containers:
        - name: main
          image: ${image}
`;
}

function tidbCluster(name: string, spec: string): string {
  return `apiVersion: pingcap.com/v1alpha1
kind: TidbCluster
metadata:
  name: ${name}
  namespace: db
spec:
${spec}`;
}

function redisCluster(spec: string): string {
  return `apiVersion: app.redislabs.com/v1
kind: RedisEnterpriseCluster
metadata:
  name: rec
  namespace: redis
spec:
${spec}`;
}

function helmRelease(spec: string): string {
  return `apiVersion: rollgate.dev/v1alpha1
kind: HelmRelease
metadata:
  name: analytics
  namespace: analytics
spec:
  chart: {name: tidb-cluster, repository: https://charts.pingcap.org/, version: v1.5.0}
${spec}`;
}

const configMap = (name: string, data: string): string => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: cache\ndata:\n${data}`;

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const bytes = (...parts: readonly (string | Uint8Array | readonly number[])[]): Uint8Array => {
  const chunks = parts.map((p) => (typeof p === 'string' ? utf8(p) : p instanceof Uint8Array ? p : Uint8Array.from(p)));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
};

/** A cache StatefulSet with one line of its base text replaced. */
const cacheWith = (from: string, to: string): string => {
  const base = baseRepository['prod/cache.yaml'] as string;
  if (!base.includes(from)) throw new Error(`base prod/cache.yaml has no ${JSON.stringify(from)}`);
  return base.replace(from, to);
};
const dbWith = (spec: string): string => tidbCluster('db', spec);
const withGates = (gates: string): string => config(`targets:\n  - target: prod/cache/StatefulSet/cache\n    gates:\n${gates}`);

/** Aliases that fan out `levels` times by `width`: the billion-laughs shape, keyed as `kind` says. */
function laughs(levels: number, width: number, asMapping: boolean): string {
  const lines = [asMapping ? 'l0: &l0 {a: lol, b: lol}' : 'l0: &l0 [lol, lol]'];
  for (let i = 1; i < levels; i++) {
    const refs = Array.from({ length: width }, (_, k) => (asMapping ? `k${k}: *l${i - 1}` : `*l${i - 1}`)).join(', ');
    lines.push(asMapping ? `l${i}: &l${i} {${refs}}` : `l${i}: &l${i} [${refs}]`);
  }
  return lines.join('\n');
}

/** Every repository case. */
export function repositoryCases(): RepositoryCase[] {
  const cases: RepositoryCase[] = [];
  const add = (name: string, group: RepositoryCase['group'], expect: Verdict, files: Record<string, FileSpec>, spawn?: RepositoryCase['spawn']): void => {
    cases.push({ kind: 'repository', name, group, expect, files, ...(spawn !== undefined ? { spawn } : {}) });
  };

  // --- YAML structure: nesting past what a recursive parser survives (the earlier corpus stops at 70 levels)
  add('deep-flow-sequences-100k', 'yaml', 'invalid', { 'prod/deep.yaml': { generate: () => `a: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n` } }, 'root');
  add('deep-flow-mappings-50k', 'yaml', 'invalid', { 'prod/deep.yaml': { generate: () => `a: ${'{a: '.repeat(50_000)}1${'}'.repeat(50_000)}\n` } });
  add('deep-compact-sequences-4kb', 'yaml', 'invalid', { 'prod/deep.yaml': { generate: () => `a:\n  ${'- '.repeat(2_000)}1\n` } });
  add('deep-block-mappings-1000', 'yaml', 'invalid', { 'prod/deep.yaml': { generate: () => `${Array.from({ length: 1_000 }, (_, i) => `${' '.repeat(i)}a:`).join('\n')} 1\n` } });
  add('deep-explicit-keys', 'yaml', 'invalid', { 'prod/deep.yaml': { generate: () => `${'? '.repeat(20_000)}a\n` } });
  add('deep-nesting-in-rollgate-yaml', 'yaml', 'invalid', { 'rollgate.yaml': { generate: () => config(`exclude: ${'['.repeat(30_000)}${']'.repeat(30_000)}\n`) } }, 'root');
  add('deep-nesting-in-helm-values', 'helm', 'invalid', { 'prod/analytics/values.yaml': { generate: () => `${helmValues}extra: ${'['.repeat(10_000)}${']'.repeat(10_000)}\n` } });
  add('deep-nesting-65-in-values', 'helm', 'invalid', { 'prod/analytics/values.yaml': `${helmValues}extra: ${'['.repeat(64)}${']'.repeat(64)}\n` });
  // --- aliases: the bomb in new places and shapes
  add('billion-laughs-in-rollgate-yaml', 'yaml', 'invalid', { 'rollgate.yaml': config(`x-laughs:\n  ${laughs(9, 9, false).split('\n').join('\n  ')}\n`) }, 'root');
  add('billion-laughs-mappings', 'yaml', 'invalid', { 'prod/lol.yaml': configMap('lol', `  ${laughs(8, 10, true).split('\n').join('\n  ')}\n`) });
  add('billion-laughs-in-helm-values', 'helm', 'invalid', { 'prod/analytics/values.yaml': `${helmValues}${laughs(9, 9, false)}\n` });
  add('alias-fan-out-flat', 'yaml', 'invalid', { 'prod/fan.yaml': { generate: () => configMap('fan', `  base: &b [${Array.from({ length: 50 }, () => 'x').join(', ')}]\n${Array.from({ length: 400 }, (_, i) => `  k${i}: *b`).join('\n')}\n`) } });
  add('alias-chain-5000', 'yaml', 'invalid', { 'prod/chain.yaml': { generate: () => configMap('chain', `  a0: &a0 [x]\n${Array.from({ length: 5_000 }, (_, i) => `  a${i + 1}: &a${i + 1} [*a${i}]`).join('\n')}\n`) } });
  add('alias-as-mapping-key', 'yaml', 'invalid', { 'prod/key.yaml': configMap('key', '  a: &k name\n  *k : x\n') });
  add('alias-across-documents', 'yaml', 'invalid', { 'prod/across.yaml': `${configMap('one', '  a: &shared x\n')}---\n${configMap('two', '  b: *shared\n')}` });
  add('merge-key-into-spec', 'yaml', 'invalid', { 'prod/cache.yaml': `x-base: &base {replicas: 9}\n${cacheWith('  replicas: 3\n', '  <<: *base\n')}` });
  add('anchor-on-every-node-50k', 'scale', 'valid', { 'prod/anchors.yaml': { generate: () => configMap('anchors', `${Array.from({ length: 40_000 }, (_, i) => `  k${i}: &a${i} v`).join('\n')}\n`) } });
  // --- tags
  add('python-object-tag', 'yaml', 'invalid', { 'prod/py.yaml': configMap('py', '  x: !!python/object/apply:os.system ["touch /tmp/pwned"]\n') });
  add('cloudformation-tags', 'yaml', 'invalid', { 'prod/cfn.yaml': configMap('cfn', '  x: !Ref Something\n  y: !Sub "${AWS::Region}"\n') });
  add('timestamp-set-omap-tags', 'yaml', 'invalid', { 'prod/tags.yaml': configMap('tags', '  t: !!timestamp 2001-12-14t21:59:43.10-05:00\n  s: !!set {a, b}\n  o: !!omap [a: 1]\n') });
  add('tag-directive', 'yaml', 'invalid', { 'prod/tagdir.yaml': `%TAG !e! tag:example.com,2000:\n---\n${configMap('tagdir', '  x: !e!thing 1\n')}` });
  add('tag-on-rollgate-yaml-key', 'config', 'invalid', { 'rollgate.yaml': config('!!binary c3RhdHVz: {}\n') });
  // --- duplicates and keys
  add('duplicate-keys-in-rollgate-yaml', 'config', 'invalid', { 'rollgate.yaml': `${config('')}clusters: []\ndefaults: {}\n` });
  add('duplicate-keys-20000', 'scale', 'invalid', { 'prod/dups.yaml': { generate: () => configMap('dups', `${Array.from({ length: 20_000 }, () => '  same: 1').join('\n')}\n`) } });
  add('proto-key-in-rollgate-yaml', 'config', 'invalid', { 'rollgate.yaml': config('defaults:\n  __proto__: {suspend: true}\n').replace('defaults:\n  progressDeadline', 'x-defaults:\n  progressDeadline') });
  add('constructor-prototype-keys', 'config', 'invalid', { 'rollgate.yaml': config('constructor: {prototype: {polluted: true}}\nprototype: {}\n') });
  add('proto-key-in-helm-values', 'helm', 'invalid', { 'prod/analytics/values.yaml': `${helmValues}__proto__: {polluted: true}\n` });
  add('constructor-key-in-helm-values', 'helm', 'valid', { 'prod/analytics/values.yaml': `${helmValues}constructor: {prototype: {polluted: true}}\ntoString: 1\nhasOwnProperty: x\n` });
  add('prototype-names-as-labels', 'objects', 'valid', { 'prod/labels.yaml': configMap('labels', '  constructor: x\n  toString: y\n  valueOf: z\n  hasOwnProperty: w\n  __defineGetter__: v\n') });
  add('null-and-sequence-keys', 'yaml', 'invalid', { 'prod/keys.yaml': configMap('keys', '  ~: a\n  ? [a, b]\n  : c\n') });
  add('implicit-key-100kb-long', 'yaml', 'invalid', { 'prod/longkey.yaml': { generate: () => configMap('longkey', `  ${'k'.repeat(100_000)}: v\n`) } });
  add('quoted-key-100kb-long', 'yaml', 'valid', { 'prod/longkey.yaml': { generate: () => configMap('longkey', `  ? "${'k'.repeat(100_000)}"\n  : v\n`) } });
  // --- documents
  add('multi-doc-broken-middle', 'yaml', 'invalid', { 'prod/multi.yaml': `${configMap('a', '  x: "1"\n')}---\nkind: [unclosed\n---\n${configMap('b', '  x: "2"\n')}` });
  add('multi-doc-rollgate-yaml', 'config', 'invalid', { 'rollgate.yaml': `${config('')}---\n${config('')}` });
  add('document-end-markers-and-junk', 'yaml', 'invalid', { 'prod/ends.yaml': `${configMap('ends', '  x: "1"\n')}...\n...\ngarbage: [\n` });
  add('empty-and-comment-only-files', 'yaml', 'valid', { 'prod/empty.yaml': '', 'prod/comments.yaml': '# nothing here\n# at all\n', 'prod/dashes.yaml': '---\n---\n...\n' });
  add('exactly-500-documents', 'scale', 'valid', { 'prod/many.yaml': { generate: () => Array.from({ length: 500 }, (_, i) => configMap(`m${i}`, '  x: "1"\n')).join('---\n') } });
  add('rollgate-yaml-empty', 'config', 'invalid', { 'rollgate.yaml': '' });
  add('rollgate-yaml-null', 'config', 'invalid', { 'rollgate.yaml': '~\n' });
  add('rollgate-yaml-sequence', 'config', 'invalid', { 'rollgate.yaml': '- apiVersion: rollgate.dev/v1alpha1\n- kind: Config\n' });
  add('rollgate-yaml-scalar', 'config', 'invalid', { 'rollgate.yaml': 'just a string\n' });

  // --- encodings
  add('bom-in-rollgate-yaml', 'encoding', 'valid', { 'rollgate.yaml': bytes([0xef, 0xbb, 0xbf], config('')) });
  add('bom-in-the-middle', 'encoding', 'invalid', { 'prod/cache.yaml': cacheWith('kind: StatefulSet', '\ufeffkind: StatefulSet') });
  add('double-bom', 'encoding', 'valid', { 'prod/cache.yaml': bytes([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf], baseRepository['prod/cache.yaml'] as string) });
  add('utf32-bom-rollgate-yaml', 'encoding', 'invalid', { 'rollgate.yaml': bytes([0x00, 0x00, 0xfe, 0xff], config('')) });
  add('utf16be-manifest', 'encoding', 'invalid', { 'prod/wide.yaml': bytes([0xfe, 0xff, 0x00, 0x61, 0x00, 0x3a]) });
  add('nul-in-rollgate-yaml', 'encoding', 'invalid', { 'rollgate.yaml': bytes(config(''), [0x00], '\n') }, 'root');
  add('nul-in-helm-values', 'encoding', 'invalid', { 'prod/analytics/values.yaml': bytes(helmValues, [0x00]) });
  add('overlong-utf8-slash', 'encoding', 'invalid', { 'prod/overlong.yaml': bytes('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x', [0xc0, 0xaf], '\n') });
  add('utf8-encoded-surrogate', 'encoding', 'invalid', { 'prod/surrogate.yaml': bytes('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x', [0xed, 0xa0, 0x80], '\n') });
  add('truncated-multibyte-at-eof', 'encoding', 'invalid', { 'rollgate.yaml': bytes(config('# caf'), [0xc3]) });
  add('invalid-utf8-in-rollgate-yaml', 'encoding', 'invalid', { 'rollgate.yaml': bytes(config('# \u00e9t\u00e9 '), [0xff, 0xfe, 0x0a]) });
  add('crlf-line-endings', 'encoding', 'valid', { 'rollgate.yaml': config('').replace(/\n/g, '\r\n'), 'prod/cache.yaml': (baseRepository['prod/cache.yaml'] as string).replace(/\n/g, '\r\n') });
  add('lone-cr-line-endings', 'encoding', 'invalid', { 'prod/cache.yaml': (baseRepository['prod/cache.yaml'] as string).replace(/\n/g, '\r') });
  add('crlf-error-position', 'encoding', 'invalid', { 'prod/cache.yaml': cacheWith('replicas: 3', 'replicas: three').replace(/\n/g, '\r\n') });
  add('tabs-everywhere', 'yaml', 'invalid', { 'prod/tabs.yaml': 'apiVersion:\tv1\nkind:\tConfigMap\nmetadata:\n\tname:\tx\n' });
  add('tab-after-flow-indicator', 'yaml', 'valid', { 'prod/tabflow.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name:\tflow, namespace: cache}\ndata: {a:\t"1"}\n' });
  add('unicode-line-separators', 'encoding', 'valid', { 'prod/seps.yaml': configMap('seps', '  a: "x\u2028y\u2029z\u0085w"\n') });
  add('ansi-escapes-in-kind', 'objects', 'invalid', { 'prod/ansi.yaml': 'apiVersion: v1\nkind: "\\e[31mRed\\e[0m\\e]0;pwned\\a"\nmetadata:\n  name: ansi\n' });
  add('newline-in-api-version', 'objects', 'invalid', { 'prod/cache.yaml': cacheWith('apiVersion: apps/v1', 'apiVersion: "apps/v1\\nprod/cache.yaml:1:1: forged problem"') }, 'root');
  add('newline-in-unknown-kind-api-version', 'objects', 'invalid', { 'prod/odd.yaml': 'apiVersion: "example.com/v1\\r\\nrollgate.yaml:1:1: forged"\nkind: Widget\nmetadata:\n  name: odd\n' });
  add('control-characters-in-values', 'objects', 'invalid', { 'prod/cache.yaml': cacheWith('image: memcached:1.6.29', 'image: "memcached:1.6.29\\u0000\\u0007\\b"') });

  // --- files and the file system
  add('file-name-with-newline', 'files', 'invalid', { 'prod/evil\nrollgate.yaml:1:1: forged.yaml': 'kind: [\n' }, 'root');
  add('file-name-with-escape-sequence', 'files', 'invalid', { 'prod/\u001b[2Jclear.yaml': 'apiVersion: v1\nkind: Nope\nmetadata: {name: x}\n' });
  add('file-name-mimicking-a-location', 'files', 'invalid', { 'prod/x.yaml:9:9: fake.yaml': 'apiVersion: v1\nkind: Nope\nmetadata: {name: x}\n' });
  add('file-name-255-bytes', 'files', 'invalid', { [`prod/${'n'.repeat(250)}.yaml`]: 'apiVersion: v1\nkind: Nope\nmetadata: {name: x}\n' });
  add('folders-200-deep', 'files', 'invalid', { [`prod/${Array.from({ length: 200 }, () => 'd').join('/')}/deep.yaml`]: 'apiVersion: v1\nkind: Nope\nmetadata: {name: x}\n' });
  add('directory-named-yaml', 'files', 'valid', { 'prod/dir.yaml': { directory: true } });
  add('directory-named-yaml-with-manifest-inside', 'files', 'invalid', { 'prod/dir.yaml/inner.yaml': 'apiVersion: v1\nkind: Nope\nmetadata: {name: x}\n' });
  add('rollgate-yaml-is-a-directory', 'files', 'invalid', { 'rollgate.yaml': null, 'rollgate.yaml/x': 'x' }, 'root');
  add('rollgate-yaml-is-a-fifo', 'files', 'invalid', { 'rollgate.yaml': { fifo: true } }, 'root');
  add('rollgate-yaml-is-a-device', 'files', 'invalid', { 'rollgate.yaml': { device: true } });
  add('rollgate-yaml-symlink-to-etc-shadow', 'files', 'invalid', { 'rollgate.yaml': { symlink: '/etc/shadow' } }, 'root');
  add('rollgate-yaml-symlink-loop', 'files', 'invalid', { 'rollgate.yaml': { symlink: 'rollgate.yaml' } });
  add('rollgate-yaml-symlink-inside', 'files', 'valid', { 'rollgate.yaml': { symlink: 'config/real.yaml' }, 'config/real.yaml': config('') });
  add('rollgate-yaml-symlink-to-dev-zero', 'files', 'invalid', { 'rollgate.yaml': { symlink: '/dev/zero' } });
  add('manifest-symlink-to-proc-self', 'files', 'invalid', { 'prod/environ.yaml': { symlink: '/proc/self/environ' } });
  add('manifest-symlink-to-dev-stdin', 'files', 'invalid', { 'prod/stdin.yaml': { symlink: '/dev/stdin' } });
  add('symlink-chain-45-hops', 'files', 'invalid', Object.fromEntries(Array.from({ length: 45 }, (_, i): [string, FileSpec] => [`prod/hop${i}.yaml`, { symlink: i === 44 ? 'cache.yaml' : `hop${i + 1}.yaml` }])));
  add('symlink-to-repo-root', 'files', 'invalid', { 'prod/root': { symlink: '..' }, 'prod/self': { symlink: '.' } });
  add('symlink-to-fifo-inside', 'files', 'invalid', { 'prod/pipe.yaml': { symlink: '../pipes/p' }, 'pipes/p': { fifo: true } });
  add('symlink-absolute-inside', 'files', 'invalid', { 'prod/abs.yaml': { symlink: '/proc/self/cwd/prod/cache.yaml' } });
  add('cluster-path-through-symlinked-folder', 'files', 'invalid', { 'rollgate.yaml': config('').replace('paths: [prod]', 'paths: [prod, linked/cache.yaml]'), linked: { symlink: 'prod' } });
  add('device-named-yaml', 'files', 'invalid', { 'prod/null.yaml': { device: true } });
  add('unreadable-manifest', 'files', 'invalid', { 'prod/secret.yaml': { content: configMap('secret', '  x: "1"\n'), mode: 0o000 } }, 'nobody');
  add('unreadable-rollgate-yaml', 'files', 'invalid', { 'rollgate.yaml': { content: config(''), mode: 0o000 } }, 'nobody');
  add('unreadable-folder', 'files', 'invalid', { 'prod/locked/a.yaml': configMap('locked', '  x: "1"\n'), 'prod/locked': { directory: true, mode: 0o000 } }, 'nobody');
  add('git-folder-in-cluster-paths', 'files', 'valid', { 'prod/.git/config.yaml': 'not: [yaml\n' });
  add('rollgate-yml-instead-of-yaml', 'files', 'invalid', { 'rollgate.yaml': null, 'rollgate.yml': config('') });
  add('file-over-limit-in-rollgate-yaml', 'scale', 'invalid', { 'rollgate.yaml': { generate: () => `${config('')}# ${'x'.repeat(1024 * 1024)}\n` } });
  add('file-exactly-at-limit', 'scale', 'valid', {
    'prod/limit.yaml': {
      generate: () => {
        const head = configMap('limit', '  x: "1"\n');
        return `${head}# ${'x'.repeat(1024 * 1024 - head.length - 3)}\n`;
      },
    },
  });
  add('line-of-900kb', 'scale', 'valid', { 'prod/long.yaml': { generate: () => configMap('long', `  x: "${'y'.repeat(900_000)}"\n`) } });
  add('three-thousand-files', 'scale', 'valid', Object.fromEntries(Array.from({ length: 3_000 }, (_, i): [string, FileSpec] => [`prod/many/f${i}.yaml`, configMap(`f${i}`, '  x: "1"\n')])));

  // --- rollgate.yaml semantics
  add('unknown-keys-at-every-level', 'config', 'invalid', {
    'rollgate.yaml': config('status: {mode: branch, branch: rollgate/status, colour: red}\nx: 1\n')
      .replace('  - name: staging\n', '  - name: staging\n    region: eu\n')
      .replace('    - podReady: {}\n', '    - podReady: {strict: true}\n'),
  });
  add('cluster-cycle-of-three', 'config', 'invalid', {
    'rollgate.yaml': config('').replace('  - name: staging\n    paths: [staging]\n', '  - name: staging\n    paths: [staging]\n    dependsOn: [canary]\n  - name: canary\n    paths: [canary]\n    dependsOn: [prod]\n'),
    'canary/cm.yaml': configMap('canary', '  x: "1"\n'),
  });
  add('cluster-depends-on-itself', 'config', 'invalid', { 'rollgate.yaml': config('').replace('dependsOn: [staging]', 'dependsOn: [prod]') });
  add('target-depends-on-itself', 'config', 'invalid', { 'rollgate.yaml': config('targets:\n  - target: prod/cache/StatefulSet/cache\n    dependsOn: [cache/StatefulSet/cache]\n') });
  add('target-cycle-across-clusters', 'config', 'invalid', {
    'rollgate.yaml': config(
      'targets:\n  - target: staging/cache/StatefulSet/cache\n    dependsOn: [prod/db/TidbCluster/db]\n  - target: prod/db/TidbCluster/db\n    dependsOn: [prod/redis/RedisEnterpriseCluster/rec]\n',
    ),
  });
  add('wildcard-in-depends-on', 'config', 'invalid', { 'rollgate.yaml': config('targets:\n  - target: prod/cache/StatefulSet/cache\n    dependsOn: ["*/*/*/*", "prod/db/../../x"]\n') });
  add('bad-selectors', 'config', 'invalid', { 'rollgate.yaml': config('targets:\n  - target: "a/b"\n  - target: "a/b/c/d/e"\n  - target: "prod/db/TidbCluster/"\n  - target: "**"\n  - target: ""\n') });
  add('cluster-chain-19000', 'scale', 'invalid', {
    'rollgate.yaml': {
      generate: () =>
        `apiVersion: rollgate.dev/v1alpha1\nkind: Config\nclusters:\n- {name: c0, paths: [prod]}\n${Array.from({ length: 19_000 }, (_, i) => `- {name: c${i + 1}, paths: [p${i + 1}], dependsOn: [c${i}]}`).join('\n')}\n`,
    },
  });
  add('cluster-chain-2000-with-cycle', 'scale', 'invalid', {
    'rollgate.yaml': {
      generate: () =>
        `apiVersion: rollgate.dev/v1alpha1\nkind: Config\nclusters:\n  - {name: c0, paths: [prod], dependsOn: [c2000]}\n${Array.from({ length: 2_000 }, (_, i) => `  - {name: c${i + 1}, paths: [staging/c${i + 1}], dependsOn: [c${i}]}`).join('\n')}\n`,
    },
  });
  add('target-chain-3000', 'scale', 'valid', {
    'rollgate.yaml': {
      generate: () =>
        config(`targets:\n${Array.from({ length: 3_000 }, (_, i) => `  - target: prod/chain/StatefulSet/s${i + 1}\n    dependsOn: [chain/StatefulSet/s${i}]`).join('\n')}\n`),
    },
    ...Object.fromEntries(
      Array.from({ length: 7 }, (_, f): [string, FileSpec] => [
        `prod/chain/part${f}.yaml`,
        {
          generate: () =>
            Array.from({ length: 500 }, (_, k) => f * 500 + k)
              .filter((i) => i <= 3_000)
              .map((i) => statefulSet(`s${i}`, 'chain'))
              .join('---\n'),
        },
      ]),
    ),
  });
  add('cluster-names-from-the-prototype', 'config', 'invalid', {
    'rollgate.yaml': config('')
      .replace('name: staging', 'name: __proto__')
      .replace('name: prod', 'name: constructor')
      .replace('dependsOn: [staging]', 'dependsOn: [__proto__, toString, hasOwnProperty]'),
  });
  add('cluster-names-valid-prototype-words', 'config', 'valid', { 'rollgate.yaml': config('').replace('name: staging', 'name: constructor').replace('name: prod', 'name: tostring').replace('dependsOn: [staging]', 'dependsOn: [constructor]') });
  add('cluster-names-hostile', 'config', 'invalid', {
    'rollgate.yaml': config('').replace('name: staging', 'name: "../../etc"').replace('name: prod', `name: "${'x'.repeat(300)}"`).replace('dependsOn: [staging]', 'dependsOn: ["../../etc"]'),
  });
  add('cluster-namespace-invalid', 'config', 'invalid', { 'rollgate.yaml': config('').replace('    paths: [prod]\n', '    paths: [prod]\n    namespace: "../Kube System"\n') });
  add('cluster-paths-hostile', 'config', 'invalid', { 'rollgate.yaml': config('').replace('paths: [prod]', 'paths: [prod, "", ".", "./prod", "prod/../prod", "prod\\\\..\\\\x", "[a-z]", "~/x"]') });
  add('cluster-paths-everything', 'config', 'invalid', { 'rollgate.yaml': config('').replace('paths: [prod]', 'paths: ["**"]') });
  add('exclude-hostile', 'config', 'invalid', { 'rollgate.yaml': config('exclude: ["/etc", "../x", "**", 42]\n') });
  add('policy-enums-wrong', 'config', 'invalid', { 'rollgate.yaml': config('targets:\n  - target: prod/db/TidbCluster/db\n    suspend: "yes"\n    downgrade: maybe\n    forceUpgrade: always\n    onFailure: retry\n') });
  add('components-unknown-and-proto', 'config', 'invalid', {
    'rollgate.yaml': config('targets:\n  - target: prod/db/TidbCluster/db\n    components:\n      tiflash2: {progressDeadline: 1m}\n      constructor: {progressDeadline: 1m}\n      toString: {extraGates: []}\n'),
  });
  add('durations-hostile', 'config', 'invalid', {
    'rollgate.yaml': withGates(
      '      - soak: {duration: -1m}\n      - soak: {duration: 1.5h}\n      - soak: {duration: 1h1h}\n      - soak: {duration: ""}\n      - soak: {duration: PT5M}\n      - soak: {duration: 300}\n      - soak: {duration: 99999999999999999999h}\n',
    ),
  });
  add('deadline-overflowing', 'config', 'invalid', { 'rollgate.yaml': config('').replace('progressDeadline: 2m', 'progressDeadline: 9999999999999999999999999d') });
  add('deadline-number-and-null', 'config', 'invalid', { 'rollgate.yaml': config('targets:\n  - target: prod/db/TidbCluster/db\n    progressDeadline: 600\n  - target: prod/cache/StatefulSet/cache\n    progressDeadline: null\n') });
  add('cron-step-zero-and-ranges', 'config', 'invalid', {
    'rollgate.yaml': withGates(
      '      - maintenanceWindow: {schedule: "*/0 * * * *", duration: 1h}\n      - maintenanceWindow: {schedule: "0-59/100000000 * * * *", duration: 1h}\n      - maintenanceWindow: {schedule: "59-0 * * * *", duration: 1h}\n      - maintenanceWindow: {schedule: "* * * * * * *", duration: 1h}\n',
    ),
  });
  add('cron-macros-and-quartz', 'config', 'invalid', {
    'rollgate.yaml': withGates('      - maintenanceWindow: {schedule: "@every 5m", duration: 1h}\n      - maintenanceWindow: {schedule: "0 0 L * ?", duration: 1h}\n      - maintenanceWindow: {schedule: "0 0 ? * 5#3", duration: 1h}\n'),
  });
  add('cron-never-matches', 'config', 'invalid', { 'rollgate.yaml': withGates('      - maintenanceWindow: {schedule: "0 0 31 2 *", duration: 1h}\n') });
  add('cron-rarely-matches', 'config', 'valid', { 'rollgate.yaml': withGates('      - maintenanceWindow: {schedule: "0 0 29 2 1", duration: 1h}\n') });
  add('cron-huge-string', 'config', 'valid', { 'rollgate.yaml': { generate: () => withGates(`      - maintenanceWindow: {schedule: "${'1,'.repeat(100_000)}1 * * * *", duration: 1h}\n`) } });
  add('time-zones-hostile', 'config', 'invalid', {
    'rollgate.yaml': withGates(
      '      - maintenanceWindow: {schedule: "@daily", duration: 1h, timeZone: "../../etc/passwd"}\n      - maintenanceWindow: {schedule: "@daily", duration: 1h, timeZone: "+05:00"}\n      - maintenanceWindow: {schedule: "@daily", duration: 1h, timeZone: ""}\n      - maintenanceWindow: {schedule: "@daily", duration: 1h, timeZone: 3}\n',
    ),
  });
  add('time-zones-odd-but-real', 'config', 'valid', {
    'rollgate.yaml': withGates('      - maintenanceWindow: {schedule: "@daily", duration: 1h, timeZone: Etc/GMT-14}\n      - maintenanceWindow: {schedule: "0 2 * * *", duration: 1h, timeZone: Asia/Kathmandu}\n'),
  });
  add('window-durations-hostile', 'config', 'invalid', {
    'rollgate.yaml': withGates('      - maintenanceWindow: {schedule: "@daily", duration: 0s}\n      - maintenanceWindow: {schedule: "@daily", duration: -2h}\n      - maintenanceWindow: {schedule: "@daily"}\n'),
  });
  add('http-gates-hostile', 'config', 'invalid', {
    'rollgate.yaml': withGates(
      '      - http: {url: "http://[::1"}\n      - http: {url: "http://example.com/", expectStatus: 99}\n      - http: {url: "http://example.com/", expectStatus: "200"}\n      - http: {url: "http://example.com/", timeout: 0s}\n      - http: {url: "javascript:alert(1)"}\n      - http: {url: "http://example.com/", expectJSON: {path: [], equals: {a: 1}}}\n',
    ),
  });
  add('approval-files-hostile', 'config', 'invalid', {
    'rollgate.yaml': withGates('      - approval: {file: /etc/passwd}\n      - approval: {file: ""}\n      - approval: {file: "a\\\\..\\\\..\\\\b"}\n      - approval: {comment: "yes"}\n'),
  });
  add('status-branch-hostile', 'config', 'invalid', { 'rollgate.yaml': config('status: {mode: branch, branch: "-x..@{u}.lock"}\n') });
  add('status-path-escapes', 'config', 'invalid', { 'rollgate.yaml': config('status: {mode: inTree, path: ../../outside}\n') });
  add('gates-not-a-list', 'config', 'invalid', { 'rollgate.yaml': config('targets:\n  - target: prod/cache/StatefulSet/cache\n    gates: {podReady: {}}\n  - target: prod/db/TidbCluster/db\n    gates: podReady\n') });
  add('thousands-of-gates', 'scale', 'valid', { 'rollgate.yaml': { generate: () => withGates(Array.from({ length: 5_000 }, () => '      - podReady: {}').join('\n') + '\n') } });

  // --- objects
  add('kind-and-api-version-wrong-types', 'objects', 'invalid', { 'prod/types.yaml': 'apiVersion: [apps, v1]\nkind: {StatefulSet: 1}\nmetadata: {name: t}\n---\napiVersion: 1\nkind: 2\n' });
  add('api-versions-of-other-eras', 'objects', 'invalid', { 'prod/cache.yaml': cacheWith('apiVersion: apps/v1', 'apiVersion: extensions/v1beta1'), 'prod/db.yaml': (baseRepository['prod/db.yaml'] as string).replace('pingcap.com/v1alpha1', 'pingcap.com/v2') });
  add('empty-api-version-and-kind', 'objects', 'invalid', { 'prod/empty-id.yaml': 'apiVersion: ""\nkind: ""\nmetadata: {name: x}\n' });
  add('metadata-shapes', 'objects', 'invalid', {
    'prod/meta.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: null\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: []\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: 42}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: ""}\n',
  });
  add('target-without-name', 'objects', 'invalid', { 'prod/cache.yaml': cacheWith('  name: cache\n', '') });
  add('target-names-hostile', 'objects', 'invalid', {
    'prod/cache.yaml': cacheWith('name: cache\n  namespace', 'name: "../../../etc/passwd"\n  namespace'),
    'prod/db.yaml': (baseRepository['prod/db.yaml'] as string).replace('name: db', `name: ${'d'.repeat(254)}`),
    'prod/rec.yaml': (baseRepository['prod/rec.yaml'] as string).replace('name: rec', 'name: "r\u00e9c"'),
  });
  add('namespace-hostile', 'objects', 'invalid', { 'prod/cache.yaml': cacheWith('namespace: cache', `namespace: "${'n'.repeat(64)}"`), 'staging/web.yaml': (baseRepository['staging/web.yaml'] as string).replace('namespace: web', 'namespace: kube-system/../x') });
  add('cluster-scoped-with-namespace', 'objects', 'valid', { 'prod/ns.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: cache\n  namespace: somewhere\n' });
  add('tidb-versions-unparseable', 'objects', 'invalid', {
    'prod/db.yaml': dbWith('  version: "v7.5.1\\n"\n  pd: {baseImage: pingcap/pd, replicas: 3, version: latest}\n  tikv: {baseImage: pingcap/tikv, replicas: 3, version: ""}\n  tidb: {baseImage: pingcap/tidb, replicas: 2, version: 7}\n'),
  });
  add('tidb-versions-huge-numbers', 'objects', 'valid', {
    'prod/db.yaml': dbWith('  version: v99999999999999999999999.0.0\n  pd: {baseImage: pingcap/pd, replicas: 3}\n  tikv: {baseImage: pingcap/tikv, replicas: 3, version: v7.5.1-beta.1_build.5}\n  tidb: {baseImage: pingcap/tidb, replicas: 2}\n'),
  });
  add('tidb-image-with-digest-only', 'objects', 'invalid', { 'prod/db.yaml': dbWith('  pd: {image: "pingcap/pd@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", replicas: 3}\n') });
  add('tidb-image-with-port-no-tag', 'objects', 'invalid', { 'prod/db.yaml': dbWith('  pd: {image: "registry.local:5000/pingcap/pd", replicas: 3}\n  tikv: {image: "pingcap/tikv:", replicas: 3}\n  tidb: {image: ":v7.5.1", replicas: 2}\n') });
  add('tidb-image-tag-and-digest', 'objects', 'valid', {
    'prod/db.yaml': dbWith(
      '  pd: {image: "registry.local:5000/pingcap/pd:v7.5.1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", replicas: 3}\n  tikv: {image: "pingcap/tikv:v7.5.1", replicas: 3}\n  tidb: {image: "pingcap/tidb:v7.5.1", replicas: 2}\n',
    ),
  });
  add('statefulset-image-references', 'objects', 'valid', {
    'prod/cache.yaml': cacheWith('image: memcached:1.6.29', 'image: "registry.local:5000/library/memcached@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"'),
    'staging/web.yaml': (baseRepository['staging/web.yaml'] as string).replace('image: nginx:1.27.0', 'image: "[::1]:5000/nginx"'),
  });
  add('statefulset-image-garbage', 'objects', 'invalid', { 'prod/cache.yaml': cacheWith('image: memcached:1.6.29', 'image: ""'), 'staging/web.yaml': (baseRepository['staging/web.yaml'] as string).replace('image: nginx:1.27.0', 'image: {name: nginx}') });
  add('replicas-enormous', 'objects', 'invalid', { 'prod/cache.yaml': cacheWith('replicas: 3', 'replicas: 1e300'), 'staging/web.yaml': (baseRepository['staging/web.yaml'] as string).replace('replicas: 2', 'replicas: 2147483648') });
  add('replicas-int32-max', 'objects', 'valid', { 'prod/cache.yaml': cacheWith('replicas: 3', 'replicas: 2147483647') });
  add('replicas-negative-fraction-bool', 'objects', 'invalid', {
    'prod/cache.yaml': cacheWith('replicas: 3', 'replicas: -1'),
    'staging/web.yaml': (baseRepository['staging/web.yaml'] as string).replace('replicas: 2', 'replicas: 1.5'),
    'staging/cache.yaml': (baseRepository['staging/cache.yaml'] as string).replace('replicas: 3', 'replicas: true'),
  });
  add('replicas-hex-octal-exponent', 'objects', 'valid', { 'prod/cache.yaml': cacheWith('replicas: 3', 'replicas: 0x3'), 'staging/cache.yaml': (baseRepository['staging/cache.yaml'] as string).replace('replicas: 3', 'replicas: 0o3'), 'staging/web.yaml': (baseRepository['staging/web.yaml'] as string).replace('replicas: 2', 'replicas: 2e0') });
  add('replicas-not-finite', 'objects', 'invalid', { 'prod/cache.yaml': cacheWith('replicas: 3', 'replicas: .nan'), 'staging/cache.yaml': (baseRepository['staging/cache.yaml'] as string).replace('replicas: 3', 'replicas: 1e400') });
  add('partition-out-of-range', 'objects', 'invalid', { 'prod/cache.yaml': cacheWith('  serviceName: cache\n', '  serviceName: cache\n  updateStrategy: {type: RollingUpdate, rollingUpdate: {partition: -5}}\n') });
  add('containers-empty-and-wrong', 'objects', 'invalid', { 'prod/cache.yaml': cacheWith('      containers:\n        - name: main\n          image: memcached:1.6.29\n', '      containers: []\n'), 'staging/web.yaml': (baseRepository['staging/web.yaml'] as string).replace('      containers:\n', '      containers: "none"\n      x-was-containers:\n') });
  add('rec-nodes-hostile', 'objects', 'invalid', { 'prod/rec.yaml': redisCluster('  nodes: 0\n  redisEnterpriseImageSpec: {repository: redislabs/redis, versionTag: "7.4.6-22\\n"}\n') });
  add('rec-nodes-huge', 'objects', 'invalid', { 'prod/rec.yaml': redisCluster('  nodes: 9007199254740993\n  redisEnterpriseImageSpec: {repository: redislabs/redis, versionTag: 7.4.6-22}\n') });
  add('unknown-kind-half-megabyte', 'objects', 'invalid', { 'prod/odd.yaml': { generate: () => `apiVersion: v1\nkind: ${'K'.repeat(500_000)}\nmetadata: {name: x}\n` } });
  add('five-hundred-unknown-kinds', 'scale', 'invalid', { 'prod/odd.yaml': { generate: () => Array.from({ length: 500 }, (_, i) => `apiVersion: v1\nkind: StatefulSett${'x'.repeat(i)}\nmetadata: {name: x${i}}\n`).join('---\n') } });
  add('duplicate-target-differing-case', 'objects', 'invalid', { 'prod/cache2.yaml': statefulSet('Cache', 'cache') });
  add('same-target-in-two-documents', 'objects', 'invalid', { 'prod/cache.yaml': `${baseRepository['prod/cache.yaml'] as string}---\n${baseRepository['prod/cache.yaml'] as string}` });
  add('config-kind-in-manifest-folder', 'objects', 'invalid', { 'prod/nested/rollgate.yaml': config('') });

  // --- Helm values
  add('helm-values-weird-types', 'helm', 'invalid', { 'prod/analytics/values.yaml': 'pd: {image: 42, replicas: "3"}\ntikv: {image: null, replicas: 1.5}\ntidb: [image, replicas]\n' });
  add('helm-values-is-a-list', 'helm', 'invalid', { 'prod/analytics/values.yaml': '- pd\n- tikv\n' });
  add('helm-values-two-documents', 'helm', 'invalid', { 'prod/analytics/values.yaml': `${helmValues}---\n${helmValues}` });
  add('helm-values-is-rollgate-yaml', 'helm', 'invalid', { 'prod/analytics/release.yaml': helmRelease('  valuesFiles: [../../rollgate.yaml]\n') });
  add('helm-values-is-itself', 'helm', 'invalid', { 'prod/analytics/release.yaml': helmRelease('  valuesFiles: [release.yaml]\n') });
  add('helm-values-symlink-outside', 'helm', 'invalid', { 'prod/analytics/values.yaml': { symlink: '/etc/passwd' } });
  add('helm-values-directory', 'helm', 'invalid', { 'prod/analytics/values.yaml': null, 'prod/analytics/values.yaml/x.yaml': helmValues });
  add('helm-values-fifo', 'helm', 'invalid', { 'prod/analytics/values.yaml': { fifo: true } });
  add('helm-values-many-references', 'helm', 'invalid', { 'prod/analytics/release.yaml': helmRelease(`  valuesFiles: [${Array.from({ length: 2_000 }, (_, i) => `v${i}.yaml`).join(', ')}]\n`) });
  add('helm-values-null-erases', 'helm', 'invalid', { 'prod/analytics/release.yaml': helmRelease('  valuesFiles: [values.yaml, erase.yaml]\n'), 'prod/analytics/erase.yaml': 'pd: null\ntikv: {image: null}\n' });
  add('helm-chart-fields-hostile', 'helm', 'invalid', { 'prod/analytics/release.yaml': helmRelease('').replace('version: v1.5.0', 'version: "../../../x"').replace('https://charts.pingcap.org/', '"file:///etc/passwd"') });
  add('helm-values-unicode-keys', 'helm', 'valid', { 'prod/analytics/values.yaml': `${helmValues}"\\u0000\\u202e\\U0001F4A5": x\n` });
  return cases;
}

// ---------------------------------------------------------------------------
// Webhook deliveries

/** The receiver's secrets, given to the builders so cases sign or token exactly as they mean to. */
export interface ReceiverSecrets {
  readonly githubSecret: string;
  readonly gitlabToken: string;
}

/** One HTTP request, written byte for byte on a fresh connection. */
export interface RawRequest {
  /** Default POST. */
  readonly method?: string;
  /** `/github` or `/gitlab` (or anything, to probe the router). */
  readonly path: string;
  /** Sent as given, after `Host` and `Connection: close`. */
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Uint8Array;
  /**
   * How the body's length is declared: `length` (default) a correct
   * Content-Length; `chunked` Transfer-Encoding; `none` neither; a number,
   * that Content-Length whatever the body is.
   */
  readonly framing?: 'length' | 'chunked' | 'none' | number;
  /** Close the writing side after this many body bytes (a sender that gives up mid-body). */
  readonly truncateAt?: number;
  /** Whether node:http itself (not the receiver) may refuse this request, e.g. 431 for huge headers. */
  readonly transport?: boolean;
}

/**
 * What the receiver must do with a delivery:
 * - `refuse`: a 4xx with a JSON `message`, and no event;
 * - `ignore`: 200 or 204, and no event;
 * - `no-event`: any answer but a 5xx (or none, for a sender that gave up), and no event;
 * - `accept-once`: the first request is accepted (202) and passed on once; repeats change nothing;
 * - `at-most-once`: strange but authenticated, so either answer is right: refused (a 4xx with a message) or passed on once.
 */
export type DeliveryExpectation = 'refuse' | 'ignore' | 'no-event' | 'accept-once' | 'at-most-once';

/** One delivery (or a short sequence of them) built to break the receiver. */
export interface DeliveryCase {
  readonly kind: 'delivery';
  readonly name: string;
  readonly forge: 'github' | 'gitlab';
  readonly expect: DeliveryExpectation;
  readonly requests: (secrets: ReceiverSecrets) => readonly RawRequest[];
}

const sha = (seed: string): string => {
  let out = '';
  for (let i = 0; out.length < 40; i++) out += createHmac('sha1', 'campaign').update(`${seed}${i}`).digest('hex');
  return out.slice(0, 40);
};

/** A GitHub push payload as GitHub sends it (abridged). */
function githubPush(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { ref: 'refs/heads/main', before: sha('before'), after: sha('after'), repository: { full_name: 'acme/clusters', id: 1 }, pusher: { name: 'alice' }, ...overrides };
}

function gitlabPush(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { object_kind: 'push', ref: 'refs/heads/main', before: sha('gl-before'), after: sha('gl-after'), project: { path_with_namespace: 'platform/gitops/clusters' }, ...overrides };
}

function githubPullRequest(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    action: 'opened',
    number: 7,
    pull_request: { number: 7, head: { sha: sha('head') }, base: { ref: 'main' }, merged: false },
    repository: { full_name: 'acme/clusters' },
    ...overrides,
  };
}

let sequence = 0;
/** A delivery id unique within this process, so cases never collide by accident. */
function deliveryId(tag: string): string {
  sequence += 1;
  return `campaign-${tag}-${process.pid}-${sequence}`;
}

const json = (value: unknown): Uint8Array => utf8(JSON.stringify(value));
const sign = (secret: string, body: Uint8Array): string => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

interface GitHubOptions {
  readonly event?: string;
  readonly id?: string | null;
  readonly signature?: string | null | ((body: Uint8Array) => string);
  readonly contentType?: string | null;
  readonly extra?: readonly (readonly [string, string])[];
  readonly framing?: RawRequest['framing'];
  readonly truncateAt?: number;
  readonly transport?: boolean;
  readonly method?: string;
}

function github(secrets: ReceiverSecrets, body: Uint8Array, options: GitHubOptions = {}): RawRequest {
  const headers: (readonly [string, string])[] = [['User-Agent', 'GitHub-Hookshot/campaign']];
  if (options.contentType !== null) headers.push(['Content-Type', options.contentType ?? 'application/json']);
  headers.push(['X-GitHub-Event', options.event ?? 'push']);
  const id = options.id === undefined ? deliveryId('gh') : options.id;
  if (id !== null) headers.push(['X-GitHub-Delivery', id]);
  const signature = options.signature === undefined ? sign(secrets.githubSecret, body) : typeof options.signature === 'function' ? options.signature(body) : options.signature;
  if (signature !== null) headers.push(['X-Hub-Signature-256', signature]);
  headers.push(...(options.extra ?? []));
  return {
    path: '/github',
    headers,
    body,
    ...(options.method !== undefined ? { method: options.method } : {}),
    ...(options.framing !== undefined ? { framing: options.framing } : {}),
    ...(options.truncateAt !== undefined ? { truncateAt: options.truncateAt } : {}),
    ...(options.transport !== undefined ? { transport: options.transport } : {}),
  };
}

interface GitLabOptions {
  readonly event?: string;
  readonly token?: string | null;
  readonly uuid?: string | null;
  readonly idempotencyKey?: string;
  readonly contentType?: string | null;
  readonly extra?: readonly (readonly [string, string])[];
}

function gitlab(secrets: ReceiverSecrets, body: Uint8Array, options: GitLabOptions = {}): RawRequest {
  const headers: (readonly [string, string])[] = [['User-Agent', 'GitLab/17.6.0']];
  if (options.contentType !== null) headers.push(['Content-Type', options.contentType ?? 'application/json']);
  headers.push(['X-Gitlab-Event', options.event ?? 'Push Hook']);
  const uuid = options.uuid === undefined ? deliveryId('gl') : options.uuid;
  if (uuid !== null) headers.push(['X-Gitlab-Event-UUID', uuid]);
  if (options.idempotencyKey !== undefined) headers.push(['Idempotency-Key', options.idempotencyKey]);
  const token = options.token === undefined ? secrets.gitlabToken : options.token;
  if (token !== null) headers.push(['X-Gitlab-Token', token]);
  headers.push(...(options.extra ?? []));
  return { path: '/gitlab', headers, body };
}

function nested(depth: number, open: string, close: string, inner: string): string {
  return `${open.repeat(depth)}${inner}${close.repeat(depth)}`;
}

/** Every delivery case. */
export function deliveryCases(): DeliveryCase[] {
  const cases: DeliveryCase[] = [];
  const add = (name: string, forge: DeliveryCase['forge'], expect: DeliveryExpectation, requests: DeliveryCase['requests']): void => {
    cases.push({ kind: 'delivery', name, forge, expect, requests });
  };
  const push = json(githubPush());

  // --- signatures
  add('gh-signature-sha1-only', 'github', 'refuse', (s) => [github(s, push, { signature: null, extra: [['X-Hub-Signature', `sha1=${createHmac('sha1', s.githubSecret).update(push).digest('hex')}`]] })]);
  add('gh-signature-uppercase-hex', 'github', 'at-most-once', (s) => [github(s, push, { signature: (b) => sign(s.githubSecret, b).toUpperCase() })]);
  add('gh-signature-truncated', 'github', 'refuse', (s) => [github(s, push, { signature: (b) => sign(s.githubSecret, b).slice(0, 40) })]);
  add('gh-signature-of-empty-secret', 'github', 'refuse', (s) => [github(s, push, { signature: (b) => sign('', b) })]);
  add('gh-signature-repeated-header', 'github', 'refuse', (s) => [github(s, push, { signature: 'sha256=00', extra: [['X-Hub-Signature-256', sign(s.githubSecret, push)]] })]);
  add('gh-signature-with-spaces', 'github', 'refuse', (s) => [github(s, push, { signature: (b) => ` ${sign(s.githubSecret, b)} x` })]);
  add('gh-signature-non-ascii', 'github', 'refuse', (s) => [github(s, push, { signature: `sha256=${'\u00e9'.repeat(64)}` })]);
  add('gh-signature-of-other-body', 'github', 'refuse', (s) => [github(s, json(githubPush({ after: sha('evil') })), { signature: sign(s.githubSecret, push) })]);
  add('gh-signed-then-appended', 'github', 'refuse', (s) => [github(s, bytes(push, ' {"after":"x"}'), { signature: sign(s.githubSecret, push) })]);
  // --- bodies
  add('gh-truncated-body', 'github', 'no-event', (s) => [github(s, push, { truncateAt: 20, transport: true })]);
  add('gh-truncated-signed-json', 'github', 'refuse', (s) => {
    const cut = push.subarray(0, 30);
    return [github(s, cut)];
  });
  add('gh-content-length-larger-than-body', 'github', 'no-event', (s) => [github(s, push, { framing: push.length + 100, truncateAt: push.length, transport: true })]);
  add('gh-content-length-smaller-than-body', 'github', 'refuse', (s) => [github(s, push, { framing: 10, transport: true })]);
  add('gh-chunked-body', 'github', 'accept-once', (s) => [github(s, push, { framing: 'chunked' })]);
  add('gh-no-length-no-chunks', 'github', 'refuse', (s) => [github(s, push, { framing: 'none', transport: true })]);
  add('gh-form-encoded-signed', 'github', 'refuse', (s) => [github(s, utf8(`payload=${encodeURIComponent(JSON.stringify(githubPush()))}`), { contentType: 'application/x-www-form-urlencoded' })]);
  add('gh-text-plain', 'github', 'refuse', (s) => [github(s, push, { contentType: 'text/plain' })]);
  add('gh-multipart', 'github', 'refuse', (s) => [github(s, utf8('--b\r\nContent-Disposition: form-data; name="payload"\r\n\r\n{}\r\n--b--\r\n'), { contentType: 'multipart/form-data; boundary=b' })]);
  add('gh-content-type-json-charset-latin1', 'github', 'accept-once', (s) => [github(s, push, { contentType: 'application/json; charset=ISO-8859-1' })]);
  add('gh-no-content-type', 'github', 'accept-once', (s) => [github(s, push, { contentType: null })]);
  add('gh-body-utf16', 'github', 'refuse', (s) => [github(s, Buffer.from(`\ufeff${JSON.stringify(githubPush())}`, 'utf16le'))]);
  add('gh-body-invalid-utf8', 'github', 'refuse', (s) => [github(s, bytes('{"ref":"refs/heads/', [0xff, 0xfe], '","after":"x"}'))]);
  add('gh-body-with-bom', 'github', 'refuse', (s) => [github(s, bytes([0xef, 0xbb, 0xbf], JSON.stringify(githubPush())))]);
  add('gh-body-nul-bytes', 'github', 'refuse', (s) => [github(s, bytes([0, 0, 0, 0]))]);
  add('gh-body-empty', 'github', 'refuse', (s) => [github(s, new Uint8Array(0))]);
  add('gh-body-json-array', 'github', 'refuse', (s) => [github(s, json([githubPush()]))]);
  add('gh-body-json-string', 'github', 'refuse', (s) => [github(s, json('refs/heads/main'))]);
  add('gh-body-deeply-nested-array', 'github', 'refuse', (s) => [github(s, utf8(nested(200_000, '[', ']', '1')))]);
  add('gh-body-deeply-nested-in-field', 'github', 'refuse', (s) => [github(s, utf8(`{"ref":"refs/heads/main","after":${nested(100_000, '{"a":', '}', '1')},"repository":{"full_name":"acme/clusters"}}`))]);
  add('gh-body-deep-nesting-extra-field', 'github', 'at-most-once', (s) => [github(s, utf8(`${JSON.stringify(githubPush()).slice(0, -1)},"x":${nested(100_000, '[', ']', '1')}}`))]);
  add('gh-proto-payload', 'github', 'refuse', (s) => [github(s, utf8(`{"__proto__":{"ref":"refs/heads/main","after":"${sha('p')}","repository":{"full_name":"acme/clusters"}}}`))]);
  add('gh-proto-repository', 'github', 'refuse', (s) => [github(s, utf8(`{"ref":"refs/heads/main","after":"${sha('p')}","repository":{"__proto__":{"full_name":"acme/clusters"}}}`))]);
  add('gh-constructor-fields', 'github', 'refuse', (s) => [github(s, json({ constructor: { prototype: { ref: 'refs/heads/main' } }, after: sha('c'), repository: { full_name: 'acme/clusters' } }))]);
  add('gh-duplicate-json-keys', 'github', 'accept-once', (s) => [github(s, utf8(`{"ref":"refs/tags/v1","ref":"refs/heads/main","after":"${sha('d')}","repository":{"full_name":"acme/clusters"}}`))]);
  add('gh-numbers-where-strings', 'github', 'refuse', (s) => [github(s, json(githubPush({ ref: 42, after: 1e40 })))]);
  add('gh-after-not-hex', 'github', 'refuse', (s) => [github(s, json(githubPush({ after: 'z'.repeat(40) })))]);
  add('gh-after-with-newline', 'github', 'refuse', (s) => [github(s, json(githubPush({ after: `${sha('n')}\n` })))]);
  add('gh-missing-ref', 'github', 'refuse', (s) => [github(s, json(githubPush({ ref: undefined })))]);
  add('gh-null-ref', 'github', 'refuse', (s) => [github(s, json(githubPush({ ref: null })))]);
  add('gh-empty-ref', 'github', 'refuse', (s) => [github(s, json(githubPush({ ref: '' })))]);
  add('gh-unicode-ref', 'github', 'accept-once', (s) => [github(s, json(githubPush({ ref: 'refs/heads/r\u00e9l\u00e9ase-\u{1f680}' })))]);
  add('gh-ref-not-a-branch', 'github', 'ignore', (s) => [github(s, json(githubPush({ ref: 'refs/pull/1/head' })))]);
  add('gh-repository-a-string', 'github', 'refuse', (s) => [github(s, json(githubPush({ repository: 'acme/clusters' })))]);
  add('gh-pr-number-float-huge', 'github', 'refuse', (s) => [github(s, json(githubPullRequest({ pull_request: { number: 1e300, head: { sha: sha('h') }, base: { ref: 'main' } } })), { event: 'pull_request' })]);
  add('gh-pr-number-negative', 'github', 'refuse', (s) => [github(s, json(githubPullRequest({ pull_request: { number: -7, head: { sha: sha('h') }, base: { ref: 'main' } } })), { event: 'pull_request' })]);
  add('gh-pr-merged-not-boolean', 'github', 'refuse', (s) => [github(s, json(githubPullRequest({ action: 'closed', pull_request: { number: 7, head: { sha: sha('h') }, base: { ref: 'main' }, merged: 'true' } })), { event: 'pull_request' })]);
  add('gh-comment-id-object', 'github', 'refuse', (s) => [
    github(s, json({ action: 'created', issue: { number: 7, pull_request: {} }, comment: { id: { $gt: 0 }, user: { login: 'x' }, body: '/rollgate approve' }, repository: { full_name: 'acme/clusters' } }), { event: 'issue_comment' }),
  ]);
  // --- headers
  add('gh-event-header-empty', 'github', 'refuse', (s) => [github(s, push, { event: '' })]);
  add('gh-event-unknown', 'github', 'ignore', (s) => [github(s, push, { event: 'workflow_run' })]);
  add('gh-event-proto-name', 'github', 'ignore', (s) => [github(s, push, { event: '__proto__' })]);
  add('gh-delivery-id-missing', 'github', 'refuse', (s) => [github(s, push, { id: null })]);
  add('gh-delivery-id-8kb', 'github', 'accept-once', (s) => [github(s, push, { id: 'i'.repeat(8_000) })]);
  add('gh-huge-header', 'github', 'refuse', (s) => [github(s, push, { extra: [['X-Padding', 'p'.repeat(64 * 1024)]], transport: true })]);
  add('gh-thousands-of-headers', 'github', 'refuse', (s) => [github(s, push, { extra: Array.from({ length: 3_000 }, (_, i): [string, string] => [`X-H${i}`, 'v']), transport: true })]);
  add('gh-bare-line-feed-in-header', 'github', 'no-event', (s) => [github(s, push, { id: 'x\nX-Injected: 1', transport: true })]);
  add('gh-content-length-over-limit', 'github', 'refuse', (s) => [github(s, push, { framing: 50 * 1024 * 1024, truncateAt: push.length })]);
  add('gh-content-length-not-a-number', 'github', 'refuse', (s) => [github(s, push, { framing: 'none', extra: [['Content-Length', 'abc']], transport: true })]);
  add('gh-both-length-and-chunked', 'github', 'refuse', (s) => [github(s, push, { framing: 'chunked', extra: [['Content-Length', String(push.length)]], transport: true })]);
  add('gh-get-with-valid-signature', 'github', 'refuse', (s) => [github(s, push, { method: 'GET' })]);
  add('gh-put', 'github', 'refuse', (s) => [github(s, push, { method: 'PUT' })]);
  // --- replays
  add('gh-duplicate-delivery-id', 'github', 'accept-once', (s) => {
    const id = deliveryId('dup');
    return [github(s, push, { id }), github(s, push, { id }), github(s, push, { id })];
  });
  add('gh-duplicate-id-different-body', 'github', 'accept-once', (s) => {
    const id = deliveryId('dup2');
    return [github(s, push, { id }), github(s, json(githubPush({ after: sha('other') })), { id })];
  });
  add('gh-duplicate-id-case-variant', 'github', 'no-event', (s) => {
    const id = deliveryId('case');
    return [github(s, push, { id, signature: 'sha256=bad' }), github(s, push, { id: id.toUpperCase(), signature: null })];
  });

  // --- GitLab
  const glPush = json(gitlabPush());
  add('gl-token-one-char-short', 'gitlab', 'refuse', (s) => [gitlab(s, glPush, { token: s.gitlabToken.slice(0, -1) })]);
  add('gl-token-one-char-long', 'gitlab', 'refuse', (s) => [gitlab(s, glPush, { token: `${s.gitlabToken}x` })]);
  add('gl-token-empty', 'gitlab', 'refuse', (s) => [gitlab(s, glPush, { token: '' })]);
  add('gl-token-8kb', 'gitlab', 'refuse', (s) => [gitlab(s, glPush, { token: 't'.repeat(8_000) })]);
  // HTTP drops whitespace around a field value (RFC 9110 5.5), so this is the right token.
  add('gl-token-with-spaces', 'gitlab', 'accept-once', (s) => [gitlab(s, glPush, { token: ` ${s.gitlabToken} ` })]);
  add('gl-token-non-ascii', 'gitlab', 'refuse', (s) => [gitlab(s, glPush, { token: '\u00e9'.repeat(s.gitlabToken.length) })]);
  add('gl-token-github-style-signature', 'gitlab', 'refuse', (s) => [gitlab(s, glPush, { token: null, extra: [['X-Hub-Signature-256', sign(s.gitlabToken, glPush)]] })]);
  add('gl-form-encoded', 'gitlab', 'refuse', (s) => [gitlab(s, utf8('object_kind=push&ref=refs%2Fheads%2Fmain'), { contentType: 'application/x-www-form-urlencoded' })]);
  add('gl-event-header-missing', 'gitlab', 'refuse', (s) => [{ ...gitlab(s, glPush), headers: gitlab(s, glPush).headers.filter(([k]) => k !== 'X-Gitlab-Event') }]);
  add('gl-missing-project', 'gitlab', 'refuse', (s) => [gitlab(s, json(gitlabPush({ project: undefined })))]);
  add('gl-project-path-number', 'gitlab', 'refuse', (s) => [gitlab(s, json(gitlabPush({ project: { path_with_namespace: 1234 } })))]);
  add('gl-mr-iid-string', 'gitlab', 'refuse', (s) => [
    gitlab(s, json({ object_kind: 'merge_request', object_attributes: { action: 'open', iid: '7', last_commit: { id: sha('m') }, target_branch: 'main' }, project: { path_with_namespace: 'platform/gitops/clusters' } }), { event: 'Merge Request Hook' }),
  ]);
  add('gl-note-missing-author', 'gitlab', 'refuse', (s) => [
    gitlab(s, json({ object_kind: 'note', object_attributes: { noteable_type: 'MergeRequest', id: 5, note: '/rollgate approve' }, merge_request: { iid: 7 }, project: { path_with_namespace: 'platform/gitops/clusters' } }), { event: 'Note Hook' }),
  ]);
  add('gl-proto-payload', 'gitlab', 'refuse', (s) => [gitlab(s, utf8(`{"__proto__":{"ref":"refs/heads/main","after":"${sha('g')}","project":{"path_with_namespace":"a/b"}}}`))]);
  add('gl-deeply-nested', 'gitlab', 'refuse', (s) => [gitlab(s, utf8(nested(200_000, '{"a":', '}', '1')))]);
  add('gl-unicode-ref', 'gitlab', 'accept-once', (s) => [gitlab(s, json(gitlabPush({ ref: 'refs/heads/\u6f22\u5b57' })))]);
  add('gl-duplicate-idempotency-key', 'gitlab', 'accept-once', (s) => {
    const key = deliveryId('idem');
    return [gitlab(s, glPush, { idempotencyKey: key }), gitlab(s, glPush, { idempotencyKey: key }), gitlab(s, glPush, { idempotencyKey: key, uuid: deliveryId('other') })];
  });
  add('gl-resend-without-ids', 'gitlab', 'accept-once', (s) => {
    const body = json(gitlabPush({ after: sha('noid') }));
    return [gitlab(s, body, { uuid: null }), gitlab(s, body, { uuid: null })];
  });
  add('gl-tag-push-hook', 'gitlab', 'ignore', (s) => [gitlab(s, json(gitlabPush({ ref: 'refs/tags/v1' })), { event: 'Tag Push Hook' })]);
  add('gl-to-github-endpoint', 'gitlab', 'refuse', (s) => [{ ...gitlab(s, glPush), path: '/github' }]);
  return cases;
}
