/**
 * The scheduler, reduced to what rollouts need: a pod without a node is
 * bound to the Ready, schedulable node whose labels satisfy its
 * `nodeSelector` and which runs the fewest pods (ties go round-robin), and
 * gets the `PodScheduled` condition. A pod that fits nowhere gets
 * `PodScheduled=False/Unschedulable` and is retried when nodes change.
 *
 * Deviation: the real binding subresource sets `spec.nodeName` and the
 * condition in one write without touching `metadata.generation`; kube-sim's
 * store offers no binding, so this takes a spec update (generation 1 → 2)
 * and a status update.
 */
import type { KubeObject } from '../api/object.ts';
import { typeKey } from '../api/resources.ts';
import type { StoreEvent } from '../api/store.ts';
import type { Controller, ControllerManager, ReconcileResult } from '../controllers/manager.ts';
import type { CoreTypes, PodCondition } from '../controllers/objects.ts';
import { arr, isPodActive, isTerminating, objectKey, podConditions, rec, splitKey, str } from '../controllers/objects.ts';

/** The scheduler of one cluster. */
export class Scheduler implements Controller {
  readonly name = 'default-scheduler';
  private readonly manager: ControllerManager;
  private readonly types: CoreTypes;
  /** Active pods per node, kept from the change stream. */
  private readonly load = new Map<string, Set<string>>();
  /** Pods that fit no node, retried when a node changes. */
  private readonly unschedulable = new Set<string>();
  private turn = 0;

  constructor(manager: ControllerManager, types: CoreTypes) {
    this.manager = manager;
    this.types = types;
    for (const pod of manager.store.list(types.pod, {}).items) this.track(undefined, pod);
  }

  private track(previous: KubeObject | undefined, current: KubeObject | undefined): void {
    const key = objectKey((current ?? previous)?.metadata.namespace, (current ?? previous)?.metadata.name ?? '');
    const oldNode = previous ? str(rec(previous.spec)['nodeName']) : '';
    if (oldNode) this.load.get(oldNode)?.delete(key);
    const node = current && isPodActive(current) ? str(rec(current.spec)['nodeName']) : '';
    if (node) {
      let set = this.load.get(node);
      if (!set) this.load.set(node, (set = new Set()));
      set.add(key);
    }
  }

  keysFor(event: StoreEvent): readonly string[] {
    const t = typeKey(event.resource);
    if (t === typeKey(this.types.node)) return [...this.unschedulable];
    if (t !== typeKey(this.types.pod)) return [];
    this.track(event.previous, event.type === 'DELETED' ? undefined : event.object);
    const pod = event.object;
    const key = objectKey(pod.metadata.namespace, pod.metadata.name ?? '');
    if (event.type === 'DELETED') {
      this.unschedulable.delete(key);
      return [];
    }
    return this.wantsNode(pod) ? [key] : [];
  }

  private wantsNode(pod: KubeObject): boolean {
    const spec = rec(pod.spec);
    const scheduler = str(spec['schedulerName'], 'default-scheduler');
    return str(spec['nodeName']) === '' && !isTerminating(pod) && scheduler === 'default-scheduler' && isPodActive(pod);
  }

  initialKeys(): readonly string[] {
    return this.manager.store
      .list(this.types.pod, {})
      .items.filter((p) => this.wantsNode(p))
      .map((p) => objectKey(p.metadata.namespace, p.metadata.name ?? ''));
  }

  reconcile(key: string): ReconcileResult {
    const { namespace, name } = splitKey(key);
    const { store } = this.manager;
    const pod = store.find(this.types.pod, namespace, name);
    if (!pod || !this.wantsNode(pod)) {
      this.unschedulable.delete(key);
      return;
    }
    const selector = rec(rec(pod.spec)['nodeSelector']) as Record<string, string>;
    const nodes = store
      .list(this.types.node, {})
      .items.filter((n) => {
        const ready = arr(rec(n.status)['conditions']).map(rec).find((c) => c['type'] === 'Ready');
        const labels = n.metadata.labels ?? {};
        return ready?.['status'] === 'True' && rec(n.spec)['unschedulable'] !== true && !isTerminating(n) && Object.entries(selector).every(([k, v]) => labels[k] === v);
      });
    if (nodes.length === 0) {
      this.unschedulable.add(key);
      const total = store.list(this.types.node, {}).items.length;
      this.setScheduled(pod, { type: 'PodScheduled', status: 'False', lastProbeTime: null, lastTransitionTime: store.clock.rfc3339(), reason: 'Unschedulable', message: `0/${total} nodes are available: ${total} node(s) didn't match Pod's node affinity/selector. preemption: 0/${total} nodes are available: ${total} Preemption is not helpful for scheduling.` });
      return;
    }
    this.unschedulable.delete(key);
    const least = Math.min(...nodes.map((n) => this.load.get(n.metadata.name ?? '')?.size ?? 0));
    const candidates = nodes.filter((n) => (this.load.get(n.metadata.name ?? '')?.size ?? 0) === least);
    const node = candidates[this.turn++ % candidates.length] as KubeObject;
    const bound = store.update(this.types.pod, { ...pod, spec: { ...rec(pod.spec), nodeName: node.metadata.name } }, namespace, name);
    this.setScheduled(bound, { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: store.clock.rfc3339() });
  }

  private setScheduled(pod: KubeObject, condition: PodCondition): void {
    const existing = podConditions(pod).find((c) => c.type === 'PodScheduled');
    if (existing && existing.status === condition.status && existing.reason === condition.reason) return;
    const conditions = [...podConditions(pod).filter((c) => c.type !== 'PodScheduled'), condition];
    const status = { ...rec(pod.status), conditions };
    this.manager.store.update(this.types.pod, { ...pod, status }, pod.metadata.namespace, pod.metadata.name ?? '', { subresource: 'status' });
  }
}
