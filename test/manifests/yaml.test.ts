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

  test('a plain merge key is refused: kubectl (go-yaml) would merge it, YAML 1.2 would not', () => {
    const parsed = read('a: &x {k: 1}\nb:\n  <<: *x\n');
    assert.equal(parsed.documents[0]?.value, undefined);
    assert.deepEqual(
      parsed.problems.map((p) => `${p.line}:${p.column} ${p.code} ${p.message}`),
      ['3:3 bad-key merge keys (<<) are not supported: kubectl would merge them and rollgate would not, so the file would mean two things; write the fields out, or quote the key if "<<" is meant literally'],
    );
  });

  test('a quoted "<<" key is an ordinary key', () => {
    assert.deepEqual(read('a: &x {k: 1}\nb:\n  "<<": *x\n').documents[0]?.value, { a: { k: 1 }, b: { '<<': { k: 1 } } });
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

  // Found by the hostile campaign (chaos/hostile): the yaml package's composer recursed once per level and reported
  // "maximum call stack size exceeded" for a 4 KB file; nesting is now measured before the composer sees it.
  const deep: [string, string, string][] = [
    ['compact sequences, 2,000 levels on one line', `a:\n  ${'- '.repeat(2_000)}1\n`, '2:129'],
    ['flow sequences, 100,000 levels', `a: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`, '1:67'],
    ['flow mappings, 50,000 levels', `a: ${'{a: '.repeat(50_000)}1${'}'.repeat(50_000)}\n`, '1:256'],
    ['block mappings, 1,000 levels', `${Array.from({ length: 1_000 }, (_, i) => `${' '.repeat(i)}a:`).join('\n')} 1\n`, '65:65'],
    ['explicit keys, 20,000 levels', `${'? '.repeat(20_000)}a\n`, '1:129'],
  ];
  for (const [name, text, at] of deep) {
    test(`bounds nesting without running out of stack: ${name}`, () => {
      const parsed = read(text);
      assert.deepEqual(parsed.problems.map((p) => `${p.line}:${p.column} ${p.code} ${p.message}`), [`${at} nesting-limit nesting deeper than 64 levels`]);
      assert.equal(parsed.documents[0]?.value, undefined);
    });
  }

  test('a too-deep document leaves the other documents of the file readable', () => {
    const parsed = read(`a: 1\n---\nb: ${'['.repeat(5_000)}${']'.repeat(5_000)}\n---\nc: 3\n`);
    assert.deepEqual(parsed.documents.map((d) => d.value), [{ a: 1 }, undefined, { c: 3 }]);
    assert.deepEqual(parsed.problems.map((p) => `${p.line}:${p.column} ${p.code}`), ['3:67 nesting-limit']);
  });

  test('never nests deeper than the composer can take, whatever maxDepth asks', () => {
    const parsed = read(`a: ${'['.repeat(5_000)}${']'.repeat(5_000)}\n`, { ...defaultLimits, maxDepth: 1_000_000 });
    assert.deepEqual(parsed.problems.map((p) => p.message), ['nesting deeper than 512 levels']);
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
