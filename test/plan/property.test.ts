/**
 * Properties of plans over generated topologies and version changes: every
 * pod that must restart appears exactly once; stages follow the profile's
 * component order; pods within a stage go from the highest ordinal down;
 * nothing outside the changed targets appears; and the same input gives the
 * same bytes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { builtinPolicy, tidbComponents, type Policy, type Position, type Target } from '../../agent/manifests/index.ts';
import { createPlan, formatPlan, liveStateFrom } from '../../agent/plan/index.ts';
import { liveObjects } from './helpers.ts';

const position: Position = { file: 'generated.yaml', line: 1, column: 1 };
const policy: Policy = {
  suspend: false,
  progressDeadline: builtinPolicy.progressDeadline,
  gates: builtinPolicy.gates,
  downgrade: 'deny',
  forceUpgrade: 'never',
  onFailure: 'halt',
  dependsOn: [],
  afterClusters: [],
  components: {},
  origin: {},
};

const componentsUsed = ['pd', 'tiflash', 'tikv', 'tidb', 'ticdc'] as const;
const version = fc.record({ minor: fc.integer({ min: 0, max: 5 }), patch: fc.integer({ min: 0, max: 3 }) });

interface TidbCase {
  kind: 'TidbCluster';
  name: string;
  replicas: Record<string, number>;
  from: { minor: number; patch: number };
  /** Added to the live version (0 means unchanged). */
  bump: number;
  /** One component pinned to its own, newer version in Git. */
  pinned: string | undefined;
  upgradedPods: number[];
}
interface StsCase {
  kind: 'StatefulSet';
  name: string;
  replicas: number;
  partition: number;
  bump: number;
  upgradedPods: number[];
}

const tidbCase = fc.record({
  kind: fc.constant('TidbCluster' as const),
  name: fc.constantFrom('alpha', 'beta', 'gamma'),
  replicas: fc.record({ pd: fc.integer({ min: 1, max: 5 }), tikv: fc.integer({ min: 1, max: 5 }), tidb: fc.integer({ min: 1, max: 4 }) }, { requiredKeys: ['pd'] }).chain((base) =>
    fc.record({ tiflash: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }), ticdc: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }) }).map((extra) => {
      const out: Record<string, number> = {};
      for (const [k, v] of Object.entries({ ...base, ...extra })) if (v !== undefined) out[k] = v;
      return out;
    }),
  ),
  from: version,
  bump: fc.integer({ min: 0, max: 2 }),
  pinned: fc.option(fc.constantFrom(...componentsUsed), { nil: undefined }),
  upgradedPods: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
}) satisfies fc.Arbitrary<TidbCase>;

const stsCase = fc
  .record({ name: fc.constantFrom('etcd', 'zk', 'kafka'), replicas: fc.integer({ min: 1, max: 6 }), bump: fc.integer({ min: 0, max: 2 }), upgradedPods: fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 3 }) })
  .chain((c) => fc.integer({ min: 0, max: c.replicas }).map((partition): StsCase => ({ kind: 'StatefulSet', ...c, partition })));

const tag = (v: { minor: number; patch: number }, bump = 0): string => `v7.${v.minor}.${v.patch + bump}`;

function tidbObjects(c: TidbCase, namespace: string, desired: boolean): Record<string, unknown> {
  const spec: Record<string, unknown> = { version: desired ? tag(c.from, c.bump) : tag(c.from) };
  for (const [component, replicas] of Object.entries(c.replicas)) {
    spec[component] = { baseImage: `pingcap/${component}`, replicas, ...(desired && c.pinned === component ? { version: tag(c.from, c.bump + 1) } : {}) };
  }
  return { apiVersion: 'pingcap.com/v1alpha1', kind: 'TidbCluster', metadata: { name: c.name, namespace }, spec };
}

function stsObject(c: StsCase, namespace: string, desired: boolean): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: c.name, namespace },
    spec: {
      replicas: c.replicas,
      selector: { matchLabels: { app: c.name } },
      serviceName: c.name,
      // Git's partition, applied before: the rollout must stop at it.
      ...(c.partition > 0 ? { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: c.partition } } } : {}),
      template: { metadata: { labels: { app: c.name } }, spec: { containers: [{ name: 'main', image: `example/${c.name}:v1.${desired ? c.bump : 0}.0`, readinessProbe: { tcpSocket: { port: 80 } } }] } },
    },
  };
}

