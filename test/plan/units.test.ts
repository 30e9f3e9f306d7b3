/**
 * Table tests of the planner's small pure parts: version order, the
 * defaulting-proof diff, and maintenance-window arithmetic.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../agent/manifests/index.ts';
import { compareVersions, diffObjects, lastAppliedAnnotation, nextCronMatch, windowState } from '../../agent/plan/index.ts';

describe('compareVersions', () => {
  const table: [string, string, number | undefined][] = [
    ['v7.5.1', 'v8.1.0', -1],
    ['v8.1.0', 'v7.5.1', 1],
    ['v7.5.1', 'v7.5.1', 0],
    ['v7.5', 'v7.5.0', 0],
    ['7.4.6-22', '7.4.6-54', -1],
    ['7.4.6-54', '7.8.2-10', -1],
    ['v8.0.0-alpha', 'v8.0.0', -1],
    ['v8.0.0-alpha.2', 'v8.0.0-alpha.10', -1],
    ['v8.0.0-alpha', 'v8.0.0-beta', -1],
    ['v1.10.0', 'v1.9.9', 1],
    ['latest', 'v1.0.0', undefined],
    ['nightly-2024-01-01', 'v1.0.0', undefined],
  ];
  for (const [a, b, want] of table) {
    it(`${a} vs ${b}`, () => {
      const got = compareVersions(a, b);
      assert.equal(got === undefined ? undefined : Math.sign(got), want);
    });
  }
});

const sts = (spec: Record<string, unknown>, metadata: Record<string, unknown> = {}): KubeObject => ({ apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'db', namespace: 'ns', ...metadata }, spec });

describe('diffObjects', () => {
  it('ignores what the server owns and what it defaulted', () => {
    const desired = sts({ replicas: 3, template: { spec: { containers: [{ name: 'db', image: 'db:v1', resources: { requests: { cpu: '2000m', memory: '1Gi' } } }] } } });
    const live = sts(
      { replicas: 3, revisionHistoryLimit: 10, podManagementPolicy: 'OrderedReady', template: { spec: { restartPolicy: 'Always', containers: [{ name: 'db', image: 'db:v1', imagePullPolicy: 'IfNotPresent', resources: { requests: { cpu: '2', memory: '1Gi' } } }] } } },
      { uid: 'u', resourceVersion: '12', generation: 4, creationTimestamp: '2026-01-01T00:00:00Z', managedFields: [{ manager: 'kubectl' }], annotations: { [lastAppliedAnnotation]: '{}' } },
    );
    assert.deepEqual(diffObjects(desired, { ...live, status: { replicas: 3 } }).patch, []);
  });

  it('matches list elements by their key, not their index', () => {
    const desired = sts({ template: { spec: { containers: [{ name: 'a', image: 'a:v2' }, { name: 'b', image: 'b:v1' }] } } });
    const live = sts({ template: { spec: { containers: [{ name: 'b', image: 'b:v1' }, { name: 'a', image: 'a:v1' }, { name: 'injected-sidecar', image: 'proxy:v1' }] } } });
    assert.deepEqual(diffObjects(desired, live).patch, [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'a:v2' }]);
  });

  it('shows a field Git removed, when the last apply recorded it', () => {
    const applied = sts({ replicas: 3, minReadySeconds: 10 });
    const live = sts({ replicas: 3, minReadySeconds: 10, revisionHistoryLimit: 10 }, { annotations: { [lastAppliedAnnotation]: JSON.stringify(applied) } });
    const { patch, drifted } = diffObjects(sts({ replicas: 3 }), live);
    assert.deepEqual(patch, [{ op: 'remove', path: '/spec/minReadySeconds' }]);
    assert.deepEqual([...drifted], []);
  });

  it('tells drift (the cluster moved) from a change (Git moved)', () => {
    const applied = sts({ replicas: 3, minReadySeconds: 10 });
    const live = sts({ replicas: 5, minReadySeconds: 10 }, { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify(applied) } });
    const { patch, drifted } = diffObjects(sts({ replicas: 3, minReadySeconds: 20 }), live);
    assert.deepEqual(patch, [
      { op: 'replace', path: '/spec/minReadySeconds', value: 20 },
      { op: 'replace', path: '/spec/replicas', value: 3 },
    ]);
    assert.deepEqual([...drifted], ['/spec/replicas']);
  });

  it('treats a broken last-applied annotation as none', () => {
    const live = sts({ replicas: 5 }, { annotations: { [lastAppliedAnnotation]: '{not json' } });
    const { patch, drifted } = diffObjects(sts({ replicas: 3 }), live);
    assert.deepEqual(patch, [{ op: 'replace', path: '/spec/replicas', value: 3 }]);
    assert.equal(drifted.size, 0);
  });

  it('reads an int-or-string the server stored as the other form as equal', () => {
    const desired = sts({ template: { spec: { containers: [{ name: 'a', image: 'a', ports: [{ containerPort: 80, name: 'http' }] }] } }, updateStrategy: { rollingUpdate: { maxUnavailable: 1 } } });
    const live = sts({ template: { spec: { containers: [{ name: 'a', image: 'a', ports: [{ containerPort: 80, name: 'http', protocol: 'TCP' }] }] } }, updateStrategy: { rollingUpdate: { maxUnavailable: '1' } } });
    assert.deepEqual(diffObjects(desired, live).patch, []);
  });
});

describe('maintenance windows', () => {
  const window = { schedule: '0 2 * * 1-5', duration: 3 * 3_600_000, timeZone: 'Europe/Berlin' };
  const at = (iso: string): number => Date.parse(iso);
  const table: [string, string, ReturnType<typeof windowState>][] = [
    ['Friday noon: next Monday 02:00 Berlin (CET, UTC+1)', '2026-11-20T12:00:00Z', { open: false, opensAt: at('2026-11-23T01:00:00Z') }],
    ['Monday 02:30 Berlin: open until 05:00', '2026-11-23T01:30:00Z', { open: true, closesAt: at('2026-11-23T04:00:00Z') }],
    ['at the opening minute: open', '2026-11-23T01:00:00Z', { open: true, closesAt: at('2026-11-23T04:00:00Z') }],
    ['at the closing instant: closed, next Tuesday', '2026-11-23T04:00:00Z', { open: false, opensAt: at('2026-11-24T01:00:00Z') }],
    ['in summer time (CEST, UTC+2)', '2026-07-01T12:00:00Z', { open: false, opensAt: at('2026-07-02T00:00:00Z') }],
  ];
  for (const [name, now, want] of table) it(name, () => assert.deepEqual(windowState(window, at(now)), want));

  it('a schedule that never matches within the horizon has no opening', () => {
    assert.equal(nextCronMatch('0 0 29 2 *', at('2026-01-01T00:00:00Z'), 'UTC'), undefined, 'the next 29 February is in 2028');
  });
  it('day of month and day of week restricted together match either (cron semantics)', () => {
    // The 1st of the month, or any Monday: from Friday 2026-11-27, Monday 30th comes before December 1st.
    assert.equal(nextCronMatch('0 9 1 * 1', at('2026-11-27T12:00:00Z'), 'UTC'), at('2026-11-30T09:00:00Z'));
  });
  it('overlapping openings extend a window', () => {
    assert.deepEqual(windowState({ schedule: '0 * * * *', duration: 90 * 60_000, timeZone: 'UTC' }, at('2026-11-20T12:10:00Z')).open, true);
  });
});
