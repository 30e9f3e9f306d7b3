/**
 * `maxUnavailable: 2` (modelled as honoured whenever it is set, the
 * MaxUnavailableStatefulSet behaviour of reference §1 step 8): outdated
 * pods are deleted two at a time, highest ordinals first.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../../helpers/sim.ts';
import type { ControllerFixture } from './helpers.ts';
import { imagePatch, startControllerFixture, statefulSetYaml } from './helpers.ts';

const ns = 'max-unavailable';

describe('StatefulSet maxUnavailable', () => {
  let f: ControllerFixture;
  before(async () => {
    f = await startControllerFixture();
    await f.ok(['create', 'ns', ns]);
  });
  after(async () => {
    await f.close();
  });

  for (const policy of ['OrderedReady', 'Parallel'] as const) {
    it(`restarts two pods at a time (${policy})`, async () => {
      const name = `mu-${policy.toLowerCase()}`;
      await f.apply(statefulSetYaml({ name, namespace: ns, replicas: 4, image: 'nginx:1.25', podManagementPolicy: policy, strategy: 'updateStrategy:\n  type: RollingUpdate\n  rollingUpdate: {maxUnavailable: 2}' }));
      await eventually(async () => assert.equal(await f.ok(['get', 'sts', name, '-n', ns, '-o', 'jsonpath={.status.readyReplicas}']), '4'));
      const since = f.sim.runtime().events.lastSeq;
      await f.ok(['patch', 'sts', name, '-n', ns, '--type=json', '-p', imagePatch('nginx:1.26')]);
      await eventually(async () => {
        const s = JSON.parse(await f.ok(['get', 'sts', name, '-n', ns, '-o', 'json'])) as { status: { updatedReplicas?: number; readyReplicas?: number; currentRevision: string; updateRevision: string } };
        assert.equal(s.status.updatedReplicas, 4);
        assert.equal(s.status.readyReplicas, 4);
        assert.equal(s.status.currentRevision, s.status.updateRevision);
      });
      const events = f.sim.runtime().events.list({ since, namespace: ns, name: `${name}-*`, types: ['PodTerminating', 'PodReady'] });
      const steps = events.map((e) => `${e.type === 'PodTerminating' ? 'stop' : 'ready'} ${e.name.slice(name.length + 1)}`);
      // Ordinals 3 and 2 stop together, before any new pod is Ready.
      assert.deepEqual(steps.slice(0, 2), ['stop 3', 'stop 2']);
      // Highest ordinals first, and never more than two pods down at once (which two go
      // together later depends on which new pod is Ready first, as upstream).
      assert.deepEqual(steps.filter((s) => s.startsWith('stop')), ['stop 3', 'stop 2', 'stop 1', 'stop 0']);
      const down = new Set<string>();
      let most = 0;
      for (const step of steps) {
        const [what, ordinal = ''] = step.split(' ');
        if (what === 'stop') down.add(ordinal);
        else down.delete(ordinal);
        most = Math.max(most, down.size);
      }
      assert.equal(most, 2);
    });
  }
});
