/**
 * Reading pods, the same way for the planner (which pods restart, which are
 * unhealthy before a rollout) and the executor (is a step done).
 */
import type { KubeObject } from '../manifests/index.ts';

type Obj = { readonly [key: string]: unknown };
const at = (value: unknown, ...path: string[]): unknown => path.reduce<unknown>((v, key) => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj)[key] : undefined), value);

/** True when the pod is Running, its Ready condition is True, and it is not being deleted. */
export function podReady(pod: KubeObject | undefined): boolean {
  if (pod === undefined || pod.metadata['deletionTimestamp'] !== undefined) return false;
  if (at(pod, 'status', 'phase') !== 'Running') return false;
  const conditions = at(pod, 'status', 'conditions');
  return Array.isArray(conditions) && conditions.some((c) => at(c, 'type') === 'Ready' && at(c, 'status') === 'True');
}

/** The image of a pod's container named `container` (else its first container). */
export function podContainerImage(pod: KubeObject, container?: string): string | undefined {
  const containers = at(pod, 'spec', 'containers');
  if (!Array.isArray(containers)) return undefined;
  const list = containers as readonly unknown[];
  const chosen = (container !== undefined ? list.find((c) => at(c, 'name') === container) : undefined) ?? list[0];
  const image = at(chosen, 'image');
  return typeof image === 'string' ? image : undefined;
}
