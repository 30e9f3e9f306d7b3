/**
 * The corpus of broken and hostile repositories. Each case is the valid
 * repository in test/fixtures/manifests/base with some files replaced,
 * added (string or bytes), removed (null), or made into symlinks and FIFOs;
 * large and hostile files are generated when the case is materialised, not
 * committed. `expected` is the exact output of `rollgate validate .`.
 */
import type { Limits } from '../../../agent/manifests/types.ts';

/** What to put at a path of the case's repository. */
export type FileSpec =
  | string
  | Uint8Array
  | null
  | { readonly symlink: string }
  | { readonly fifo: true }
  | { readonly directory: true }
  | { readonly generate: () => string | Uint8Array };

/** One broken repository and the lines `rollgate validate` must print for it. */
export interface CorpusCase {
  readonly name: string;
  readonly files: Readonly<Record<string, FileSpec>>;
  readonly limits?: Partial<Limits>;
  readonly expected: readonly string[];
}

const sts = (name: string, extra = ''): string => `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: ${name}
  namespace: cache
spec:
  replicas: 3
  selector:
    matchLabels: {app: ${name}}
  template:
    spec:
      containers:
        - name: main
          image: memcached:1.6.29
${extra}`;

const config = (extra: string): string => `apiVersion: rollgate.dev/v1alpha1
kind: Config
clusters:
  - name: staging
    paths: [staging]
  - name: prod
    paths: [prod]
    dependsOn: [staging]
${extra}`;

const tidb = (name: string, spec: string): string => `apiVersion: pingcap.com/v1alpha1
kind: TidbCluster
metadata:
  name: ${name}
  namespace: db
spec:
${spec}`;

const rec = (spec: string): string => `apiVersion: app.redislabs.com/v1
kind: RedisEnterpriseCluster
metadata:
  name: rec
  namespace: redis
spec:
${spec}`;

const release = (spec: string): string => `apiVersion: rollgate.dev/v1alpha1
kind: HelmRelease
metadata:
  name: analytics
  namespace: analytics
spec:
  chart: {name: tidb-cluster, repository: https://charts.pingcap.org/, version: v1.5.0}
${spec}`;

const values = `pd: {image: pingcap/pd:v7.5.1, replicas: 3}
tikv: {image: pingcap/tikv:v7.5.1, replicas: 3}
tidb: {image: pingcap/tidb:v7.5.1, replicas: 2}
`;

function billionLaughs(): string {
  const lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'];
  for (let i = 1; i < 10; i++) {
    const name = String.fromCharCode(97 + i);
    const previous = String.fromCharCode(96 + i);
    lines.push(`${name}: &${name} [${Array<string>(9).fill(`*${previous}`).join(', ')}]`);
  }
  return `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\ndata:\n  ${lines.join('\n  ')}\n`;
}

