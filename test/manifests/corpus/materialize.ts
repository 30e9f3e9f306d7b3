/**
 * Builds a corpus case's repository in a directory: the base fixture, then
 * the case's files. Symlinks, FIFOs and generated content are made here, at
 * run time, so that nothing hostile is committed.
 */
import { execFileSync } from 'node:child_process';
import { cp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CorpusCase } from './cases.ts';

/** The valid repository every case starts from. */
export const baseFixture = fileURLToPath(new URL('../../fixtures/manifests/base', import.meta.url));

/** Writes `testCase`'s repository into `dir` (which must not exist yet). */
export async function materialize(testCase: CorpusCase, dir: string): Promise<void> {
  await cp(baseFixture, dir, { recursive: true });
  for (const [path, spec] of Object.entries(testCase.files)) {
    const abs = join(dir, path);
    await mkdir(dirname(abs), { recursive: true });
    if (spec === null) {
      await rm(abs, { force: true });
    } else if (typeof spec === 'string' || spec instanceof Uint8Array) {
      await writeFile(abs, spec);
    } else if ('symlink' in spec) {
      await symlink(spec.symlink, abs);
    } else if ('fifo' in spec) {
      execFileSync('mkfifo', [abs]);
    } else if ('directory' in spec) {
      await mkdir(abs, { recursive: true });
    } else {
      await writeFile(abs, spec.generate());
    }
  }
}
