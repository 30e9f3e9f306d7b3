/**
 * The simulation's own record of what happened, for tests and benchmarks:
 * which pod was created, became Ready, started terminating or disappeared,
 * when (simulated time), at which controller-revision-hash or
 * pod-template-hash and image, and which component did it. Writes by
 * clients that are not simulated components (kubectl, the agent) are
 * recorded too, one entry per stored change.
 *
 * It is derived from the store's change stream, so it records what a watch
 * would show, never what a component merely intended.
 */
import type { KubeObject } from '../api/object.ts';
import type { StoreEvent } from '../api/store.ts';
import type { SimClock } from '../clock.ts';
import { arr, containerImages, isPodReady, podPhase, rec, str } from './objects.ts';

/** What happened. Pod lifecycle entries are derived for every pod, whoever caused them. */
export type SimEventType =
  /** A pod object was created. */
  | 'PodCreated'
  /** The scheduler bound the pod to a node. */
  | 'PodScheduled'
  /** The pod's phase became Running. */
  | 'PodRunning'
  /** The pod's Ready condition became True. */
  | 'PodReady'
  /** The pod's Ready condition went from True to False. */
  | 'PodNotReady'
  /** A container is waiting for a reason other than ContainerCreating (ErrImagePull, ImagePullBackOff, CrashLoopBackOff). */
  | 'ContainerWaiting'
  /** A container's restartCount went up. */
  | 'ContainerRestarted'
  /** The pod's phase became Failed or Succeeded. */
  | 'PodFinished'
  /** The pod got a deletionTimestamp (graceful deletion started). */
  | 'PodTerminating'
  /** The pod object is gone. */
  | 'PodDeleted'
  /** A ControllerRevision was created. */
  | 'RevisionCreated'
  /** Any stored change made by a client that is not a simulated component. */
  | 'ClientWrite';

/** One entry of the record. */
export interface SimEvent {
  /** Position in the record, from 1; use it as `since` to read what follows. */
  seq: number;
  /** Simulated time, ms since the epoch. */
  simTimeMs: number;
  /** Simulated time, RFC 3339 with milliseconds. */
  time: string;
  type: SimEventType;
  /** The component that made the change (`statefulset-controller`, `kubelet`, …) or `client`. */
  actor: string;
  /** Kind of the object changed. */
  kind: string;
  namespace?: string;
  name: string;
  uid?: string;
  /** resourceVersion of the stored change. */
  resourceVersion: number;
  /** Pods: `controller-revision-hash`, else `pod-template-hash`. */
  revision?: string;
  /** Pods: the first container's image. */
  image?: string;
  /** Pods: the node. */
  node?: string;
  /** ContainerWaiting: the reason; PodFinished: the phase. */
  reason?: string;
  /** ContainerRestarted: the new total restart count. */
  restartCount?: number;
  /** ClientWrite: `create`, `update` or `delete` (a graceful delete shows as `delete` when it starts). */
  verb?: 'create' | 'update' | 'delete';
}

/** Which entries to read. */
export interface SimEventFilter {
  /** Only entries with `seq` greater than this. */
  since?: number;
  namespace?: string;
  /** Exact object name, or a prefix when it ends with `*`. */
  name?: string;
  kind?: string;
  types?: readonly SimEventType[];
  actor?: string;
}

/** The record of one cluster, bounded to `capacity` entries (oldest dropped). */
export class EventRecord {
  private readonly entries: SimEvent[] = [];
  private seq = 0;
  private readonly listeners = new Set<(e: SimEvent) => void>();
  private readonly capacity: number;
  private readonly clock: SimClock;

  constructor(clock: SimClock, capacity = 200_000) {
    this.clock = clock;
    this.capacity = capacity;
  }

  /** The `seq` of the newest entry (0 when empty). */
  get lastSeq(): number {
    return this.seq;
  }

  /** Entries matching `filter`, oldest first. */
  list(filter: SimEventFilter = {}): SimEvent[] {
    const since = filter.since ?? 0;
    const prefix = filter.name?.endsWith('*') ? filter.name.slice(0, -1) : undefined;
    return this.entries.filter(
      (e) =>
        e.seq > since &&
        (filter.namespace === undefined || e.namespace === filter.namespace) &&
        (filter.name === undefined || (prefix !== undefined ? e.name.startsWith(prefix) : e.name === filter.name)) &&
        (filter.kind === undefined || e.kind === filter.kind) &&
        (filter.actor === undefined || e.actor === filter.actor) &&
        (filter.types === undefined || filter.types.includes(e.type)),
    );
  }

