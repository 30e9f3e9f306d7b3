/**
 * The subset of kubectl's JSONPath that printer columns use: `.a.b`, `[n]`,
 * `[*]` and `[?(@.key=="value")]` filters. A path that finds nothing gives
 * undefined, which a Table shows as `<none>`.
 */
import { isPlainObject } from './object.ts';

type Step = { kind: 'field'; name: string } | { kind: 'index'; index: number } | { kind: 'all' } | { kind: 'filter'; key: string[]; value: string };

function parse(path: string): Step[] {
  const steps: Step[] = [];
  let i = 0;
  const text = path.replace(/^\{|\}$/g, '');
  while (i < text.length) {
    const c = text[i];
    if (c === '.') {
      i++;
      const m = /^[^.[]+/.exec(text.slice(i));
      if (m) {
        steps.push({ kind: 'field', name: m[0] });
        i += m[0].length;
      }
    } else if (c === '[') {
      const close = text.indexOf(']', i);
      if (close < 0) throw new Error(`unterminated [ in ${path}`);
      const inner = text.slice(i + 1, close);
      i = close + 1;
      if (inner === '*') steps.push({ kind: 'all' });
      else if (/^\d+$/.test(inner)) steps.push({ kind: 'index', index: Number(inner) });
      else {
        const f = /^\?\(@\.([\w.-]+)\s*==\s*["']([^"']*)["']\)$/.exec(inner);
        if (!f) throw new Error(`unsupported JSONPath filter ${inner}`);
        steps.push({ kind: 'filter', key: (f[1] ?? '').split('.'), value: f[2] ?? '' });
      }
    } else {
      const m = /^[^.[]+/.exec(text.slice(i));
      if (!m) break;
      steps.push({ kind: 'field', name: m[0] });
      i += m[0].length;
    }
  }
  return steps;
}

/** Every value the path selects, in document order. */
export function evaluateJsonPath(root: unknown, path: string): unknown[] {
  let current: unknown[] = [root];
  for (const step of parse(path)) {
    const next: unknown[] = [];
    for (const value of current) {
      if (step.kind === 'field') {
        if (isPlainObject(value) && value[step.name] !== undefined) next.push(value[step.name]);
      } else if (step.kind === 'index') {
        if (Array.isArray(value) && step.index < value.length) next.push(value[step.index]);
      } else if (step.kind === 'all') {
        if (Array.isArray(value)) next.push(...(value as unknown[]));
        else if (isPlainObject(value)) next.push(...Object.values(value));
      } else if (Array.isArray(value)) {
        for (const item of value as unknown[]) {
          let v: unknown = item;
          for (const k of step.key) v = isPlainObject(v) ? v[k] : undefined;
          if ((typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') && String(v) === step.value) next.push(item);
        }
      }
    }
    current = next;
  }
  return current;
}
