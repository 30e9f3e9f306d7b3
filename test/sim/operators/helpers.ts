/** Shared pieces of the operator-model tests. */
import assert from 'node:assert/strict';
import { eventually } from '../../helpers/sim.ts';
import type { ControllerFixture } from '../controllers/helpers.ts';

/** A TidbCluster with the seed's minimum highly available topology (PD×3, TiKV×3, TiDB×2). */
export function tidbClusterYaml(name: string, namespace: string, version: string): string {
  return `apiVersion: pingcap.com/v1alpha1
kind: TidbCluster
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  version: ${version}
  pd: {baseImage: pingcap/pd, replicas: 3}
  tikv: {baseImage: pingcap/tikv, replicas: 3}
  tidb: {baseImage: pingcap/tidb, replicas: 2}
`;
}

/** The parts of a TidbCluster's status the tests read. */
export interface TcStatus {
  conditions?: { type: string; status: string; reason: string }[];
  pd?: { phase: string; synced: boolean; leader?: { name: string }; members?: Record<string, { health: boolean }> };
  tikv?: { phase: string; stores?: Record<string, { podName: string; leaderCount: number; state: string }> };
  tidb?: { phase: string; members?: Record<string, { health: boolean }> };
}

/** Waits until the TidbCluster's Ready condition is True. */
export async function readyCluster(f: ControllerFixture, name: string, namespace: string): Promise<void> {
  await eventually(async () => assert.equal(await f.ok(['get', 'tc', name, '-n', namespace, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']), 'True'), 30_000);
}

