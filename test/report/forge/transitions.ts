/** Rollout transitions for the reporter and approval tests. */
import type { RolloutPhase, RolloutTransition, StageProgress } from '../../../agent/rollout/reporter.ts';

/** The merge commit the tests roll out. */
export const mergeSha = 'f'.repeat(40);

const stage = (component: string, done: number, state: StageProgress['state'], from = 'v7.5.1', to = 'v8.1.0'): StageProgress => ({ component, from, to, state, podsDone: done, podsTotal: 3 });

/** A transition of `prod/db/TidbCluster/basic` at minute `minute`. */
export function transition(phase: RolloutPhase, minute: number, extra: Partial<RolloutTransition> = {}): RolloutTransition {
  const stages = extra.stages ?? [stage('pd', phase === 'Pending' ? 0 : 3, phase === 'Pending' ? 'pending' : 'done'), stage('tikv', phase === 'Succeeded' ? 3 : 1, phase === 'Succeeded' ? 'done' : phase === 'Halted' ? 'halted' : phase === 'Waiting' ? 'waiting' : 'running')];
  return {
    target: 'prod/db/TidbCluster/basic',
    cluster: 'prod',
    kind: 'TidbCluster',
    namespace: 'db',
    name: 'basic',
    source: mergeSha,
    planHash: 'p1',
    phase,
    stages,
    startedAt: '2026-11-20T10:00:00.000Z',
    at: `2026-11-20T10:${String(minute).padStart(2, '0')}:00.000Z`,
    message: `phase ${phase}`,
    ...(phase === 'Succeeded' || phase === 'Halted' ? { finishedAt: `2026-11-20T10:${String(minute).padStart(2, '0')}:00.000Z` } : {}),
    ...extra,
  };
}
