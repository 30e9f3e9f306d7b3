/**
 * Golden files of the text and markdown output for the examples-repo
 * scenarios. A reviewer reads these, so any change to them is a change to
 * the product: regenerate with `UPDATE_GOLDEN=1 node --test test/plan/golden.test.ts`
 * and review the diff.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { createPlan, formatPlan } from '../../agent/plan/index.ts';
import { examplesLive, examplesWith, planningTime, type Edit } from './helpers.ts';

const scenarios: Readonly<Record<string, readonly Edit[]>> = {
  'staging-tidb-upgrade': [{ file: 'staging/tidb/tidb-cluster.yaml', from: 'version: v7.5.1', to: 'version: v8.1.0' }],
  'staging-tidb-downgrade': [{ file: 'staging/tidb/tidb-cluster.yaml', from: 'version: v7.5.1', to: 'version: v7.1.0' }],
  'prod-redis-upgrade': [
    { file: 'prod/redis/redis-enterprise-operator.yaml', from: 'redislabs/operator:7.4.6-2', to: 'redislabs/operator:7.8.2-6' },
    { file: 'prod/redis/redis-enterprise-cluster.yaml', from: 'versionTag: 7.4.6-22', to: 'versionTag: 7.8.2-10' },
  ],
  'prod-analytics-helm-upgrade': [{ file: 'prod/tidb-analytics/values.yaml', from: /:v7\.5\.1/g, to: ':v8.1.0' }],
  'prod-etcd-upgrade': [{ file: 'prod/etcd/etcd.yaml', from: 'etcd:v3.5.13', to: 'etcd:v3.5.15' }],
};

const golden = (name: string, extension: string): URL => new URL(`./golden/${name}.${extension}`, import.meta.url);

describe('plan golden files', () => {
  for (const [name, edits] of Object.entries(scenarios)) {
    for (const [format, extension] of [
      ['text', 'txt'],
      ['markdown', 'md'],
    ] as const) {
      it(`${name} (${format})`, async () => {
        const repo = await examplesWith(edits);
        try {
          const plan = createPlan({ targets: repo.result.targets, live: await examplesLive(), now: planningTime });
          const output = formatPlan(plan, format);
          if (process.env['UPDATE_GOLDEN'] === '1') await writeFile(golden(name, extension), output);
          assert.equal(output, await readFile(golden(name, extension), 'utf8'));
        } finally {
          await repo.cleanup();
        }
      });
    }
  }
});
