/**
 * The TiDB Operator model (reference §4): a `spec.version` change made
 * with `kubectl edit tc`, as the seed does, upgrades PD, then TiKV, then
 * TiDB, each pod from the highest ordinal, with the PD leader transferred
 * away first and TiKV leaders evicted to zero before a store restarts.
 */
import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../../helpers/sim.ts';
import type { ControllerFixture, ObjectWatch } from '../controllers/helpers.ts';
import { startControllerFixture, watchObjects } from '../controllers/helpers.ts';
import type { TcStatus } from './helpers.ts';
import { readyCluster, tidbClusterYaml } from './helpers.ts';

const ns = 'tidb';

describe('TiDB Operator: spec.version upgrade', () => {
  let f: ControllerFixture;
  let tcWatch: ObjectWatch<{ status?: TcStatus }>;
  before(async () => {
    f = await startControllerFixture({ timeScale: 200 });
    await f.ok(['create', 'ns', ns]);
    await f.apply(tidbClusterYaml('basic', ns, 'v7.5.1'));
    await readyCluster(f, 'basic', ns);
    tcWatch = await watchObjects(f, `/apis/pingcap.com/v1alpha1/namespaces/${ns}/tidbclusters`);
  });
  after(async () => {
    tcWatch.stop();
    await f.close();
  });

  it('creates one StatefulSet per component, held at partition = replicas after creation, and reports Ready', async () => {
    assert.equal(await f.ok(['get', 'sts', '-n', ns, '-o', 'jsonpath={range .items[*]}{.metadata.name}={.spec.template.spec.containers[0].image} {end}']), 'basic-pd=pingcap/pd:v7.5.1 basic-tidb=pingcap/tidb:v7.5.1 basic-tikv=pingcap/tikv:v7.5.1 ');
    const table = await f.ok(['get', 'tc', 'basic', '-n', ns]);
    assert.match(table, /basic\s+True\s+pingcap\/pd:v7\.5\.1\s+3\s+3\s+pingcap\/tikv:v7\.5\.1\s+3\s+3\s+pingcap\/tidb:v7\.5\.1\s+2\s+2/);
  });

  it('kubectl edit tc of spec.version rolls PD, then TiKV, then TiDB, each from the highest ordinal', async () => {
    const since = f.sim.runtime().events.lastSeq;
    const editor = join(f.dir, 'edit-version.sh');
    await writeFile(editor, '#!/bin/sh\nsed -i "s/version: v7.5.1/version: v8.1.0/" "$1"\n');
    await chmod(editor, 0o755);
    const edited = await f.kubectl(['edit', 'tc', 'basic', '-n', ns], { env: { EDITOR: editor, KUBE_EDITOR: editor } });
    assert.equal(edited.code, 0, edited.stderr);
    await eventually(async () => {
      const images = await f.ok(['get', 'pods', '-n', ns, '-o', 'jsonpath={range .items[*]}{.spec.containers[0].image} {end}']);
      assert.ok(images.trim().split(' ').every((i) => i.endsWith(':v8.1.0')), images);
    }, 60_000);
    await readyCluster(f, 'basic', ns);
    const deletions = f.sim
      .runtime()
      .events.list({ since, namespace: ns, types: ['PodDeleted'] })
      .map((e) => e.name);
    assert.deepEqual(deletions, ['basic-pd-2', 'basic-pd-1', 'basic-pd-0', 'basic-tikv-2', 'basic-tikv-1', 'basic-tikv-0', 'basic-tidb-1', 'basic-tidb-0']);
  });

  it('status showed each component in Upgrade only while its predecessors were Normal', () => {
    const statuses = tcWatch.seen.map((s) => s.object.status ?? {});
    const upgrading = statuses.map((s) => ['pd', 'tikv', 'tidb'].filter((c) => (s[c as 'pd'] as { phase?: string } | undefined)?.phase === 'Upgrade'));
    assert.ok(upgrading.every((u) => u.length <= 1), 'never two components upgrading at once');
    const order = upgrading.flat().filter((c, i, all) => all[i - 1] !== c);
    assert.deepEqual(order, ['pd', 'tikv', 'tidb']);
  });

  it('the PD leader moved off basic-pd-0 before it restarted', () => {
    const leaders = tcWatch.seen.map((s) => s.object.status?.pd?.leader?.name).filter((n): n is string => n !== undefined);
    const changes = leaders.filter((n, i) => leaders[i - 1] !== n);
    assert.equal(changes[0], 'basic-pd-0');
    assert.ok(changes.includes('basic-pd-2'), `leader history ${changes.join(' → ')}`);
  });

  it('TiKV leaders were evicted to zero before each store restarted, then came back', async () => {
    const leadersOf = (pod: string) => Object.values(tcWatch.seen.at(-1)?.object.status?.tikv?.stores ?? {}).find((st) => st.podName === pod)?.leaderCount ?? 0;
    await eventually(() => assert.ok(leadersOf('basic-tikv-0') >= 200));
    for (const pod of ['basic-tikv-2', 'basic-tikv-1', 'basic-tikv-0']) {
      const counts = tcWatch.seen
        .map((s) => Object.values(s.object.status?.tikv?.stores ?? {}).find((st) => st.podName === pod))
        .filter((st) => st !== undefined && st.state === 'Up')
        .map((st) => st?.leaderCount ?? -1);
      assert.ok(counts.includes(0), `${pod} reached zero leaders: ${counts.join(',')}`);
      const zero = counts.indexOf(0);
      assert.ok(counts.slice(0, zero).some((c) => c > 0 && c < 300), `${pod} lost leaders gradually`);
      assert.ok(counts.slice(zero).some((c) => c >= 200), `${pod} got leaders back`);
    }
  });
});
