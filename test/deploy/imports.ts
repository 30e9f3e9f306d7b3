/**
 * The module graph the image runs, read statically: which files the entry
 * point reaches and which npm packages they load. The image installs
 * production dependencies only (`npm ci --omit=dev`), so a package the
 * runtime loads that is only a devDependency would crash the agent in its
 * container and nowhere else; this finds it without building the image.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

/** One import a module makes at run time (type-only imports, which Node's type stripping erases, are left out). */
export interface RuntimeImport {
  /** The importing file, relative to the root. */
  readonly file: string;
  /** 1-based line of the import. */
  readonly line: number;
  readonly specifier: string;
  /** `static` for import/export … from, `dynamic` for import('…') with a literal. */
  readonly kind: 'static' | 'dynamic';
}

/**
 * The run-time imports of one module's text. `import type` and
 * `export type … from` are erased by type stripping and left out; an
 * `import { type A } from 'x'` still loads `x` and is kept. Dynamic imports
 * count when their specifier is a string literal.
 */
export function runtimeImports(file: string, text: string): RuntimeImport[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2024, true, file.endsWith('.js') ? ts.ScriptKind.JS : ts.ScriptKind.TS);
  const out: RuntimeImport[] = [];
  const lineOf = (node: ts.Node): number => source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier) && node.importClause?.isTypeOnly !== true) {
      out.push({ file, line: lineOf(node), specifier: node.moduleSpecifier.text, kind: 'static' });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier !== undefined && ts.isStringLiteral(node.moduleSpecifier) && !node.isTypeOnly) {
      out.push({ file, line: lineOf(node), specifier: node.moduleSpecifier.text, kind: 'static' });
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [first] = node.arguments;
      if (first !== undefined && ts.isStringLiteralLike(first)) out.push({ file, line: lineOf(node), specifier: first.text, kind: 'dynamic' });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

/** `@scope/name/sub` → `@scope/name`, `name/sub` → `name`; undefined for relative, absolute and built-in specifiers. */
export function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('file:') || isBuiltin(specifier)) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** What {@link moduleGraph} found. */
export interface ModuleGraph {
  /** Every file reached, relative to the root, sorted. */
  readonly files: readonly string[];
  /** Every import of a package (not relative, not built in), in the order found. */
  readonly packageImports: readonly (RuntimeImport & { readonly packageName: string })[];
  /** Relative imports whose file does not exist: `file:line: specifier`. */
  readonly unresolved: readonly string[];
}

/**
 * Walks the run-time imports from `entries` (paths relative to `root`)
 * through every relative import, as Node would load them.
 */
export function moduleGraph(root: string, entries: readonly string[]): ModuleGraph {
  const seen = new Set<string>();
  const packageImports: (RuntimeImport & { packageName: string })[] = [];
  const unresolved: string[] = [];
  const queue = entries.map((e) => resolve(root, e));
  for (let path = queue.shift(); path !== undefined; path = queue.shift()) {
    if (seen.has(path)) continue;
    seen.add(path);
    // JSON and other non-code files are leaves.
    if (!/\.(ts|js|mjs|cjs|mts|cts)$/.test(path)) continue;
    const file = relative(root, path).split(sep).join('/');
    for (const imported of runtimeImports(file, readFileSync(path, 'utf8'))) {
      const packageName = packageOf(imported.specifier);
      if (packageName !== undefined) {
        packageImports.push({ ...imported, packageName });
        continue;
      }
      if (!imported.specifier.startsWith('.')) continue;
      const target = resolve(dirname(path), imported.specifier);
      if (!existsSync(target) || !statSync(target).isFile()) unresolved.push(`${imported.file}:${imported.line}: ${imported.specifier}`);
      else queue.push(target);
    }
  }
  return { files: [...seen].map((p) => relative(root, p).split(sep).join('/')).sort(), packageImports, unresolved };
}

/** Every `.ts`/`.js` file at or under `path` (a folder or a file, relative to `root`), sorted, for a scan that does not depend on reachability. */
export function codeFilesUnder(root: string, path: string): string[] {
  const out: string[] = [];
  const isCode = (name: string): boolean => /\.(ts|js|mjs|cjs)$/.test(name);
  const walk = (abs: string): void => {
    for (const entry of readdirSync(abs, { withFileTypes: true })) {
      const child = join(abs, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules') walk(child);
      } else if (isCode(entry.name)) out.push(relative(root, child).split(sep).join('/'));
    }
  };
  const abs = join(root, path);
  if (!existsSync(abs)) return out;
  if (statSync(abs).isDirectory()) walk(abs);
  else if (isCode(abs)) out.push(path);
  return out.sort();
}
