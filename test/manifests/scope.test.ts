/** Which files a load reads: only YAML in clusters' paths, minus exclude and the in-tree status folder. */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { formatProblemLine, loadRepository } from '../../agent/manifests/index.ts';
import { tempDir } from './helpers.ts';

const configMap = (name: string): string => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n`;

async function repo(files: Record<string, string>): Promise<{ dir: string; remove: () => Promise<void> }> {
  const made = await tempDir('scope');
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(made.dir, path)), { recursive: true });
    await writeFile(join(made.dir, path), text);
  }
  return made;
}

describe('what a load reads', () => {
  test('skips files outside clusters\' paths, excluded files and the in-tree status folder', async () => {
    const { dir, remove } = await repo({
      'rollgate.yaml': `apiVersion: rollgate.dev/v1alpha1
kind: Config
clusters:
  - name: main
    paths: ["."]
exclude: ["**/kustomization.yaml", .github]
status: {mode: inTree, path: .rollgate/status}
`,
      'apps/a.yaml': configMap('a'),
      'apps/kustomization.yaml': 'this: [is not read\n',
      '.github/workflows/ci.yml': 'on: push\njobs: {}\n',
      '.rollgate/status/main.yaml': 'written: [by rollgate\n',
      'README.md': '# not YAML\n',
      'apps/notes.txt': 'not YAML either\n',
    });
    try {
      const result = await loadRepository(dir);
      assert.deepEqual(result.problems.map((p) => formatProblemLine(p)), []);
      assert.deepEqual(result.resources.map((r) => `${r.cluster} ${r.namespace ?? ''}/${r.object.metadata.name}`), ['main default/a']);
    } finally {
      await remove();
    }
  });

  test('reads a file only through the cluster whose glob covers it', async () => {
    const { dir, remove } = await repo({
      'rollgate.yaml': `apiVersion: rollgate.dev/v1alpha1
kind: Config
clusters:
  - name: eu
    paths: ["clusters/*/eu"]
    namespace: europe
  - name: us
    paths: ["clusters/**/us/*.yaml"]
`,
      'clusters/shop/eu/a.yaml': configMap('a'),
      'clusters/shop/us/b.yaml': configMap('b'),
      'clusters/shop/us/deeper/c.yaml': configMap('c'),
      'clusters/shop/asia/d.yaml': 'not: [read\n',
    });
    try {
      const result = await loadRepository(dir);
      assert.deepEqual(result.problems, []);
      assert.deepEqual(result.resources.map((r) => `${r.cluster} ${r.namespace ?? ''}/${r.object.metadata.name}`), ['eu europe/a', 'us default/b']);
    } finally {
      await remove();
    }
  });

  test('accepts a manifest of cluster-scoped kind without a namespace', async () => {
    const { dir, remove } = await repo({
      'rollgate.yaml': 'apiVersion: rollgate.dev/v1alpha1\nkind: Config\nclusters:\n  - name: main\n    paths: [apps]\n',
      'apps/ns.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: reader\nrules: []\n',
    });
    try {
      const result = await loadRepository(dir);
      assert.deepEqual(result.problems, []);
      assert.deepEqual(result.resources.map((r) => [r.object.kind, r.namespace, r.object.metadata.namespace]), [
        ['Namespace', undefined, undefined],
        ['ClusterRole', undefined, undefined],
      ]);
    } finally {
      await remove();
    }
  });

  test('selects a Helm release by the name its chart renders', async () => {
    const { dir, remove } = await repo({
      'rollgate.yaml': `apiVersion: rollgate.dev/v1alpha1
kind: Config
clusters:
  - name: main
    paths: [tidb]
targets:
  - target: main/tidb/TidbCluster/olap
    suspend: true
`,
      'tidb/release.yaml': 'apiVersion: rollgate.dev/v1alpha1\nkind: HelmRelease\nmetadata: {name: analytics, namespace: tidb}\nspec:\n  chart: {name: tidb-cluster, repository: https://charts.pingcap.org/, version: v1.5.0}\n',
      'tidb/values.yaml': '---\nclusterName: olap\npd: {image: pingcap/pd:v7.5.1, replicas: 3}\ntikv: {image: pingcap/tikv:v7.5.1, replicas: 3}\ntidb: {image: pingcap/tidb:v7.5.1, replicas: 2}\n',
    });
    try {
      const result = await loadRepository(dir);
      assert.deepEqual(result.problems, []);
      const [target] = result.targets;
      assert.equal(target?.id, 'main/tidb/TidbCluster/olap');
      assert.equal(target?.policy.suspend, true);
      assert.deepEqual(target?.locate('/spec/pd/image'), { file: 'tidb/values.yaml', line: 3, column: 13 });
      assert.deepEqual(target?.locate('/metadata/name'), { file: 'tidb/values.yaml', line: 2, column: 14 });
    } finally {
      await remove();
    }
  });
});
