/**
 * What Linux says about another process: its resident memory from
 * `/proc/<pid>/status` and its CPU time from `/proc/<pid>/stat`, so a
 * benchmark measures a child (the agent) from outside, as `top` would.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Memory of a process, bytes. */
export interface ProcMemory {
  /** VmRSS: resident now. */
  readonly rss: number;
  /** VmHWM: the highest resident size so far. */
  readonly peak: number;
}

/** CPU time of a process so far, ms. */
export interface ProcCpu {
  /** utime + stime of the process itself (all its threads). */
  readonly selfMs: number;
  /** cutime + cstime: of its children that it has waited for (git, for the agent). */
  readonly childrenMs: number;
}

/** Clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`; 100 on Linux almost always). */
export function clockTicks(): number {
  const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const ticks = Number(out.stdout.trim());
  return out.status === 0 && Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
}

/** VmRSS and VmHWM of `pid`. Throws when the process is gone or the fields are missing. */
export function procMemory(pid: number): ProcMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
    if (match === null) throw new Error(`/proc/${pid}/status has no ${field} line`);
    return Number(match[1]) * 1024;
  };
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
}

/** utime+stime and cutime+cstime of `pid`, ms, given `ticks` per second. */
export function procCpu(pid: number, ticks: number): ProcCpu {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14-17 of proc(5) are at 11-14 here (field 3, the state, is at 0).
  const [utime, stime, cutime, cstime] = [11, 12, 13, 14].map((i) => Number(fields[i]));
  if ([utime, stime, cutime, cstime].some((v) => v === undefined || !Number.isFinite(v))) throw new Error(`/proc/${pid}/stat has no CPU times: ${stat.slice(0, 200)}`);
  const ms = (t: number | undefined): number => ((t ?? 0) * 1000) / ticks;
  return { selfMs: ms(utime) + ms(stime), childrenMs: ms(cutime) + ms(cstime) };
}
