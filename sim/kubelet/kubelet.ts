/**
 * The kubelets of the simulated nodes, as one model: pods bound to a
 * simulated node go Pending (ContainerCreating) → Running after the image's
 * start delay → Ready (at once without a readinessProbe, after its
 * initialDelaySeconds plus the image's ready delay with one). The image
 * catalogue makes containers fail to pull (ErrImagePull/ImagePullBackOff),
 * crash (CrashLoopBackOff, growing restartCount), never become Ready, start
 * slowly, or stop being Ready after a while.
 *
 * Deletion is graceful: the store hands terminating pods to the kubelet
 * (`onGracefulDelete`), which stops the containers after the image's stop
 * delay (capped by the grace period; the whole period for images that ignore
 * SIGTERM), posts the terminal status (Succeeded, as kubelets since 1.27 do
 * for pods that will not restart) and then removes the pod.
 *
 * All timing goes through the simulation clock; nothing runs for a pod
 * between its transitions.
 */
import { randomBytes } from 'node:crypto';
import type { KubeObject } from '../api/object.ts';
import { typeKey } from '../api/resources.ts';
import type { StoreEvent } from '../api/store.ts';
import type { Controller, ControllerManager, ReconcileResult } from '../controllers/manager.ts';
import type { CoreTypes, Obj, PodCondition } from '../controllers/objects.ts';
import { arr, isTerminating, num, objectKey, podConditions, podPhase, rec, splitKey, str } from '../controllers/objects.ts';
import type { ImageBehaviour, ImageResolver } from '../images.ts';
import { imageIdOf, normalizeImage } from '../images.ts';
import type { NodeAddressing } from './nodes.ts';

/**
 * The kubelet's back-off before retry `attempt` (1-based) of an image pull or
 * a container restart: 10 s doubling to a 300 s cap (kubelet
 * `backOffPeriod`/`MaxContainerBackOff`).
 */
export function kubeletBackoffSeconds(attempt: number): number {
  return Math.min(300, 10 * 2 ** Math.max(0, attempt - 1));
}

type ContainerPhase = 'creating' | 'pullError' | 'pullBackOff' | 'running' | 'crashBackOff' | 'terminated';

interface ContainerRun {
  name: string;
  image: string;
  behaviour: ImageBehaviour;
  phase: ContainerPhase;
  ready: boolean;
  everStarted: boolean;
  restartCount: number;
  pullAttempts: number;
  containerId: string;
  startedAt: string;
  probeDelaySeconds: number | undefined;
  waitingMessage: string;
  lastTerminated: Obj | undefined;
  terminated: Obj | undefined;
  timers: Set<() => void>;
}

interface PodRun {
  key: string;
  uid: string;
  namespace: string;
  name: string;
  node: NodeAddressing;
  podIP: string;
  startTime: string;
  restartPolicy: string;
  containers: ContainerRun[];
  initContainers: { name: string; image: string }[];
  terminating: boolean;
  cancelStop: (() => void) | undefined;
}

function newContainerId(): string {
  return `containerd://${randomBytes(32).toString('hex')}`;
}

