/**
 * Safe YAML reading: YAML 1.2 core schema, plain JSON values out, every
 * problem with a line and column, and bounds that make hostile files fail
 * fast instead of exhausting memory or time.
 *
 * The `yaml` package parses; the conversion to JSON values is ours, because it
 * is where the dangerous things happen and where Kubernetes' rules differ
 * from YAML's:
 * - aliases are expanded as copies, counted against a budget, so a "billion
 *   laughs" file stops after `maxAliasNodes` nodes rather than after the
 *   machine runs out of memory (and nothing downstream sees shared objects);
 * - keys must be non-null scalars and are compared after conversion to
 *   strings, as Kubernetes' JSON sees them (`1:` and `"1":` are duplicates);
 * - only the core schema's tags are allowed (`!!binary`, `!!timestamp` or
 *   custom tags would produce values JSON cannot hold);
 * - `__proto__` is refused as a key, so no later spread or merge can be
 *   tricked into touching a prototype;
 * - a `%YAML 1.1` directive is refused: the `yaml` package would switch to
 *   1.1 rules (`yes` is true, `0777` is octal) and silently change values;
 * - nesting is measured on the parser's token tree, without recursion, before
 *   the `yaml` package's composer (which recurses once per level) sees a
 *   document: a 4 KB line of `- - - …` used to exhaust the stack there, and
 *   the package reported that as "maximum call stack size exceeded";
 * - a plain `<<` key is refused: Kubernetes' own YAML reader (go-yaml)
 *   merges it, YAML 1.2 does not, so the same file would mean one thing to
 *   kubectl and another to rollgate.
 */
import type { CST, Document, Node as YamlNode } from 'yaml';
import { Composer, LineCounter, Parser, isAlias, isMap, isScalar, isSeq } from 'yaml';
import type { JsonValue, Limits, ProblemCode } from './types.ts';

/** A line and column, both 1-based. */
export interface LineCol {
  readonly line: number;
  readonly column: number;
}

/** A problem inside one YAML file. */
export interface YamlProblem extends LineCol {
  readonly code: ProblemCode;
  readonly message: string;
}

/** One segment of a path into a document: a mapping key or a sequence index. */
export type PathSegment = string | number;

/** One YAML document of a file. */
export interface YamlDocument {
  /** 0-based index in the file. */
  readonly index: number;
  /** The document as JSON; undefined when it is empty (or null) or could not be read (its problems say why). */
  readonly value: JsonValue | undefined;
  /** Where the document's content starts. */
  readonly start: LineCol;
}

/**
 * Where a path is written in a document. With `part: 'key'` the position of
 * the mapping key (`replicas:`), otherwise of the value. When the path is not
 * written in full, the key of the deepest part that is, else the document start.
 */
export type Locate = (document: number, path: readonly PathSegment[], part?: 'key' | 'value') => LineCol;

/** A YAML file, read. */
export interface ParsedYaml {
  readonly documents: readonly YamlDocument[];
  readonly problems: readonly YamlProblem[];
  readonly locate: Locate;
}

/** The subset of {@link Limits} that applies to one YAML text. */
export type YamlLimits = Pick<Limits, 'maxDocumentsPerFile' | 'maxAliasNodes' | 'maxDepth'>;

const coreTags = new Set([
  'tag:yaml.org,2002:str',
  'tag:yaml.org,2002:int',
  'tag:yaml.org,2002:float',
  'tag:yaml.org,2002:bool',
  'tag:yaml.org,2002:null',
  'tag:yaml.org,2002:map',
  'tag:yaml.org,2002:seq',
]);

interface Composed {
  readonly docs: readonly Document.Parsed[];
  readonly lineCounter: LineCounter;
  readonly problems: YamlProblem[];
}

/**
 * The deepest nesting rollgate reads, whatever `Limits.maxDepth` asks for: the
 * `yaml` package's composer recurses once per level (several frames each) and
 * runs out of stack somewhere near a thousand levels.
 */
