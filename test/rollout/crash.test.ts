/**
 * The agent killed with SIGKILL at every step boundary of a TiDB upgrade,
 * each in its own run, and started again: every run completes, and no pod
 * restarts twice. A boundary is any write the agent makes to the
 * TidbCluster (its progress record, a version, the final state), so the
 * kills land before, between and after every step.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { namespace, simConfig, startRolloutFixture, tidbCluster, type RolloutFixture } from './helpers.ts';

const agent = new URL('./support/agent.ts', import.meta.url).pathname;
const scale = 100;

describe('rollout: the agent killed at every step boundary', () => {
  let r: RolloutFixture;
  before(async () => {
    r = await startRolloutFixture({ timeScale: scale });
  });
  after(async () => {
    await r.close();
  });

  function startAgent(source: string): { child: ChildProcess; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> } {
    const child = spawn(process.execPath, [agent, '--kubeconfig', r.f.kubeconfigPath, '--repo', r.repo, '--source', source, '--sim-now', String(r.f.sim.clock.now()), '--wall-now', String(Date.now()), '--scale', String(scale)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, out })));
    return { child, done };
  }

  /** Rolls `ns` from v7.5.1 to v8.1.0, killing the agent right after its `killAt`-th write to the TidbCluster (never, when undefined). Returns how many writes the agent made. */
  async function run(ns: string, killAt: number | undefined): Promise<{ writes: number; restarts: string[] }> {
    await r.write({ 'rollgate.yaml': simConfig(), 'manifests/ns.yaml': namespace(ns), 'manifests/tidb.yaml': tidbCluster('basic', ns, 'v7.5.1') }).then((installed) => r.install({ ...installed, targets: installed.targets.filter((t) => t.namespace === ns), resources: installed.resources.filter((x) => x.object.metadata.name === ns) }));
    await r.write({ 'manifests/tidb.yaml': tidbCluster('basic', ns, 'v8.1.0') });
    const since = r.lastSeq();
    const events = r.f.sim.runtime('sim').events;
    let writes = 0;
    let first = startAgent(`src-${ns}`);
    const killed = new Promise<void>((resolve) => {
      const off = events.subscribe((e) => {
        if (e.type !== 'ClientWrite' || e.kind !== 'TidbCluster' || e.namespace !== ns) return;
        writes++;
        if (writes === killAt) {
          first.child.kill('SIGKILL');
          off();
          resolve();
        }
      });
      void first.done.then(() => {
        off();
        resolve();
      });
    });
    await killed;
    const ended = await first.done;
    if (killAt !== undefined) {
      assert.equal(ended.signal, 'SIGKILL', `the agent was killed after write ${killAt}: ${ended.out}`);
      first = startAgent(`src-${ns}`);
      const second = await first.done;
      assert.equal(second.code, 0, second.out);
      assert.deepEqual(JSON.parse(second.out.trim().split('\n').at(-1) ?? '{}'), { [`sim/${ns}/TidbCluster/basic`]: 'succeeded' }, `run killed at write ${killAt}`);
    } else {
      assert.equal(ended.code, 0, ended.out);
    }
    const restarts = r.restarts(since, ns);
    const version = await r.f.ok(['--context', 'sim', 'get', 'tc', 'basic', '-n', ns, '-o', 'jsonpath={.spec.version}']);
    assert.equal(version, 'v8.1.0');
    return { writes, restarts };
  }

  it('completes every run, and restarts no pod twice', async () => {
    const clean = await run('crash-clean', undefined);
    const expected = ['basic-pd-2', 'basic-pd-1', 'basic-pd-0', 'basic-tikv-2', 'basic-tikv-1', 'basic-tikv-0', 'basic-tidb-1', 'basic-tidb-0'];
    assert.deepEqual(clean.restarts, expected);
    assert.ok(clean.writes >= 10, `an upgrade makes several writes: ${clean.writes}`);
    for (let killAt = 1; killAt <= clean.writes; killAt++) {
      const { restarts } = await run(`crash-${killAt}`, killAt);
      assert.deepEqual(restarts, expected, `killed after write ${killAt}: each pod restarted once, in order`);
    }
  });
});
