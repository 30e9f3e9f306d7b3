/**
 * One case per warning code: the edit or live state that raises it, the
 * target it lands on, and what its sentence must tell the reader to do.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPlan, lastAppliedAnnotation, type TargetPlan, type WarningCode } from '../../agent/plan/index.ts';
import { examplesLive, examplesWith, planningTime, type Edit, type LiveOptions } from './helpers.ts';

const tidbFile = 'staging/tidb/tidb-cluster.yaml';
const etcdFile = 'prod/etcd/etcd.yaml';
const bump: Edit = { file: tidbFile, from: 'version: v7.5.1', to: 'version: v8.1.0' };
const etcdBump: Edit = { file: etcdFile, from: 'etcd:v3.5.13', to: 'etcd:v3.5.15' };
// rollgate.yaml gives every TidbCluster's tidb component a window; some cases need it gone.
const noWindow: Edit = { file: 'rollgate.yaml', from: / {4}components:\n {6}tidb:\n {8}extraGates:\n {10}- maintenanceWindow: \{[^}]*\}\n/, to: '' };

interface Case {
  readonly code: WarningCode;
  readonly edits: readonly Edit[];
  readonly live?: LiveOptions;
  readonly target: string;
  /** The plan's action for the target. */
  readonly action: TargetPlan['action'];
  /** Must appear in the warning's message. */
  readonly says: RegExp;
  /** Where the warning points, `file:line`. */
  readonly at?: string;
}

