// The leader's side of Service exposure (graph/exposure.ts decides): for each Gateway, a
// Service in the Gateway's namespace and its EndpointSlice listing the waygate pods, both
// owner-referenced to the Gateway (deleting the Gateway deletes them). The Service has no
// selector because the pods live in waygate's namespace, so the slice is written here from
// a watch of those pods, with the conditions kube-proxy reads (ready / serving /
// terminating), so a draining pod stops getting new connections but keeps its old ones.
// Objects are written with server-side apply: only the fields we own are ours, a load
// balancer controller's status and other managers' fields are kept.
import { CoreV1Api, makeInformer, type Informer, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { gatewayNameLabel, managedByLabel, managedByValue, type GatewayService } from '../graph/exposure.ts';
import type { Graph } from '../graph/types.ts';
import type { Logger } from '../log.ts';
import type { Leadership } from '../modes/operator.ts';
import type { Gateway, KubeObject } from '../objects.ts';
import { ApiError, requestJson } from '../sources/rest.ts';
import type { Store } from '../store.ts';

const fieldManager = 'waygate';
/** Marks slices we write, so the EndpointSlice controller and mirroring leave them alone. */
export const sliceManager = 'operator.waygate.dev'; // a label value: no "/"

/** A waygate pod as the slice needs it. */
export interface PodEndpoint {
  name: string;
  uid?: string;
  ip: string;
  nodeName?: string;
  ready: boolean;
  terminating: boolean;
}

export function podEndpoint(pod: V1Pod): PodEndpoint | undefined {
  const ip = pod.status?.podIP;
  if (!ip || !pod.metadata?.name) return undefined;
  const ready = (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
  return { name: pod.metadata.name, uid: pod.metadata.uid, ip, nodeName: pod.spec?.nodeName, ready, terminating: !!pod.metadata.deletionTimestamp };
}

function ownerReference(gw: Gateway) {
  return [{ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', name: gw.metadata.name, uid: gw.metadata.uid ?? '', controller: true }];
}

export function serviceObject(s: GatewayService, gw: Gateway): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: s.name, namespace: s.namespace, labels: s.labels, annotations: s.annotations, ownerReferences: ownerReference(gw) },
    spec: {
      type: s.type,
      ports: s.ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.targetPort, protocol: p.protocol })),
      ...(s.externalTrafficPolicy ? { externalTrafficPolicy: s.externalTrafficPolicy } : {}),
      ...(s.loadBalancerClass ? { loadBalancerClass: s.loadBalancerClass } : {}),
      ...(s.loadBalancerIP ? { loadBalancerIP: s.loadBalancerIP } : {}),
    },
  };
}

export function endpointSliceObject(s: GatewayService, gw: Gateway, pods: readonly PodEndpoint[], podNamespace: string): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: s.name,
      namespace: s.namespace,
      labels: { 'kubernetes.io/service-name': s.name, 'endpointslice.kubernetes.io/managed-by': sliceManager, [gatewayNameLabel]: gw.metadata.name, [managedByLabel]: managedByValue },
      ownerReferences: ownerReference(gw),
    },
    addressType: 'IPv4',
    ports: s.ports.map((p) => ({ name: p.name, port: p.targetPort, protocol: p.protocol })),
    endpoints: [...pods].filter((p) => !p.ip.includes(':')).sort((a, b) => (a.name < b.name ? -1 : 1)).map((p) => ({
      addresses: [p.ip],
      // kube-proxy sends new connections to ready endpoints only; serving+terminating ones keep theirs.
      conditions: { ready: p.ready && !p.terminating, serving: p.ready, terminating: p.terminating },
      targetRef: { kind: 'Pod', namespace: podNamespace, name: p.name, ...(p.uid ? { uid: p.uid } : {}) },
      ...(p.nodeName ? { nodeName: p.nodeName } : {}),
    })),
  };
}

/**
 * Objects of ours (our labels) that belong to one of our Gateways (owner uid) but are not
 * wanted any more: the Gateway lost its Service (invalid, or its name is taken). Objects of
 * deleted Gateways go with them (garbage collection).
 */
