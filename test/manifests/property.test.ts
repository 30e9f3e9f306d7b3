/**
 * Property tests: generated and mutated YAML, and arbitrary bytes, fed to the
 * parser and to the whole loader. Whatever the input, the loader returns
 * targets or problems with positions, never throws, never reports an
 * internal error, and a reload ends where a cold load of the same tree does.
 * Runs are bounded by count, so the file finishes in a few seconds.
 */
import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { formatProblemLine, loadRepository, reload, type LoadResult } from '../../agent/manifests/index.ts';
import { defaultLimits } from '../../agent/manifests/types.ts';
import { parseYaml } from '../../agent/manifests/yaml.ts';
import { baseFixture } from './corpus/materialize.ts';
import { examplesRepo, tempDir } from './helpers.ts';

/** YAML fragments that exercise the parser's hard paths. */
const tokens = ['&a ', '*a', '*b', '!!binary ', '!foo ', '!!str ', '{', '}', '[', ']', ': ', '- ', '? ', '\t', '\n', '---\n', '...\n', '%YAML 1.1\n', '<<: *a\n', '"', "'", '|\n', '>-\n', '#', '__proto__: 1\n', '~', '.inf', '0x', '1e999', '\u00a0', '\ufeff', 'é', '\r\n'];

type Mutation =
  | { readonly type: 'insert'; readonly at: number; readonly text: string }
  | { readonly type: 'delete'; readonly at: number; readonly length: number }
  | { readonly type: 'duplicateLine'; readonly at: number }
  | { readonly type: 'indent'; readonly at: number; readonly by: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ type: fc.constant('insert' as const), at: fc.nat(), text: fc.oneof(fc.constantFrom(...tokens), fc.string({ maxLength: 6 })) }),
  fc.record({ type: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 30 }) }),
  fc.record({ type: fc.constant('duplicateLine' as const), at: fc.nat() }),
  fc.record({ type: fc.constant('indent' as const), at: fc.nat(), by: fc.integer({ min: -4, max: 4 }) }),
);

function mutate(text: string, mutations: readonly Mutation[]): string {
  let out = text;
  for (const m of mutations) {
    const at = out.length === 0 ? 0 : m.at % out.length;
    if (m.type === 'insert') out = out.slice(0, at) + m.text + out.slice(at);
    else if (m.type === 'delete') out = out.slice(0, at) + out.slice(at + m.length);
    else {
      const lines = out.split('\n');
      const i = m.at % Math.max(lines.length, 1);
      const line = lines[i] ?? '';
      if (m.type === 'duplicateLine') lines.splice(i, 0, line);
      else lines[i] = m.by >= 0 ? ' '.repeat(m.by) + line : line.slice(Math.min(-m.by, line.length - line.trimStart().length));
      out = lines.join('\n');
    }
  }
  return out;
}

const kinds = [
  ['pingcap.com/v1alpha1', 'TidbCluster'],
  ['app.redislabs.com/v1', 'RedisEnterpriseCluster'],
  ['apps/v1', 'StatefulSet'],
  ['apps/v1', 'Deployment'],
  ['rollgate.dev/v1alpha1', 'HelmRelease'],
  ['v1', 'ConfigMap'],
  ['v1', 'Bogus'],
] as const;

/** A generated object of a known kind with arbitrary JSON content, written as YAML. */
const generatedManifest = fc
  .tuple(fc.constantFrom(...kinds), fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 4 }), { maxKeys: 5 }), fc.string({ maxLength: 10 }))
  .map(([[apiVersion, kind], spec, name]) => stringify({ apiVersion, kind, metadata: { name, namespace: 'fuzz' }, spec }));

function assertWellFormed(result: LoadResult): void {
  for (const p of result.problems) {
    assert.ok(Number.isInteger(p.line) && p.line >= 1 && Number.isInteger(p.column) && p.column >= 1, formatProblemLine(p));
    assert.equal(typeof p.message, 'string');
    assert.notEqual(p.code, 'internal', formatProblemLine(p));
  }
  assert.equal(result.valid, result.problems.length === 0);
  for (const t of result.targets) assert.ok(Object.isFrozen(t.object), t.id);
}

function comparable(result: LoadResult): unknown {
  return { problems: result.problems.map((p) => formatProblemLine(p)), targets: result.targets.map(({ locate: _, ...rest }) => rest), resources: result.resources };
}

describe('parseYaml on arbitrary text', () => {
  test('never throws, and every problem has a position', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 }), fc.array(fc.constantFrom(...tokens), { maxLength: 40 }).map((t) => t.join(''))), (text) => {
        const parsed = parseYaml(text, defaultLimits);
        for (const p of parsed.problems) assert.ok(p.line >= 1 && p.column >= 1);
      }),
      { numRuns: 3_000 },
    );
  });
});

describe('the loader on generated and mutated repositories', () => {
  let dir: string;
  let remove: () => Promise<void>;
  let seeds: string[];
  let config: string;
  before(async () => {
    ({ dir, remove } = await tempDir('property'));
    await cp(baseFixture, dir, { recursive: true });
    config = await readFile(join(dir, 'rollgate.yaml'), 'utf8');
    seeds = await Promise.all(
      ['staging/tidb/tidb-cluster.yaml', 'prod/redis/redis-enterprise-cluster.yaml', 'prod/etcd/etcd.yaml', 'prod/tidb-analytics/release.yaml', 'prod/redis/redis-enterprise-operator.yaml'].map((p) => readFile(join(examplesRepo, p), 'utf8')),
    );
  });
  after(async () => remove());

  test('returns targets or problems for any manifest content, never throws', async () => {
    let previous = await loadRepository(dir);
    const content = fc.oneof(
      { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...seeds), fc.array(mutation, { minLength: 1, maxLength: 6 })).map(([seed, ms]) => mutate(seed, ms)) },
      { weight: 2, arbitrary: generatedManifest },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }) },
      { weight: 1, arbitrary: fc.array(fc.constantFrom(...tokens), { maxLength: 60 }).map((t) => t.join('')) },
    );
    await fc.assert(
      fc.asyncProperty(content, async (text) => {
        await writeFile(join(dir, 'prod/fuzz.yaml'), text);
        previous = await reload(previous, ['prod/fuzz.yaml']);
        assertWellFormed(previous);
      }),
      { numRuns: 250 },
    );
  });

  test('returns problems for any mutation of rollgate.yaml, never throws', async () => {
    await writeFile(join(dir, 'prod/fuzz.yaml'), seeds[2] ?? '');
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 6 }), async (ms) => {
        await writeFile(join(dir, 'rollgate.yaml'), mutate(config, ms));
        assertWellFormed(await loadRepository(dir));
      }),
      { numRuns: 150 },
    );
    await writeFile(join(dir, 'rollgate.yaml'), config);
  });

  test('a reload after a change ends where a cold load does', async () => {
    let previous = await loadRepository(dir);
    await fc.assert(
      fc.asyncProperty(fc.tuple(fc.constantFrom(...seeds), fc.array(mutation, { maxLength: 3 })), async ([seed, ms]) => {
        await writeFile(join(dir, 'prod/fuzz.yaml'), mutate(seed, ms));
        previous = await reload(previous, ['prod/fuzz.yaml']);
        assert.deepEqual(comparable(previous), comparable(await loadRepository(dir)));
      }),
      { numRuns: 60 },
    );
  });
});
