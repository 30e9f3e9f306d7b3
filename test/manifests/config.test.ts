/** rollgate.yaml: cron and time-zone checks, defaults, and policy resolution across layers. */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { cronProblem, isTimeZone, readConfig } from '../../agent/manifests/config.ts';
import { compileRules, componentPolicy, impossibleSoaks, resolvePolicy, ruleMatches, type TargetKey } from '../../agent/manifests/policy.ts';
import { loadSchemas, type SchemaSet } from '../../agent/manifests/schemas.ts';
import { defaultLimits, type RepositoryConfig } from '../../agent/manifests/types.ts';
import { parseYaml } from '../../agent/manifests/yaml.ts';

let schemas: SchemaSet;
before(async () => {
  schemas = await loadSchemas();
});

function configOf(text: string): RepositoryConfig {
  const result = readConfig(parseYaml(text, defaultLimits), schemas);
  assert.deepEqual(result.problems, []);
  assert.ok(result.config);
  return result.config;
}

const header = `apiVersion: rollgate.dev/v1alpha1
kind: Config
clusters:
  - name: staging
    paths: [staging]
  - name: prod
    paths: [prod]
    namespace: apps
    dependsOn: [staging]
`;

describe('cronProblem', () => {
  const valid = ['0 2 * * *', '0 2 * * 1-5', '*/15 * * * *', '0 2 * * MON-FRI', '30 1 1 * *', '@daily', '@weekly', ' 0 2 * * * '];
  for (const expression of valid) test(`${JSON.stringify(expression)} is valid`, () => assert.equal(cronProblem(expression), undefined));
  const invalid: [string, string][] = [
    ['61 2 * * *', '"61 2 * * *" is not a valid cron expression: 61 is not a valid minute'],
    ['0 25 * * *', '"0 25 * * *" is not a valid cron expression: 25 is not a valid hour'],
    ['0 2 * * 8', '"0 2 * * 8" is not a valid cron expression: 8 is not a valid day of week'],
    ['0 2 31 2 *', '"0 2 31 2 *" is not a valid cron expression: 31 is not a valid day of month'],
    ['0 0 2 * * *', '"0 0 2 * * *" has 6 fields; write 5 (minute hour day-of-month month day-of-week), e.g. "0 2 * * 1-5", or a macro such as @daily'],
    ['* * *', '"* * *" has 3 fields; write 5 (minute hour day-of-month month day-of-week), e.g. "0 2 * * 1-5", or a macro such as @daily'],
    ['@reboot', '"@reboot" is not a valid cron expression'],
  ];
  for (const [expression, want] of invalid) test(`${JSON.stringify(expression)} is not`, () => assert.equal(cronProblem(expression), want));
});

describe('isTimeZone', () => {
  const table: [string, boolean][] = [
    ['UTC', true],
    ['Europe/Berlin', true],
    ['America/New_York', true],
    ['Europe/Atlantis', false],
    ['', false],
  ];
  for (const [zone, want] of table) test(JSON.stringify(zone), () => assert.equal(isTimeZone(zone), want));
});

