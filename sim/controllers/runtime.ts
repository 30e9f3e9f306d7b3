/**
 * Everything that makes one simulated cluster come alive, around its store:
 * the controller manager with the StatefulSet, Deployment and ReplicaSet
 * controllers, the scheduler and the kubelets of the simulated nodes, the
 * image catalogue, API fault injection, and the event record.
 *
 * Operator models (TiDB, Redis Enterprise) plug in with `register()`:
 *
 * ```ts
 * const rt = sim.runtime('prod');
 * rt.register(new TidbOperator(rt.manager, rt.types));
 * ```
 */
import type { ClusterStore } from '../api/store.ts';
import type { ApiFaults } from '../faults.ts';
import { FaultInjector } from '../faults.ts';
import type { ImageCatalogue } from '../images.ts';
import { ImageResolver } from '../images.ts';
import { Kubelet } from '../kubelet/kubelet.ts';
import type { NodeAddressing } from '../kubelet/nodes.ts';
import { defaultNodeNames, nodeAddressing, registerNodes } from '../kubelet/nodes.ts';
import { Scheduler } from '../kubelet/scheduler.ts';
import type { Random } from '../random.ts';
import { seededRandom } from '../random.ts';
import { DeploymentController } from './deployment.ts';
import { EventRecord } from './event-record.ts';
import type { Controller } from './manager.ts';
import { ControllerManager } from './manager.ts';
import type { CoreTypes } from './objects.ts';
import { coreTypes } from './objects.ts';
import { ReplicaSetController } from './replicaset.ts';
import { StatefulSetController } from './statefulset.ts';
import type { RedisEnterpriseOperator } from '../operators/redis-enterprise.ts';
import { createRedisEnterpriseOperator } from '../operators/redis-enterprise.ts';
import type { TidbOperator } from '../operators/tidb.ts';
import { createTidbOperator } from '../operators/tidb.ts';

/** Options of one cluster's runtime. */
export interface RuntimeOptions {
  /** Run the controllers, the scheduler and the kubelets. Default true; false leaves a bare API server with fault injection only (the event record stays empty). */
  controllers?: boolean;
  /** The simulated nodes: how many (`sim-node-1` …) or their names. Default 3. */
  nodes?: number | readonly string[];
  /** The image catalogue (see sim/images.ts). Default: every image behaves well. */
  images?: ImageCatalogue;
  /** API faults (see sim/faults.ts). Default none. */
  faults?: ApiFaults;
  /** Seed of every random choice (faults, generated pod names, scheduling ties). Default: a random seed, readable as `seed`. */
  seed?: number;
  /** Entries the event record keeps; default 200,000. */
  recordCapacity?: number;
  /** Called when a controller throws something that is not an API error (a bug). Default: printed to stderr. */
  onError?: (controller: string, key: string, err: unknown) => void;
}

/** The live parts of one simulated cluster. */
export class ClusterRuntime {
  readonly cluster: string;
  readonly store: ClusterStore;
  readonly types: CoreTypes;
  readonly events: EventRecord;
  readonly manager: ControllerManager;
  readonly images: ImageResolver;
  readonly faults: FaultInjector;
  /** The simulated nodes (empty when controllers are off). */
  readonly nodes: ReadonlyMap<string, NodeAddressing>;
  readonly seed: number;
  /** The TiDB Operator model (undefined when controllers are off). */
  readonly tidb: TidbOperator | undefined;
  /** The Redis Enterprise operator model (undefined when controllers are off). */
  readonly redis: RedisEnterpriseOperator | undefined;
  private readonly kubelet: Kubelet | undefined;

  /**
   * @param cluster the cluster's name (for messages)
   * @param dropWatches closes the cluster's open watches; returns how many
   */
  constructor(cluster: string, store: ClusterStore, dropWatches: () => number, options: RuntimeOptions = {}) {
    this.cluster = cluster;
    this.store = store;
    this.types = coreTypes(store);
    this.seed = options.seed ?? Math.floor(Math.random() * 2 ** 32);
    // Separate streams, so adding a pod does not change which request a fault hits.
    const nameRandom: Random = seededRandom((this.seed ^ 0x9e3779b9) >>> 0);
    this.events = new EventRecord(store.clock, options.recordCapacity);
    this.images = new ImageResolver(options.images ?? {});
    this.faults = new FaultInjector(store.clock, this.seed, dropWatches, options.faults ?? {});
    const t = this.types;
    const alive = options.controllers !== false;
    // A bare API server (controllers off) keeps neither the record nor the index: it costs nothing per write.
    this.manager = new ControllerManager(store, {
      ...(alive ? { record: this.events } : {}),
      // Children by controlling owner: what the built-in controllers and operator models look up.
      indexed: alive ? [t.pod, t.replicaSet, t.controllerRevision, t.statefulSet, t.deployment] : [],
      ...(options.onError ? { onError: options.onError } : {}),
    });
    if (!alive) {
      this.nodes = new Map();
      this.kubelet = undefined;
      this.tidb = undefined;
      this.redis = undefined;
      return;
    }
    const names = typeof options.nodes === 'number' ? defaultNodeNames(options.nodes) : [...(options.nodes ?? defaultNodeNames())];
    this.nodes = nodeAddressing(names);
    this.manager.withActor('kubelet', () => registerNodes(store, t, this.nodes.values()));
    this.kubelet = new Kubelet(this.manager, t, this.images, this.nodes);
    this.manager.register(new Scheduler(this.manager, t));
    this.manager.register(this.kubelet);
    this.manager.register(new StatefulSetController(this.manager, t));
    this.manager.register(new ReplicaSetController(this.manager, t, nameRandom));
    this.manager.register(new DeploymentController(this.manager, t));
    // The operators' CRDs are installed in every simulated cluster, so their models run too;
    // the Redis model acts only while its operator Deployment is Available, as the real one.
    const kubelet = this.kubelet;
    this.tidb = createTidbOperator(this.manager);
    this.redis = createRedisEnterpriseOperator(this.manager, (namespace, pod) => kubelet.refresh(namespace, pod));
    const redis = this.redis;
    kubelet.holdReadiness((namespace, pod) => redis.nodeHeldOut(namespace, pod));
    this.manager.register(this.tidb);
    this.manager.register(this.redis);
  }

  /** Adds a controller (an operator model) to this cluster. */
  register(controller: Controller): void {
    this.manager.register(controller);
  }

  /**
   * Fails a pod as a node eviction would (phase Failed, `reason`); its
   * controller replaces it. False when there is no such running pod or the
   * kubelet is not simulated.
   */
  failPod(namespace: string, name: string, reason?: string, message?: string): boolean {
    return this.kubelet?.fail(namespace, name, reason, message) ?? false;
  }

  /** Stops every controller, timer and the fault injector. */
  stop(): void {
    this.kubelet?.stop();
    this.manager.stop();
    this.faults.stop();
  }
}
