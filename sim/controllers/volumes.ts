/**
 * The persistent-volume side of StatefulSets, reduced to what clients see:
 * a claim the StatefulSet controller creates is bound at once to a
 * dynamically provisioned volume (as a default StorageClass with
 * `Immediate` binding does), so `kubectl get pvc` shows it Bound with the
 * requested capacity. No PersistentVolume objects are served.
 */
import { randomUUID } from 'node:crypto';
import type { KubeObject } from '../api/object.ts';
import type { ControllerManager } from './manager.ts';
import type { CoreTypes } from './objects.ts';
import { arr, rec, str } from './objects.ts';

/** The actor name of the binder in the event record. */
export const volumeBinderName = 'persistentvolume-controller';

/**
 * Creates `claim` and binds it: `spec.volumeName`, the bind annotations the
 * PV controller sets, and `status.phase: Bound` with capacity and access modes.
 * Returns the bound claim.
 */
export function createBoundClaim(manager: ControllerManager, types: CoreTypes, claim: KubeObject): KubeObject {
  const { store } = manager;
  const ns = claim.metadata.namespace;
  const name = claim.metadata.name ?? '';
  const created = store.create(types.pvc, claim, ns);
  return manager.withActor(volumeBinderName, () => {
    const spec = { ...rec(created.spec), volumeName: `pvc-${randomUUID()}` };
    const annotations = { ...(created.metadata.annotations ?? {}), 'pv.kubernetes.io/bind-completed': 'yes', 'pv.kubernetes.io/bound-by-controller': 'yes' };
    const bound = store.update(types.pvc, { ...created, metadata: { ...created.metadata, annotations }, spec }, ns, name);
    const storage = str(rec(rec(rec(bound.spec)['resources'])['requests'])['storage']);
    const status = {
      phase: 'Bound',
      accessModes: arr(rec(bound.spec)['accessModes']),
      ...(storage ? { capacity: { storage } } : {}),
    };
    return store.update(types.pvc, { ...bound, status }, ns, name, { subresource: 'status' });
  });
}