describe('readConfig', () => {
  test('fills in defaults', () => {
    const config = configOf(header);
    assert.deepEqual(config.status, { mode: 'branch', branch: 'rollgate/status' });
    assert.deepEqual(config.clusters.map((c) => [c.name, c.namespace, c.dependsOn]), [
      ['staging', 'default', []],
      ['prod', 'apps', ['staging']],
    ]);
    assert.deepEqual(config.defaults, {});
    assert.deepEqual(config.exclude, []);
  });

  test('reads in-tree status with its default path', () => {
    assert.deepEqual(configOf(`${header}status: {mode: inTree}\n`).status, { mode: 'inTree', path: '.rollgate/status' });
    assert.deepEqual(configOf(`${header}status: {mode: inTree, path: ./ops/status/}\n`).status, { mode: 'inTree', path: 'ops/status' });
  });

  test('types every gate', () => {
    const config = configOf(`${header}defaults:
  gates:
    - podReady: {}
    - rolloutStatus: {}
    - soak: {duration: 90s}
    - http: {url: "http://{pod}.x.{namespace}.svc:10080/status", expectJSON: {path: members.0.ok, equals: true}}
    - approval: {comment: true, file: ./approvals/prod}
    - maintenanceWindow: {schedule: "0 2 * * 1-5", duration: 3h}
`);
    const gates = (config.defaults.gates?.value ?? []).map(({ position: _, ...gate }) => gate);
    assert.deepEqual(gates, [
      { kind: 'podReady' },
      { kind: 'rolloutStatus' },
      { kind: 'soak', duration: 90_000 },
      { kind: 'http', url: 'http://{pod}.x.{namespace}.svc:10080/status', expectStatus: 200, expectJSON: { path: ['members', 0, 'ok'], equals: true }, timeout: 5_000 },
      { kind: 'approval', comment: true, file: 'approvals/prod' },
      { kind: 'maintenanceWindow', schedule: '0 2 * * 1-5', duration: 10_800_000, timeZone: 'UTC' },
    ]);
    assert.deepEqual(config.defaults.gates?.value[2]?.position, { file: 'rollgate.yaml', line: 14, column: 7 });
  });
});

describe('resolvePolicy', () => {
  let config: RepositoryConfig;
  let rules: ReturnType<typeof compileRules>;
  before(() => {
    config = configOf(`${header}defaults:
  progressDeadline: 15m
  forceUpgrade: whenPDUnavailable
  gates: [podReady: {}]
  components:
    tidb:
      extraGates: [maintenanceWindow: {schedule: "@daily", duration: 2h}]
targets:
  - target: prod/apps/TidbCluster/main
    gates: [podReady: {}, soak: {duration: 5m}]
    dependsOn: [apps/Deployment/operator, staging/apps/TidbCluster/main]
    components:
      tikv:
        progressDeadline: 40m
  - target: "prod/*/*/*"
    suspend: true
    dependsOn: [apps/Deployment/operator]
`);
    rules = compileRules(config);
  });
  const resolve = (key: TargetKey) => {
    const cluster = config.clusters.find((c) => c.name === key.cluster);
    assert.ok(cluster);
    return resolvePolicy(config, cluster, key, rules.filter((r) => ruleMatches(r, key)));
  };

  test('staging TidbCluster: defaults over built-ins', () => {
    const { policy, conflicts, dependencies } = resolve({ cluster: 'staging', namespace: 'apps', kind: 'TidbCluster', name: 'main' });
    assert.equal(policy.progressDeadline, 900_000);
    assert.equal(policy.suspend, false);
    assert.equal(policy.downgrade, 'deny');
    assert.equal(policy.forceUpgrade, 'whenPDUnavailable');
    assert.deepEqual(policy.gates.map((g) => g.kind), ['podReady']);
    assert.deepEqual(policy.afterClusters, []);
    assert.deepEqual(policy.origin.downgrade, undefined);
    assert.deepEqual(policy.origin.progressDeadline, { file: 'rollgate.yaml', line: 11, column: 3 });
    assert.deepEqual(componentPolicy(policy, 'tidb').gates.map((g) => g.kind), ['podReady', 'maintenanceWindow']);
    assert.deepEqual(componentPolicy(policy, 'pd').gates.map((g) => g.kind), ['podReady']);
    assert.deepEqual(conflicts, []);
    assert.deepEqual(dependencies, []);
  });

  test('prod TidbCluster: targets entries over defaults; extra gates added to the target\'s', () => {
    const { policy, conflicts } = resolve({ cluster: 'prod', namespace: 'apps', kind: 'TidbCluster', name: 'main' });
    assert.deepEqual(policy.gates.map((g) => g.kind), ['podReady', 'soak']);
    assert.equal(policy.suspend, true);
    assert.deepEqual(policy.afterClusters, ['staging']);
    assert.deepEqual(policy.dependsOn, ['prod/apps/Deployment/operator', 'staging/apps/TidbCluster/main']);
    assert.deepEqual(componentPolicy(policy, 'tidb').gates.map((g) => g.kind), ['podReady', 'soak', 'maintenanceWindow']);
    assert.equal(componentPolicy(policy, 'tikv').progressDeadline, 2_400_000);
    assert.equal(componentPolicy(policy, 'pd').progressDeadline, 900_000);
    assert.deepEqual(conflicts, []);
  });

  test('other kinds: no force upgrade, no components, and a wildcard entry does not make a target wait for itself', () => {
    const { policy } = resolve({ cluster: 'prod', namespace: 'apps', kind: 'Deployment', name: 'operator' });
    assert.equal(policy.forceUpgrade, 'never');
    assert.deepEqual(policy.components, {});
    assert.deepEqual(policy.dependsOn, []);
  });

  test('two entries setting one field conflict', () => {
    const conflicting = configOf(`${header}targets:
  - target: prod/apps/StatefulSet/db
    suspend: true
  - target: "*/*/StatefulSet/*"
    suspend: false
`);
    const key: TargetKey = { cluster: 'prod', namespace: 'apps', kind: 'StatefulSet', name: 'db' };
    const cluster = conflicting.clusters[1];
    assert.ok(cluster);
    const matched = compileRules(conflicting).filter((r) => ruleMatches(r, key));
    const { policy, conflicts } = resolvePolicy(conflicting, cluster, key, matched);
    assert.equal(policy.suspend, true);
    assert.deepEqual(conflicts.map((c) => [c.field, c.first.index, c.second.index]), [['suspend', 0, 1]]);
  });

  test('a soak as long as its deadline is impossible', () => {
    const soaky = configOf(`${header}defaults:
  progressDeadline: 5m
  gates: [soak: {duration: 5m}]
`);
    const cluster = soaky.clusters[0];
    assert.ok(cluster);
    const { policy } = resolvePolicy(soaky, cluster, { cluster: 'staging', namespace: 'a', kind: 'StatefulSet', name: 'b' }, []);
    assert.deepEqual(impossibleSoaks(policy).map((s) => [s.gate.duration, s.deadline]), [[300_000, 300_000]]);
  });
});

