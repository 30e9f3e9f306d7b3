/** Decoding file bytes, and reading files and folders of a repository safely. */
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { decodeText, firstInvalidUtf8, readRepositoryFile, resolveRoot, walkRepository, RepositoryRootError } from '../../agent/manifests/repo-fs.ts';
import { tempDir } from './helpers.ts';

const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);

describe('decodeText', () => {
  const table: { name: string; input: Uint8Array; want: unknown }[] = [
    { name: 'plain UTF-8', input: new TextEncoder().encode('a: é\n'), want: { text: 'a: é\n' } },
    { name: 'a UTF-8 byte-order mark is dropped', input: bytes(0xef, 0xbb, 0xbf, 0x61), want: { text: 'a' } },
    { name: 'UTF-16 LE', input: bytes(0xff, 0xfe, 0x61, 0x00), want: { problem: { line: 1, column: 1, code: 'encoding', message: 'UTF-16 or UTF-32 text (byte-order mark); save the file as UTF-8' } } },
    { name: 'UTF-16 BE', input: bytes(0xfe, 0xff, 0x00, 0x61), want: { problem: { line: 1, column: 1, code: 'encoding', message: 'UTF-16 or UTF-32 text (byte-order mark); save the file as UTF-8' } } },
    { name: 'a NUL byte', input: bytes(0x61, 0x0a, 0x62, 0x00), want: { problem: { line: 2, column: 2, code: 'binary', message: 'binary content (a NUL byte); rollgate reads only UTF-8 text' } } },
    { name: 'Latin-1', input: bytes(0x61, 0xe9, 0x0a), want: { problem: { line: 1, column: 2, code: 'encoding', message: 'not valid UTF-8 (byte 0xE9); rollgate reads only UTF-8 text' } } },
    { name: 'an overlong form', input: bytes(0x0a, 0xc0, 0x80), want: { problem: { line: 2, column: 1, code: 'encoding', message: 'not valid UTF-8 (byte 0xC0); rollgate reads only UTF-8 text' } } },
    { name: 'a surrogate', input: bytes(0xc3, 0xa9, 0xed, 0xa0, 0x80), want: { problem: { line: 1, column: 2, code: 'encoding', message: 'not valid UTF-8 (byte 0xED); rollgate reads only UTF-8 text' } } },
    { name: 'a truncated sequence', input: bytes(0x61, 0xe2, 0x82), want: { problem: { line: 1, column: 2, code: 'encoding', message: 'not valid UTF-8 (byte 0xE2); rollgate reads only UTF-8 text' } } },
  ];
  for (const { name, input, want } of table) test(name, () => assert.deepEqual(decodeText(input), want));

  test('firstInvalidUtf8 agrees with Node on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (input) => (firstInvalidUtf8(input) === -1) === isUtf8(input)),
      { numRuns: 5_000 },
    );
  });
});

describe('reading a repository', () => {
  let dir: string;
  let remove: () => Promise<void>;
  before(async () => {
    ({ dir, remove } = await tempDir('repo-fs'));
    await mkdir(join(dir, 'prod/sub'), { recursive: true });
    await mkdir(join(dir, 'prod/.git'), { recursive: true });
    await mkdir(join(dir, 'shared'), { recursive: true });
    await writeFile(join(dir, 'prod/b.yaml'), 'b: 1\n');
    await writeFile(join(dir, 'prod/a.yml'), 'a: 1\n');
    await writeFile(join(dir, 'prod/notes.txt'), 'not yaml\n');
    await writeFile(join(dir, 'prod/sub/c.yaml'), 'c: 1\n');
    await writeFile(join(dir, 'prod/.git/config.yaml'), 'never read\n');
    await writeFile(join(dir, 'shared/common.yaml'), 'shared: 1\n');
    await symlink('../shared/common.yaml', join(dir, 'prod/link.yaml'));
    await symlink('../shared', join(dir, 'prod/shared-dir'));
  });
  after(async () => remove());

  test('lists YAML files in name order, skipping .git, and reports folder symlinks', async () => {
    const root = await resolveRoot(dir);
    const walk = await walkRepository(root, { bases: ['prod'], wants: () => true, skips: () => false, maxFiles: 100 });
    assert.deepEqual(walk.files, ['prod/a.yml', 'prod/b.yaml', 'prod/link.yaml', 'prod/sub/c.yaml']);
    assert.deepEqual(walk.problems.map((p) => `${p.file} ${p.code}`), ['prod/shared-dir symlink-directory']);
  });

  test('lists a file once however many bases cover it, in any order', async () => {
    const root = await resolveRoot(dir);
    const walk = (bases: string[]) => walkRepository(root, { bases, wants: () => true, skips: () => false, maxFiles: 100 });
    const once = ['prod/a.yml', 'prod/b.yaml', 'prod/link.yaml', 'prod/sub/c.yaml'];
    assert.deepEqual((await walk(['prod/sub/c.yaml', 'prod/sub', 'prod', 'prod/sub', 'prod/b.yaml'])).files, once);
    // `prod-x` sorts between `prod` and `prod/…` and is no descendant of `prod`.
    assert.deepEqual((await walk(['prod/sub', 'prod-x', 'prod'])).files, once);
    assert.deepEqual((await walk(['shared', '', 'prod'])).files, [...once, 'shared/common.yaml']);
  });

  test('follows a symlink to a file inside the repository and says where it read', async () => {
    const root = await resolveRoot(dir);
    assert.deepEqual(await readRepositoryFile(root, 'prod/link.yaml', 1024), { kind: 'text', text: 'shared: 1\n', target: 'shared/common.yaml' });
  });

  test('refuses a path that goes through a folder symlink', async () => {
    const root = await resolveRoot(dir);
    const read = await readRepositoryFile(root, 'prod/shared-dir/common.yaml', 1024);
    assert.equal(read.kind, 'problem');
    assert.equal(read.kind === 'problem' ? read.problem.code : '', 'symlink-directory');
  });

  test('says a deleted file is missing', async () => {
    const root = await resolveRoot(dir);
    assert.deepEqual(await readRepositoryFile(root, 'prod/gone.yaml', 1024), { kind: 'missing' });
    assert.deepEqual(await readRepositoryFile(root, 'gone/deeper.yaml', 1024), { kind: 'missing' });
  });

  test('refuses a root that is not a directory', async () => {
    await assert.rejects(resolveRoot(join(dir, 'prod/b.yaml')), (err: unknown) => err instanceof RepositoryRootError && err.reason === 'not a directory');
    await assert.rejects(resolveRoot(join(dir, 'nope')), (err: unknown) => err instanceof RepositoryRootError && err.reason === 'no such file or directory');
  });
});