/** The cases. Names are unique and become temp-directory names. */
export const cases: readonly CorpusCase[] = [
  // --- YAML
  {
    name: 'yaml-bad-indentation',
    files: { 'prod/cache.yaml': 'apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: cache\n namespace: cache\n' },
    expected: ['prod/cache.yaml:5:1: all mapping items must start at the same column'],
  },
  {
    name: 'yaml-tab-indentation',
    files: { 'prod/cache.yaml': 'apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n\tname: cache\n' },
    expected: ['prod/cache.yaml:4:1: tabs are not allowed as indentation'],
  },
  {
    name: 'yaml-unclosed-quote',
    files: { 'prod/cache.yaml': 'apiVersion: apps/v1\nkind: "StatefulSet\nmetadata:\n  name: cache\n' },
    expected: ['prod/cache.yaml:5:1: missing closing "quote'],
  },
  {
    name: 'duplicate-keys',
    files: { 'prod/cache.yaml': sts('cache', '  replicas: 5\n') },
    expected: ['prod/cache.yaml:15:3: duplicate key "replicas"'],
  },
  {
    name: 'duplicate-keys-after-conversion',
    files: { 'prod/labels.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: labels\n  namespace: cache\ndata:\n  1: one\n  "1": uno\n' },
    expected: ['prod/labels.yaml:8:3: duplicate key "1"'],
  },
  {
    name: 'billion-laughs',
    files: { 'prod/lol.yaml': { generate: billionLaughs } },
    expected: ['prod/lol.yaml:10:10: aliases expand to more than 10000 nodes; rollgate bounds alias expansion to stop "billion laughs" files'],
  },
  {
    name: 'alias-to-its-own-ancestor',
    files: { 'prod/loop.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: &m\n  name: loop\n  self: *m\n' },
    expected: ['prod/loop.yaml:5:9: alias *m refers to a node that contains it'],
  },
  {
    name: 'unknown-alias',
    files: { 'prod/alias.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: *missing\n' },
    expected: ['prod/alias.yaml:4:9: unknown alias *missing: the anchor must be set before the alias'],
  },
  {
    name: 'yaml-1.1-directive',
    files: { 'prod/old.yaml': '%YAML 1.1\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: old\ndata:\n  enabled: yes\n' },
    expected: ['prod/old.yaml:1:1: %YAML 1.1 is not supported: rollgate reads YAML 1.2'],
  },
  {
    name: 'binary-tag',
    files: { 'prod/tagged.yaml': 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: tagged\ndata:\n  key: !!binary aGVsbG8=\n' },
    expected: ['prod/tagged.yaml:6:17: unsupported tag !!binary: manifests hold only strings, numbers, booleans, null, mappings and sequences'],
  },
  {
    name: 'non-finite-number',
    files: { 'prod/cache.yaml': sts('cache').replace('replicas: 3', 'replicas: .inf') },
    expected: ['prod/cache.yaml:7:13: ".inf" is not a finite number, so JSON cannot hold it'],
  },
  {
    name: 'proto-key',
    files: { 'prod/proto.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: proto\n  __proto__: {polluted: true}\n' },
    expected: ['prod/proto.yaml:5:3: the key "__proto__" is not allowed'],
  },
  {
    name: 'deep-nesting',
    files: { 'prod/deep.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\ndata:\n  x: ${'['.repeat(70)}${']'.repeat(70)}\n` },
    expected: ['prod/deep.yaml:6:68: nesting deeper than 64 levels'],
  },
  {
    name: 'too-many-documents',
    files: { 'prod/many.yaml': { generate: () => 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\n'.repeat(501) } },
    expected: ['prod/many.yaml:2000:1: more than 500 YAML documents in one file; rollgate reads at most 500'],
  },
  // Found by the hostile campaign (chaos/hostile): each used to print "maximum call stack size exceeded".
  {
    name: 'deep-compact-sequences',
    files: { 'prod/deep.yaml': { generate: () => `a:\n  ${'- '.repeat(2_000)}1\n` } },
    expected: ['prod/deep.yaml:2:129: nesting deeper than 64 levels'],
  },
  {
    name: 'deep-nesting-in-rollgate-yaml',
    files: { 'rollgate.yaml': { generate: () => config(`exclude: ${'['.repeat(30_000)}${']'.repeat(30_000)}\n`) } },
    expected: ['rollgate.yaml:9:73: nesting deeper than 64 levels'],
  },
  {
    name: 'merge-key',
    files: { 'prod/cache.yaml': `x-base: &base {replicas: 9}\n${sts('cache').replace('  replicas: 3\n', '  <<: *base\n')}` },
    expected: ['prod/cache.yaml:8:3: merge keys (<<) are not supported: kubectl would merge them and rollgate would not, so the file would mean two things; write the fields out, or quote the key if "<<" is meant literally'],
  },
  {
    name: 'not-a-mapping',
    files: { 'prod/list.yaml': '- apiVersion: v1\n  kind: ConfigMap\n' },
    expected: ['prod/list.yaml:1:1: a document here must be a Kubernetes object (a mapping), not a sequence'],
  },
  // --- Files
  {
    name: 'oversized-file',
    files: { 'prod/big.yaml': { generate: () => `# ${'x'.repeat(1024 * 1024)}\n` } },
    expected: ['prod/big.yaml:1:1: file is 1048579 bytes; rollgate reads files of at most 1048576 bytes'],
  },
  {
    name: 'too-many-files',
    files: { 'prod/a.yaml': sts('a'), 'prod/b.yaml': sts('b') },
    limits: { maxFiles: 4 },
    expected: ['staging/db.yaml:1:1: more than 4 YAML files; rollgate reads at most 4 per repository'],
  },
  {
    name: 'binary-content',
    files: { 'prod/blob.yaml': new Uint8Array([0x61, 0x3a, 0x20, 0x31, 0x0a, 0x89, 0x50, 0x4e, 0x47, 0x00, 0x01]) },
    expected: ['prod/blob.yaml:2:5: binary content (a NUL byte); rollgate reads only UTF-8 text'],
  },
  {
    name: 'non-utf8',
    files: { 'prod/latin1.yaml': new Uint8Array([...new TextEncoder().encode('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: caf'), 0xe9, 0x0a]) },
    expected: ['prod/latin1.yaml:4:12: not valid UTF-8 (byte 0xE9); rollgate reads only UTF-8 text'],
  },
  {
    name: 'utf16',
    files: { 'prod/wide.yaml': new Uint8Array([0xff, 0xfe, 0x61, 0x00, 0x3a, 0x00]) },
    expected: ['prod/wide.yaml:1:1: UTF-16 or UTF-32 text (byte-order mark); save the file as UTF-8'],
  },
  {
    name: 'symlink-to-etc-passwd',
    files: { 'prod/passwd.yaml': { symlink: '/etc/passwd' } },
    expected: ['prod/passwd.yaml:1:1: symlink points outside the repository (-> /etc/passwd); rollgate reads nothing outside it'],
  },
  {
    name: 'symlink-to-directory-outside',
    files: { 'prod/etc': { symlink: '/etc' } },
    expected: ['prod/etc:1:1: symlink points outside the repository (-> /etc); rollgate reads nothing outside it'],
  },
  {
    name: 'symlink-relative-escape',
    files: { 'prod/up.yaml': { symlink: '../../../../../../../../etc/hostname' } },
    expected: ['prod/up.yaml:1:1: symlink points outside the repository (-> ../../../../../../../../etc/hostname); rollgate reads nothing outside it'],
  },
  {
    name: 'symlink-loop',
    files: { 'prod/a.yaml': { symlink: 'b.yaml' }, 'prod/b.yaml': { symlink: 'a.yaml' } },
    expected: ['prod/a.yaml:1:1: symlink loop: prod/a.yaml -> b.yaml leads back to itself', 'prod/b.yaml:1:1: symlink loop: prod/b.yaml -> a.yaml leads back to itself'],
  },
  {
    name: 'symlink-dangling',
    files: { 'prod/gone.yaml': { symlink: 'nowhere.yaml' } },
    expected: ['prod/gone.yaml:1:1: symlink target nowhere.yaml does not exist'],
  },
  {
    name: 'symlink-to-directory-inside',
    files: { 'prod/alias': { symlink: '../staging' } },
    expected: ['prod/alias:1:1: symlink to a folder (staging): rollgate does not follow folder symlinks'],
  },
  {
    name: 'fifo',
    files: { 'prod/pipe.yaml': { fifo: true } },
    expected: ['prod/pipe.yaml:1:1: a FIFO, not a regular file; rollgate reads only regular files'],
  },
  // --- Objects
  {
    name: 'unknown-kind',
    files: { 'prod/db.yaml': tidb('db', '  version: v7.5.1\n').replace('kind: TidbCluster', 'kind: TidbClustr') },
    expected: [
      'prod/db.yaml:2:7: kind: unknown kind "TidbClustr" (apiVersion pingcap.com/v1alpha1) (did you mean "TidbCluster"?); rollgate rolls out TidbCluster, RedisEnterpriseCluster, StatefulSet, Deployment and Helm releases, and accepts common Kubernetes kinds beside them; move other files out of the cluster\'s paths or list them under exclude',
      'rollgate.yaml:14:13: targets[0].target: prod/db/TidbCluster/db matches no target',
    ],
  },
  {
    name: 'wrong-api-version',
    files: { 'prod/cache.yaml': sts('cache').replace('apps/v1', 'apps/v1beta1') },
    expected: ['prod/cache.yaml:1:13: apiVersion: StatefulSet is served as apps/v1, not apps/v1beta1'],
  },
  {
    name: 'kind-list',
    files: { 'prod/list.yaml': 'apiVersion: v1\nkind: List\nitems: []\n' },
    expected: ['prod/list.yaml:2:7: kind: List is not supported; write each object as its own YAML document, separated by ---'],
  },
  {
    name: 'values-without-descriptor',
    files: { 'prod/tidb/values.yaml': values },
    expected: ['prod/tidb/values.yaml:1:1: not a Kubernetes object: apiVersion and kind are missing; if these are Helm values, add a rollgate.dev/v1alpha1 HelmRelease next to them'],
  },
  {
    name: 'replicas-beyond-int32',
    files: { 'prod/cache.yaml': sts('cache').replace('replicas: 3', 'replicas: 2147483648'), 'prod/rec.yaml': rec('  nodes: 1e300\n  redisEnterpriseImageSpec: {repository: redislabs/redis, versionTag: 7.4.6-22}\n') },
    expected: [
      'prod/cache.yaml:7:13: spec.replicas: must be at most 2147483647: Kubernetes stores it as a 32-bit integer and refuses 2147483648',
      'prod/rec.yaml:7:10: spec.nodes: must be at most 2147483647: Kubernetes stores it as a 32-bit integer and refuses 1e+300',
    ],
  },
  {
    name: 'control-characters-in-messages',
    files: {
      'prod/cache.yaml': sts('cache').replace('apiVersion: apps/v1', 'apiVersion: "apps/v1\\nprod/cache.yaml:1:1: forged"'),
      'prod/evil\nrollgate.yaml:1:1: forged.yaml': 'kind: [\n',
      'prod/\u001b[2J.yaml': 'apiVersion: v1\nkind: Nope\nmetadata: {name: x}\n',
    },
    expected: [
      'prod/\\e[2J.yaml:2:7: kind: unknown kind "Nope" (apiVersion v1); rollgate rolls out TidbCluster, RedisEnterpriseCluster, StatefulSet, Deployment and Helm releases, and accepts common Kubernetes kinds beside them; move other files out of the cluster\'s paths or list them under exclude',
      'prod/cache.yaml:1:13: apiVersion: StatefulSet is served as apps/v1, not apps/v1\\nprod/cache.yaml:1:1: forged',
      'prod/evil\\nrollgate.yaml:1:1: forged.yaml:2:1: flow sequence in block collection must be sufficiently indented and end with a ]',
    ],
  },
  {
    name: 'wrong-types',
    files: { 'prod/cache.yaml': sts('cache').replace('replicas: 3', 'replicas: "3"').replace('image: memcached:1.6.29', 'image: 1.6') },
    expected: ['prod/cache.yaml:7:13: spec.replicas: must be an integer, not a string', 'prod/cache.yaml:14:18: spec.template.spec.containers[0].image: must be a string, not a number'],
  },
  {
    name: 'negative-replicas-and-bad-version',
    files: { 'prod/db.yaml': tidb('db', '  version: 7.5 .1\n  pd: {baseImage: pingcap/pd, replicas: -1}\n') },
    expected: [
      'prod/db.yaml:7:12: spec.version: must be an image tag such as v7.5.1, not "7.5 .1"',
      'prod/db.yaml:8:41: spec.pd.replicas: must be at least 0, not -1',
    ],
  },
  {
    name: 'tidbcluster-without-version',
    files: { 'prod/db.yaml': tidb('db', '  pd: {baseImage: pingcap/pd, replicas: 3}\n  tikv: {image: pingcap/tikv, replicas: 3}\n') },
    expected: [
      'prod/db.yaml:7:3: spec.pd: no version: set spec.version, spec.pd.version or spec.pd.image',
      'prod/db.yaml:8:17: spec.tikv.image: "pingcap/tikv" has no tag, and neither spec.version nor spec.tikv.version is set; rollgate cannot tell the version',
    ],
  },
  {
    name: 'rec-image-spec',
    files: { 'prod/rec.yaml': rec('  nodes: 3\n  redisEnterpriseImageSpec:\n    imageName: redislabs/redis\n    versoinTag: 7.4.6-22\n') },
    expected: [
      'prod/rec.yaml:8:3: spec.redisEnterpriseImageSpec: missing required field "versionTag"',
      'prod/rec.yaml:9:5: spec.redisEnterpriseImageSpec.imageName: unknown field "imageName"',
      'prod/rec.yaml:10:5: spec.redisEnterpriseImageSpec.versoinTag: unknown field "versoinTag" (did you mean "versionTag"?)',
    ],
  },
  {
    name: 'rec-auto-upgrade',
    files: { 'prod/rec.yaml': rec('  redisEnterpriseImageSpec: {repository: redislabs/redis, versionTag: 7.4.6-22}\n  upgradeSpec:\n    autoUpgradeRedisEnterprise: true\n') },
    expected: [
      "prod/rec.yaml:9:33: spec.upgradeSpec.autoUpgradeRedisEnterprise: true lets the operator upgrade the cluster by itself after an operator upgrade, outside rollgate's gates; set it to false and let rollgate move versionTag",
    ],
  },
  {
    name: 'statefulset-missing-fields',
    files: { 'prod/cache.yaml': 'apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: Cache\nspec:\n  template:\n    spec:\n      containers:\n        - name: main\n' },
    expected: [
      'prod/cache.yaml:4:9: metadata.name: must be a DNS subdomain: lowercase letters, digits, \'-\' and \'.\', not "Cache"',
      'prod/cache.yaml:5:1: spec: missing required field "selector"',
      'prod/cache.yaml:9:11: spec.template.spec.containers[0]: missing required field "image"',
    ],
  },
  {
    name: 'duplicate-target',
    files: { 'prod/cache-copy.yaml': sts('cache') },
    expected: ['prod/cache.yaml:1:1: duplicate target prod/cache/StatefulSet/cache: already declared at prod/cache-copy.yaml:1:1'],
  },
  {
    name: 'duplicate-target-helm-and-manifest',
    files: {
      'prod/analytics/release.yaml': release(''),
      'prod/analytics/values.yaml': values,
      'prod/analytics/tc.yaml': tidb('analytics', '  version: v7.5.1\n  pd: {baseImage: pingcap/pd, replicas: 3}\n').replace('namespace: db', 'namespace: analytics'),
    },
    expected: ['prod/analytics/tc.yaml:1:1: duplicate target prod/analytics/TidbCluster/analytics: already declared at prod/analytics/release.yaml:1:1'],
  },
  {
    name: 'config-misplaced',
    files: { 'prod/rollgate.yaml': 'apiVersion: rollgate.dev/v1alpha1\nkind: Config\nclusters: []\n' },
    expected: ["prod/rollgate.yaml:2:7: kind: a rollgate Config belongs in rollgate.yaml at the repository root, not in a cluster's paths"],
  },
  // --- Helm
  {
    name: 'helm-values-dotdot',
    files: { 'prod/analytics/release.yaml': release('  valuesFiles: [../values.yaml]\n'), 'prod/values.yaml': values },
    expected: [
      'prod/analytics/release.yaml:8:17: spec.valuesFiles[0]: "../values.yaml" must not contain ".." segments',
      'prod/values.yaml:1:1: not a Kubernetes object: apiVersion and kind are missing; if these are Helm values, add a rollgate.dev/v1alpha1 HelmRelease next to them',
    ],
  },
  {
    name: 'helm-values-absolute',
    files: { 'prod/analytics/release.yaml': release('  valuesFiles: [/etc/passwd]\n') },
    expected: ['prod/analytics/release.yaml:8:17: spec.valuesFiles[0]: "/etc/passwd" must be relative to the repository root, not absolute'],
  },
  {
    name: 'helm-values-missing',
    files: { 'prod/analytics/release.yaml': release('') },
    expected: ['prod/analytics/release.yaml:6:1: no values file: prod/analytics/values.yaml does not exist; add it or set spec.valuesFiles'],
  },
  {
    name: 'helm-values-invalid',
    files: {
      'prod/analytics/release.yaml': release('  valuesFiles: [values.yaml, prod.yaml]\n'),
      'prod/analytics/values.yaml': 'pd: {image: pingcap/pd, replicas: 3}\ntikv: {image: pingcap/tikv:v7.5.1}\n',
      'prod/analytics/prod.yaml': 'tidb: {image: pingcap/tidb:v7.5.1, replicas: two}\n',
    },
    expected: [
      'prod/analytics/prod.yaml:1:46: tidb.replicas: must be an integer, not a string',
      'prod/analytics/values.yaml:2:1: tikv: missing required field "replicas"',
    ],
  },
  {
    name: 'helm-image-without-tag',
    files: { 'prod/analytics/release.yaml': release(''), 'prod/analytics/values.yaml': values.replace('pingcap/tikv:v7.5.1', 'registry.local:5000/pingcap/tikv') },
    expected: ['prod/analytics/values.yaml:2:15: tikv.image: "registry.local:5000/pingcap/tikv" has no tag; rollgate reads the version from the image tag, e.g. pingcap/pd:v7.5.1'],
  },
  {
    name: 'helm-unsupported-chart',
    files: { 'prod/analytics/release.yaml': release('').replace('name: tidb-cluster', 'name: tidb-operator'), 'prod/analytics/values.yaml': values },
    expected: ['prod/analytics/release.yaml:7:17: spec.chart.name: must be one of "tidb-cluster", not "tidb-operator"'],
  },
  // --- rollgate.yaml
  {
    name: 'config-missing',
    files: { 'rollgate.yaml': null },
    expected: ['rollgate.yaml:1:1: rollgate.yaml not found at the repository root; it says which paths go to which cluster (see examples-repo/README.md)'],
  },
  {
    name: 'config-unknown-fields',
    files: { 'rollgate.yaml': config('defautls:\n  suspend: true\nstatus:\n  branch: rollgate status\n').replace('rollgate.dev/v1alpha1', 'rollgate.dev/v1') },
    expected: [
      'rollgate.yaml:1:13: apiVersion: must be "rollgate.dev/v1alpha1", not "rollgate.dev/v1"',
      'rollgate.yaml:9:1: defautls: unknown field "defautls" (did you mean "defaults"?)',
      'rollgate.yaml:12:11: status.branch: "rollgate status" is not a valid branch name',
    ],
  },
  {
    name: 'unknown-cluster',
    files: { 'rollgate.yaml': config('targets:\n  - target: prd/db/TidbCluster/db\n').replace('dependsOn: [staging]', 'dependsOn: [stagign]') },
    expected: [
      'rollgate.yaml:8:17: clusters[1].dependsOn[0]: unknown cluster "stagign" (did you mean "staging"?)',
      'rollgate.yaml:10:13: targets[0].target: unknown cluster "prd" (did you mean "prod"?)',
    ],
  },
  {
    name: 'duplicate-cluster',
    files: { 'rollgate.yaml': config('  - name: staging\n    paths: [other]\n') },
    expected: ['rollgate.yaml:9:11: clusters[2].name: cluster "staging" is already defined at rollgate.yaml:4:11'],
  },
  {
    name: 'bad-cron',
    files: { 'rollgate.yaml': config('defaults:\n  gates:\n    - maintenanceWindow: {schedule: "61 2 * * *", duration: 2h}\n') },
    expected: ['rollgate.yaml:11:37: defaults.gates[0].maintenanceWindow.schedule: "61 2 * * *" is not a valid cron expression: 61 is not a valid minute'],
  },
  {
    name: 'cron-six-fields',
    files: { 'rollgate.yaml': config('defaults:\n  gates:\n    - maintenanceWindow: {schedule: "0 0 2 * * *", duration: 2h}\n') },
    expected: [
      'rollgate.yaml:11:37: defaults.gates[0].maintenanceWindow.schedule: "0 0 2 * * *" has 6 fields; write 5 (minute hour day-of-month month day-of-week), e.g. "0 2 * * 1-5", or a macro such as @daily',
    ],
  },
  {
    name: 'bad-time-zone',
    files: { 'rollgate.yaml': config('defaults:\n  gates:\n    - maintenanceWindow: {schedule: "@daily", duration: 2h, timeZone: Europe/Atlantis}\n') },
    expected: ['rollgate.yaml:11:71: defaults.gates[0].maintenanceWindow.timeZone: unknown time zone "Europe/Atlantis"; use an IANA name such as Europe/Berlin, or UTC'],
  },
  {
    name: 'bad-duration',
    files: { 'rollgate.yaml': config('defaults:\n  progressDeadline: 10 minutes\n  gates:\n    - soak: {duration: 0s}\n') },
    expected: [
      'rollgate.yaml:10:21: defaults.progressDeadline: must be a duration such as 30s, 10m, 2h or 1h30m, not "10 minutes"',
      'rollgate.yaml:12:24: defaults.gates[0].soak.duration: must be longer than 0s',
    ],
  },
  {
    name: 'gate-shapes',
    files: { 'rollgate.yaml': config('defaults:\n  gates:\n    - soek: {duration: 1m}\n    - soak: {duration: 1m}\n      podReady: {}\n    - podReady\n    - approval: {}\n') },
    expected: [
      'rollgate.yaml:11:7: defaults.gates[0].soek: unknown gate "soek" (did you mean "soak"?); gates are podReady, rolloutStatus, soak, http, approval, maintenanceWindow',
      'rollgate.yaml:12:7: defaults.gates[1]: a gate has exactly one key naming its kind, this one has 2: soak, podReady; write each as its own list item',
      "rollgate.yaml:14:7: defaults.gates[2]: must be a mapping with one key naming the gate, e.g. '- podReady: {}'",
      'rollgate.yaml:15:7: defaults.gates[3].approval: an approval needs "comment: true", a "file", or both',
    ],
  },
  {
    name: 'http-gate-urls',
    files: {
      'rollgate.yaml': config(
        'defaults:\n  gates:\n    - http: {url: "https://admin:hunter2@status.example.com/ok"}\n    - http: {url: "http://{host}:8080/ready"}\n    - http: {url: "ftp://example.com/"}\n',
      ),
    },
    expected: [
      'rollgate.yaml:11:19: defaults.gates[0].http.url: must not contain credentials: gate URLs are written to status commits and pull-request comments',
      'rollgate.yaml:12:19: defaults.gates[1].http.url: unknown placeholder {host}; use {namespace}, {name} or {pod}',
      'rollgate.yaml:13:19: defaults.gates[2].http.url: must be an http:// or https:// URL, not "ftp://example.com/"',
    ],
  },
  {
    name: 'approval-file-dotdot',
    files: { 'rollgate.yaml': config('defaults:\n  gates:\n    - approval: {file: ../approvals/prod}\n') },
    expected: ['rollgate.yaml:11:24: defaults.gates[0].approval.file: "../approvals/prod" must not contain ".." segments'],
  },
  {
    name: 'cluster-paths-escape',
    files: { 'rollgate.yaml': config('').replace('paths: [prod]', 'paths: [prod, /etc, ../other]') },
    expected: [
      'rollgate.yaml:7:19: clusters[1].paths[1]: "/etc" must be relative to the repository root, not absolute',
      'rollgate.yaml:7:25: clusters[1].paths[2]: "../other" must not contain ".." segments',
    ],
  },
  {
    name: 'cluster-paths-match-nothing',
    files: { 'rollgate.yaml': config('').replace('paths: [prod]', 'paths: [prod, prdo]') },
    expected: ['rollgate.yaml:7:19: "prdo" matches no YAML file of cluster prod'],
  },
  {
    name: 'file-in-two-clusters',
    files: { 'rollgate.yaml': config('').replace('paths: [prod]', 'paths: [prod, staging/db.yaml]') },
    expected: ['staging/db.yaml:1:1: this file is in the paths of more than one cluster: staging (rollgate.yaml:4:5) and prod (rollgate.yaml:6:5); a file belongs to one cluster'],
  },
  {
    name: 'conflicting-policies',
    files: {
      'rollgate.yaml': config('targets:\n  - target: prod/db/TidbCluster/db\n    gates: [podReady: {}]\n  - target: "*/*/TidbCluster/*"\n    gates: [rolloutStatus: {}]\n'),
    },
    expected: ['rollgate.yaml:13:5: targets[1] and targets[0] (rollgate.yaml:10:5) both set gates for prod/db/TidbCluster/db; set it in one entry only'],
  },
  {
    name: 'soak-longer-than-deadline',
    files: { 'rollgate.yaml': config('defaults:\n  progressDeadline: 5m\n  gates:\n    - soak: {duration: 15m}\n') },
    expected: [
      "rollgate.yaml:12:7: a soak of 15m can never pass within the progress deadline of 5m (set at rollgate.yaml:10:3); shorten the soak or raise progressDeadline",
    ],
  },
  {
    name: 'force-upgrade-on-statefulset',
    files: { 'rollgate.yaml': config('targets:\n  - target: prod/cache/StatefulSet/cache\n    forceUpgrade: whenPDUnavailable\n') },
    expected: ['rollgate.yaml:11:5: targets[0].forceUpgrade: applies only to TidbCluster targets, not StatefulSet'],
  },
  {
    name: 'status-mode-conflict',
    files: { 'rollgate.yaml': config('status:\n  mode: branch\n  path: .rollgate/status\n') },
    expected: ['rollgate.yaml:11:3: status.path: applies only with mode inTree; with mode branch, status goes to status.branch'],
  },
  {
    name: 'cluster-dependency-cycle',
    files: { 'rollgate.yaml': config('').replace('paths: [staging]', 'paths: [staging]\n    dependsOn: [prod]') },
    expected: ['rollgate.yaml:9:17: clusters[1].dependsOn[0]: dependency cycle: staging -> prod -> staging'],
  },
  {
    name: 'target-dependency-cycle',
    files: {
      'rollgate.yaml': config('targets:\n  - target: prod/db/TidbCluster/db\n    dependsOn: [cache/StatefulSet/cache]\n  - target: prod/cache/StatefulSet/cache\n    dependsOn: [prod/db/TidbCluster/db]\n'),
    },
    expected: ['rollgate.yaml:13:17: dependency cycle: prod/cache/StatefulSet/cache -> prod/db/TidbCluster/db -> prod/cache/StatefulSet/cache'],
  },
  {
    name: 'unknown-dependency',
    files: { 'rollgate.yaml': config('targets:\n  - target: prod/db/TidbCluster/db\n    dependsOn: [cache/StatefulSet/cahce]\n') },
    expected: ['rollgate.yaml:11:17: targets[0].dependsOn: no target prod/cache/StatefulSet/cahce (did you mean "prod/cache/StatefulSet/cache"?)'],
  },
  {
    name: 'selector-matches-nothing',
    files: { 'rollgate.yaml': config('targets:\n  - target: prod/db/TidbCluster/bd\n    suspend: true\n  - target: "*/*/Deployment/*"\n    suspend: true\n') },
    expected: [
      'rollgate.yaml:10:13: targets[0].target: prod/db/TidbCluster/bd matches no target (did you mean "prod/db/TidbCluster/db"?)',
      'rollgate.yaml:12:13: targets[1].target: */*/Deployment/* matches no target',
    ],
  },
  {
    name: 'selector-unknown-kind',
    files: { 'rollgate.yaml': config('targets:\n  - target: prod/analytics/HelmRelease/analytics\n    suspend: true\n') },
    expected: [
      'rollgate.yaml:10:13: targets[0].target: "HelmRelease" is not a kind rollgate rolls out; a Helm release of pingcap/tidb-cluster is selected as the TidbCluster it renders; use TidbCluster, RedisEnterpriseCluster, StatefulSet, Deployment or *',
    ],
  },
];
