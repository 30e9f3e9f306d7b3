/**
 * PD unavailable: the graceful upgrader needs PD synced, so a version
 * change does not move until `tidb.pingcap.com/force-upgrade=true` is set
 * (the seed's command, verbatim); then PD rolls at once with partition 0.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../../helpers/sim.ts';
import type { ControllerFixture } from '../controllers/helpers.ts';
import { admin, startControllerFixture } from '../controllers/helpers.ts';
import { readyCluster, tidbClusterYaml } from './helpers.ts';

describe('TiDB Operator: force upgrade', () => {
  let f: ControllerFixture;
  before(async () => {
    f = await startControllerFixture({ timeScale: 200 });
    await f.ok(['create', 'ns', 'force']);
    await f.apply(tidbClusterYaml('db', 'force', 'v7.5.1'));
    await readyCluster(f, 'db', 'force');
  });
  after(async () => {
    await f.close();
  });

  const pdImages = (ns: string) => f.ok(['get', 'pods', '-n', ns, '-l', 'app.kubernetes.io/component=pd', '-o', 'jsonpath={range .items[*]}{.spec.containers[0].image} {end}']);

  it('with PD unavailable the upgrade does not move until force-upgrade is set; then PD rolls and heals', async () => {
    const broken = await admin(f, '/tidbclusters/force/db/pd-unavailable', { method: 'PUT' });
    assert.equal(broken.status, 200);
    await eventually(async () => assert.equal(await f.ok(['get', 'tc', 'db', '-n', 'force', '-o', 'jsonpath={.status.pd.synced} {.status.conditions[0].reason}']), 'false PDUnhealthy'));
    await f.ok(['patch', 'tc', 'db', '-n', 'force', '--type=merge', '-p', '{"spec":{"version":"v8.1.0"}}']);
    // Give the operator ample simulated time (10 minutes) to prove it does not move.
    const start = f.sim.clock.now();
    await eventually(() => assert.ok(f.sim.clock.now() - start > 600_000), 20_000);
    assert.equal(await pdImages('force'), 'pingcap/pd:v7.5.1 pingcap/pd:v7.5.1 pingcap/pd:v7.5.1 ');
    assert.equal(await f.ok(['get', 'sts', 'db-pd', '-n', 'force', '-o', 'jsonpath={.spec.template.spec.containers[0].image}']), 'pingcap/pd:v7.5.1');

    const annotate = await f.kubectl(['annotate', '--overwrite', 'tc', 'db', '-n', 'force', 'tidb.pingcap.com/force-upgrade=true']);
    assert.equal(annotate.code, 0, annotate.stderr);
    await eventually(async () => assert.equal(await f.ok(['get', 'sts', 'db-pd', '-n', 'force', '-o', 'jsonpath={.spec.updateStrategy.rollingUpdate.partition}']), '0'));
    await eventually(async () => assert.equal(await pdImages('force'), 'pingcap/pd:v8.1.0 pingcap/pd:v8.1.0 pingcap/pd:v8.1.0 '), 30_000);
    // The new PD revision heals PD, and the graceful upgrade carries on to TiKV and TiDB.
    await eventually(async () => assert.equal(await f.ok(['get', 'tc', 'db', '-n', 'force', '-o', 'jsonpath={.status.pd.synced}']), 'true'));
    await readyCluster(f, 'db', 'force');
    const images = await f.ok(['get', 'pods', '-n', 'force', '-o', 'jsonpath={range .items[*]}{.spec.containers[0].image} {end}']);
    assert.ok(images.trim().split(' ').every((i) => i.endsWith(':v8.1.0')), images);
    const removed = await f.kubectl(['annotate', 'tc', 'db', '-n', 'force', 'tidb.pingcap.com/force-upgrade-']);
    assert.equal(removed.code, 0, removed.stderr);
  });
});
