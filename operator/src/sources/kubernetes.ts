// The cluster as a source: every kind of watchedKinds, listed and watched into the Store.
import operatorPackage from '@dot-i/k8s-operator';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'winston';
import { watchedKinds, type WatchedKind } from '../objects.ts';
import type { Store } from '../store.ts';
import { KindWatch, type Backoff } from './informer.ts';
import { operatorLogger } from './logger.ts';
import { apiVersionOf, discoverServed, kindApi, pickVersion, type KindApi, type ServedResources, type VersionOverrides } from './versions.ts';

// The package is CommonJS with an ES-style default export: from ESM, the class is `.default`.
const Operator = operatorPackage.default;

const gatewayGroup = 'gateway.networking.k8s.io';

/** Field selectors per kind: only TLS Secrets matter (certificateRefs), and there may be many others. */
const fieldSelectors: Partial<Record<WatchedKind, string>> = { Secret: 'type=kubernetes.io/tls' };

export interface KubernetesSourceOptions {
  store: Store;
  logger: Logger;
  /** Defaults to the base class's: $KUBECONFIG, ~/.kube/config or the in-cluster service account. */
  kubeConfig?: KubeConfig;
  /** Kinds to watch; all of watchedKinds by default. */
  kinds?: readonly WatchedKind[];
  /** Version per kind, instead of discovery (e.g. TLSRoute: 'v1alpha2' to pin an old CRD). */
  versions?: VersionOverrides;
  /** Pick Gateway API versions by discovery (v1 when served); otherwise the defaults of watchedKinds. Default true. */
  discovery?: boolean;
  /** Delay between restarts of a failed watch: doubles from initialMs up to maxMs. Default 0.2 s → 5 s. */
  backoff?: Backoff;
  /** How often to look again for a kind whose CRD is not installed. Default 30 s. */
  missingRetryMs?: number;
}

/**
 * An operator in the sense of @dot-i/k8s-operator, whose base class gives the lifecycle
 * (start() → init(), stop()), the logger contract and a loaded kubeConfig.
 *
 * Its watchResource() is not used: with client-node ≥ 1 it restarts a closed watch without
 * a resourceVersion (every object is replayed as ADDED, deletes in the gap are never seen)
 * and calls process.exit(1) on any watch error. init() starts KindWatches instead: client-node
 * ListWatch informers that relist into the Store after every failure. The base class's status
 * and finalizer helpers are not used either: they need watchResource's path builders, and
 * build URLs from k8sApi.basePath, which client-node ≥ 1 no longer has (see getCustomResourceApiUri).
 */
export class KubernetesSource extends Operator {
  private readonly watches = new Map<WatchedKind, KindWatch>();
  private markStarted!: () => void;
  private readonly started = new Promise<void>((resolve) => (this.markStarted = resolve));
  private served: { at: number; result: Promise<ServedResources> } | undefined;

  private readonly options: KubernetesSourceOptions;
  constructor(options: KubernetesSourceOptions) {
    super(operatorLogger(options.logger));
    this.options = options;
    if (options.kubeConfig) {
      this.kubeConfig = options.kubeConfig;
      this.k8sApi = options.kubeConfig.makeApiClient(CoreV1Api);
    }
  }

  /** The kubeconfig in use, for other clients (the status writer). */
  get config(): KubeConfig {
    return this.kubeConfig;
  }

  protected override async init(): Promise<void> {
    const { store, logger } = this.options;
    for (const kind of this.options.kinds ?? (Object.keys(watchedKinds) as WatchedKind[])) {
      if (this.watches.has(kind)) continue;
      const watch = new KindWatch({
        kind,
        kubeConfig: this.kubeConfig,
        store,
        logger,
        resolve: () => this.resolve(kind),
        fieldSelector: fieldSelectors[kind],
        backoff: this.options.backoff ?? { initialMs: 200, maxMs: 5000 },
        missingRetryMs: this.options.missingRetryMs ?? 30_000,
      });
      this.watches.set(kind, watch);
      watch.start();
    }
    this.markStarted();
  }

  /** Resolves when every kind has been listed once (a kind whose CRD is missing counts as listed, empty). */
  async ready(): Promise<void> {
    await this.started; // ready() may be called before start()
    await Promise.all([...this.watches.values()].map((w) => w.synced));
  }

  /** "group/version" each kind is watched at; absent while not served. */
  watchedApiVersions(): Partial<Record<WatchedKind, string>> {
    const out: Partial<Record<WatchedKind, string>> = {};
    for (const [kind, w] of this.watches) if (w.watchedApi) out[kind] = apiVersionOf(w.watchedApi);
    return out;
  }

  override async stop(): Promise<void> {
    super.stop();
    await Promise.all([...this.watches.values()].map((w) => w.stop()));
    this.watches.clear();
  }

  /** Never: see the class comment. */
  protected override async watchResource(): Promise<void> {
    throw new Error('KubernetesSource watches with client-node informers; watchResource of @dot-i/k8s-operator is not safe to use');
  }

  /** The base class prefixes k8sApi.basePath, undefined with client-node ≥ 1: use the cluster's server. */
  protected override getCustomResourceApiUri(group: string, version: string, plural: string, namespace?: string): string {
    const server = this.kubeConfig.getCurrentCluster()?.server ?? '';
    const ns = namespace ? `namespaces/${namespace}/` : '';
    return `${server}${group ? `/apis/${group}/${version}/` : `/api/${version}/`}${ns}${plural}`;
  }

  private async resolve(kind: WatchedKind): Promise<KindApi | undefined> {
    const override = this.options.versions?.[kind];
    if (watchedKinds[kind].group !== gatewayGroup || this.options.discovery === false) return kindApi(kind, override);
    const version = pickVersion(kind, await this.discover(), override);
    return version ? kindApi(kind, version) : undefined;
  }

  /** Discovery of the Gateway API group, shared by its kinds when they (re)start together. */
  private discover(): Promise<ServedResources> {
    if (!this.served || Date.now() - this.served.at > 10_000) {
      const result = discoverServed(this.kubeConfig, gatewayGroup);
      const entry = { at: Date.now(), result };
      result.catch(() => {
        if (this.served === entry) this.served = undefined; // do not cache a failure
      });
      this.served = entry;
    }
    return this.served.result;
  }
}