export const maxComposableDepth = 512;

/**
 * The offset of the first node (in document order) nested deeper than
 * `limit`, counting the document's root as level 1 like {@link convert};
 * undefined when there is none. Walks the parser's token tree with an
 * explicit stack, so depth costs no call stack. Scalar keys are not levels
 * of their own (convert checks their values); collections used as keys are.
 */
function firstTooDeep(document: CST.Document, limit: number): number | undefined {
  if (document.value === undefined) return undefined;
  const stack: { token: CST.Token; depth: number }[] = [{ token: document.value, depth: 1 }];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const { token, depth } = next;
    if (depth > limit) return token.offset;
    if (token.type !== 'block-map' && token.type !== 'block-seq' && token.type !== 'flow-collection') continue;
    // Pushed last to first, so that the first item is visited first.
    for (let i = token.items.length - 1; i >= 0; i--) {
      const item = token.items[i] as CST.CollectionItem;
      if (item.value !== undefined) stack.push({ token: item.value, depth: depth + 1 });
      const key = item.key;
      if (key !== undefined && key !== null && (key.type === 'block-map' || key.type === 'block-seq' || key.type === 'flow-collection')) stack.push({ token: key, depth: depth + 1 });
    }
  }
  return undefined;
}

/**
 * Splits `text` into YAML documents, stopping as soon as there are more than
 * the limit allows. A document nested deeper than `maxDepth` is reported and
 * handed to the composer empty, so the composer never recurses that deep.
 */
function compose(text: string, maxDocuments: number, maxDepth: number = maxComposableDepth): Composed {
  const lineCounter = new LineCounter();
  const parser = new Parser(lineCounter.addNewLine);
  const composer = new Composer({
    version: '1.2',
    schema: 'core',
    // Duplicates are found after keys become strings, where Kubernetes would see them (see convert).
    uniqueKeys: false,
    merge: false,
    strict: true,
    prettyErrors: false,
    intAsBigInt: false,
  });
  const docs: Document.Parsed[] = [];
  const problems: YamlProblem[] = [];
  const depthLimit = Math.min(maxDepth, maxComposableDepth);
  function* guarded(tokens: Iterable<CST.Token>): Generator<CST.Token> {
    for (const token of tokens) {
      const deep = token.type === 'document' ? firstTooDeep(token, depthLimit) : undefined;
      if (deep === undefined) {
        yield token;
        continue;
      }
      const at = lineCounter.linePos(deep);
      problems.push({ line: at.line, column: at.col, code: 'nesting-limit', message: `nesting deeper than ${depthLimit} levels` });
      const { value: _dropped, ...empty } = token as CST.Document;
      yield empty;
    }
  }
  // The parser is lazy: breaking out of this loop leaves the rest of the text unread,
  // so a file of a million `---` lines costs no more than maxDocuments + 1 documents.
  for (const doc of composer.compose(guarded(parser.parse(text)))) {
    if (docs.length === maxDocuments) {
      const at = lineCounter.linePos(doc.range[0]);
      problems.push({
        line: at.line,
        column: at.col,
        code: 'too-many-documents',
        message: `more than ${maxDocuments} YAML documents in one file; rollgate reads at most ${maxDocuments}`,
      });
      return { docs: [], lineCounter, problems };
    }
    docs.push(doc);
  }
  return { docs, lineCounter, problems };
}

/** Thrown inside a conversion to stop it; turned into a problem for the document. */
class Stop extends Error {
  override readonly name = 'Stop';
  readonly problem: YamlProblem;
  constructor(problem: YamlProblem) {
    super(problem.message);
    this.problem = problem;
  }
}