export function staleObjects(store: Store, graph: Graph): KubeObject[] {
  const wanted = new Set(graph.gateways.flatMap((g) => (g.service ? [`${g.service.namespace}/${g.service.name}`] : [])));
  const ours = new Set(graph.gateways.map((g) => g.obj.metadata.uid).filter((u): u is string => !!u));
  return [...store.list('Service'), ...store.list('EndpointSlice')].filter((o) =>
    o.metadata.labels?.[managedByLabel] === managedByValue &&
    o.metadata.labels?.[gatewayNameLabel] !== undefined &&
    (o.metadata.ownerReferences ?? []).some((r) => r.kind === 'Gateway' && ours.has(r.uid)) &&
    !wanted.has(`${o.metadata.namespace}/${o.metadata.name}`));
}

export interface GatewayServicesOptions {
  kubeConfig: KubeConfig;
  store: Store;
  logger: Logger;
  leader: Leadership;
  /** Where the waygate pods run, and the label selector that finds them. */
  podNamespace: string;
  podSelector: string;
  /** This replica's pod ($POD_NAME): a leader that stops takes it out of the slices first. */
  selfPod?: string;
  retryMs?: number;
}

/** Keeps every Gateway's Service and EndpointSlice as the graph wants them, while leading. */
export class GatewayServices {
  private readonly opts: GatewayServicesOptions;
  private readonly pods = new Map<string, PodEndpoint>();
  /** What we last applied per object (path → body): unchanged objects are not written again. */
  private readonly applied = new Map<string, string>();
  private informer: Informer<V1Pod> | undefined;
  private graph: Graph | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;
  private unsubscribe: (() => void) | undefined;

  constructor(opts: GatewayServicesOptions) {
    this.opts = opts;
  }

