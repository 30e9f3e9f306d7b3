/**
 * Shared output of the benchmarks: the machine they ran on, medians, and
 * one table of figures each beside its aim.
 */
import { appendFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

export interface Figure {
  name: string;
  value: number;
  unit: string;
  /** The aim, in the same unit; `lower` means the value should be below it, `atMost` at or below it (for counts: "one git process", "0 bytes"). */
  aim?: { value: number; better: 'lower' | 'higher' | 'atMost' };
}

/** Whether `value` meets `aim`. */
export function meets(value: number, aim: NonNullable<Figure['aim']>): boolean {
  if (aim.better === 'lower') return value < aim.value;
  if (aim.better === 'atMost') return value <= aim.value;
  return value > aim.value;
}

export function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

/**
 * The environment variable naming a file that `printFigures` also appends
 * its table to, one JSON line per table, so `bench/run.ts` can collect the
 * figures of benchmarks it runs as child processes.
 */
export const figuresFileVariable = 'ROLLGATE_BENCH_FIGURES';

/** Prints a titled table of figures with their aims, and returns whether every aim was met. */
export function printFigures(title: string, figures: readonly Figure[]): boolean {
  const figuresFile = process.env[figuresFileVariable];
  if (figuresFile !== undefined && figuresFile !== '') appendFileSync(figuresFile, `${JSON.stringify({ title, machine: machine(), figures })}\n`);
  let allMet = true;
  process.stdout.write(`\n${title}\nmachine: ${machine()}\n`);
  for (const f of figures) {
    const value = f.value >= 100 ? f.value.toFixed(0) : f.value.toPrecision(3);
    let verdict = '';
    if (f.aim) {
      const met = meets(f.value, f.aim);
      allMet &&= met;
      verdict = `aim ${f.aim.better === 'lower' ? '<' : f.aim.better === 'atMost' ? '≤' : '>'} ${f.aim.value} ${f.unit}  ${met ? 'met' : 'MISSED'}`;
    }
    process.stdout.write(`  ${f.name.padEnd(46)} ${`${value} ${f.unit}`.padStart(16)}   ${verdict}\n`);
  }
  return allMet;
}