interface ConvertContext {
  readonly doc: Document.Parsed;
  readonly pos: (offset: number) => LineCol;
  readonly limits: YamlLimits;
  readonly problems: YamlProblem[];
  /** Anchors seen so far in document order (outside alias expansions): the last one with a name wins, as YAML says. */
  readonly anchors: Map<string, YamlNode>;
  /** Nodes being converted, to refuse an alias to its own ancestor. */
  readonly active: Set<YamlNode>;
  /** Nodes alias expansion may still add to this file. */
  aliasBudget: { remaining: number };
  /** The outermost alias being expanded, where an exceeded budget is reported. */
  expanding: YamlNode | undefined;
}

function offsetOf(node: YamlNode | null | undefined): number | undefined {
  return node?.range?.[0];
}

function problemAt(ctx: ConvertContext, node: YamlNode | null | undefined, code: ProblemCode, message: string): YamlProblem {
  const at = ctx.pos(offsetOf(node) ?? offsetOf(ctx.doc.contents) ?? 0);
  return { line: at.line, column: at.column, code, message };
}

function describeScalar(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

function convert(node: YamlNode | null, ctx: ConvertContext, depth: number): JsonValue {
  if (node === null) return null;
  if (depth > ctx.limits.maxDepth) {
    throw new Stop(problemAt(ctx, node, 'nesting-limit', `nesting deeper than ${ctx.limits.maxDepth} levels`));
  }
  if (ctx.expanding !== undefined && --ctx.aliasBudget.remaining < 0) {
    throw new Stop(
      problemAt(
        ctx,
        ctx.expanding,
        'alias-limit',
        `aliases expand to more than ${ctx.limits.maxAliasNodes} nodes; rollgate bounds alias expansion to stop "billion laughs" files`,
      ),
    );
  }
  if (isAlias(node)) {
    const target = ctx.anchors.get(node.source);
    if (target === undefined) throw new Stop(problemAt(ctx, node, 'yaml-syntax', `unknown alias *${node.source}: the anchor must be set before the alias`));
    if (ctx.active.has(target)) throw new Stop(problemAt(ctx, node, 'yaml-syntax', `alias *${node.source} refers to a node that contains it`));
    const outer = ctx.expanding;
    ctx.expanding ??= node;
    try {
      return convert(target, ctx, depth);
    } finally {
      ctx.expanding = outer;
    }
  }
  // Anchors inside an expansion are copies of ones already registered in document order; registering
  // them again would let `*x` after the expansion see an earlier `&x` than YAML says it should.
  if (ctx.expanding === undefined && 'anchor' in node && typeof node.anchor === 'string') ctx.anchors.set(node.anchor, node);
  const tag = (node as { tag?: string }).tag;
  if (tag !== undefined && !coreTags.has(tag)) {
    const shown = tag.startsWith('tag:yaml.org,2002:') ? `!!${tag.slice('tag:yaml.org,2002:'.length)}` : tag;
    throw new Stop(problemAt(ctx, node, 'yaml-tag', `unsupported tag ${shown}: manifests hold only strings, numbers, booleans, null, mappings and sequences`));
  }
  if (isScalar(node)) {
    const value = node.value;
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw new Stop(problemAt(ctx, node, 'not-json', `${describeScalar(node.source)} is not a finite number, so JSON cannot hold it`));
      return value;
    }
    if (typeof value === 'string' || typeof value === 'boolean' || value === null) return value;
    // The core schema yields nothing else; anything here is a tag we let through by mistake.
    throw new Stop(problemAt(ctx, node, 'yaml-tag', `unsupported scalar of type ${typeof value}`));
  }
  ctx.active.add(node);
  try {
    if (isMap(node)) {
      const out: Record<string, JsonValue> = {};
      for (const pair of node.items) {
        const key = pair.key as YamlNode | null;
        if (!isScalar(key)) {
          throw new Stop(problemAt(ctx, key ?? (pair.value as YamlNode | null), 'bad-key', 'mapping keys must be strings, not mappings or sequences'));
        }
        if (key.value === null || key.value === undefined) throw new Stop(problemAt(ctx, key, 'bad-key', 'mapping keys must not be empty or null'));
        const tagOfKey = key.tag;
        if (tagOfKey !== undefined && !coreTags.has(tagOfKey)) throw new Stop(problemAt(ctx, key, 'yaml-tag', `unsupported tag ${tagOfKey} on a key`));
        const raw: unknown = key.value;
        // Kubernetes' YAML-to-JSON turns scalar keys into strings (`1:` is "1"); anything else was refused above or by its tag.
        const name = typeof raw === 'string' ? raw : typeof raw === 'number' || typeof raw === 'boolean' ? String(raw) : undefined;
        if (name === undefined) throw new Stop(problemAt(ctx, key, 'bad-key', 'mapping keys must be strings'));
        if (name === '__proto__') throw new Stop(problemAt(ctx, key, 'bad-key', 'the key "__proto__" is not allowed'));
        if (name === '<<' && key.type === 'PLAIN') {
          throw new Stop(problemAt(ctx, key, 'bad-key', 'merge keys (<<) are not supported: kubectl would merge them and rollgate would not, so the file would mean two things; write the fields out, or quote the key if "<<" is meant literally'));
        }
        if (Object.hasOwn(out, name)) {
          // Report and keep going: every duplicate in a file is listed in one run.
          ctx.problems.push(problemAt(ctx, key, 'duplicate-key', `duplicate key ${JSON.stringify(name)}`));
          continue;
        }
        out[name] = convert(pair.value as YamlNode | null, ctx, depth + 1);
      }
      return out;
    }
    if (isSeq(node)) {
      const out: JsonValue[] = [];
      for (const item of node.items) out.push(convert(item as YamlNode | null, ctx, depth + 1));
      return out;
    }
    throw new Stop(problemAt(ctx, node, 'yaml-syntax', 'unsupported YAML node'));
  } finally {
    ctx.active.delete(node);
  }
}