/** The QoS class the API server derives from requests and limits (`qos.GetPodQOS`). */
export function qosClass(podSpec: unknown): 'Guaranteed' | 'Burstable' | 'BestEffort' {
  const containers = [...arr(rec(podSpec)['containers']), ...arr(rec(podSpec)['initContainers'])].map(rec);
  let any = false;
  let guaranteed = containers.length > 0;
  for (const c of containers) {
    const res = rec(c['resources']);
    const requests = rec(res['requests']);
    const limits = rec(res['limits']);
    if (Object.keys(requests).length > 0 || Object.keys(limits).length > 0) any = true;
    for (const r of ['cpu', 'memory']) {
      const limit = limits[r];
      const request = requests[r] ?? limit;
      if (limit === undefined || request !== limit) guaranteed = false;
    }
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

/** The kubelet model of all simulated nodes of one cluster. */
export class Kubelet implements Controller {
  readonly name = 'kubelet';
  private readonly manager: ControllerManager;
  private readonly types: CoreTypes;
  private readonly images: ImageResolver;
  private readonly nodes: ReadonlyMap<string, NodeAddressing>;
  private readonly runs = new Map<string, PodRun>();
  private readinessHolds: ((namespace: string, pod: string) => boolean)[] = [];
  /** Terminating pods on nodes we do not simulate: removed when their grace period ends. */
  private readonly foreign = new Map<string, () => void>();
  private readonly ipCounters = new Map<string, number>();

  constructor(manager: ControllerManager, types: CoreTypes, images: ImageResolver, nodes: ReadonlyMap<string, NodeAddressing>) {
    this.manager = manager;
    this.types = types;
    this.images = images;
    this.nodes = nodes;
    // The kubelet stops containers itself; without this the store would wait out the whole grace period.
    manager.store.onGracefulDelete((pod) => manager.enqueue(this.name, objectKey(pod.metadata.namespace, pod.metadata.name ?? '')));
  }

  /**
   * Adds a check that keeps running pods out of Ready, as a failing
   * readiness probe would: a Redis Enterprise node that will not rejoin its
   * cluster, say. Call `refresh` when its answer for a pod changes.
   */
  holdReadiness(check: (namespace: string, pod: string) => boolean): void {
    this.readinessHolds.push(check);
  }

  /** Writes a pod's status again, after a readiness hold changed. */
  refresh(namespace: string, name: string): void {
    const run = this.runs.get(objectKey(namespace, name));
    if (run) this.write(run);
  }

  private get store() {
    return this.manager.store;
  }

  private now(): string {
    return this.manager.clock.rfc3339();
  }

  keysFor(event: StoreEvent): readonly string[] {
    if (typeKey(event.resource) !== typeKey(this.types.pod)) return [];
    const pod = event.object;
    const key = objectKey(pod.metadata.namespace, pod.metadata.name ?? '');
    if (event.type === 'DELETED') return this.runs.has(key) || this.foreign.has(key) ? [key] : [];
    return str(rec(pod.spec)['nodeName']) !== '' ? [key] : [];
  }

  initialKeys(): readonly string[] {
    return this.store
      .list(this.types.pod, {})
      .items.filter((p) => str(rec(p.spec)['nodeName']) !== '')
      .map((p) => objectKey(p.metadata.namespace, p.metadata.name ?? ''));
  }

  /** Stops every timer (the simulation is shutting down). */
  stop(): void {
    for (const run of this.runs.values()) this.dispose(run);
    for (const cancel of this.foreign.values()) cancel();
    this.foreign.clear();
    this.store.onGracefulDelete(undefined);
  }

  reconcile(key: string): ReconcileResult {
    const { namespace, name } = splitKey(key);
    const pod = this.store.find(this.types.pod, namespace, name);
    let run = this.runs.get(key);
    if (run && (!pod || pod.metadata.uid !== run.uid)) {
      this.dispose(run);
      run = undefined;
    }
    if (!pod) {
      this.foreign.get(key)?.();
      this.foreign.delete(key);
      return;
    }
    const nodeName = str(rec(pod.spec)['nodeName']);
    const node = this.nodes.get(nodeName);
    if (!node) {
      this.handleForeign(key, pod);
      return;
    }
    const phase = podPhase(pod);
    if (!run) {
      if (phase === 'Failed' || phase === 'Succeeded') return;
      if (isTerminating(pod)) {
        // Deleted before the kubelet started it: nothing to stop.
        this.store.finishPodDeletion(this.types.pod, namespace, name, pod.metadata.uid);
        return;
      }
      run = this.start(key, pod, node);
    }
    if (isTerminating(pod)) {
      if (!run.terminating) this.terminate(run, pod);
      return;
    }
    this.syncImages(run, pod);
  }

  // --- lifecycle -------------------------------------------------------------

  private act(fn: () => void): void {
    this.manager.withActor(this.name, fn);
  }

  private after(c: ContainerRun, seconds: number, fn: () => void): void {
    const cancel = this.manager.clock.after(seconds * 1000, () => {
      c.timers.delete(cancel);
      this.act(fn);
    });
    c.timers.add(cancel);
  }

  private clearTimers(c: ContainerRun): void {
    for (const cancel of c.timers) cancel();
    c.timers.clear();
  }

  private dispose(run: PodRun): void {
    for (const c of run.containers) this.clearTimers(c);
    run.cancelStop?.();
    this.runs.delete(run.key);
  }

  private nextIp(node: NodeAddressing): string {
    const n = this.ipCounters.get(node.name) ?? 0;
    this.ipCounters.set(node.name, n + 1);
    return `${node.podCidrPrefix}.${(n % 250) + 2}`;
  }

  private start(key: string, pod: KubeObject, node: NodeAddressing): PodRun {
    const spec = rec(pod.spec);
    const run: PodRun = {
      key,
      uid: pod.metadata.uid ?? '',
      namespace: pod.metadata.namespace ?? '',
      name: pod.metadata.name ?? '',
      node,
      podIP: this.nextIp(node),
      startTime: this.now(),
      restartPolicy: str(spec['restartPolicy'], 'Always'),
      containers: arr(spec['containers']).map(rec).map((c) => this.newContainer(c)),
      initContainers: arr(spec['initContainers']).map(rec).map((c) => ({ name: str(c['name']), image: str(c['image']) })),
      terminating: false,
      cancelStop: undefined,
    };
    this.runs.set(key, run);
    this.write(run);
    for (const c of run.containers) this.create(run, c);
    return run;
  }

  private newContainer(spec: Obj): ContainerRun {
    const image = str(spec['image']);
    const probe = spec['readinessProbe'];
    return {
      name: str(spec['name']),
      image,
      behaviour: this.images.behaviourOf(image),
      phase: 'creating',
      ready: false,
      everStarted: false,
      restartCount: 0,
      pullAttempts: 0,
      containerId: '',
      startedAt: '',
      probeDelaySeconds: probe === undefined || probe === null ? undefined : num(rec(probe)['initialDelaySeconds']),
      waitingMessage: '',
      lastTerminated: undefined,
      terminated: undefined,
      timers: new Set(),
    };
  }

  /** Pull and create: running after startSeconds, or a failed pull. */
  private create(run: PodRun, c: ContainerRun): void {
    c.phase = 'creating';
    c.behaviour = this.images.behaviourOf(c.image);
    if (c.behaviour.missing) this.after(c, Math.min(1, c.behaviour.startSeconds), () => this.pullFailed(run, c));
    else this.after(c, c.behaviour.startSeconds, () => this.running(run, c));
  }

  private pullFailed(run: PodRun, c: ContainerRun): void {
    c.pullAttempts++;
    c.phase = 'pullError';
    const ref = normalizeImage(c.image);
    c.waitingMessage = `failed to pull and unpack image "${ref}": failed to resolve reference "${ref}": ${ref}: not found`;
    this.write(run);
    this.after(c, 1, () => {
      c.phase = 'pullBackOff';
      c.waitingMessage = `Back-off pulling image "${c.image}"`;
      this.write(run);
      this.after(c, kubeletBackoffSeconds(c.pullAttempts), () => {
        // The catalogue may have changed meanwhile (the image was pushed).
        c.behaviour = this.images.behaviourOf(c.image);
        if (c.behaviour.missing) this.pullFailed(run, c);
        else this.after(c, c.behaviour.startSeconds, () => this.running(run, c));
      });
    });
  }

  private running(run: PodRun, c: ContainerRun): void {
    const b = c.behaviour;
    c.phase = 'running';
    c.everStarted = true;
    c.startedAt = this.now();
    c.containerId = newContainerId();
    c.waitingMessage = '';
    c.ready = false;
    if (!b.neverReady) {
      if (c.probeDelaySeconds === undefined) this.becomeReady(run, c, false);
      else this.after(c, c.probeDelaySeconds + b.readySeconds, () => this.becomeReady(run, c, true));
    }
    if (b.crash) this.after(c, b.crashAfterSeconds, () => this.crash(run, c));
    this.write(run);
  }

  private becomeReady(run: PodRun, c: ContainerRun, write: boolean): void {
    c.ready = true;
    if (c.behaviour.readyForSeconds !== undefined) {
      this.after(c, c.behaviour.readyForSeconds, () => {
        c.ready = false;
        this.write(run);
      });
    }
    if (write) this.write(run);
  }

  private crash(run: PodRun, c: ContainerRun): void {
    this.clearTimers(c);
    const terminated = { exitCode: 1, reason: 'Error', startedAt: c.startedAt, finishedAt: this.now(), containerID: c.containerId };
    c.ready = false;
    if (run.restartPolicy === 'Never') {
      c.phase = 'terminated';
      c.terminated = terminated;
      this.write(run);
      return;
    }
    c.lastTerminated = terminated;
    c.restartCount++;
    c.phase = 'crashBackOff';
    const backoff = kubeletBackoffSeconds(c.restartCount);
    c.waitingMessage = `back-off ${backoff}s restarting failed container=${c.name} pod=${run.name}_${run.namespace}(${run.uid})`;
    this.write(run);
    this.after(c, backoff, () => {
      c.behaviour = this.images.behaviourOf(c.image);
      this.running(run, c);
    });
  }

  /** A changed image in the pod spec restarts that container, as the kubelet does. */
  private syncImages(run: PodRun, pod: KubeObject): void {
    const specs = new Map(arr(rec(pod.spec)['containers']).map(rec).map((c) => [str(c['name']), str(c['image'])]));
    for (const c of run.containers) {
      const image = specs.get(c.name);
      if (image === undefined || image === c.image || c.phase === 'terminated') continue;
      this.clearTimers(c);
      if (c.everStarted) {
        c.lastTerminated = { exitCode: 0, reason: 'Completed', startedAt: c.startedAt, finishedAt: this.now(), containerID: c.containerId };
        c.restartCount++;
      }
      c.image = image;
      c.ready = false;
      c.pullAttempts = 0;
      this.create(run, c);
      this.write(run);
    }
  }

  private terminate(run: PodRun, pod: KubeObject): void {
    run.terminating = true;
    for (const c of run.containers) this.clearTimers(c);
    const grace = num(pod.metadata.deletionGracePeriodSeconds, 30);
    const stopSeconds = run.containers.some((c) => c.behaviour.ignoreSigterm) ? grace : Math.min(grace, Math.max(0, ...run.containers.map((c) => c.behaviour.stopSeconds)));
    const cancel = this.manager.clock.after(stopSeconds * 1000, () =>
      this.act(() => {
        run.cancelStop = undefined;
        const finishedAt = this.now();
        for (const c of run.containers) {
          c.ready = false;
          c.terminated = c.everStarted
            ? { exitCode: 0, reason: 'Completed', startedAt: c.startedAt, finishedAt, containerID: c.containerId }
            : { exitCode: 137, reason: 'ContainerStatusUnknown', message: 'The container could not be located when the pod was terminated', startedAt: null, finishedAt: null };
          c.phase = 'terminated';
        }
        this.write(run);
        this.dispose(run);
        this.store.finishPodDeletion(this.types.pod, run.namespace, run.name, run.uid);
      }),
    );
    run.cancelStop = cancel;
  }

  private handleForeign(key: string, pod: KubeObject): void {
    if (!isTerminating(pod) || this.foreign.has(key)) return;
    const until = Date.parse(pod.metadata.deletionTimestamp ?? '') - this.manager.clock.now();
    const { namespace, name, uid } = pod.metadata;
    const cancel = this.manager.clock.after(Math.max(0, until), () =>
      this.act(() => {
        this.foreign.delete(key);
        this.store.finishPodDeletion(this.types.pod, namespace, name ?? '', uid);
      }),
    );
    this.foreign.set(key, cancel);
  }

  /**
   * Marks a pod Failed as an eviction would (`reason: Evicted`), stopping
   * its containers. Controllers then replace it. Returns false when the pod
   * is unknown or already finished.
   */
  fail(namespace: string, name: string, reason = 'Evicted', message = 'The node was low on resource: memory. '): boolean {
    const key = objectKey(namespace, name);
    const pod = this.store.find(this.types.pod, namespace, name);
    if (!pod) return false;
    const phase = podPhase(pod);
    if (phase === 'Failed' || phase === 'Succeeded') return false;
    const run = this.runs.get(key);
    if (run) this.dispose(run);
    const finishedAt = this.now();
    const statuses = arr(rec(pod.status)['containerStatuses']).map(rec).map((cs) => {
      const running = rec(rec(cs['state'])['running']);
      return { ...cs, state: { terminated: { exitCode: 137, reason: 'Error', startedAt: str(running['startedAt']) || null, finishedAt, ...(cs['containerID'] ? { containerID: cs['containerID'] } : {}) } }, ready: false, started: false };
    });
    const conditions = podConditions(pod).map((c) => (c.type === 'Ready' || c.type === 'ContainersReady' ? { ...c, status: 'False', reason: 'PodFailed', lastTransitionTime: finishedAt } : c));
    conditions.push({ type: 'DisruptionTarget', status: 'True', lastProbeTime: null, lastTransitionTime: finishedAt, reason: 'TerminationByKubelet', message });
    this.act(() => {
      this.store.update(this.types.pod, { ...pod, status: { ...rec(pod.status), phase: 'Failed', reason, message, conditions, containerStatuses: statuses } }, namespace, name, { subresource: 'status' });
    });
    return true;
  }

  // --- status ----------------------------------------------------------------

  private podPhaseOf(run: PodRun): 'Pending' | 'Running' | 'Succeeded' | 'Failed' {
    const cs = run.containers;
    if (cs.every((c) => c.phase === 'terminated')) return cs.every((c) => num(c.terminated?.['exitCode']) === 0) ? 'Succeeded' : 'Failed';
    if (cs.some((c) => !c.everStarted && c.phase !== 'terminated')) return 'Pending';
    return 'Running';
  }

  private containerStatus(c: ContainerRun): Obj {
    let state: Obj;
    switch (c.phase) {
      case 'creating':
        state = { waiting: { reason: 'ContainerCreating' } };
        break;
      case 'pullError':
        state = { waiting: { reason: 'ErrImagePull', message: c.waitingMessage } };
        break;
      case 'pullBackOff':
        state = { waiting: { reason: 'ImagePullBackOff', message: c.waitingMessage } };
        break;
      case 'crashBackOff':
        state = { waiting: { reason: 'CrashLoopBackOff', message: c.waitingMessage } };
        break;
      case 'running':
        state = { running: { startedAt: c.startedAt } };
        break;
      case 'terminated':
        state = { terminated: c.terminated ?? {} };
        break;
    }
    const pulled = c.everStarted;
    return {
      name: c.name,
      state,
      lastState: c.lastTerminated ? { terminated: c.lastTerminated } : {},
      ready: c.ready,
      restartCount: c.restartCount,
      image: pulled ? normalizeImage(c.image) : c.image,
      imageID: pulled ? imageIdOf(c.image) : '',
      ...(c.containerId ? { containerID: c.containerId } : {}),
      started: c.phase === 'running',
    };
  }

  private write(run: PodRun): void {
    const pod = this.store.find(this.types.pod, run.namespace, run.name);
    if (!pod || pod.metadata.uid !== run.uid) {
      this.dispose(run);
      return;
    }
    const now = this.now();
    const phase = this.podPhaseOf(run);
    const terminal = phase === 'Succeeded' || phase === 'Failed';
    const old = podConditions(pod);
    const cond = (type: string, status: PodCondition['status'], reason?: string, message?: string): PodCondition => {
      const prev = old.find((c) => c.type === type);
      return { type, status, lastProbeTime: null, lastTransitionTime: prev && prev.status === status && prev.lastTransitionTime ? prev.lastTransitionTime : now, ...(reason ? { reason } : {}), ...(message ? { message } : {}) };
    };
    const held = !terminal && this.readinessHolds.some((check) => check(run.namespace, run.name));
    const unready = run.containers.filter((c) => !c.ready || held).map((c) => c.name);
    const ready = unready.length === 0 ? cond('Ready', 'True') : terminal ? cond('Ready', 'False', 'PodCompleted') : cond('Ready', 'False', 'ContainersNotReady', `containers with unready status: [${unready.join(' ')}]`);
    const containersReady = unready.length === 0 ? cond('ContainersReady', 'True') : terminal ? cond('ContainersReady', 'False', 'PodCompleted') : cond('ContainersReady', 'False', 'ContainersNotReady', `containers with unready status: [${unready.join(' ')}]`);
    const scheduled = old.find((c) => c.type === 'PodScheduled') ?? cond('PodScheduled', 'True');
    const conditions = [cond('PodReadyToStartContainers', terminal ? 'False' : 'True'), cond('Initialized', 'True', terminal && run.initContainers.length > 0 ? 'PodCompleted' : undefined), ready, containersReady, scheduled];
    const initStatuses = run.initContainers.map((c) => ({
      name: c.name,
      state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: run.startTime, finishedAt: run.startTime, containerID: newContainerId() } },
      lastState: {},
      ready: true,
      restartCount: 0,
      image: normalizeImage(c.image),
      imageID: imageIdOf(c.image),
      started: false,
    }));
    const previousInit = arr(rec(pod.status)['initContainerStatuses']);
    const status: Obj = {
      phase,
      conditions,
      hostIP: run.node.hostIP,
      hostIPs: [{ ip: run.node.hostIP }],
      podIP: run.podIP,
      podIPs: [{ ip: run.podIP }],
      startTime: run.startTime,
      ...(initStatuses.length > 0 ? { initContainerStatuses: previousInit.length === initStatuses.length ? previousInit : initStatuses } : {}),
      containerStatuses: run.containers
        .map((c) => this.containerStatus(c))
        .map((cs) => (held ? { ...cs, ready: false } : cs))
        .sort((a, b) => str(a['name']).localeCompare(str(b['name']))),
      qosClass: qosClass(pod.spec),
    };
    this.store.update(this.types.pod, { ...pod, status }, run.namespace, run.name, { subresource: 'status' });
  }
}