const cases: readonly Case[] = [
  {
    code: 'small-topology',
    edits: [bump, { file: tidbFile, from: '    replicas: 2\n', to: '    replicas: 1\n' }],
    target: 'staging/tidb/TidbCluster/tidb',
    action: 'update',
    says: /tidb runs 1 replica, below the highly available TiDB×2: rolling a single TiDB server drops every client connection.*scale tidb to 2/,
    at: 'staging/tidb/tidb-cluster.yaml:40',
  },
  {
    code: 'tidb-client-connections',
    edits: [bump, noWindow],
    target: 'staging/tidb/TidbCluster/tidb',
    action: 'update',
    says: /closes their client connections.*add a maintenanceWindow gate under components\.tidb\.extraGates/,
  },
  {
    code: 'downgrade',
    edits: [{ file: tidbFile, from: 'version: v7.5.1', to: 'version: v7.1.0' }],
    target: 'staging/tidb/TidbCluster/tidb',
    action: 'refused',
    says: /pd goes back from v7\.5\.1 to v7\.1\.0: a downgrade, refused; set the version back to v7\.5\.1 or later, or allow it with `downgrade: allow`/,
    at: 'staging/tidb/tidb-cluster.yaml:12',
  },
  {
    code: 'major-version-skip',
    edits: [{ file: tidbFile, from: 'version: v7.5.1', to: 'version: v9.1.0' }],
    target: 'staging/tidb/TidbCluster/tidb',
    action: 'update',
    says: /jumps from v7\.5\.1 to v9\.1\.0, skipping major version v8.*upgrade through v8 first/,
  },
  {
    code: 'enterprise-images',
    edits: [{ file: tidbFile, from: 'baseImage: pingcap/pd', to: 'baseImage: pingcap/pd-enterprise' }],
    target: 'staging/tidb/TidbCluster/tidb',
    action: 'update',
    says: /pd switches to the enterprise image pingcap\/pd-enterprise: check the image is licensed and pullable/,
    at: 'staging/tidb/tidb-cluster.yaml:12',
  },
  {
    code: 'redis-operator-unsupported',
    edits: [{ file: 'prod/redis/redis-enterprise-cluster.yaml', from: 'versionTag: 7.4.6-22', to: 'versionTag: 7.8.2-10' }],
    target: 'prod/redis/RedisEnterpriseCluster/rec',
    action: 'update',
    says: /operator 7\.4\.6-2 \(prod\/redis\/redis-enterprise-operator\.yaml\) does not support Redis Enterprise 7\.8\.2-10.*upgrade the operator Deployment/,
    at: 'prod/redis/redis-enterprise-cluster.yaml:16',
  },
  {
    code: 'stale-force-upgrade',
    edits: [],
    live: { overrides: { 'TidbCluster/tidb': (o) => ((o['metadata'] as Record<string, unknown>)['annotations'] = { 'tidb.pingcap.com/force-upgrade': 'true' }) } },
    target: 'staging/tidb/TidbCluster/tidb',
    action: 'update',
    says: /tidb\.pingcap\.com\/force-upgrade=true is still set although PD is healthy; rollgate removes it/,
  },
  {
    code: 'pd-unavailable',
    edits: [bump],
    live: { overrides: { 'TidbCluster/tidb': (o) => (((o['status'] as Record<string, Record<string, unknown>>)['pd'] ?? {})['synced'] = false) } },
    target: 'staging/tidb/TidbCluster/tidb',
    action: 'update',
    says: /PD is unavailable.*policy allows a forced upgrade: rollgate sets tidb\.pingcap\.com\/force-upgrade=true.*removes the annotation as soon as PD is healthy/,
  },
  {
    code: 'paused',
    edits: [],
    live: { overrides: { 'TidbCluster/tidb': (o) => ((o['spec'] as Record<string, unknown>)['paused'] = true) } },
    target: 'staging/tidb/TidbCluster/tidb',
    action: 'update',
    says: /paused in the cluster \(spec\.paused: true\).*this plan unpauses it/,
  },
  {
    code: 'suspended',
    edits: [bump, { file: 'rollgate.yaml', from: '    forceUpgrade: whenPDUnavailable\n', to: '    forceUpgrade: whenPDUnavailable\n    suspend: true\n' }],
    target: 'staging/tidb/TidbCluster/tidb',
    action: 'suspended',
    says: /rollgate\.yaml suspends this target.*until `suspend` is removed/,
    at: 'rollgate.yaml:34',
  },
  {
    code: 'no-readiness-probe',
    edits: [etcdBump, { file: etcdFile, from: / {10}readinessProbe:\n(?: {12}.*\n)+/, to: '' }],
    target: 'prod/etcd/StatefulSet/etcd',
    action: 'update',
    says: /container etcd of etcd has no readinessProbe.*add a readinessProbe/,
  },
  {
    code: 'drift',
    edits: [],
    live: {
      overrides: {
        'StatefulSet/etcd': (o) => {
          const spec = o['spec'] as Record<string, unknown>;
          const applied = { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: o['metadata'], spec: { ...spec } };
          (o['metadata'] as Record<string, unknown>)['annotations'] = { [lastAppliedAnnotation]: JSON.stringify(applied) };
          spec['replicas'] = 5;
        },
      },
    },
    target: 'prod/etcd/StatefulSet/etcd',
    action: 'update',
    says: /spec\.replicas is 5 in the cluster but 3 in Git, and Git has not changed it since the last apply: someone changed the cluster by hand; rollgate restores Git's value/,
    at: 'prod/etcd/etcd.yaml:12',
  },
  {
    code: 'immutable-field',
    edits: [{ file: etcdFile, from: 'serviceName: etcd', to: 'serviceName: etcd-peers' }],
    target: 'prod/etcd/StatefulSet/etcd',
    action: 'refused',
    says: /spec\.serviceName of a StatefulSet cannot change in place.*--cascade=orphan/,
  },
  {
    code: 'unversioned-image',
    edits: [{ file: etcdFile, from: 'etcd:v3.5.13', to: 'etcd:latest' }],
    target: 'prod/etcd/StatefulSet/etcd',
    action: 'update',
    says: /has no version tag rollgate can order.*pin a version/,
  },
  {
    code: 'unhealthy-before-start',
    edits: [etcdBump],
    live: { unready: ['etcd-1'] },
    target: 'prod/etcd/StatefulSet/etcd',
    action: 'update',
    says: /etcd-1 is not Running and Ready before the rollout starts.*fix it first/,
  },
];