  async start(): Promise<void> {
    const { kubeConfig, podNamespace: namespace, podSelector: labelSelector } = this.opts;
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`;
    const informer = makeInformer(kubeConfig, path, () => core.listNamespacedPod({ namespace, labelSelector }), labelSelector);
    const put = (pod: V1Pod) => {
      const e = podEndpoint(pod);
      const name = pod.metadata?.name ?? '';
      if (e) this.pods.set(name, e);
      else this.pods.delete(name);
      this.kick();
    };
    informer.on('add', put);
    informer.on('update', put);
    informer.on('delete', (pod) => { this.pods.delete(pod.metadata?.name ?? ''); this.kick(); });
    informer.on('error', (err) => {
      this.opts.logger.warn(`watching waygate pods in ${namespace}: ${(err as Error).message ?? err}; restarting`, { component: 'gateway-services' });
      setTimeout(() => { if (!this.stopped) void informer.start(); }, 2000);
    });
    this.informer = informer;
    await informer.start();
    this.unsubscribe = this.opts.leader.onChange((leading) => {
      this.applied.clear(); // a new leader checks everything: the last one may have left work half done
      if (leading) this.kick();
    });
  }

  async stop(): Promise<void> {
    // A stopping leader marks its own pod terminating before it lets go of the lease: new
    // connections stop coming to it now, not only once the next leader has taken over.
    const me = this.opts.selfPod !== undefined ? this.pods.get(this.opts.selfPod) : undefined;
    if (me && this.opts.leader.isLeader()) {
      this.pods.set(me.name, { ...me, terminating: true });
      while (this.running) await this.running;
      await this.reconcile().catch((err) => this.opts.logger.warn(`gateway services: leaving the slices: ${(err as Error).message}`, { component: 'gateway-services' }));
    }
    this.stopped = true;
    clearTimeout(this.retry);
    this.unsubscribe?.();
    await this.informer?.stop();
  }

  /** After each rebuild. */
  update(graph: Graph): void {
    this.graph = graph;
    this.kick();
  }

  private kick(): void {
    if (this.stopped) return;
    if (this.running) { this.again = true; return; }
    this.running = this.reconcile()
      .catch((err) => { this.opts.logger.error(`gateway services: ${(err as Error).message}`, { component: 'gateway-services' }); })
      .finally(() => {
        this.running = undefined;
        if (this.again) { this.again = false; this.kick(); }
      });
  }

  private async reconcile(): Promise<void> {
    const graph = this.graph;
    if (!graph || !this.opts.leader.isLeader()) return;
    const pods = [...this.pods.values()];
    let failed = false;
    for (const gw of graph.gateways) {
      if (!gw.service) continue;
      const s = gw.service;
      const log = { component: 'gateway-services', kind: 'Gateway', namespace: gw.obj.metadata.namespace, name: gw.obj.metadata.name };
      const ns = encodeURIComponent(s.namespace);
      const name = encodeURIComponent(s.name);
      for (const [kind, collection, body] of [
        ['Service', `/api/v1/namespaces/${ns}/services`, serviceObject(s, gw.obj)],
        ['EndpointSlice', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, endpointSliceObject(s, gw.obj, pods, this.opts.podNamespace)],
      ] as const) {
        const path = `${collection}/${name}`;
        const json = JSON.stringify(body);
        if (this.applied.get(path) === json) continue;
        const existing = this.opts.store.get(kind, s.namespace, s.name);
        // Never someone else's object of that name (the graph already refuses a foreign Service).
        if (existing && existing.metadata.labels?.[managedByLabel] !== managedByValue) {
          this.opts.logger.warn(`${kind} ${s.namespace}/${s.name} exists and is not waygate's; leaving it alone`, log);
          continue;
        }
        try {
          if (!existing) {
            // Created, never applied over: an object of that name the cache has not seen yet
            // answers 409 and is looked at again on the next event.
            await requestJson(this.opts.kubeConfig, 'POST', collection, { body, query: { fieldManager }, timeoutMs: 10_000 });
          } else {
            // The uid makes the apply conditional: a replaced object of that name is not ours.
            const conditional = { ...body, metadata: { ...(body.metadata as object), uid: existing.metadata.uid } };
            await requestJson(this.opts.kubeConfig, 'PATCH', path, { body: conditional, contentType: 'application/apply-patch+yaml', query: { fieldManager, force: 'true' }, timeoutMs: 10_000 });
          }
          this.applied.set(path, json);
          this.opts.logger.info(`${existing ? 'applied' : 'created'} ${kind} ${s.namespace}/${s.name}`, log);
        } catch (err) {
          // One Gateway's failure stays its own: the others are still applied.
          failed = true;
          this.applied.delete(path);
          this.opts.logger.warn(`writing ${kind} ${s.namespace}/${s.name}: ${(err as Error).message}`, log);
        }
      }
    }
    for (const o of staleObjects(this.opts.store, graph)) {
      const path = o.kind === 'Service'
        ? `/api/v1/namespaces/${encodeURIComponent(o.metadata.namespace ?? '')}/services/${encodeURIComponent(o.metadata.name)}`
        : `/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(o.metadata.namespace ?? '')}/endpointslices/${encodeURIComponent(o.metadata.name)}`;
      try {
        await requestJson(this.opts.kubeConfig, 'DELETE', path, { timeoutMs: 10_000, body: { kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { uid: o.metadata.uid } } });
        this.applied.delete(path);
        this.opts.logger.info(`deleted ${o.kind} ${o.metadata.namespace}/${o.metadata.name}: its Gateway is no longer exposed`, { component: 'gateway-services', kind: o.kind, namespace: o.metadata.namespace, name: o.metadata.name });
      } catch (err) {
        if (!(err instanceof ApiError && (err.statusCode === 404 || err.statusCode === 409))) {
          failed = true;
          this.opts.logger.warn(`deleting ${o.kind} ${o.metadata.namespace}/${o.metadata.name}: ${(err as Error).message}`, { component: 'gateway-services' });
        }
      }
    }
    if (failed && !this.stopped) {
      clearTimeout(this.retry);
      this.retry = setTimeout(() => this.kick(), this.opts.retryMs ?? 5000);
    }
  }
}
