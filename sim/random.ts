/**
 * Seedable randomness for the simulation (fault injection, generated pod
 * names, scheduling ties), so a test that fixes the seed sees the same run
 * every time. Never used for anything secret.
 */

/** A source of pseudo-random numbers. */
export interface Random {
  /** The seed this source started from (log it to reproduce a run). */
  readonly seed: number;
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** `length` characters drawn from `alphabet`. */
  string(length: number, alphabet: string): string;
}

/**
 * mulberry32: a tiny 32-bit generator with good enough statistics for
 * simulated failure rates.
 * @param seed any integer; the same seed gives the same sequence.
 */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    seed: seed >>> 0,
    next,
    int: (n) => Math.floor(next() * n),
    string(length, alphabet) {
      let out = '';
      for (let i = 0; i < length; i++) out += alphabet[Math.floor(next() * alphabet.length)] ?? '';
      return out;
    },
  };
}
