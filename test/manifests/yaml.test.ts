/** parseYaml: YAML 1.2 core values, positions, duplicates, aliases and limits. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { defaultLimits } from '../../agent/manifests/types.ts';
import { formatPath, lazyLocate, parsePointer, parseYaml, typeName } from '../../agent/manifests/yaml.ts';

const read = (text: string, limits = defaultLimits) => parseYaml(text, limits);

describe('parseYaml values (YAML 1.2 core schema)', () => {
  const table: [string, unknown][] = [
    ['yes', 'yes'],
    ['no', 'no'],
    ['on', 'on'],
    ['true', true],
    ['False', false],
    ['~', null],
    ['null', null],
    ['017', 17],
    ['0o17', 15],
    ['0x1F', 31],
    ['1e3', 1000],
    ['.5', 0.5],
    ['"1"', '1'],
    ['!!str 1', '1'],
    ['1_000', '1_000'],
    ['2024-01-01', '2024-01-01'],
    ['<<', '<<'],
  ];
  for (const [text, want] of table) {
    test(`${text} reads as ${JSON.stringify(want)}`, () => {
      const parsed = read(`v: ${text}\n`);
      assert.deepEqual(parsed.problems, []);
      assert.deepEqual(parsed.documents[0]?.value, { v: want });
    });
  }

  test('scalar keys become strings, as Kubernetes reads them', () => {
    assert.deepEqual(read('1: a\ntrue: b\n').documents[0]?.value, { 1: 'a', true: 'b' });
  });

  test('merge keys are plain keys in YAML 1.2', () => {
    assert.deepEqual(read('a: &x {k: 1}\nb:\n  <<: *x\n').documents[0]?.value, { a: { k: 1 }, b: { '<<': { k: 1 } } });
  });
});

describe('parseYaml documents and positions', () => {
  test('reads every document, keeping empty ones in the numbering', () => {
    const parsed = read('a: 1\n---\n---\n# only a comment\n---\nb: 2\n');
    assert.deepEqual(
      parsed.documents.map((d) => [d.index, d.value, d.start.line]),
      [
        [0, { a: 1 }, 1],
        [1, undefined, 2],
        [2, undefined, 3],
        [3, { b: 2 }, 6],
      ],
    );
  });

  test('locates keys and values, and the nearest written ancestor', () => {
    const text = 'spec:\n  pd:\n    replicas: 3\n  list:\n    - a\n    - b: 1\n';
    const { locate } = read(text);
    assert.deepEqual(locate(0, ['spec', 'pd', 'replicas']), { line: 3, column: 15 });
    assert.deepEqual(locate(0, ['spec', 'pd', 'replicas'], 'key'), { line: 3, column: 5 });
    assert.deepEqual(locate(0, ['spec', 'list', 1, 'b']), { line: 6, column: 10 });
    assert.deepEqual(locate(0, ['spec', 'pd', 'image']), { line: 2, column: 3 });
    assert.deepEqual(locate(0, ['nothing']), { line: 1, column: 1 });
    assert.deepEqual(lazyLocate(text, 10)(0, ['spec', 'list', 1, 'b']), { line: 6, column: 10 });
  });

  test('columns count a line without its byte-order mark', () => {
    // The reader strips the BOM before parsing; positions are then what editors show.
    assert.deepEqual(read('a: 1\nb: x\n').locate(0, ['b']), { line: 2, column: 4 });
  });
});

describe('parseYaml problems', () => {
  test('lists every duplicate key and keeps the first value', () => {
    const parsed = read('a: 1\nb: 2\na: 3\nb: 4\n');
    assert.deepEqual(parsed.documents[0]?.value, { a: 1, b: 2 });
    assert.deepEqual(
      parsed.problems.map((p) => `${p.line}:${p.column} ${p.code} ${p.message}`),
      ['3:1 duplicate-key duplicate key "a"', '4:1 duplicate-key duplicate key "b"'],
    );
  });

  test('expands aliases as copies, not shared objects', () => {
    const value = read('a: &x {k: [1]}\nb: *x\n').documents[0]?.value as { a: { k: number[] }; b: { k: number[] } };
    assert.deepEqual(value.a, value.b);
    assert.notEqual(value.a, value.b);
    assert.notEqual(value.a.k, value.b.k);
  });

  test('a later anchor of the same name wins from there on', () => {
    assert.deepEqual(read('a: &x 1\nb: *x\nc: &x 2\nd: *x\n').documents[0]?.value, { a: 1, b: 1, c: 2, d: 2 });
  });

  test('bounds alias expansion per file, across documents', () => {
    const limits = { ...defaultLimits, maxAliasNodes: 5 };
    const ok = read('a: &x [1, 2]\nb: *x\n', limits);
    assert.deepEqual(ok.problems, []);
    const tooMuch = read('a: &x [1, 2]\nb: *x\n---\nc: &y [1, 2]\nd: *y\n', limits);
    assert.deepEqual(tooMuch.problems.map((p) => `${p.line}:${p.column} ${p.code}`), ['5:4 alias-limit']);
  });

  test('bounds nesting depth', () => {
    const limits = { ...defaultLimits, maxDepth: 3 };
    assert.deepEqual(read('a: {b: 1}\n', limits).problems, []);
    assert.deepEqual(read('a: {b: [1]}\n', limits).problems.map((p) => p.code), ['nesting-limit']);
  });

  test('refuses collection and null keys', () => {
    assert.deepEqual(read('? [a]\n: 1\n').problems.map((p) => p.message), ['mapping keys must be strings, not mappings or sequences']);
    assert.deepEqual(read('~: 1\n').problems.map((p) => p.message), ['mapping keys must not be empty or null']);
  });

  test('reports a problem per broken document and reads the others', () => {
    const parsed = read('a: [1\n---\nb: 2\n');
    assert.equal(parsed.documents[0]?.value, undefined);
    assert.deepEqual(parsed.documents[1]?.value, { b: 2 });
    assert.equal(parsed.problems.length, 1);
  });

  test('stops reading after the document limit', () => {
    const parsed = read('a: 1\n---\nb: 2\n---\nc: 3\n', { ...defaultLimits, maxDocumentsPerFile: 2 });
    assert.deepEqual(parsed.documents, []);
    assert.deepEqual(parsed.problems.map((p) => `${p.line}:${p.column} ${p.code}`), ['4:1 too-many-documents']);
  });

  test('accepts %YAML 1.2', () => {
    assert.deepEqual(read('%YAML 1.2\n---\na: 1\n').problems, []);
  });
});

describe('path helpers', () => {
  const pointers: [string, (string | number)[]][] = [
    ['', []],
    ['/spec/pd/replicas', ['spec', 'pd', 'replicas']],
    ['/spec/containers/0/image', ['spec', 'containers', 0, 'image']],
    ['/metadata/annotations/a~1b~0c', ['metadata', 'annotations', 'a/b~c']],
    ['/a/01', ['a', '01']],
  ];
  for (const [pointer, path] of pointers) test(`parsePointer ${JSON.stringify(pointer)}`, () => assert.deepEqual(parsePointer(pointer), path));

  const paths: [(string | number)[], string][] = [
    [[], ''],
    [['spec', 'pd', 'replicas'], 'spec.pd.replicas'],
    [['gates', 1, 'soak'], 'gates[1].soak'],
    [['metadata', 'labels', 'app.kubernetes.io/name'], 'metadata.labels["app.kubernetes.io/name"]'],
  ];
  for (const [path, text] of paths) test(`formatPath ${text}`, () => assert.equal(formatPath(path), text));

  test('typeName', () => {
    assert.deepEqual([null, [], {}, 'a', 1, 1.5, true].map(typeName), ['null', 'a sequence', 'a mapping', 'a string', 'an integer', 'a number', 'a boolean']);
  });
});