function asTarget(object: Record<string, unknown>, cluster: string): Target {
  const metadata = object['metadata'] as { name: string; namespace: string };
  const kind = object['kind'] as 'TidbCluster' | 'StatefulSet';
  return { id: `${cluster}/${metadata.namespace}/${kind}/${metadata.name}`, cluster, namespace: metadata.namespace, name: metadata.name, kind, object, source: { type: 'manifest', document: 0 }, position, policy, locate: () => position } as unknown as Target;
}

describe('plan properties', () => {
  it('restarts each pod that must restart exactly once, in profile order, highest ordinal first, and nothing else', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(tidbCase, stsCase), { minLength: 1, maxLength: 5 }), (cases) => {
        const targets: Target[] = [];
        const live: Record<string, unknown>[] = [];
        const podImages: Record<string, string> = {};
        const expected = new Map<string, Set<string>>();
        const changed = new Set<string>();
        cases.forEach((generated, i) => {
          // Pod names are unique across namespaces here, so that the live pods can be told apart by name.
          const c = { ...generated, name: `${generated.name}${i}` };
          const namespace = `ns${i}`;
          const must = new Set<string>();
          if (c.kind === 'TidbCluster') {
            targets.push(asTarget(tidbObjects(c, namespace, true), 'c1'));
            live.push(tidbObjects(c, namespace, false));
            for (const [component, replicas] of Object.entries(c.replicas)) {
              const desiredTag = c.pinned === component ? tag(c.from, c.bump + 1) : tag(c.from, c.bump);
              if (desiredTag === tag(c.from)) continue;
              changed.add(`c1/${namespace}/TidbCluster/${c.name}`);
              for (let ordinal = 0; ordinal < replicas; ordinal++) {
                const pod = `${c.name}-${component}-${ordinal}`;
                if (c.upgradedPods.includes(ordinal)) podImages[pod] = `pingcap/${component}:${desiredTag}`;
                else must.add(pod);
              }
            }
          } else {
            targets.push(asTarget(stsObject(c, namespace, true), 'c1'));
            live.push(stsObject(c, namespace, false));
            if (c.bump > 0) {
              changed.add(`c1/${namespace}/StatefulSet/${c.name}`);
              for (let ordinal = c.partition; ordinal < c.replicas; ordinal++) {
                const pod = `${c.name}-${ordinal}`;
                if (c.upgradedPods.includes(ordinal)) podImages[pod] = `example/${c.name}:v1.${c.bump}.0`;
                else must.add(pod);
              }
            }
          }
          expected.set(targets.at(-1)?.id ?? '', must);
        });
        const state = liveStateFrom(new Map([['c1', liveObjects(live, { podImages })]]));
        const plan = createPlan({ targets, live: state, now: 0 });

        for (const [id, must] of expected) {
          const planned = plan.targets.find((t) => t.id === id);
          const pods = planned?.stages.flatMap((s) => s.pods) ?? [];
          assert.deepEqual(pods.length, new Set(pods).size, `${id}: no pod twice`);
          assert.deepEqual(new Set(pods), must, `${id}: exactly the pods that must restart`);
          if (!changed.has(id)) assert.equal(planned, undefined, `${id} is unchanged and absent`);
          for (const stage of planned?.stages ?? []) {
            const ordinals = stage.pods.map((p) => Number(p.slice(p.lastIndexOf('-') + 1)));
            assert.deepEqual(ordinals, [...ordinals].sort((a, b) => b - a), `${id} ${stage.component}: highest ordinal first`);
          }
          if (planned?.kind === 'TidbCluster') {
            const order = planned.stages.map((s) => tidbComponents.indexOf(s.component as (typeof tidbComponents)[number]));
            assert.deepEqual(order, [...order].sort((a, b) => a - b), `${id}: stages in TiDB Operator's order`);
          }
        }
        assert.equal(plan.summary.restarts, [...expected.values()].reduce((n, s) => n + s.size, 0));
        // Same input, same bytes.
        const again = createPlan({ targets, live: state, now: 0 });
        assert.equal(formatPlan(again, 'json'), formatPlan(plan, 'json'));
        assert.equal(formatPlan(again, 'markdown'), formatPlan(plan, 'markdown'));
      }),
      { numRuns: 150 },
    );
  });
});
