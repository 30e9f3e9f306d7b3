/**
 * Benchmark of the manifests stage: the cold load of a generated repository
 * of 10,000 manifests (time, and peak memory of the process that loads it),
 * then incremental reloads after a one-file change.
 *
 *   node bench/manifests-load.ts [--manifests N] [--keep]
 *
 * The repository is generated in a temporary directory; the measurements run
 * in a fresh child process so that its peak RSS is the load's alone (plus
 * Node's own baseline, printed separately). Aims: cold under 5 s,
 * incremental under 100 ms.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { printFigures } from './support/report.ts';

const namespacesPerCluster = 50;

function statefulSet(ns: string, name: string, version: string): string {
  return `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: ${name}
  namespace: ${ns}
  labels:
    app.kubernetes.io/name: ${name}
    app.kubernetes.io/part-of: bench
spec:
  serviceName: ${name}
  replicas: 3
  selector:
    matchLabels:
      app.kubernetes.io/name: ${name}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: ${name}
    spec:
      containers:
        - name: main
          image: registry.example.com/${name}:${version}
          ports:
            - containerPort: 8080
              name: http
          readinessProbe:
            httpGet:
              path: /ready
              port: http
            periodSeconds: 5
          resources:
            requests:
              cpu: 100m
              memory: 256Mi
  volumeClaimTemplates:
    - metadata:
        name: data
      spec:
        accessModes: [ReadWriteOnce]
        resources:
          requests:
            storage: 10Gi
`;
}

function deployment(ns: string, name: string, version: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: ${ns}
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
          image: registry.example.com/${name}:${version}
          env:
            - {name: MODE, value: production}
          resources:
            requests: {cpu: 50m, memory: 64Mi}
`;
}

function tidbCluster(ns: string, name: string, version: string): string {
  return `apiVersion: pingcap.com/v1alpha1
kind: TidbCluster
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  version: ${version}
  timezone: UTC
  pvReclaimPolicy: Retain
  pd:
    baseImage: pingcap/pd
    replicas: 3
    requests: {storage: 10Gi}
  tikv:
    baseImage: pingcap/tikv
    replicas: 3
    requests: {storage: 100Gi}
  tidb:
    baseImage: pingcap/tidb
    replicas: 2
`;
}

function rec(ns: string, name: string, version: string): string {
  return `apiVersion: app.redislabs.com/v1
kind: RedisEnterpriseCluster
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  nodes: 3
  redisEnterpriseImageSpec:
    repository: redislabs/redis
    versionTag: ${version}
  persistentSpec: {enabled: true, volumeSize: 20Gi}
`;
}

function service(ns: string, name: string): string {
  return `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  clusterIP: None
  selector: {app.kubernetes.io/name: ${name}}
  ports: [{name: http, port: 8080}]
`;
}

const config = `apiVersion: rollgate.dev/v1alpha1
kind: Config
clusters:
  - name: staging
    paths: [staging]
  - name: prod
    paths: [prod]
    dependsOn: [staging]
defaults:
  progressDeadline: 10m
  gates: [podReady: {}, rolloutStatus: {}, soak: {duration: 30s}]
targets:
  - target: "*/*/TidbCluster/*"
    components:
      tidb:
        extraGates: [maintenanceWindow: {schedule: "0 2 * * 1-5", duration: 3h}]
  - target: prod/ns-000/StatefulSet/app-00000
    gates: [approval: {comment: true}, podReady: {}]
  - target: "prod/*/RedisEnterpriseCluster/*"
    progressDeadline: 15m
`;

/** Writes a repository of `count` manifests; returns the path of one StatefulSet file to change. */
async function generate(dir: string, count: number): Promise<{ changed: string }> {
  await writeFile(join(dir, 'rollgate.yaml'), config);
  let changed = '';
  for (let i = 0; i < count; i++) {
    const cluster = i % 2 === 0 ? 'prod' : 'staging';
    const ns = `ns-${String(Math.floor(i / 2) % namespacesPerCluster).padStart(3, '0')}`;
    const name = `app-${String(i).padStart(5, '0')}`;
    const folder = join(dir, cluster, ns);
    await mkdir(folder, { recursive: true });
    const kind = i % 20;
    let text: string;
    if (kind < 9) text = statefulSet(ns, name, 'v1.0.0');
    else if (kind < 15) text = deployment(ns, name, 'v1.0.0');
    else if (kind < 17) text = tidbCluster(ns, name, 'v7.5.1');
    else if (kind < 19) text = rec(ns, name, '7.4.6-22');
    else text = service(ns, name);
    const path = `${cluster}/${ns}/${name}.yaml`;
    if (i === 0) changed = path;
    await writeFile(join(dir, path), text);
  }
  return { changed };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/** Runs in the child: loads, reloads, and prints one JSON line of figures. */
async function measure(dir: string, changed: string): Promise<void> {
  const baselineRss = process.memoryUsage().rss;
  const { loadRepository, reload } = await import('../agent/manifests/index.ts');
  const coldStart = performance.now();
  let result = await loadRepository(dir);
  const coldMs = performance.now() - coldStart;
  const afterCold = process.resourceUsage().maxRSS * 1024;
  const heapAfterCold = process.memoryUsage().heapUsed;
  if (!result.valid) throw new Error(`generated repository is invalid: ${result.problems[0]?.message ?? ''}`);
  const targets = result.targets.length;

  const file = join(dir, changed);
  const original = await readFile(file, 'utf8');
  const times: number[] = [];
  for (let i = 0; i < 30; i++) {
    await writeFile(file, original.replace('v1.0.0', `v1.0.${i + 1}`));
    const start = performance.now();
    result = await reload(result, [changed]);
    times.push(performance.now() - start);
    if (!result.valid) throw new Error('reload made the repository invalid');
  }
  const configStart = performance.now();
  await reload(result, ['rollgate.yaml']);
  const configMs = performance.now() - configStart;
  process.stdout.write(
    `${JSON.stringify({ coldMs, targets, peakRss: afterCold, baselineRss, heapAfterCold, reloadMedianMs: median(times), reloadMaxMs: Math.max(...times), reloadFirstMs: times[0], configReloadMs: configMs })}\n`,
  );
}

async function run(): Promise<void> {
  const { values } = parseArgs({ options: { manifests: { type: 'string', default: '10000' }, keep: { type: 'boolean', default: false }, measure: { type: 'string' }, changed: { type: 'string' } } });
  if (values.measure !== undefined) {
    await measure(values.measure, values.changed ?? '');
    return;
  }
  const count = Number(values.manifests);
  const dir = await mkdtemp(join(tmpdir(), 'rollgate-bench-'));
  try {
    const generateStart = performance.now();
    const { changed } = await generate(dir, count);
    process.stdout.write(`generated ${count} manifests in ${((performance.now() - generateStart) / 1000).toFixed(1)} s (${dir})\n`);
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--measure', dir, '--changed', changed], { encoding: 'utf8' });
    if (child.status !== 0) throw new Error(`measuring failed: ${child.stderr}`);
    const f = JSON.parse(child.stdout) as Record<string, number>;
    const mib = (bytes: number | undefined): number => (bytes ?? NaN) / 2 ** 20;
    printFigures(`Manifests: ${count} manifests, ${f.targets} targets`, [
      { name: 'cold load', value: f.coldMs ?? NaN, unit: 'ms', aim: { value: 5000, better: 'lower' } },
      { name: '  peak resident memory of the process', value: mib(f.peakRss), unit: 'MiB' },
      { name: '  Node baseline before loading', value: mib(f.baselineRss), unit: 'MiB' },
      { name: '  heap in use after', value: mib(f.heapAfterCold), unit: 'MiB' },
      { name: 'incremental reload, one file changed (median of 30)', value: f.reloadMedianMs ?? NaN, unit: 'ms' },
      { name: '  slowest of the 30', value: f.reloadMaxMs ?? NaN, unit: 'ms', aim: { value: 100, better: 'lower' } },
      { name: 'reload after a rollgate.yaml change', value: f.configReloadMs ?? NaN, unit: 'ms' },
    ]);
  } finally {
    if (!values.keep) await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  run().catch((err: unknown) => {
    process.stderr.write(`bench/manifests-load: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