  /** Calls `listener` for every new entry; returns the unsubscribe function. */
  subscribe(listener: (e: SimEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private push(partial: Omit<SimEvent, 'seq' | 'simTimeMs' | 'time'>): void {
    const now = this.clock.now();
    const entry: SimEvent = { seq: ++this.seq, simTimeMs: now, time: new Date(now).toISOString(), ...partial };
    this.entries.push(entry);
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
    for (const l of [...this.listeners]) l(entry);
  }

  /** Derives entries from one stored change made by `actor` (`client` when no simulated component was running). */
  observe(event: StoreEvent, actor: string): void {
    const { object, previous } = event;
    const t = event.resource;
    const base = { actor, kind: t.kind, name: object.metadata.name ?? '', resourceVersion: event.resourceVersion, ...(object.metadata.namespace ? { namespace: object.metadata.namespace } : {}), ...(object.metadata.uid ? { uid: object.metadata.uid } : {}) };
    if (actor === 'client') {
      const verb = event.type === 'ADDED' ? 'create' : event.type === 'DELETED' || (object.metadata.deletionTimestamp && !previous?.metadata.deletionTimestamp) ? 'delete' : 'update';
      this.push({ ...base, type: 'ClientWrite', verb });
    }
    if (t.group === 'apps' && t.kind === 'ControllerRevision' && event.type === 'ADDED') {
      this.push({ ...base, type: 'RevisionCreated', revision: object.metadata.name ?? '' });
      return;
    }
    if (!(t.group === '' && t.kind === 'Pod')) return;
    const pod = { ...base, ...podFacts(object) };
    if (event.type === 'ADDED') {
      this.push({ ...pod, type: 'PodCreated' });
      if (str(rec(object.spec)['nodeName']) !== '') this.push({ ...pod, type: 'PodScheduled' });
      return;
    }
    if (event.type === 'DELETED') {
      this.push({ ...pod, type: 'PodDeleted' });
      return;
    }
    const before = previous;
    if (!before) return;
    if (str(rec(before.spec)['nodeName']) === '' && str(rec(object.spec)['nodeName']) !== '') this.push({ ...pod, type: 'PodScheduled' });
    const phase = podPhase(object);
    const oldPhase = podPhase(before);
    if (phase !== oldPhase && phase === 'Running') this.push({ ...pod, type: 'PodRunning' });
    const ready = isPodReady(object);
    const wasReady = isPodReady(before);
    if (ready && !wasReady) this.push({ ...pod, type: 'PodReady' });
    if (!ready && wasReady) this.push({ ...pod, type: 'PodNotReady' });
    const waitingNow = waitingReasons(object);
    const waitingBefore = waitingReasons(before);
    for (const [name, reason] of waitingNow) {
      if (reason !== 'ContainerCreating' && waitingBefore.get(name) !== reason) this.push({ ...pod, type: 'ContainerWaiting', reason });
    }
    const restarts = restartCount(object);
    if (restarts > restartCount(before)) this.push({ ...pod, type: 'ContainerRestarted', restartCount: restarts });
    if (phase !== oldPhase && (phase === 'Failed' || phase === 'Succeeded')) this.push({ ...pod, type: 'PodFinished', reason: phase });
    if (object.metadata.deletionTimestamp && !before.metadata.deletionTimestamp) this.push({ ...pod, type: 'PodTerminating' });
  }
}

function podFacts(pod: KubeObject): Pick<SimEvent, 'revision' | 'image' | 'node'> {
  const labels = pod.metadata.labels ?? {};
  const revision = labels['controller-revision-hash'] ?? labels['pod-template-hash'];
  const image = containerImages(pod.spec)[0];
  const node = str(rec(pod.spec)['nodeName']);
  return { ...(revision !== undefined ? { revision } : {}), ...(image ? { image } : {}), ...(node ? { node } : {}) };
}

function waitingReasons(pod: KubeObject): Map<string, string> {
  const out = new Map<string, string>();
  for (const cs of arr(rec(pod.status)['containerStatuses']).map(rec)) {
    const reason = str(rec(rec(cs['state'])['waiting'])['reason']);
    if (reason) out.set(str(cs['name']), reason);
  }
  return out;
}

function restartCount(pod: KubeObject): number {
  return arr(rec(pod.status)['containerStatuses']).reduce<number>((n, cs) => n + (typeof rec(cs)['restartCount'] === 'number' ? (rec(cs)['restartCount'] as number) : 0), 0);
}
