/**
 * `rollgate sim --images FILE`: the served cluster is alive (controllers
 * and kubelets run) and follows the catalogue; a bad catalogue is a usage
 * error naming each problem.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { KubectlResult } from '../../helpers/sim.ts';
import { eventually, runCommand } from '../../helpers/sim.ts';

const main = new URL('../../../agent/cli/main.ts', import.meta.url).pathname;

function kubectl(dir: string, args: string[], input?: string): Promise<KubectlResult> {
  const env = { PATH: process.env['PATH'] ?? '', HOME: dir, KUBECONFIG: join(dir, 'kubeconfig'), KUBECACHEDIR: join(dir, 'cache') };
  return runCommand('kubectl', args, { env, ...(input !== undefined ? { input } : {}) });
}

describe('rollgate sim --images', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollgate-cli-sim-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('serves a live cluster that follows the catalogue', async () => {
    await writeFile(join(dir, 'images.yaml'), 'images:\n  - match: "example/gone:*"\n    missing: true\n');
    const child = spawn(process.execPath, [main, 'sim', '--port', '0', '--time-scale', '100', '--seed', '3', '--images', join(dir, 'images.yaml'), '--kubeconfig-out', join(dir, 'kubeconfig')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await eventually(() => assert.match(out, /kubeconfig written to /));
      const pod = 'apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: default}\nspec:\n  containers: [{name: c, image: "example/gone:1"}]\n';
      assert.equal((await kubectl(dir, ['apply', '-f', '-'], pod)).code, 0);
      await eventually(async () => {
        const r = await kubectl(dir, ['get', 'pod', 'p', '-o', 'jsonpath={.status.containerStatuses[0].state.waiting.reason}']);
        assert.equal(r.stdout, 'ImagePullBackOff');
      });
      const nodes = await kubectl(dir, ['get', 'nodes', '-o', 'name']);
      assert.deepEqual(nodes.stdout.trim().split('\n'), ['node/sim-node-1', 'node/sim-node-2', 'node/sim-node-3']);
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, out);
  });

  it('a bad catalogue is a usage error listing its problems', async () => {
    await writeFile(join(dir, 'bad.yaml'), 'images:\n  - match: x\n    crash: sometimes\n');
    const r = await runCommand(process.execPath, [main, 'sim', '--port', '0', '--images', join(dir, 'bad.yaml')]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, `rollgate sim: --images ${join(dir, 'bad.yaml')}: images[0].crash: must be true or false\n`);
  });
});