describe('plan warnings', () => {
  it('every warning code has a case here', () => {
    const codes: Record<WarningCode, true> = {
      'small-topology': true,
      'tidb-client-connections': true,
      downgrade: true,
      'major-version-skip': true,
      'enterprise-images': true,
      'redis-operator-unsupported': true,
      'stale-force-upgrade': true,
      'pd-unavailable': true,
      paused: true,
      suspended: true,
      'no-readiness-probe': true,
      drift: true,
      'immutable-field': true,
      'unversioned-image': true,
      'unhealthy-before-start': true,
    };
    assert.deepEqual(new Set(cases.map((c) => c.code)), new Set(Object.keys(codes)));
  });

  for (const c of cases) {
    it(`${c.code}: ${c.says.source.slice(0, 60)}…`, async () => {
      const repo = await examplesWith(c.edits);
      try {
        const plan = createPlan({ targets: repo.result.targets, live: await examplesLive(c.live), now: planningTime });
        const target = plan.targets.find((t) => t.id === c.target);
        assert.ok(target, `${c.target} is in the plan`);
        assert.equal(target.action, c.action);
        const warning = target.warnings.find((w) => w.code === c.code);
        assert.ok(warning, `${c.code} among ${JSON.stringify(target.warnings.map((w) => w.code))}`);
        assert.match(warning.message, c.says);
        if (c.at !== undefined) assert.equal(`${warning.position?.file}:${warning.position?.line}`, c.at);
        // Every warning of every target names where it applies.
        for (const t of plan.targets) for (const w of t.warnings) assert.ok(w.position !== undefined, `${t.id} ${w.code} has a position`);
      } finally {
        await repo.cleanup();
      }
    });
  }

  it('a downgrade that policy allows is planned, with the warning', async () => {
    const repo = await examplesWith([
      { file: tidbFile, from: 'version: v7.5.1', to: 'version: v7.1.0' },
      { file: 'rollgate.yaml', from: '    forceUpgrade: whenPDUnavailable\n', to: '    forceUpgrade: whenPDUnavailable\n    downgrade: allow\n' },
    ]);
    try {
      const plan = createPlan({ targets: repo.result.targets, live: await examplesLive(), now: planningTime });
      const target = plan.targets.find((t) => t.id === 'staging/tidb/TidbCluster/tidb');
      assert.equal(target?.action, 'update');
      assert.equal(target?.refusal, undefined);
      assert.match(target?.warnings[0]?.message ?? '', /a downgrade, allowed by policy/);
      assert.deepEqual(
        target?.changes.map((c) => c.kind),
        ['downgrade', 'downgrade', 'downgrade'],
      );
    } finally {
      await repo.cleanup();
    }
  });

  it('with PD unavailable and force upgrades forbidden, the plan says the rollout will halt', async () => {
    const repo = await examplesWith([bump, { file: 'rollgate.yaml', from: '    forceUpgrade: whenPDUnavailable\n', to: '' }]);
    try {
      const live = await examplesLive({ overrides: { 'TidbCluster/tidb': (o) => (((o['status'] as Record<string, Record<string, unknown>>)['pd'] ?? {})['synced'] = false) } });
      const plan = createPlan({ targets: repo.result.targets, live, now: planningTime });
      const target = plan.targets.find((t) => t.id === 'staging/tidb/TidbCluster/tidb');
      assert.equal(target?.stages[0]?.drive, 'operator');
      assert.match(target?.warnings.find((w) => w.code === 'pd-unavailable')?.message ?? '', /will halt at its deadline: repair PD, or allow `forceUpgrade: whenPDUnavailable`/);
    } finally {
      await repo.cleanup();
    }
  });
});
