// `waygate operator`: the cluster mode. Watches the API server into the store, runs the
// pipeline, writes config versions for the nginx sidecar's agent, and writes status.
import { mkdirSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { Controller } from '../controller.ts';
import type { Logger } from '../log.ts';
import { KubernetesSource } from '../sources/kubernetes.ts';
import type { DesiredStatus } from '../status/merge.ts';
import { StatusWriter } from '../status/writer.ts';
import { Store } from '../store.ts';
import type { Graph } from '../graph/types.ts';
import { streamRouteKinds } from '../graph/stream-routes.ts';
import { LeaderElector } from '../leader/elector.ts';
import type { Durations } from '../leader/lease.ts';
import { KubeLeaseClient } from '../leader/lease-client.ts';
import { GatewayServices } from '../apply/gateway-services.ts';
import { hostname } from 'node:os';
import { componentLogger } from '../log.ts';
import { eventRecorder, kubeEventSender } from '../observability/events.ts';
import { operatorReadiness, startOperatorHealth, type HealthServer } from '../observability/health.ts';
import { createOperatorMetrics, observers, type OperatorMetrics } from '../observability/metrics.ts';

/**
 * Whether this replica leads. Every replica renders and serves; only the leader writes
 * status, manages Gateway Services and emits Events. Leader-only tasks check isLeader()
 * before acting and subscribe with onChange(): on `true` do the full work at once (the
 * previous leader may have left things half done), on `false` stop (another replica may
 * lead already). Listeners run synchronously: start async work, do not await it there.
 */
export interface Leadership {
  isLeader(): boolean;
  /** Calls `listener` on each change; returns the unsubscribe function. */
  onChange(listener: (leading: boolean) => void): () => void;
}

/** Lease-based election (coordination.k8s.io/v1 Lease `namespace`/`name`). */
export interface LeaderElectionOptions {
  namespace: string;
  /** The Lease name. */
  name: string;
  /** This replica's holderIdentity: unique per replica (the pod name). */
  identity: string;
  /** Defaults: lease 15 s, renew deadline 10 s, retry period 2 s. */
  durations?: Partial<Durations>;
}

/** Without election (one replica, test suites): always the leader. */
const soleLeader: Leadership = { isLeader: () => true, onChange: () => () => {} };

export interface OperatorOptions {
  configRoot: string;
  controllerName: string;
  supportedFeatures: readonly string[];
  logger: Logger;
  kubeConfig?: KubeConfig;
  debounceMs?: number;
  /** Loopback block for Gateways without spec.addresses: 127.<addressBlock>.0.0/16. */
  addressBlock?: number;
  /** Elect a leader among replicas; without it this replica always leads. */
  leaderElection?: LeaderElectionOptions;
  /** Where the agent's nginx binds local sockets (TLS ports; see Agent.socketDir). */
  socketDir?: string;
  /**
   * Expose each Gateway through a Service of its own (the leader writes it and its
   * EndpointSlice of the waygate pods found by `pods`); default: loopback addresses.
   */
  exposure?: { mode: 'loopback' } | { mode: 'service'; pods: { namespace: string; selector: string; self?: string } };
  /** /healthz, /readyz and /metrics on this port (0: any free port); undefined: no server. */
  healthPort?: number;
}

export interface RunningOperator {
  store: Store;
  source: KubernetesSource;
  controller: Controller;
  leader: Leadership;
  metrics: OperatorMetrics;
  health: HealthServer | undefined;
  stop(): Promise<void>;
}

/**
 * Routes (every kind we report on) that carry a status entry of ours but no longer reference
 * our Gateways, and BackendTLSPolicies that carry an ancestor entry of ours but no longer
 * apply to a backend of our routes: clear our entries.
 */
export function staleRouteStatuses(store: Store, graph: Graph, controllerName: string): DesiredStatus[] {
  const current = new Set([...graph.routes, ...graph.streamRoutes].map((r) => r.key));
  const routes = (['HTTPRoute', 'GRPCRoute', ...streamRouteKinds] as const).flatMap((kind) => store
    .list(kind)
    .filter((r) => !current.has(`${kind}/${r.metadata.namespace}/${r.metadata.name}`))
    .filter((r) => (r.status?.parents ?? []).some((p) => p.controllerName === controllerName))
    .map((r): DesiredStatus => ({ kind, namespace: r.metadata.namespace, name: r.metadata.name, parents: [] })));
  const policies = new Set(graph.backendTLSPolicies.map((p) => p.key));
  const stalePolicies = store
    .list('BackendTLSPolicy')
    .filter((p) => !policies.has(`BackendTLSPolicy/${p.metadata.namespace}/${p.metadata.name}`))
    .filter((p) => (p.status?.ancestors ?? []).some((a) => a.controllerName === controllerName))
    .map((p): DesiredStatus => ({ kind: 'BackendTLSPolicy', namespace: p.metadata.namespace, name: p.metadata.name, ancestors: [] }));
  return [...routes, ...stalePolicies];
}

export async function startOperator(opts: OperatorOptions): Promise<RunningOperator> {
  mkdirSync(opts.configRoot, { recursive: true, mode: 0o755 });
  const kubeConfig = opts.kubeConfig ?? (() => { const kc = new KubeConfig(); kc.loadFromDefault(); return kc; })();
  const store = new Store();
  const source = new KubernetesSource({ store, logger: opts.logger, kubeConfig });
  const writer = new StatusWriter(kubeConfig, opts.controllerName, componentLogger(opts.logger, 'status'));
  const metrics = createOperatorMetrics();
  const readiness = operatorReadiness();
  // From the start: /healthz answers while the watches sync, /readyz says what it waits for.
  const health = opts.healthPort === undefined ? undefined : await startOperatorHealth({ port: opts.healthPort, metrics, readiness });
  await source.start();
  await source.ready();
  readiness.watchesSynced();
  opts.logger.info(`watching ${kubeConfig.getCurrentCluster()?.server ?? 'the cluster'}`, { controllerName: opts.controllerName });
  const elector = opts.leaderElection && new LeaderElector({
    client: new KubeLeaseClient(kubeConfig, opts.leaderElection.namespace, opts.leaderElection.name),
    identity: opts.leaderElection.identity,
    logger: opts.logger,
    durations: opts.leaderElection.durations,
  });
  const leader: Leadership = elector ?? soleLeader;
  const exposure = opts.exposure ?? { mode: 'loopback' };
  const services = exposure.mode === 'service'
    ? new GatewayServices({ kubeConfig, store, logger: opts.logger, leader, podNamespace: exposure.pods.namespace, podSelector: exposure.pods.selector, selfPod: exposure.pods.self })
    : undefined;
  await services?.start();
  const events = eventRecorder({
    send: kubeEventSender(kubeConfig, store, { controllerName: opts.controllerName, instance: process.env.POD_NAME ?? hostname() }),
    logger: componentLogger(opts.logger, 'events'),
  });
  const follow = (leading: boolean) => {
    metrics.setLeader(leading);
    events.setEnabled(leading); // only the leader emits Events
  };
  follow(leader.isLeader());
  leader.onChange(follow);
  const controller = new Controller({
    store,
    controllerName: opts.controllerName,
    supportedFeatures: opts.supportedFeatures,
    configRoot: opts.configRoot,
    logger: componentLogger(opts.logger, 'controller'),
    observer: observers(metrics.observer, readiness.observer, events.observer),
    debounceMs: opts.debounceMs,
    addressBlock: opts.addressBlock,
    exposure: exposure.mode,
    socketDir: opts.socketDir,
    statusSink: async (desired, graph) => {
      services?.update(graph);
      if (!leader.isLeader()) return; // the leader writes the full status when it takes over
      const r = await writer.write([...desired, ...staleRouteStatuses(store, graph, opts.controllerName)], store);
      metrics.statusWrites(r);
      if (r.written || r.failed) opts.logger.debug('status written', r);
    },
  });
  controller.start();
  leader.onChange((leading) => { if (leading) controller.schedule(); });
  elector?.start();
  return {
    store,
    source,
    controller,
    leader,
    metrics,
    health,
    async stop() {
      await services?.stop(); // a leader first takes its own pod out of the Gateways' slices
      await elector?.stop(); // then releasing the lease lets another replica take over now
      controller.stop();
      await source.stop();
      await health?.close();
    },
  };
}

export async function runOperator(opts: OperatorOptions): Promise<number> {
  const op = await startOperator(opts);
  await new Promise<void>((resolve) => {
    for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => resolve());
  });
  opts.logger.info('stopping');
  await op.stop();
  return 0;
}
