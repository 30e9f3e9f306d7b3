/**
 * The simulated nodes: Node objects as a kubelet registers them (labels,
 * capacity, the four pressure/Ready conditions, addresses, nodeInfo), so
 * `kubectl get nodes` and `kubectl describe node` look like a small real
 * cluster. Nodes do not heartbeat: nothing ticks while the cluster is idle.
 */
import type { KubeObject } from '../api/object.ts';
import type { ClusterStore } from '../api/store.ts';
import { simulatedVersion } from '../api/discovery.ts';
import type { CoreTypes } from '../controllers/objects.ts';

/** The names of `count` simulated nodes: `sim-node-1` … */
export function defaultNodeNames(count = 3): string[] {
  return Array.from({ length: count }, (_, i) => `sim-node-${i + 1}`);
}

/** One simulated node's addresses: node N is 10.0.0.(10+N), its pods 10.244.N.0/24. */
export interface NodeAddressing {
  name: string;
  index: number;
  hostIP: string;
  podCidrPrefix: string;
}

export function nodeAddressing(names: readonly string[]): Map<string, NodeAddressing> {
  return new Map(names.map((name, i) => [name, { name, index: i + 1, hostIP: `10.0.0.${11 + i}`, podCidrPrefix: `10.244.${i + 1}` }]));
}

function nodeObject(n: NodeAddressing, now: string): KubeObject {
  const condition = (type: string, status: string, reason: string, message: string) => ({ type, status, lastHeartbeatTime: now, lastTransitionTime: now, reason, message });
  const resources = { cpu: '8', 'ephemeral-storage': '102626232Ki', 'hugepages-2Mi': '0', memory: '32857868Ki', pods: '110' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: n.name,
      labels: { 'beta.kubernetes.io/arch': 'amd64', 'beta.kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', 'kubernetes.io/hostname': n.name, 'kubernetes.io/os': 'linux' },
      annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'true' },
    },
    spec: { podCIDR: `${n.podCidrPrefix}.0/24`, podCIDRs: [`${n.podCidrPrefix}.0/24`] },
    status: {
      capacity: resources,
      allocatable: { ...resources, cpu: '7910m', memory: '32243468Ki' },
      conditions: [
        condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
        condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        condition('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
      ],
      addresses: [
        { type: 'InternalIP', address: n.hostIP },
        { type: 'Hostname', address: n.name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: `sim${String(n.index).padStart(29, '0')}`,
        systemUUID: `00000000-0000-0000-0000-${String(n.index).padStart(12, '0')}`,
        bootID: `00000000-0000-0000-0001-${String(n.index).padStart(12, '0')}`,
        kernelVersion: '6.8.0-sim',
        osImage: 'rollgate kube-sim',
        containerRuntimeVersion: 'containerd://1.7.27',
        kubeletVersion: `v${simulatedVersion.major}.${simulatedVersion.minor}.0`,
        kubeProxyVersion: `v${simulatedVersion.major}.${simulatedVersion.minor}.0`,
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
    },
  };
}

/** Registers the nodes that do not exist yet, as each kubelet does when it starts. */
export function registerNodes(store: ClusterStore, types: CoreTypes, nodes: Iterable<NodeAddressing>): void {
  for (const n of nodes) {
    if (store.find(types.node, undefined, n.name)) continue;
    const created = store.create(types.node, nodeObject(n, store.clock.rfc3339()), undefined);
    // Node status is a subresource: the create drops it, the kubelet then posts it.
    store.update(types.node, { ...created, status: nodeObject(n, store.clock.rfc3339()).status }, undefined, n.name, { subresource: 'status' });
  }
}
