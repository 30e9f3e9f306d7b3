/**
 * deploy/: every file parses and is listed in the kustomization (which
 * kubectl's built-in kustomize builds), images are pinned, and the
 * Deployment agrees with the image (user, entry arguments, data volume,
 * port) and with the ops server (its probes answer on the paths the
 * Deployment names). The RBAC objects are checked by rbac.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { parse as parseYaml } from 'yaml';
import { loadAgentConfig } from '../../agent/runtime/config.ts';
import { startOpsServer, type OpsServer } from '../../agent/runtime/ops-server.ts';
import { runCommand } from '../helpers/sim.ts';
import { execForm, parseDockerfile, stagesOf, type Stage } from './docker.ts';
import { DeployYamlError, deployFiles, objectId, parseDeployFile, readDeployDocuments, type DeployDocument } from './manifests.ts';
import { deployDir, repoRoot } from './support.ts';

/** The ops server's fixed paths (agent/runtime/ops-server.ts) and the port the image exposes for it. */
const ops = { port: 8080, liveness: '/healthz', readiness: '/readyz', metrics: '/metrics' } as const;

const documents = readDeployDocuments(deployDir);
const runtime = stagesOf(parseDockerfile(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8'))).at(-1) as Stage;
const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };

function one(kind: string): DeployDocument {
  const found = documents.filter((d) => d.object['kind'] === kind);
  assert.equal(found.length, 1, `deploy/ has one ${kind}`);
  return found[0] as DeployDocument;
}

/** Reads a path of plain data; undefined where it stops. */
function at(value: unknown, ...path: (string | number)[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}

interface Container {
  name: string;
  image: string;
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: { name: string; key: string } } }[];
  livenessProbe?: { httpGet?: { path: string; port: string | number }; timeoutSeconds?: number };
  readinessProbe?: { httpGet?: { path: string; port: string | number }; timeoutSeconds?: number };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

const deployment = one('Deployment');
const podSpec = at(deployment.object, 'spec', 'template', 'spec') as Record<string, unknown>;
const containers = (podSpec['containers'] ?? []) as Container[];
const agent = containers[0] as Container;
const portOf = (c: Container, port: string | number | undefined): number | undefined => (typeof port === 'number' ? port : c.ports?.find((p) => p.name === port)?.containerPort);

describe('deploy/: files and kustomization', () => {
  it('every file parses as YAML into Kubernetes objects with apiVersion, kind and name', () => {
    assert.ok(documents.length >= 9);
    for (const d of documents) {
      assert.equal(typeof d.object['apiVersion'], 'string', `${d.file}:${d.line}: apiVersion`);
      assert.equal(typeof d.object['kind'], 'string', `${d.file}:${d.line}: kind`);
      if (d.object['kind'] !== 'Kustomization') assert.equal(typeof at(d.object, 'metadata', 'name'), 'string', `${d.file}:${d.line}: metadata.name`);
    }
  });

  it('names file, line and column of a YAML error', () => {
    assert.throws(() => parseDeployFile('bad.yaml', 'kind: A\nmetadata: {name: x\n'), (err: unknown) => err instanceof DeployYamlError && /^bad\.yaml:\d+:\d+: /.test(err.message));
    assert.throws(() => parseDeployFile('dup.yaml', 'kind: A\nkind: B\n'), /^DeployYamlError: dup\.yaml:2:1: /);
    assert.throws(() => parseDeployFile('list.yaml', '- a\n'), /list\.yaml:1:1: a document must be a mapping/);
  });

  it('kustomization.yaml lists every other file of deploy/, each once', () => {
    const kustomization = one('Kustomization');
    assert.equal(kustomization.file, 'kustomization.yaml');
    const listed = at(kustomization.object, 'resources') as string[];
    assert.equal(new Set(listed).size, listed.length, 'no file listed twice');
    assert.deepEqual([...listed].sort(), deployFiles(deployDir).filter((f) => f !== 'kustomization.yaml'));
  });

  it('kubectl kustomize builds it into exactly the objects of the files', async () => {
    const built = await runCommand('kubectl', ['kustomize', deployDir]);
    assert.equal(built.code, 0, built.stderr);
    const objects = built.stdout.split(/^---$/m).map((t) => parseYaml(t) as Record<string, unknown>).filter((o) => o !== null);
    assert.deepEqual(objects.map(objectId).sort(), documents.filter((d) => d.object['kind'] !== 'Kustomization').map((d) => objectId(d.object)).sort());
  });

  it('every namespaced object lives in the agent’s namespace', () => {
    const namespace = at(one('Namespace').object, 'metadata', 'name');
    for (const d of documents) {
      if (['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'Kustomization'].includes(String(d.object['kind']))) continue;
      assert.equal(at(d.object, 'metadata', 'namespace'), namespace, `${d.file}:${d.line}: ${objectId(d.object)}`);
    }
  });
});

describe('deploy/: the Deployment', () => {
  it('runs 2 replicas of one container, its image pinned to the release (no latest, no missing tag)', () => {
    assert.equal(at(deployment.object, 'spec', 'replicas'), 2);
    assert.equal(containers.length, 1);
    const images = documents.flatMap((d) => [...JSON.stringify(d.object).matchAll(/"image":"([^"]+)"/g)].map((m) => m[1] ?? ''));
    assert.deepEqual(images, [agent.image]);
    const m = /^[a-z0-9.-]+(?::\d+)?\/[a-z0-9/._-]+(?::([\w.-]+))?(@sha256:[0-9a-f]{64})?$/.exec(agent.image);
    assert.ok(m, `${agent.image} is registry/name:tag`);
    assert.ok(m[2] !== undefined || (m[1] !== undefined && m[1] !== 'latest'), `${agent.image} is pinned by tag or digest, not latest`);
    if (m[2] === undefined) assert.equal(m[1], pkg.version, 'the tag is the release in package.json');
  });

  it('passes the image’s default arguments and mounts the config file they name from the ConfigMap', () => {
    const cmd = execForm(runtime.instructions.find((i) => i.keyword === 'CMD') ?? { keyword: '', args: '', line: 0 });
    assert.deepEqual(agent.args, cmd);
    const configPath = agent.args?.[agent.args.indexOf('--config') + 1] ?? '';
    const mount = agent.volumeMounts?.find((v) => configPath.startsWith(`${v.mountPath}/`));
    assert.ok(mount, `a volume is mounted over ${configPath}`);
    assert.equal(mount.readOnly, true);
    const volume = (podSpec['volumes'] as { name: string; configMap?: { name: string } }[]).find((v) => v.name === mount.name);
    const configMap = one('ConfigMap');
    assert.equal(volume?.configMap?.name, at(configMap.object, 'metadata', 'name'));
    const key = configPath.slice(mount.mountPath.length + 1);
    const text = at(configMap.object, 'data', key);
    assert.equal(typeof text, 'string', `the ConfigMap has ${key}`);
    assert.doesNotThrow(() => parseYaml(String(text)), 'the example configuration is YAML');
  });

  it('the example configuration is a valid agent configuration, as `rollgate run --config` reads it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rollgate-deploy-config-'));
    try {
      const file = join(dir, 'config.yaml');
      writeFileSync(file, String(at(one('ConfigMap').object, 'data', 'config.yaml')));
      const config = await loadAgentConfig({ config: file }, { POD_NAME: 'rollgate-0', POD_NAMESPACE: 'rollgate' });
      assert.equal(config.dataDir, execForm(runtime.instructions.find((i) => i.keyword === 'VOLUME') ?? { keyword: '', args: '', line: 0 })?.[0], 'the data directory is the image’s volume');
      assert.deepEqual(config.listen, { host: '0.0.0.0', port: 8080 });
      assert.equal(config.leaderElection.enabled, true, 'two replicas need leader election');
      assert.equal(config.leaderElection.identity, 'rollgate-0');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('every variable the example configuration names for a secret is set by the Deployment from a Secret; the token is never inline', () => {
    const config = parseYaml(String(at(one('ConfigMap').object, 'data', 'config.yaml'))) as unknown;
    const named = [...JSON.stringify(config).matchAll(/"(?:tokenEnv|githubSecretEnv|gitlabTokenEnv)":"([A-Z0-9_]+)"/g)].map((m) => m[1]);
    assert.ok(named.length > 0);
    for (const name of named) assert.ok(agent.env?.find((e) => e.name === name)?.valueFrom?.secretKeyRef, `${String(name)} comes from a Secret`);
    assert.equal(documents.some((d) => d.object['kind'] === 'Secret'), false, 'no Secret in deploy/: users create it');
  });

  it('gives the pod its name and namespace through the downward API (leader identity, Lease namespace)', () => {
    const field = (name: string) => agent.env?.find((e) => e.name === name)?.valueFrom?.fieldRef?.fieldPath;
    assert.equal(field('POD_NAME'), 'metadata.name');
    assert.equal(field('POD_NAMESPACE'), 'metadata.namespace');
  });

  it('runs as the image’s non-root user with nothing writable but the data volume, no capabilities, seccomp RuntimeDefault', () => {
    const user = runtime.instructions.find((i) => i.keyword === 'USER')?.args.split(':')[0];
    const pod = podSpec['securityContext'] as Record<string, unknown>;
    assert.equal(pod['runAsNonRoot'], true);
    assert.equal(String(pod['runAsUser']), user);
    assert.deepEqual(pod['seccompProfile'], { type: 'RuntimeDefault' });
    assert.deepEqual(agent.securityContext, { runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } });
    const volume = execForm(runtime.instructions.find((i) => i.keyword === 'VOLUME') ?? { keyword: '', args: '', line: 0 });
    assert.deepEqual(agent.volumeMounts?.filter((v) => v.readOnly !== true).map((v) => v.mountPath), volume, 'the only writable mount is the image’s VOLUME');
    assert.equal(podSpec['automountServiceAccountToken'], true, 'the in-cluster credentials');
    assert.equal(podSpec['serviceAccountName'], at(one('ServiceAccount').object, 'metadata', 'name'));
  });

  it('has resource requests and limits, and a grace period to finish the write in flight', () => {
    for (const r of ['cpu', 'memory']) {
      assert.ok(agent.resources?.requests?.[r], `requests.${r}`);
      assert.ok(agent.resources?.limits?.[r], `limits.${r}`);
    }
    assert.ok(Number(podSpec['terminationGracePeriodSeconds']) >= 60);
  });

  it('probes the ops port: liveness on /healthz, readiness on /readyz, port 8080 as the image exposes it and the Service targets', () => {
    assert.equal(portOf(agent, agent.livenessProbe?.httpGet?.port), ops.port);
    assert.equal(agent.livenessProbe?.httpGet?.path, ops.liveness);
    assert.equal(portOf(agent, agent.readinessProbe?.httpGet?.port), ops.port);
    assert.equal(agent.readinessProbe?.httpGet?.path, ops.readiness);
    assert.equal(runtime.instructions.find((i) => i.keyword === 'EXPOSE')?.args, String(ops.port));
    // The ops server gives up on a check after 2 s (its default checkTimeoutMs) and answers 503 with the reason; the kubelet must wait longer.
    assert.ok((agent.livenessProbe?.timeoutSeconds ?? 1) > 2 && (agent.readinessProbe?.timeoutSeconds ?? 1) > 2);
    const service = one('Service');
    const ports = at(service.object, 'spec', 'ports') as { port: number; targetPort: string | number }[];
    assert.deepEqual(ports.map((p) => [p.port, portOf(agent, p.targetPort)]), [[ops.port, ops.port]]);
    assert.deepEqual(at(service.object, 'spec', 'selector'), at(deployment.object, 'spec', 'selector', 'matchLabels'));
    assert.deepEqual(at(deployment.object, 'spec', 'template', 'metadata', 'labels'), at(deployment.object, 'spec', 'selector', 'matchLabels'));
    const config = parseYaml(String(at(one('ConfigMap').object, 'data', 'config.yaml'))) as { listen?: string };
    assert.equal(config.listen, `0.0.0.0:${ops.port}`, 'the example configuration listens where the probes knock, on the pod’s address, not loopback');
  });

  it('a PodDisruptionBudget keeps one replica through a drain', () => {
    const pdb = one('PodDisruptionBudget');
    assert.equal(at(pdb.object, 'spec', 'minAvailable'), 1);
    assert.deepEqual(at(pdb.object, 'spec', 'selector', 'matchLabels'), at(deployment.object, 'spec', 'selector', 'matchLabels'));
  });
});

describe('deploy/: the probes against the real ops server', () => {
  let server: OpsServer;
  before(async () => {
    const registry = new Registry();
    registry.setDefaultLabels({ app: 'rollgate' });
    server = await startOpsServer({ port: 0, registry, ready: () => ({ ok: true, reasons: [] }) });
  });
  after(async () => {
    await server.close();
  });

  it('the Deployment’s liveness and readiness paths and /metrics answer 200 (the kubelet counts 200–399 as success)', async () => {
    for (const path of [agent.livenessProbe?.httpGet?.path, agent.readinessProbe?.httpGet?.path, ops.metrics]) {
      const res = await fetch(`${server.url}${path ?? ''}`);
      assert.equal(res.status, 200, `${String(path)}: ${await res.text()}`);
    }
    const metrics = await fetch(`${server.url}${ops.metrics}`);
    assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain/);
  });
});
