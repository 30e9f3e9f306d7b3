/**
 * Transitions recorded as Kubernetes Events on the target, readable with
 * kubectl; a cluster that refuses the write does not stop the reporter.
 */
import assert from 'node:assert/strict';
import { KubeConfig } from '@kubernetes/client-node';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { createEventReporter, fanOut } from '../../agent/report/events.ts';
import type { RolloutTransition } from '../../agent/rollout/reporter.ts';
import { startSimFixture, type SimFixture } from '../helpers/sim.ts';

const transition = (phase: RolloutTransition['phase'], message: string): RolloutTransition => ({
  target: 'sim/db/TidbCluster/basic',
  cluster: 'sim',
  kind: 'TidbCluster',
  namespace: 'db',
  name: 'basic',
  source: 'c0ffee',
  planHash: 'abc',
  phase,
  stages: [],
  startedAt: '2026-11-20T10:00:00.000Z',
  at: '2026-11-20T10:01:00.000Z',
  message,
});

describe('Kubernetes Events reporter', () => {
  let f: SimFixture;
  before(async () => {
    f = await startSimFixture({ clusters: ['sim'] });
    await f.kubectl(['--context', 'sim', 'create', 'namespace', 'db']);
  });
  after(async () => {
    await f.close();
  });

  it('records each transition as an Event on the target', async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(f.kubeconfigPath);
    kc.setCurrentContext('sim');
    const seen: string[] = [];
    const reporter = fanOut(createEventReporter({ clusters: new Map([['sim', kc]]), logger: pino({ level: 'silent' }) }), { report: async (t) => void seen.push(t.phase) });
    await reporter.report(transition('Progressing', 'sim/db/TidbCluster/basic: pd v7.5.1 → v8.1.0, restarting basic-pd-2'));
    await reporter.report(transition('Halted', 'tikv did not finish within its progress deadline'));
    // A restarted agent replaying the rollout's history records no second Event.
    await reporter.report({ ...transition('Progressing', 'sim/db/TidbCluster/basic: pd v7.5.1 → v8.1.0, restarting basic-pd-2'), replay: true });
    assert.deepEqual(seen, ['Progressing', 'Halted', 'Progressing']);
    const events = await f.kubectl(['--context', 'sim', 'get', 'events', '-n', 'db', '-o', 'jsonpath={range .items[*]}{.type}|{.reason}|{.involvedObject.kind}/{.involvedObject.name}|{.message}{"\\n"}{end}']);
    assert.equal(events.code, 0, events.stderr);
    assert.deepEqual(events.stdout.trim().split('\n').sort(), [
      'Normal|RolloutProgressing|TidbCluster/basic|sim/db/TidbCluster/basic: pd v7.5.1 → v8.1.0, restarting basic-pd-2',
      'Warning|RolloutHalted|TidbCluster/basic|tikv did not finish within its progress deadline',
    ]);
  });

  it('logs and carries on when the cluster refuses the Event', async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(f.kubeconfigPath);
    kc.setCurrentContext('sim');
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const reporter = createEventReporter({ clusters: new Map([['sim', kc]]), logger });
    await reporter.report({ ...transition('Progressing', 'x'), namespace: 'no-such-namespace' });
    assert.equal(lines.length, 1);
    assert.match(lines[0] ?? '', /could not record a Kubernetes Event/);
  });
});
