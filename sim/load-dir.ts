/**
 * Reads the Kubernetes objects of a plain directory of manifests, for
 * `rollgate sim --load DIR` on something that is not a rollgate repository.
 * Only regular files below DIR are read (symlinks are skipped), YAML with
 * aliases bounded, and every document that is not an object is reported.
 */
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from './api/object.ts';
import { isKubeObject } from './simulation.ts';

export interface DirectoryManifests {
  objects: KubeObject[];
  /** `file:line:col: message` per document that could not be used. */
  problems: string[];
}

const maxFileBytes = 4 * 1024 * 1024;

async function walk(dir: string, out: string[]): Promise<void> {
  for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.')) continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) await walk(full, out);
    else if (entry.isFile() && /\.(ya?ml|json)$/.test(entry.name)) out.push(full);
  }
}

/** Every Kubernetes object in YAML or JSON files below `dir`, in path order. */
export async function readManifestDirectory(dir: string): Promise<DirectoryManifests> {
  const files: string[] = [];
  await walk(dir, files);
  const result: DirectoryManifests = { objects: [], problems: [] };
  for (const file of files) {
    const rel = relative(dir, file);
    const info = await lstat(file);
    if (info.size > maxFileBytes) {
      result.problems.push(`${rel}:1:1: file is ${info.size} bytes, over the ${maxFileBytes}-byte limit`);
      continue;
    }
    const text = await readFile(file, 'utf8');
    for (const doc of parseAllDocuments(text, { uniqueKeys: true })) {
      const error = doc.errors[0];
      if (error) {
        const [line = 1, col = 1] = [error.linePos?.[0].line, error.linePos?.[0].col];
        result.problems.push(`${rel}:${line}:${col}: ${error.message.split('\n')[0] ?? ''}`);
        continue;
      }
      let value: unknown;
      try {
        value = doc.toJS({ maxAliasCount: 1000 });
      } catch (err) {
        result.problems.push(`${rel}:1:1: ${(err as Error).message}`);
        continue;
      }
      if (value === null || value === undefined) continue;
      if (isKubeObject(value)) result.objects.push(value);
      else result.problems.push(`${rel}:1:1: not a Kubernetes object (needs apiVersion and kind)`);
    }
  }
  return result;
}
