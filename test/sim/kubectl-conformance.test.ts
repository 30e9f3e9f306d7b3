/**
 * kubectl against `rollgate sim`: the commands an operator of TiDB and
 * Redis Enterprise types, with the kubectl on PATH, must behave as against
 * a real API server. One simulation, one namespace, steps in order.
 */
import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { SimFixture } from '../helpers/sim.ts';
import { eventually, startSimFixture } from '../helpers/sim.ts';

const workloads = new URL('../fixtures/sim/workloads.yaml', import.meta.url).pathname;

describe('kubectl conformance', () => {
  let f: SimFixture;
  before(async () => {
    f = await startSimFixture();
  });
  after(async () => {
    await f.close();
  });

  it('version reports the server', async () => {
    const r = await f.kubectl(['version', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const parsed = JSON.parse(r.stdout) as { serverVersion: { major: string; gitVersion: string } };
    assert.equal(parsed.serverVersion.major, '1');
    assert.match(parsed.serverVersion.gitVersion, /^v1\.\d+\.\d+/);
  });

  it('api-resources lists sts, tc, rec and leases with their short names', async () => {
    const r = await f.kubectl(['api-resources', '--no-headers']);
    assert.equal(r.code, 0, r.stderr);
    const rows = r.stdout.split('\n').map((l) => l.trim().split(/\s+/));
    const find = (name: string) => rows.find((row) => row[0] === name);
    assert.deepEqual(find('statefulsets'), ['statefulsets', 'sts', 'apps/v1', 'true', 'StatefulSet']);
    assert.deepEqual(find('tidbclusters'), ['tidbclusters', 'tc', 'pingcap.com/v1alpha1', 'true', 'TidbCluster']);
    assert.deepEqual(find('redisenterpriseclusters'), ['redisenterpriseclusters', 'rec', 'app.redislabs.com/v1', 'true', 'RedisEnterpriseCluster']);
    assert.deepEqual(find('leases'), ['leases', 'coordination.k8s.io/v1', 'true', 'Lease']);
  });

  it('create ns', async () => {
    const r = await f.kubectl(['create', 'ns', 'conformance']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'namespace/conformance created');
    const again = await f.kubectl(['create', 'ns', 'conformance']);
    assert.equal(again.code, 1);
    assert.equal(again.stderr.trim(), 'Error from server (AlreadyExists): namespaces "conformance" already exists');
  });

  it('apply -f creates a StatefulSet, a Deployment, a TidbCluster and a RedisEnterpriseCluster, then leaves them unchanged', async () => {
    const r = await f.kubectl(['apply', '-f', workloads]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.deepEqual(r.stdout.trim().split('\n'), [
      'statefulset.apps/web created',
      'deployment.apps/api created',
      'tidbcluster.pingcap.com/basic created',
      'redisenterprisecluster.app.redislabs.com/rec created',
    ]);
    const again = await f.kubectl(['apply', '-f', workloads]);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(again.stdout.trim().split('\n'), [
      'statefulset.apps/web unchanged',
      'deployment.apps/api unchanged',
      'tidbcluster.pingcap.com/basic unchanged',
      'redisenterprisecluster.app.redislabs.com/rec unchanged',
    ]);
  });

  it('get -o yaml, json and wide', async () => {
    const yaml = await f.kubectl(['get', 'sts', 'web', '-n', 'conformance', '-o', 'yaml']);
    assert.equal(yaml.code, 0, yaml.stderr);
    assert.match(yaml.stdout, /^apiVersion: apps\/v1\nkind: StatefulSet\n/);
    assert.match(yaml.stdout, /podManagementPolicy: OrderedReady/);
    assert.match(yaml.stdout, /partition: 0/);
    const json = await f.kubectl(['get', 'tc', 'basic', '-n', 'conformance', '-o', 'json']);
    const tc = JSON.parse(json.stdout) as { spec: { version: string }; metadata: { generation: number } };
    assert.equal(tc.spec.version, 'v7.5.1');
    assert.equal(tc.metadata.generation, 1);
    const wide = await f.kubectl(['get', 'sts', '-n', 'conformance', '-o', 'wide']);
    assert.match(wide.stdout, /^NAME\s+READY\s+AGE\s+CONTAINERS\s+IMAGES\n/);
    assert.match(wide.stdout, /\nweb\s+0\/3\s+\S+\s+app\s+nginx:1\.25\n/);
    const rec = await f.kubectl(['get', 'rec', '-n', 'conformance']);
    assert.match(rec.stdout, /^NAME\s+NODES\s+VERSION\s+STATE\s+SPEC STATUS/);
    assert.match(rec.stdout, /\nrec\s+3\s+7\.4\.6-22\s/);
    const tcTable = await f.kubectl(['get', 'tc', '-n', 'conformance']);
    assert.match(tcTable.stdout, /^NAME\s+READY\s+PD\s+STORAGE\s+READY\s+DESIRE\s+TIKV/);
  });

  it('get -w prints later changes', async () => {
    const stream = f.kubectlStream(['get', 'tc', '-n', 'conformance', '-w', '-o', 'custom-columns=NAME:.metadata.name,PD:.spec.pd.replicas']);
    await eventually(() => assert.match(stream.output(), /basic\s+3/));
    const p = await f.kubectl(['patch', 'tc', 'basic', '-n', 'conformance', '--type=merge', '-p', '{"spec":{"pd":{"replicas":5}}}']);
    assert.equal(p.code, 0, p.stderr);
    await eventually(() => assert.match(stream.output(), /basic\s+5/));
    await stream.stop();
  });

  it('patch with --type merge, json and strategic', async () => {
    const merge = await f.kubectl(['patch', 'sts', 'web', '-n', 'conformance', '--type=merge', '-p', '{"spec":{"template":{"metadata":{"annotations":{"team":"db"}}}}}']);
    assert.equal(merge.stdout.trim(), 'statefulset.apps/web patched');
    const json = await f.kubectl(['patch', 'sts', 'web', '-n', 'conformance', '--type=json', '-p', '[{"op":"replace","path":"/spec/replicas","value":4}]']);
    assert.equal(json.stdout.trim(), 'statefulset.apps/web patched');
    const strategic = await f.kubectl(['patch', 'sts', 'web', '-n', 'conformance', '--type=strategic', '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"nginx:1.26"}]}}}}']);
    assert.equal(strategic.stdout.trim(), 'statefulset.apps/web patched');
    const got = await f.kubectl(['get', 'sts', 'web', '-n', 'conformance', '-o', 'json']);
    const sts = JSON.parse(got.stdout) as { metadata: { generation: number }; spec: { replicas: number; template: { metadata: { annotations: Record<string, string> }; spec: { containers: { name: string; image: string; env: unknown[]; ports: unknown[] }[] } } } };
    assert.equal(sts.spec.replicas, 4);
    assert.equal(sts.spec.template.metadata.annotations['team'], 'db');
    // The strategic merge kept the container's other fields: containers merge by name.
    assert.equal(sts.spec.template.spec.containers.length, 1);
    assert.equal(sts.spec.template.spec.containers[0]?.image, 'nginx:1.26');
    assert.deepEqual(sts.spec.template.spec.containers[0]?.env, [{ name: 'MODE', value: 'a' }]);
    assert.equal(sts.metadata.generation, 4);
    const noop = await f.kubectl(['patch', 'sts', 'web', '-n', 'conformance', '--type=merge', '-p', '{"spec":{"replicas":4}}']);
    assert.equal(noop.stdout.trim(), 'statefulset.apps/web patched (no change)');
  });

  it("annotate --overwrite and removal with key- (the seed's force-upgrade commands, verbatim)", async () => {
    const set = await f.kubectl(['annotate', '--overwrite', 'tc', 'basic', '-n', 'conformance', 'tidb.pingcap.com/force-upgrade=true']);
    assert.equal(set.code, 0, set.stderr);
    assert.equal(set.stdout.trim(), 'tidbcluster.pingcap.com/basic annotated');
    const read = await f.kubectl(['get', 'tc', 'basic', '-n', 'conformance', '-o', "jsonpath={.metadata.annotations['tidb\\.pingcap\\.com/force-upgrade']}"]);
    assert.equal(read.stdout, 'true');
    const remove = await f.kubectl(['annotate', 'tc', 'basic', '-n', 'conformance', 'tidb.pingcap.com/force-upgrade-']);
    assert.equal(remove.code, 0, remove.stderr);
    const after = await f.kubectl(['get', 'tc', 'basic', '-n', 'conformance', '-o', 'json']);
    const annotations = (JSON.parse(after.stdout) as { metadata: { annotations?: Record<string, string> } }).metadata.annotations ?? {};
    assert.equal(annotations['tidb.pingcap.com/force-upgrade'], undefined);
  });

  it('edit tc with a scripted editor changes spec.version', async () => {
    const editor = join(f.dir, 'editor.sh');
    await writeFile(editor, '#!/bin/sh\nsed -i "s/version: v7.5.1/version: v8.1.0/" "$1"\n');
    await chmod(editor, 0o755);
    const r = await f.kubectl(['edit', 'tc', 'basic', '-n', 'conformance'], { env: { EDITOR: editor, KUBE_EDITOR: editor } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'tidbcluster.pingcap.com/basic edited');
    const got = await f.kubectl(['get', 'tc', 'basic', '-n', 'conformance', '-o', 'jsonpath={.spec.version} {.metadata.generation}']);
    const [version, generation] = got.stdout.split(' ');
    assert.equal(version, 'v8.1.0');
    assert.ok(Number(generation) > 1);
  });

  it('replace with a stale resourceVersion fails with the Conflict message', async () => {
    const saved = await f.kubectl(['get', 'sts', 'web', '-n', 'conformance', '-o', 'yaml']);
    const file = join(f.dir, 'web.yaml');
    await writeFile(file, saved.stdout);
    await f.kubectl(['label', 'sts', 'web', '-n', 'conformance', 'bump=1']);
    const r = await f.kubectl(['replace', '-f', file]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr.trim(),
      `Error from server (Conflict): error when replacing "${file}": Operation cannot be fulfilled on statefulsets.apps "web": the object has been modified; please apply your changes to the latest version and try again`,
    );
    assert.match(await readFile(file, 'utf8'), /name: web/);
  });

  it('scale', async () => {
    const r = await f.kubectl(['scale', 'sts', 'web', '-n', 'conformance', '--replicas=5']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'statefulset.apps/web scaled');
    const got = await f.kubectl(['get', 'sts', 'web', '-n', 'conformance', '-o', 'jsonpath={.spec.replicas}']);
    assert.equal(got.stdout, '5');
  });

  it('delete and wait --for=delete', async () => {
    // A finalizer keeps the object while it terminates, so the waiter surely sees it before it goes.
    await f.kubectl(['patch', 'rec', 'rec', '-n', 'conformance', '--type=merge', '-p', '{"metadata":{"finalizers":["example.com/hold"]}}']);
    const del = await f.kubectl(['delete', 'rec', 'rec', '-n', 'conformance', '--wait=false']);
    assert.equal(del.code, 0, del.stderr);
    assert.equal(del.stdout.trim(), 'redisenterprisecluster.app.redislabs.com "rec" deleted');
    const waiter = f.kubectl(['wait', '--for=delete', 'rec/rec', '-n', 'conformance', '--timeout=20s']);
    const terminating = await f.kubectl(['get', 'rec', 'rec', '-n', 'conformance', '-o', 'jsonpath={.metadata.deletionTimestamp}']);
    assert.notEqual(terminating.stdout, '');
    await f.kubectl(['patch', 'rec', 'rec', '-n', 'conformance', '--type=json', '-p', '[{"op":"remove","path":"/metadata/finalizers"}]']);
    const waited = await waiter;
    assert.equal(waited.code, 0, waited.stderr);
    const gone = await f.kubectl(['get', 'rec', 'rec', '-n', 'conformance']);
    assert.equal(gone.code, 1);
    assert.equal(gone.stderr.trim(), 'Error from server (NotFound): redisenterpriseclusters.app.redislabs.com "rec" not found');
  });
});