function findDirective(text: string, before: number): number {
  const at = text.lastIndexOf('%YAML', before);
  return at < 0 ? 0 : at;
}

/** Lower-cases the first letter of the parser's messages, like every other message ("Tabs are…" → "tabs are…"), but not of an acronym ("YAML…"). */
function lowerFirst(message: string): string {
  return /^[A-Z][a-z]/.test(message) ? message[0]?.toLowerCase() + message.slice(1) : message;
}

/** Builds the {@link Locate} function for composed documents. */
function locator(docs: readonly Document.Parsed[], lineCounter: LineCounter): Locate {
  const pos = (offset: number): LineCol => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, column: p.col };
  };
  return (index, path, part = 'value') => {
    const doc = docs[index];
    if (doc === undefined) return { line: 1, column: 1 };
    const anchors = new Map<string, YamlNode>();
    let node: YamlNode | null = doc.contents;
    let best = offsetOf(node) ?? doc.range[0];
    let keyOffset: number | undefined;
    let found = true;
    for (const segment of path) {
      // Resolve an alias to its anchor (last definition in the document; exact enough for positions).
      if (isAlias(node)) {
        const source = node.source;
        const target = anchors.get(source) ?? findAnchor(doc, source);
        if (target === undefined) {
          found = false;
          break;
        }
        anchors.set(source, target);
        node = target;
      }
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
        if (pair === undefined) {
          found = false;
          break;
        }
        keyOffset = offsetOf(pair.key as YamlNode);
        node = pair.value as YamlNode | null;
        best = offsetOf(node) ?? keyOffset ?? best;
      } else if (isSeq(node) && typeof segment === 'number') {
        const item = node.items[segment] as YamlNode | null | undefined;
        if (item === undefined || item === null) {
          found = false;
          break;
        }
        keyOffset = undefined;
        node = item;
        best = offsetOf(item) ?? best;
      } else {
        found = false;
        break;
      }
    }
    if (!found || part === 'key') return pos(keyOffset ?? best);
    return pos(best);
  };
}

