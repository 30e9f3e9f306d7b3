/**
 * Label and field selectors as the API server parses them
 * (apimachinery `pkg/labels/selector.go`, `pkg/fields/selector.go`).
 */
import { badRequest } from './errors.ts';

export type LabelRequirement =
  | { op: 'eq' | 'neq'; key: string; value: string }
  | { op: 'in' | 'notin'; key: string; values: readonly string[] }
  | { op: 'exists' | 'notexists'; key: string };

/** Matches every object when empty. */
export type LabelSelector = readonly LabelRequirement[];

const keyPattern = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const valuePattern = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/** Splits on commas that are not inside parentheses (`a in (x,y),b`). */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

function checkKey(key: string, raw: string): string {
  if (!keyPattern.test(key) || key.length > 316) throw badRequest(`unable to parse requirement: invalid label key "${key}": in selector "${raw}"`);
  return key;
}

function checkValue(value: string, raw: string): string {
  if (!valuePattern.test(value) || value.length > 63) throw badRequest(`unable to parse requirement: invalid label value: "${value}": in selector "${raw}"`);
  return value;
}

/** Parses a `labelSelector` query parameter; throws a 400 ApiError when malformed. */
export function parseLabelSelector(raw: string | null | undefined): LabelSelector {
  if (!raw) return [];
  const requirements: LabelRequirement[] = [];
  for (const term of splitTopLevel(raw)) {
    const setMatch = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(term);
    if (setMatch) {
      const [, key = '', op, list = ''] = setMatch;
      if (list.trim() === '') throw badRequest(`unable to parse requirement: for 'in', 'notin' operators, values set can't be empty: in selector "${raw}"`);
      const values = list.split(',').map((v) => checkValue(v.trim(), raw));
      requirements.push({ op: op === 'in' ? 'in' : 'notin', key: checkKey(key, raw), values });
      continue;
    }
    const cmp = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (cmp) {
      const [, key = '', op, value = ''] = cmp;
      requirements.push({ op: op === '!=' ? 'neq' : 'eq', key: checkKey(key, raw), value: checkValue(value.trim(), raw) });
      continue;
    }
    if (term.startsWith('!')) {
      requirements.push({ op: 'notexists', key: checkKey(term.slice(1).trim(), raw) });
      continue;
    }
    if (/^\S+$/.test(term)) {
      requirements.push({ op: 'exists', key: checkKey(term, raw) });
      continue;
    }
    throw badRequest(`unable to parse requirement: found '${term}', expected: ',', '!=', '=', '==', 'in', 'notin' in selector "${raw}"`);
  }
  return requirements;
}

/** Converts a `metav1.LabelSelector` (matchLabels/matchExpressions) to requirements. */
export function fromLabelSelectorObject(selector: unknown): LabelSelector | undefined {
  if (typeof selector !== 'object' || selector === null) return undefined;
  const { matchLabels, matchExpressions } = selector as { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] };
  const requirements: LabelRequirement[] = [];
  for (const [key, value] of Object.entries(matchLabels ?? {})) requirements.push({ op: 'eq', key, value });
  for (const expr of matchExpressions ?? []) {
    switch (expr.operator) {
      case 'In':
        requirements.push({ op: 'in', key: expr.key, values: expr.values ?? [] });
        break;
      case 'NotIn':
        requirements.push({ op: 'notin', key: expr.key, values: expr.values ?? [] });
        break;
      case 'Exists':
        requirements.push({ op: 'exists', key: expr.key });
        break;
      case 'DoesNotExist':
        requirements.push({ op: 'notexists', key: expr.key });
        break;
      default:
        return undefined;
    }
  }
  return requirements;
}

export function matchesLabels(selector: LabelSelector, labels: Readonly<Record<string, string>> | undefined): boolean {
  const l = labels ?? {};
  return selector.every((req) => {
    const has = Object.hasOwn(l, req.key);
    const value = l[req.key];
    switch (req.op) {
      case 'eq':
        return has && value === req.value;
      case 'neq':
        return !has || value !== req.value;
      case 'in':
        return has && value !== undefined && req.values.includes(value);
      case 'notin':
        return !has || value === undefined || !req.values.includes(value);
      case 'exists':
        return has;
      case 'notexists':
        return !has;
    }
  });
}

export interface FieldRequirement {
  field: string;
  op: 'eq' | 'neq';
  value: string;
}

export type FieldSelector = readonly FieldRequirement[];

/**
 * Parses a `fieldSelector` and checks every field is one the resource
 * supports; others get the real 400 `field label not supported: …`.
 */
export function parseFieldSelector(raw: string | null | undefined, supported: ReadonlySet<string>): FieldSelector {
  if (!raw) return [];
  const requirements: FieldRequirement[] = [];
  for (const term of splitTopLevel(raw)) {
    const m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) throw badRequest(`invalid selector: '${raw}'; can't understand '${term}'`);
    const [, field = '', op, value = ''] = m;
    if (!supported.has(field)) throw badRequest(`field label not supported: ${field}`);
    requirements.push({ field, op: op === '!=' ? 'neq' : 'eq', value: value.trim() });
  }
  return requirements;
}

export function matchesFields(selector: FieldSelector, fieldValue: (field: string) => string): boolean {
  return selector.every((req) => (fieldValue(req.field) === req.value) === (req.op === 'eq'));
}
