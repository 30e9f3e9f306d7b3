/**
 * `rollgate demo` as a first-time user runs it: no flags, exit 0, the plan,
 * the staged upgrade in order, the status branch and the audit table on
 * screen, and nothing left behind (no temporary directory, no process).
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { describe, it } from 'node:test';
import { runCommand } from '../helpers/sim.ts';

const demoDirs = async (): Promise<string[]> => (await readdir(tmpdir())).filter((name) => name.startsWith('rollgate-demo-'));

describe('rollgate demo', () => {
  it('shows the plan, the upgrade live and the audit trail, exits 0, and leaves nothing behind', async () => {
    const before = await demoDirs();
    const result = await runCommand(process.execPath, ['agent/cli/main.ts', 'demo'], { env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', CI: 'true' }, timeoutMs: 180_000 });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const out = result.stdout;
    assert.equal(out.includes('\u001b['), false, 'no terminal escapes when the output is not a terminal');
    for (let n = 1; n <= 6; n++) assert.match(out, new RegExp(`\\[${n}/6\\] `));
    assert.match(out, /stage 1: pd\s+v7\.5\.1 → v8\.1\.1/, 'the plan is shown');
    assert.match(out, /holds: waits for the maintenance window "0 2 \* \* 1-5"/, 'the plan says TiDB waits for its window');

    const order = [...out.matchAll(/pod (tidb-(?:pd|tikv|tidb)-\d) Terminating/g)].map((m) => m[1]);
    assert.deepEqual(order, ['tidb-pd-2', 'tidb-pd-1', 'tidb-pd-0', 'tidb-tikv-2', 'tidb-tikv-1', 'tidb-tikv-0', 'tidb-tidb-1', 'tidb-tidb-0']);
    const waiting = out.indexOf('Waiting     staging/tidb/TidbCluster/tidb tidb waits for the maintenance window');
    assert.ok(waiting > out.indexOf('pod tidb-tikv-0 Ready') && waiting < out.indexOf('pod tidb-tidb-1 Terminating'), 'TiDB waited for its window after TiKV');

    assert.match(out, /\$ git log rollgate\/status\n(\s+[0-9a-f]{7} staging\/tidb\/TidbCluster\/tidb: .+\n)+/);
    assert.match(out, /[0-9a-f]{7} staging\/tidb\/TidbCluster\/tidb: Succeeded/);
    assert.match(out, /Dana Ops <dana@example\.com>\s+no\s+pd,tikv,tidb: v7\.5\.1 → v8\.1\.1\s+Succeeded\s+\S+ \S+Z\s+\d+[hms]\S*/, 'the audit joins the commit and its rollout');
    assert.deepEqual(await demoDirs(), before, 'the temporary directory is removed');
  });

  it('refuses an unknown flag with the usage', async () => {
    const result = await runCommand(process.execPath, ['agent/cli/main.ts', 'demo', '--fast']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /usage: rollgate demo/);
  });
});
