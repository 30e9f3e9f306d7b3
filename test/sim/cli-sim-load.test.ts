/**
 * `rollgate sim --load examples-repo`: one simulated cluster per cluster
 * the repository's rollgate.yaml names, each a kubeconfig context of that
 * name, with every manifest loaded into its cluster and come up running.
 * A repository with problems starts nothing and names each problem.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually, runCommand } from '../helpers/sim.ts';

const main = new URL('../../agent/cli/main.ts', import.meta.url).pathname;
const examples = new URL('../../examples-repo', import.meta.url).pathname;

const run = (file: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env) => runCommand(file, args, { env });

describe('rollgate sim --load', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-sim-load-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('brings examples-repo up running, one context per cluster of its rollgate.yaml', async () => {
    const kubeconfig = join(dir, 'kubeconfig');
    const child = spawn(process.execPath, [main, 'sim', '--load', examples, '--port', '0', '--time-scale', '100', '--kubeconfig-out', kubeconfig], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const env = { PATH: process.env['PATH'] ?? '', HOME: dir, KUBECONFIG: kubeconfig };
    const kubectl = (context: string, args: string[]) => run('kubectl', ['--context', context, ...args], env);
    try {
      await eventually(() => assert.match(out, /kubeconfig written to /));
      assert.match(out, /loaded \d+ objects into cluster staging\n/);
      assert.match(out, /loaded \d+ objects into cluster prod\n/);
      const contexts = await run('kubectl', ['config', 'get-contexts', '-o', 'name'], env);
      assert.deepEqual(contexts.stdout.trim().split('\n').sort(), ['prod', 'staging']);
      for (const context of ['staging', 'prod']) {
        await eventually(async () => {
          const tcs = await kubectl(context, ['get', 'tc', '-A', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.status.conditions[0].status} {end}']);
          assert.ok(tcs.stdout.trim() !== '' && tcs.stdout.trim().split(' ').every((t) => t.endsWith('=True')), `${context}: ${tcs.stdout}`);
          const rec = await kubectl(context, ['get', 'rec', '-A', '-o', 'jsonpath={.items[*].status.state}']);
          assert.equal(rec.stdout, 'Running');
          const sts = await kubectl(context, ['get', 'sts', '-A', '-o', 'jsonpath={range .items[*]}{.status.readyReplicas}/{.spec.replicas} {end}']);
          assert.ok(sts.stdout.trim().split(' ').every((r) => r.split('/')[0] === r.split('/')[1]), `${context}: ${sts.stdout}`);
        }, 30_000);
      }
      const analytics = await kubectl('prod', ['get', 'tc', 'analytics', '-n', 'tidb-analytics', '-o', 'jsonpath={.spec.pd.image}']);
      assert.equal(analytics.code, 0, 'the Helm release renders its TidbCluster');
      assert.match(analytics.stdout, /^pingcap\/pd:/);
      const stagingOnly = await kubectl('staging', ['get', 'tc', 'analytics', '-n', 'tidb-analytics']);
      assert.equal(stagingOnly.code, 1, 'prod objects stay in prod');
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, out);
  });

  it('a repository with problems starts nothing and names each problem', async () => {
    const broken = join(dir, 'broken');
    await cp(examples, broken, { recursive: true });
    await writeFile(join(broken, 'staging', 'tidb', 'tidb-cluster.yaml'), 'apiVersion: pingcap.com/v1alpha1\nkind: TidbCluster\nmetadata:\n  name: tidb\n  namespace: tidb\nspec:\n  version: [not, a, string]\n');
    const r = await run(process.execPath, [main, 'sim', '--load', broken, '--port', '0']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^staging\/tidb\/tidb-cluster\.yaml:7:\d+: /m);
    assert.match(r.stderr, /nothing was started\n$/);
    assert.doesNotMatch(r.stdout, /listening/);
  });
});
