/**
 * Leader election against kube-sim over HTTPS, with the default timings
 * scaled down 10× (lease 1.5 s → written as 2 s, renew deadline 1 s, retry
 * 200 ms): how long a follower takes to lead after a release (aim: about
 * one jittered retry period) and after the leader is killed (aim: the
 * written lease duration plus one jittered retry period), the round
 * trip of a renewal, and Lease writes per second of a leader.
 *
 * Run: `node bench/leader.ts [handovers]` (default 10 of each kind)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { createLeaderElector, createLeaseClient, type LeaderElector } from '../agent/runtime/leader.ts';
import { startSimulation } from '../sim/simulation.ts';
import { median, percentile, printFigures } from './support/report.ts';

const handovers = Number(process.argv[2] ?? '10');
const timing = { leaseDurationMs: 1500, renewDeadlineMs: 1000, retryPeriodMs: 200 } as const;

const dir = await mkdtemp(join(tmpdir(), 'rollgate-bench-leader-'));
const sim = await startSimulation();
const kubeconfig = join(dir, 'kubeconfig');
await sim.writeKubeconfig(kubeconfig);
const kc = new KubeConfig();
kc.loadFromFile(kubeconfig);
const api = createLeaseClient(kc);

const renewMs: number[] = [];
let n = 0;
const candidate = (): LeaderElector => {
  const e = createLeaderElector({ api, namespace: 'default', name: 'bench', identity: `bench-${n++}`, ...timing });
  e.subscribe((event) => {
    if (event.type === 'renewed') renewMs.push(event.latencyMs);
  });
  e.start();
  return e;
};

const waitForLeader = async (among: LeaderElector[]): Promise<LeaderElector> => {
  for (;;) {
    const leader = among.find((e) => e.isLeader());
    if (leader) return leader;
    await new Promise((r) => setTimeout(r, 1));
  }
};

const afterRelease: number[] = [];
const afterKill: number[] = [];
let electors = [candidate(), candidate()];
for (let i = 0; i < handovers * 2; i++) {
  const leader = await waitForLeader(electors);
  // Let it renew a few times so the follower has observed a steady lease.
  await new Promise((r) => setTimeout(r, 3 * timing.retryPeriodMs));
  const rest = electors.filter((e) => e !== leader);
  const t0 = performance.now();
  await (i % 2 === 0 ? leader.release() : leader.stop());
  await waitForLeader(rest);
  (i % 2 === 0 ? afterRelease : afterKill).push(performance.now() - t0);
  electors = [...rest, candidate()];
}

// Lease writes of one steady leader over 5 s.
await waitForLeader(electors);
const writesBefore = renewMs.length;
await new Promise((r) => setTimeout(r, 5000));
const writesPerSecond = (renewMs.length - writesBefore) / 5;
await Promise.all(electors.map((e) => e.stop()));
await sim.close();
await rm(dir, { recursive: true, force: true });

const met = printFigures(`leader election, ${handovers} handovers of each kind (lease ${timing.leaseDurationMs} ms written as 2 s, deadline ${timing.renewDeadlineMs} ms, retry ${timing.retryPeriodMs} ms)`, [
  { name: 'follower leads after release, median', value: median(afterRelease), unit: 'ms', aim: { value: 2.2 * timing.retryPeriodMs + 100, better: 'lower' } },
  { name: 'follower leads after release, max', value: Math.max(...afterRelease), unit: 'ms' },
  { name: 'follower leads after kill, median', value: median(afterKill), unit: 'ms', aim: { value: 2000 + 2.2 * timing.retryPeriodMs + 100, better: 'lower' } },
  { name: 'follower leads after kill, max', value: Math.max(...afterKill), unit: 'ms' },
  { name: 'renewal round trip, p50', value: median(renewMs), unit: 'ms' },
  { name: 'renewal round trip, p99', value: percentile(renewMs, 99), unit: 'ms', aim: { value: timing.renewDeadlineMs - timing.retryPeriodMs, better: 'lower' } },
  { name: 'Lease writes per second of a leader', value: writesPerSecond, unit: '/s', aim: { value: 1000 / timing.retryPeriodMs + 0.5, better: 'lower' } },
]);
process.exitCode = met ? 0 : 1;
