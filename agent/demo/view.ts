/**
 * The demo's live view of a rollout: per stage a progress bar, the pods
 * restarting and becoming Ready, and the gate being waited on with its
 * timer. On a terminal it redraws one block in place; otherwise (a pipe, a
 * test) it prints one line per event, so the output reads as a log.
 */
import type { Gate } from '../manifests/index.ts';
import type { RolloutTransition, StageProgress } from '../rollout/reporter.ts';

/** A pod event worth showing. */
export interface PodEvent {
  readonly at: number;
  readonly pod: string;
  readonly what: 'Terminating' | 'Created' | 'Running' | 'Ready' | 'NotReady' | 'Waiting';
  readonly image?: string;
}

/** Options of {@link createRolloutView}. */
export interface RolloutViewOptions {
  readonly out: NodeJS.WritableStream;
  /** Redraw in place (a terminal); otherwise print lines. */
  readonly tty: boolean;
  /** Simulated now, for timers. */
  readonly now: () => number;
  /** The target to follow. */
  readonly target: string;
  /** The gates of a stage, to show soak timers. */
  readonly gatesOf: (component: string) => readonly Gate[];
  /** The simulation's speed, shown in the header. */
  readonly timeScale: number;
}

/** The view: feed it transitions and pod events; `close` prints the last frame. */
export interface RolloutView {
  transition(t: RolloutTransition): void;
  pod(event: PodEvent): void;
  close(): void;
}

const clockTime = (ms: number): string => new Date(ms).toISOString().slice(11, 19);

function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

function bar(done: number, total: number, width = 20): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
}

/** Creates a view; on a terminal it redraws every 200 ms until closed. */
export function createRolloutView(options: RolloutViewOptions): RolloutView {
  const { out } = options;
  let last: RolloutTransition | undefined;
  const pods = new Map<string, PodEvent>();
  const recent: PodEvent[] = [];
  let lastReadyAt: number | undefined;
  let drawn = 0;

  const stageLine = (s: StageProgress): string => {
    const label = s.component.padEnd(6);
    const versions = s.from !== undefined || s.to !== undefined ? `${s.from ?? '?'} → ${s.to ?? '?'}` : '';
    return `  ${label} ${bar(s.podsDone, s.podsTotal)} ${`${s.podsDone}/${s.podsTotal}`.padStart(5)}  ${s.state.padEnd(8)} ${versions}`;
  };

  const gateLine = (): string | undefined => {
    if (last === undefined) return undefined;
    if (last.phase === 'Waiting' && last.waitingFor !== undefined) {
      const until = last.waitingFor.until !== undefined ? `, opens in ${duration(Date.parse(last.waitingFor.until) - options.now())}` : '';
      return `  waiting for ${last.waitingFor.description}${until}`;
    }
    if (last.phase !== 'Progressing' || last.stage === undefined) return undefined;
    const soak = options.gatesOf(last.stage).find((g): g is Gate & { kind: 'soak' } => g.kind === 'soak');
    const stepPods = /restarting (.+)$/.exec(last.message)?.[1]?.split(', ') ?? [];
    const allReady = stepPods.length > 0 && stepPods.every((p) => pods.get(p)?.what === 'Ready');
    if (!allReady) return `  waiting for ${stepPods.join(', ') || 'the step'} to be Running and Ready`;
    if (soak !== undefined && lastReadyAt !== undefined) {
      const left = soak.duration - (options.now() - lastReadyAt);
      return left > 0 ? `  soaking ${duration(soak.duration)}: ${duration(left)} left` : '  gates passed; next step';
    }
    return '  gates passed; next step';
  };

  const frame = (): string[] => {
    const lines = [`${options.target}  ${last?.phase ?? 'Pending'}   sim time ${clockTime(options.now())} (×${options.timeScale})`];
    for (const s of last?.stages ?? []) lines.push(stageLine(s));
    const gate = gateLine();
    if (gate !== undefined) lines.push(gate);
    for (const e of recent.slice(-5)) lines.push(`    ${clockTime(e.at)} ${e.pod.padEnd(16)} ${e.what}${e.image !== undefined ? ` (${e.image})` : ''}`);
    return lines;
  };

  const redraw = (): void => {
    const lines = frame();
    // Up to the first line of the last frame, then clear to the end of the screen.
    out.write(`${drawn > 0 ? `\x1b[${drawn}F` : ''}\x1b[0J${lines.join('\n')}\n`);
    drawn = lines.length;
  };
  const timer = options.tty ? setInterval(redraw, 200) : undefined;

  return {
    transition(t) {
      if (t.target !== options.target) return;
      last = t;
      if (!options.tty) {
        const progress = t.stages.map((s) => `${s.component} ${s.podsDone}/${s.podsTotal}`).join(', ');
        const waiting = t.waitingFor !== undefined ? ` (waiting for ${t.waitingFor.description}${t.waitingFor.until !== undefined ? ` until ${clockTime(Date.parse(t.waitingFor.until))}` : ''})` : '';
        out.write(`${clockTime(options.now())} ${t.phase.padEnd(11)} ${t.message}${waiting}${progress !== '' ? ` [${progress}]` : ''}\n`);
      }
    },
    pod(event) {
      pods.set(event.pod, event);
      if (event.what === 'Ready') lastReadyAt = event.at;
      recent.push(event);
      if (recent.length > 50) recent.splice(0, recent.length - 50);
      if (!options.tty && (event.what === 'Terminating' || event.what === 'Ready')) {
        out.write(`${clockTime(event.at)}   pod ${event.pod} ${event.what}${event.image !== undefined ? ` (${event.image})` : ''}\n`);
      }
    },
    close() {
      if (timer !== undefined) {
        clearInterval(timer);
        redraw();
      }
    },
  };
}
