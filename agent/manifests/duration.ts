/**
 * Durations as people write them in `rollgate.yaml`: `30s`, `10m`, `2h`,
 * `1h30m`, `500ms`. The same units and order as Go's `time.ParseDuration`
 * (which Kubernetes and Flux users already know), restricted to whole numbers
 * so that a value always round-trips through {@link formatDuration}.
 */

const unitMs = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;
type Unit = keyof typeof unitMs;
const unitOrder: readonly Unit[] = ['h', 'm', 's', 'ms'];

/**
 * Parses a duration into milliseconds, or returns undefined when `text` is not
 * one: empty, a bare number, a unit repeated or out of order (`10s5m`), a
 * fraction, or a value beyond `Number.MAX_SAFE_INTEGER` ms.
 *
 * `0s` is a valid duration; callers that need a positive one check for 0.
 */
export function parseDuration(text: string): number | undefined {
  if (text.length === 0 || text.length > 64) return undefined;
  let total = 0;
  let lastUnit = -1;
  // One or more `<digits><unit>` parts; `ms` is tried before `m` so `500ms` is not read as `500m` + `s`.
  // Sticky, so the parts must be contiguous; a fresh regex per call keeps no state between calls.
  const partPattern = /(\d+)(ms|h|m|s)/y;
  while (partPattern.lastIndex < text.length) {
    const match = partPattern.exec(text);
    if (match === null) return undefined;
    const unit = match[2] as Unit;
    const order = unitOrder.indexOf(unit);
    // Each unit at most once and largest first: `1h30m`, never `30m1h`.
    if (order <= lastUnit) return undefined;
    lastUnit = order;
    total += Number(match[1]) * unitMs[unit];
    if (!Number.isSafeInteger(total)) return undefined;
  }
  return total;
}

/** Formats milliseconds the way {@link parseDuration} reads them, largest units first: 5_400_000 → `1h30m`, 0 → `0s`. */
export function formatDuration(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new RangeError(`not a duration in ms: ${ms}`);
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const unit of unitOrder) {
    const n = Math.floor(rest / unitMs[unit]);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * unitMs[unit];
    }
  }
  return out;
}
