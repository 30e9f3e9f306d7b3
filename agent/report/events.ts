/**
 * Rollout transitions as Kubernetes Events on the target object, so that
 * `kubectl describe tc basic` and `kubectl get events` show what rollgate
 * did, next to what the operator and the controllers did.
 */
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Reporter, RolloutPhase, RolloutTransition } from '../rollout/reporter.ts';

/** The Event reason for each phase: `RolloutProgressing`, `RolloutHalted`… */
export function eventReason(phase: RolloutPhase): string {
  return `Rollout${phase}`;
}

/** Warning for phases a person should look at, Normal otherwise. */
export function eventType(phase: RolloutPhase): 'Normal' | 'Warning' {
  return phase === 'Halted' || phase === 'Refused' ? 'Warning' : 'Normal';
}

/** The core/v1 Event for a transition. */
export function eventFor(transition: RolloutTransition, apiVersion: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { generateName: `${transition.name}.rollgate.`, namespace: transition.namespace },
    involvedObject: { apiVersion, kind: transition.kind, name: transition.name, namespace: transition.namespace },
    reason: eventReason(transition.phase),
    // The API server limits an Event message to 1 KiB.
    message: transition.message.length > 1024 ? `${transition.message.slice(0, 1021)}...` : transition.message,
    type: eventType(transition.phase),
    source: { component: 'rollgate' },
    reportingComponent: 'rollgate',
    reportingInstance: 'rollgate',
    firstTimestamp: transition.at,
    lastTimestamp: transition.at,
    count: 1,
  };
}

const apiVersions: Readonly<Record<string, string>> = {
  TidbCluster: 'pingcap.com/v1alpha1',
  RedisEnterpriseCluster: 'app.redislabs.com/v1',
  StatefulSet: 'apps/v1',
  Deployment: 'apps/v1',
};

/** A reporter that records each transition as an Event in the target's cluster; failures are logged, never thrown. */
export function createEventReporter(options: { readonly clusters: ReadonlyMap<string, KubeConfig>; readonly logger: Logger }): Reporter {
  const apis = new Map<string, CoreV1Api>();
  return {
    async report(transition) {
      // A replay repeats, after a restart, what an earlier process may already have recorded; an Event has no
      // identity to tell the two apart, so replays are left to the reporters that can (status commits).
      if (transition.replay === true) return;
      const kubeConfig = options.clusters.get(transition.cluster);
      if (kubeConfig === undefined) return;
      let api = apis.get(transition.cluster);
      if (api === undefined) {
        api = kubeConfig.makeApiClient(CoreV1Api);
        apis.set(transition.cluster, api);
      }
      try {
        await api.createNamespacedEvent({ namespace: transition.namespace, body: eventFor(transition, apiVersions[transition.kind] ?? 'v1') as never });
      } catch (err) {
        options.logger.warn({ target: transition.target, err: err instanceof Error ? err.message.split('\n', 1)[0] : String(err) }, 'could not record a Kubernetes Event');
      }
    },
  };
}

/** A reporter that hands each transition to every one of `reporters`, in order; one failing does not stop the others. */
export function fanOut(...reporters: readonly Reporter[]): Reporter {
  return {
    async report(transition) {
      for (const reporter of reporters) {
        try {
          await reporter.report(transition);
        } catch {
          // Each reporter logs its own failures; the rollout never waits on a broken one.
        }
      }
    },
  };
}
