/**
 * Reads the YAML of deploy/: every document of every file, with where it
 * came from, so a failing check names `file:line`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LineCounter, parseAllDocuments } from 'yaml';

/** One YAML document of deploy/. */
export interface DeployDocument {
  /** File name inside the folder, e.g. `deployment.yaml`. */
  readonly file: string;
  /** 1-based line where the document starts. */
  readonly line: number;
  /** The document as plain data. */
  readonly object: Record<string, unknown>;
}

/** A deploy/ file that is not valid YAML, or a document that is not a mapping. */
export class DeployYamlError extends Error {
  override readonly name = 'DeployYamlError';
}

/**
 * Parses one file's text into its documents (empty documents skipped).
 * @throws DeployYamlError `file:line:col: message` for a YAML error or warning, or for a document that is not a mapping.
 */
export function parseDeployFile(file: string, text: string): DeployDocument[] {
  const lineCounter = new LineCounter();
  const out: DeployDocument[] = [];
  for (const doc of parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true })) {
    const problem = doc.errors[0] ?? doc.warnings[0];
    if (problem !== undefined) {
      const at = lineCounter.linePos(problem.pos[0]);
      throw new DeployYamlError(`${file}:${at.line}:${at.col}: ${problem.message.split('\n', 1)[0] ?? problem.message}`);
    }
    const value = doc.toJS({ maxAliasCount: 0 }) as unknown;
    if (value === null || value === undefined) continue;
    const start = lineCounter.linePos(doc.contents?.range[0] ?? 0);
    if (typeof value !== 'object' || Array.isArray(value)) throw new DeployYamlError(`${file}:${start.line}:${start.col}: a document must be a mapping (a Kubernetes object)`);
    out.push({ file, line: start.line, object: value as Record<string, unknown> });
  }
  return out;
}

/** The `.yaml` files of `dir`, sorted. */
export function deployFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
}

/** Every document of every `.yaml` file of `dir`. */
export function readDeployDocuments(dir: string): DeployDocument[] {
  return deployFiles(dir).flatMap((file) => parseDeployFile(file, readFileSync(join(dir, file), 'utf8')));
}

/** `Kind/namespace/name` (`Kind/name` when cluster-scoped), for messages. */
export function objectId(object: Record<string, unknown>): string {
  const meta = (object['metadata'] ?? {}) as { name?: unknown; namespace?: unknown };
  return [object['kind'], meta.namespace, meta.name].filter((p) => typeof p === 'string' && p !== '').join('/');
}
