/**
 * The corpus of broken and hostile repositories: each one, validated
 * in-process, prints exactly its expected `file:line:col: message` lines,
 * exits 1 and shows no stack trace. The most hostile ones also run as a real
 * child process.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadRepository } from '../../agent/manifests/index.ts';
import { formatProblemLine } from '../../agent/manifests/format.ts';
import { cases } from './corpus/cases.ts';
import { materialize } from './corpus/materialize.ts';
import { lines, runInProcess, runSpawned, stackTrace, tempDir } from './helpers.ts';

describe('corpus of broken repositories', () => {
  let base: string;
  let remove: () => Promise<void>;

  before(async () => {
    ({ dir: base, remove } = await tempDir('corpus'));
  });
  after(async () => remove());

  test('has at least 40 cases with unique names', () => {
    assert.ok(cases.length >= 40, `only ${cases.length} cases`);
    assert.equal(new Set(cases.map((c) => c.name)).size, cases.length);
  });

  for (const testCase of cases) {
    test(testCase.name, async () => {
      const dir = join(base, testCase.name);
      await materialize(testCase, dir);
      if (testCase.limits !== undefined) {
        // Limits are the caller's, not a CLI flag; check the same lines through the loader.
        const result = await loadRepository(dir, { limits: testCase.limits });
        assert.deepEqual(result.problems.map((p) => formatProblemLine(p)), testCase.expected);
        assert.equal(result.valid, false);
        return;
      }
      const run = await runInProcess(['validate', '.'], dir);
      assert.deepEqual(lines(run.stdout), testCase.expected);
      assert.equal(run.code, 1);
      assert.doesNotMatch(run.stdout + run.stderr, stackTrace);
      assert.match(run.stderr, /^\d+ problems? in \.\n$/);
    });
  }

  const spawned = ['symlink-to-etc-passwd', 'symlink-to-directory-outside', 'symlink-loop', 'billion-laughs', 'binary-content', 'non-utf8', 'oversized-file', 'too-many-documents', 'fifo'];
  for (const name of spawned) {
    const testCase = cases.find((c) => c.name === name);
    assert.ok(testCase !== undefined, name);
    test(`${name}, as a child process`, async () => {
      const dir = join(base, `spawned-${name}`);
      await materialize(testCase, dir);
      const run = runSpawned(['validate', '.'], dir);
      assert.deepEqual(lines(run.stdout), testCase.expected);
      assert.equal(run.code, 1);
      assert.doesNotMatch(run.stdout + run.stderr, stackTrace);
      // Nothing of the file outside the repository reaches the output.
      assert.doesNotMatch(run.stdout + run.stderr, /root:x?:0:0/);
    });
  }
});
