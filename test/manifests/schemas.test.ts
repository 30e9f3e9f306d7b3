/**
 * The schema files: they compile under ajv's strict mode, their shared
 * definitions stay identical (each file is self-contained so editors need
 * nothing else), and every example file names the schema it validates
 * against in its yaml-language-server comment.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { before, describe, test } from 'node:test';
import { loadSchemas, schemaNames, schemasDirectory, type SchemaName, type SchemaSet } from '../../agent/manifests/schemas.ts';
import { defaultLimits } from '../../agent/manifests/types.ts';
import { parseYaml } from '../../agent/manifests/yaml.ts';
import { examplesRepo } from './helpers.ts';

async function yamlFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && /\.ya?ml$/.test(e.name)).map((e) => join(e.parentPath, e.name)).sort();
}

describe('schemas/v1alpha1', () => {
  let schemas: SchemaSet;
  const sources = new Map<string, { $id: string; definitions?: Record<string, unknown> }>();
  before(async () => {
    schemas = await loadSchemas();
    for (const name of schemaNames) sources.set(name, JSON.parse(await readFile(join(schemasDirectory(), `${name}.schema.json`), 'utf8')) as { $id: string });
  });

  test('every schema compiles in strict mode', () => {
    for (const name of schemaNames) assert.ok(Array.isArray(schemas.validate(name, {})), name);
  });

  test('every schema is versioned by its $id', () => {
    for (const [name, source] of sources) assert.equal(source.$id, `https://rollgate.dev/schemas/v1alpha1/${name}.schema.json`);
  });

  test('shared definitions are identical wherever they appear', () => {
    const seen = new Map<string, { file: string; json: string }>();
    for (const [name, source] of sources) {
      for (const [definition, body] of Object.entries(source.definitions ?? {})) {
        const json = JSON.stringify(body);
        const first = seen.get(definition);
        if (first === undefined) seen.set(definition, { file: name, json });
        else if (['objectMeta', 'imageRef', 'imageTag', 'dnsLabel', 'duration'].includes(definition)) assert.equal(json, first.json, `${definition} differs between ${first.file} and ${name}`);
      }
    }
  });
});

describe('examples-repo schema comments', () => {
  let schemas: SchemaSet;
  before(async () => {
    schemas = await loadSchemas();
  });

  test('every file with a rollgate kind names its schema, and validates against it', async () => {
    const checked: string[] = [];
    for (const file of await yamlFiles(examplesRepo)) {
      const text = await readFile(file, 'utf8');
      const match = /^# yaml-language-server: \$schema=(\S+)$/m.exec(text.split('\n', 1)[0] ?? '');
      const isService = /^kind: Service$/m.test(text);
      if (isService) {
        assert.equal(match, null, `${file}: rollgate has no schema for a Service`);
        continue;
      }
      assert.ok(match?.[1], `${relative(examplesRepo, file)} has no yaml-language-server comment`);
      const schemaFile = resolve(dirname(file), match[1]);
      assert.equal(dirname(schemaFile), schemasDirectory().replace(/\/$/, ''), `${file} points outside schemas/v1alpha1`);
      const name = schemaFile.slice(schemaFile.lastIndexOf('/') + 1).replace('.schema.json', '') as SchemaName;
      assert.ok((schemaNames as readonly string[]).includes(name), `${file}: unknown schema ${name}`);
      for (const doc of parseYaml(text, defaultLimits).documents) {
        if (doc.value === undefined) continue;
        assert.deepEqual(schemas.validate(name, doc.value), [], `${file} against ${name}`);
      }
      checked.push(`${relative(examplesRepo, file)} ${name}`);
    }
    assert.deepEqual(checked, [
      'prod/etcd/etcd.yaml statefulset',
      'prod/redis/redis-enterprise-cluster.yaml redisenterprisecluster',
      'prod/redis/redis-enterprise-operator.yaml deployment',
      'prod/tidb-analytics/release.yaml helmrelease',
      'prod/tidb-analytics/values.yaml tidb-cluster-values',
      'prod/tidb/tidb-cluster.yaml tidbcluster',
      'rollgate.yaml config',
      'staging/etcd/etcd.yaml statefulset',
      'staging/redis/redis-enterprise-cluster.yaml redisenterprisecluster',
      'staging/redis/redis-enterprise-operator.yaml deployment',
      'staging/tidb/tidb-cluster.yaml tidbcluster',
    ]);
  });
});