function findAnchor(doc: Document.Parsed, name: string): YamlNode | undefined {
  let found: YamlNode | undefined;
  const stack: unknown[] = [doc.contents];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isMap(node)) for (const pair of node.items) stack.push(pair.key, pair.value);
    else if (isSeq(node)) stack.push(...node.items);
    if (node !== null && typeof node === 'object' && 'anchor' in node && node.anchor === name) found = node as YamlNode;
  }
  return found;
}

/**
 * Reads YAML text (already decoded, without a byte-order mark) into JSON
 * documents. Never throws for any input: everything wrong with the text
 * becomes a problem with a position.
 */
export function parseYaml(text: string, limits: YamlLimits): ParsedYaml {
  const { docs, lineCounter, problems } = compose(text, limits.maxDocumentsPerFile, limits.maxDepth);
  const pos = (offset: number): LineCol => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, column: p.col };
  };
  const documents: YamlDocument[] = [];
  const aliasBudget = { remaining: limits.maxAliasNodes };
  docs.forEach((doc, index) => {
    const start = pos(offsetOf(doc.contents) ?? doc.range[0]);
    const version = doc.directives?.yaml;
    let broken = false;
    if (version?.explicit === true && version.version !== '1.2') {
      const at = pos(findDirective(text, doc.range[0]));
      problems.push({ ...at, code: 'yaml-version', message: `%YAML ${version.version} is not supported: rollgate reads YAML 1.2` });
      broken = true;
    }
    // Cascading errors from one mistake usually share a line; the first one on a line says it best.
    const seenLines = new Set<number>();
    for (const error of [...doc.errors, ...doc.warnings]) {
      // Unknown tags are reported by convert, with the tag's name.
      if (error.code === 'TAG_RESOLVE_FAILED') continue;
      const at = pos(error.pos[0]);
      if (seenLines.has(at.line)) continue;
      seenLines.add(at.line);
      problems.push({ ...at, code: 'yaml-syntax', message: lowerFirst(error.message.split('\n', 1)[0] ?? error.message) });
      broken = true;
    }
    if (broken || doc.contents === null) {
      documents.push({ index, value: undefined, start });
      return;
    }
    const ctx: ConvertContext = {
      doc,
      pos,
      limits: { ...limits, maxDepth: Math.min(limits.maxDepth, maxComposableDepth) },
      problems,
      anchors: new Map(),
      active: new Set(),
      aliasBudget,
      expanding: undefined,
    };
    try {
      const value = convert(doc.contents, ctx, 1);
      // `---` with nothing (or only `~`) after it is an empty document, which kubectl skips too.
      documents.push({ index, value: value === null ? undefined : value, start });
    } catch (err) {
      if (!(err instanceof Stop)) throw err;
      problems.push(err.problem);
      documents.push({ index, value: undefined, start });
    }
  });
  problems.sort((a, b) => a.line - b.line || a.column - b.column);
  return { documents, problems, locate: locator(docs, lineCounter) };
}

/**
 * A {@link Locate} for text read earlier, which parses it again on first use
 * only: loaders keep text, not syntax trees, for every file of a repository.
 */
export function lazyLocate(text: string, maxDocuments: number, maxDepth: number = maxComposableDepth): Locate {
  let locate: Locate | undefined;
  return (document, path, part) => {
    if (locate === undefined) {
      const { docs, lineCounter } = compose(text, maxDocuments, maxDepth);
      locate = locator(docs, lineCounter);
    }
    return locate(document, path, part);
  };
}

/** Parses a JSON pointer (`/spec/pd/replicas`, RFC 6901) into path segments; numeric segments become numbers. */
export function parsePointer(pointer: string): PathSegment[] {
  if (pointer === '' || pointer === '/') return [];
  return pointer
    .replace(/^\//, '')
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(0|[1-9]\d*)$/.test(s) ? Number(s) : s));
}

/** Formats path segments the way people write them in messages: `spec.pd.replicas`, `gates[1].soak`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** The type of a JSON value as messages name it. */
export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a sequence';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a number';
  if (typeof value === 'boolean') return 'a boolean';
  return typeof value;
}
