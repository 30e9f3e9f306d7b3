/**
 * `spec.paused: true` freezes a TidbCluster upgrade midway: the operator
 * writes no StatefulSet while paused, and unpausing finishes the upgrade.
 * The clock runs slower here so a person-speed kubectl patch lands mid-TiKV.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../../helpers/sim.ts';
import type { ControllerFixture } from '../controllers/helpers.ts';
import { startControllerFixture } from '../controllers/helpers.ts';
import { readyCluster, tidbClusterYaml } from './helpers.ts';

describe('TiDB Operator: pause', () => {
  let f: ControllerFixture;
  before(async () => {
    f = await startControllerFixture({ timeScale: 10 });
    await f.ok(['create', 'ns', 'paused']);
    await f.apply(tidbClusterYaml('db', 'paused', 'v7.5.1'));
    await readyCluster(f, 'db', 'paused');
  });
  after(async () => {
    await f.close();
  });

  it('spec.paused freezes an upgrade midway, and unpausing finishes it', async () => {
    await f.ok(['patch', 'tc', 'db', '-n', 'paused', '--type=merge', '-p', '{"spec":{"version":"v8.1.0"}}']);
    // Pause as soon as the first TiKV pod has restarted.
    await eventually(async () => assert.match(await f.ok(['get', 'pod', 'db-tikv-2', '-n', 'paused', '-o', 'jsonpath={.spec.containers[0].image}']), /v8\.1\.0/), 30_000);
    await f.ok(['patch', 'tc', 'db', '-n', 'paused', '--type=merge', '-p', '{"spec":{"paused":true}}']);
    const frozen = await f.ok(['get', 'pods', '-n', 'paused', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.spec.containers[0].image} {end}']);
    const start = f.sim.clock.now();
    // Thirty simulated seconds: an unpaused operator moves a step every few seconds.
    await eventually(() => assert.ok(f.sim.clock.now() - start > 30_000), 20_000);
    const later = await f.ok(['get', 'pods', '-n', 'paused', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.spec.containers[0].image} {end}']);
    assert.equal(later, frozen, 'nothing restarted while paused');
    assert.match(later, /db-tidb-0=pingcap\/tidb:v7\.5\.1/);
    assert.match(later, /db-tikv-0=pingcap\/tikv:v7\.5\.1/);
    await f.ok(['patch', 'tc', 'db', '-n', 'paused', '--type=merge', '-p', '{"spec":{"paused":false}}']);
    await eventually(async () => {
      const images = await f.ok(['get', 'pods', '-n', 'paused', '-o', 'jsonpath={range .items[*]}{.spec.containers[0].image} {end}']);
      assert.ok(images.trim().split(' ').every((i) => i.endsWith(':v8.1.0')), images);
    }, 30_000);
  });
});