// Found by the hostile campaign (chaos/hostile): thousands of clusters made the cluster checks quadratic, and the cycle
// search recursed once per cluster of a dependsOn chain.
describe('rollgate.yaml with thousands of clusters', () => {
  const chain = (n: number, closing: string): string =>
    `apiVersion: rollgate.dev/v1alpha1\nkind: Config\nclusters:\n- {name: c0, paths: [p0]${closing}}\n${Array.from({ length: n }, (_, i) => `- {name: c${i + 1}, paths: [p${i + 1}], dependsOn: [c${i}]}`).join('\n')}\n`;

  test('reads a dependsOn chain of 15,000 clusters', () => {
    const config = configOf(chain(15_000, ''));
    assert.equal(config.clusters.length, 15_001);
    assert.deepEqual(config.clusters.at(-1)?.dependsOn, ['c14999']);
  });

  test('reports a cycle through 15,000 clusters once, where it closes', () => {
    const result = readConfig(parseYaml(chain(15_000, ', dependsOn: [c15000]'), defaultLimits), schemas);
    const cycles = result.problems.filter((p) => p.code === 'dependency-cycle');
    assert.equal(cycles.length, 1);
    assert.equal(`${cycles[0]?.line}:${cycles[0]?.column}`, '5:39');
    assert.match(cycles[0]?.message ?? '', /^clusters\[1\]\.dependsOn\[0\]: dependency cycle: c0 -> c15000 -> c14999 -> .* -> c1 -> c0$/);
  });
});
