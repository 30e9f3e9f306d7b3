/**
 * Records the Kubernetes API requests the agent makes, through kube-sim's
 * request observer, for the RBAC check: every request must be allowed by
 * deploy/'s roles, and every permission there must be used by one.
 *
 * `observeAgentRequests` takes any scenario that starts kube-sim with the
 * observer it is given; today the scenarios of agent-scenarios.ts drive the
 * agent's parts in-process, and a `rollgate run --once` process against an
 * observed kube-sim can be added the same way (pass `onRequest` to the
 * simulation it runs against; the child's requests reach the same server).
 */
import type { ObservedRequest } from '../../sim/server/api-server.ts';
import type { SimulationOptions } from '../../sim/simulation.ts';

/** What a scenario passes to each kube-sim it starts (spread it into `startSimulation`'s or a fixture's options). */
export type ObserverOptions = Required<Pick<SimulationOptions, 'onRequest'>>;

/**
 * Whether a request comes from the test's own tooling rather than the
 * agent: kubectl (and the kubectl dispatcher some machines install in its
 * place, which asks for `/version` first), which test fixtures use to wait
 * for and inspect the cluster. The agent never runs kubectl.
 */
export function isTestTooling(request: ObservedRequest): boolean {
  return /^kubectl(-dispatcher)?\//.test(request.userAgent);
}

/**
 * Runs `scenario` with a request observer and returns the requests the
 * agent made in it, in the order the API server received them (test
 * tooling left out, see {@link isTestTooling}). The scenario's result is
 * returned beside them, so a test can also check that the scenario did
 * what it says (an empty run would allow everything).
 */
export async function observeAgentRequests<T>(scenario: (observer: ObserverOptions) => Promise<T>): Promise<{ readonly requests: readonly ObservedRequest[]; readonly result: T }> {
  const requests: ObservedRequest[] = [];
  const result = await scenario({ onRequest: (request) => void requests.push(request) });
  return { requests: requests.filter((r) => !isTestTooling(r)), result };
}

/** A one-line form of a request for messages: `patch pingcap.com/tidbclusters db/basic`. */
export function describeRequest(r: ObservedRequest): string {
  if (!r.resourceRequest) return `${r.verb} ${r.path}`;
  const resource = `${r.group === '' ? 'core' : r.group}/${r.resource}${r.subresource !== '' ? `/${r.subresource}` : ''}`;
  const where = r.namespace === '' ? (r.name === '' ? '(all namespaces)' : r.name) : r.name === '' ? `in ${r.namespace}` : `${r.namespace}/${r.name}`;
  return `${r.verb} ${resource} ${where}`;
}
