/**
 * JSON Schema validation of repository documents against `schemas/v1alpha1/`,
 * with ajv, and ajv's errors turned into messages people can act on, each
 * with the path it is about (the loader maps the path to a line and column).
 *
 * The schemas are the same files editors use (through the
 * `yaml-language-server: $schema=…` comment), so an editor and `rollgate
 * validate` agree. They use two keywords of VS Code's JSON language service,
 * `patternErrorMessage` and `errorMessage`, which ajv is taught to accept as
 * annotations and which this module uses for its own messages too.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Ajv, type AnySchemaObject, type ErrorObject, type ValidateFunction } from 'ajv';
import { didYouMean } from './suggest.ts';
import { parsePointer, typeName, type PathSegment } from './yaml.ts';

/** The schemas in `schemas/v1alpha1/`, by file name without `.schema.json`. */
export const schemaNames = ['agent', 'config', 'helmrelease', 'tidb-cluster-values', 'tidbcluster', 'redisenterprisecluster', 'statefulset', 'deployment'] as const;
/** One of {@link schemaNames}. */
export type SchemaName = (typeof schemaNames)[number];

/** One schema violation: the path it is about, whether the key or the value is wrong, and a message. */
export interface SchemaError {
  readonly path: readonly PathSegment[];
  readonly part: 'key' | 'value';
  readonly message: string;
}

/** Compiled schemas. */
export interface SchemaSet {
  /** Validates a JSON value; returns no errors when it is valid. */
  validate(name: SchemaName, value: unknown): SchemaError[];
}

/** The folder holding the versioned schema files. */
export function schemasDirectory(): string {
  return fileURLToPath(new URL('../../schemas/v1alpha1/', import.meta.url));
}

/**
 * Reads the schema files; each is compiled on first use (compiling costs tens
 * of milliseconds, and `rollgate validate` of a repository without Helm
 * releases never needs that schema).
 */
export async function loadSchemas(dir: string = schemasDirectory()): Promise<SchemaSet> {
  const sources = new Map<SchemaName, AnySchemaObject>();
  for (const name of schemaNames) {
    const text = await readFile(`${dir}/${name}.schema.json`, 'utf8');
    sources.set(name, JSON.parse(text) as AnySchemaObject);
  }
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, verbose: true });
  // VS Code's annotations: editors show them; ajv must know them to stay strict about typos in the schemas.
  ajv.addVocabulary(['patternErrorMessage', 'errorMessage', 'markdownDescription']);
  const compiled = new Map<SchemaName, ValidateFunction>();
  return {
    validate(name, value) {
      let check = compiled.get(name);
      if (check === undefined) {
        check = ajv.compile(sources.get(name) as AnySchemaObject);
        compiled.set(name, check);
      }
      if (check(value)) return [];
      return describeErrors(check.errors ?? []);
    },
  };
}

const typeWords: Record<string, string> = {
  integer: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a sequence',
  null: 'null',
};

function expected(types: unknown): string {
  const list = Array.isArray(types) ? types : [types];
  const words = list.map((t) => typeWords[String(t)] ?? String(t));
  return words.length > 1 ? `${words.slice(0, -1).join(', ')} or ${words[words.length - 1] as string}` : (words[0] ?? 'something else');
}

function shown(value: unknown): string {
  const json = JSON.stringify(value);
  return json.length > 60 ? `${json.slice(0, 57)}...` : json;
}

const gateKinds = ['podReady', 'rolloutStatus', 'soak', 'http', 'approval', 'maintenanceWindow'];

function isGate(path: readonly PathSegment[]): boolean {
  return path.length >= 2 && path[path.length - 2] === 'gates' && typeof path[path.length - 1] === 'number';
}

/** Turns one ajv error into a {@link SchemaError}, or undefined for umbrella errors that others explain. */
function describe(error: ErrorObject): SchemaError | undefined {
  const path = parsePointer(error.instancePath);
  const params = error.params as Record<string, unknown>;
  const schema = (error.parentSchema ?? {}) as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return { path, part: 'key', message: `missing required field ${JSON.stringify(params.missingProperty)}` };
    case 'additionalProperties': {
      const name = String(params.additionalProperty);
      const known = Object.keys((schema.properties as Record<string, unknown> | undefined) ?? {});
      if (isGate(path)) {
        return { path: [...path, name], part: 'key', message: `unknown gate ${JSON.stringify(name)}${didYouMean(name, known)}; gates are ${known.join(', ')}` };
      }
      return { path: [...path, name], part: 'key', message: `unknown field ${JSON.stringify(name)}${didYouMean(name, known)}` };
    }
    case 'type':
      if (typeof schema.errorMessage === 'string') return { path, part: 'value', message: schema.errorMessage };
      return { path, part: 'value', message: `must be ${expected(params.type)}, not ${typeName(error.data)}` };
    case 'enum':
      return { path, part: 'value', message: `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, not ${shown(error.data)}` };
    case 'const':
      return { path, part: 'value', message: `must be ${JSON.stringify(params.allowedValue)}, not ${shown(error.data)}` };
    case 'pattern': {
      const text = typeof schema.patternErrorMessage === 'string' ? schema.patternErrorMessage : `must match ${String(params.pattern)}`;
      return { path, part: 'value', message: `${text}, not ${shown(error.data)}` };
    }
    case 'minimum':
      return { path, part: 'value', message: `must be at least ${String(params.limit)}, not ${shown(error.data)}` };
    case 'maximum':
      return { path, part: 'value', message: `must be at most ${String(params.limit)}, not ${shown(error.data)}` };
    case 'minLength':
      return { path, part: 'value', message: params.limit === 1 ? 'must not be empty' : `must be at least ${String(params.limit)} characters long` };
    case 'maxLength':
      return { path, part: 'value', message: `must be at most ${String(params.limit)} characters long, not ${String((error.data as string).length)}` };
    case 'minItems':
      return { path, part: 'value', message: params.limit === 1 ? 'must not be empty' : `must have at least ${String(params.limit)} items` };
    case 'minProperties':
      if (isGate(path)) return { path, part: 'value', message: `a gate needs one key naming its kind: ${gateKinds.join(', ')}` };
      return { path, part: 'value', message: `must have at least ${String(params.limit)} fields` };
    case 'maxProperties':
      if (isGate(path)) {
        const keys = Object.keys(error.data as object);
        return { path, part: 'value', message: `a gate has exactly one key naming its kind, this one has ${keys.length}: ${keys.join(', ')}; write each as its own list item` };
      }
      return { path, part: 'value', message: `must have at most ${String(params.limit)} fields` };
    case 'uniqueItems': {
      const later = Math.max(Number(params.i), Number(params.j));
      const data = error.data as unknown[];
      return { path: [...path, later], part: 'value', message: `duplicate item ${shown(data[later])}` };
    }
    case 'allOf':
    case 'anyOf':
    case 'oneOf':
    case 'if':
      return undefined;
    default:
      return { path, part: 'value', message: error.message ?? `fails ${error.keyword}` };
  }
}

/** ajv errors, described, without duplicates, in document order of their paths as found. */
export function describeErrors(errors: readonly ErrorObject[]): SchemaError[] {
  const out: SchemaError[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    const described = describe(error);
    if (described === undefined) continue;
    const key = `${JSON.stringify(described.path)}\u0000${described.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(described);
  }
  return out;
}
