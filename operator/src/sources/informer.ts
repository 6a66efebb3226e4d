// One kind's list+watch into the Store, kept alive across API server outages.
//
// client-node's ListWatch does the list and the watch. A watch that the server closes
// cleanly it resumes itself from the last resourceVersion (the server then sends every
// event since, or 410 Gone, on which ListWatch relists); that path is kept, only with its
// delay capped. But on any other failure (connection refused or reset, 5xx, 429) it emits
// 'error' and stops for good. So every restart here is a new ListWatch "session" that lists
// afresh, after a capped backoff, and the list result replaces the kind in the Store:
// objects deleted while the watch was down disappear although no DELETED event was seen.
import { setTimeout as sleep } from 'node:timers/promises';
import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'winston';
import type { KubeObject, WatchedKind } from '../objects.ts';
import type { Store } from '../store.ts';
import { getJson, statusCodeOf } from './rest.ts';
import { apiVersionOf, collectionPath, type KindApi } from './versions.ts';

export interface Backoff {
  initialMs: number;
  maxMs: number;
}

export interface KindWatchOptions {
  kind: WatchedKind;
  kubeConfig: KubeConfig;
  store: Store;
  logger: Logger;
  /** The API to watch, asked at every (re)start; undefined when no version is served (CRD not installed). */
  resolve: () => Promise<KindApi | undefined>;
  fieldSelector?: string;
  backoff: Backoff;
  /** How long to wait before looking again for a kind that is not served. */
  missingRetryMs: number;
  /** Items per list page. */
  pageSize?: number;
}

interface KubeList {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: KubernetesObject[];
}

/** Thrown into a superseded ListWatch so that it does not go on to open a watch. */
class Superseded extends Error {}

export class KindWatch {
  /** Resolves once a first list has reached the Store (or the kind was found not served). */
  readonly synced: Promise<void>;
  private markSynced!: () => void;
  private isSynced = false;
  private session = 0;
  private informer: ListWatch<KubernetesObject> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sessionStart = 0;
  private delayMs = 0;
  private stopped = true;
  private missingLogged = false;
  private failing = false;
  private api: KindApi | undefined;

  private readonly opts: KindWatchOptions;
  constructor(opts: KindWatchOptions) {
    this.opts = opts;
    this.synced = new Promise((resolve) => (this.markSynced = resolve));
  }

  /** The API currently watched; undefined while not served. */
  get watchedApi(): KindApi | undefined {
    return this.api;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.session++;
    clearTimeout(this.timer);
    const informer = this.informer;
    this.informer = undefined;
    await informer?.stop();
  }

  private current(session: number): boolean {
    return !this.stopped && session === this.session;
  }

  private async run(): Promise<void> {
    const session = ++this.session;
    this.sessionStart = Date.now();
    let api: KindApi | undefined;
    try {
      api = await this.opts.resolve();
    } catch (err) {
      this.failed(session, err);
      return;
    }
    if (!this.current(session)) return;
    if (!api) {
      this.notServed(session, 'no served version');
      return;
    }
    this.api = api;
    const { kind, kubeConfig } = this.opts;
    const maxMs = this.opts.backoff.maxMs;
    const informer = new ListWatch<KubernetesObject>(collectionPath(api), new Watch(kubeConfig), () => this.list(api, session), false, undefined, this.opts.fieldSelector, {
      delayFn: (ms) => sleep(Math.min(ms, maxMs)), // its own reconnect delay grows to 30 s
    });
    informer.on('add', (o) => this.current(session) && this.upsert(o, api));
    informer.on('update', (o) => this.current(session) && this.upsert(o, api));
    informer.on('delete', (o) => this.current(session) && this.opts.store.remove(kind, o.metadata?.namespace, o.metadata?.name ?? ''));
    informer.on('error', (err) => this.failed(session, err));
    this.informer = informer;
    try {
      await informer.start();
    } catch (err) {
      this.failed(session, err);
    }
    if (!this.current(session)) await informer.stop();
  }

  /** The list function of a session: all pages, then the Store's copy of the kind is replaced. */
  private async list(api: KindApi, session: number): Promise<KubernetesListObject<KubernetesObject>> {
    const items: KubernetesObject[] = [];
    let resourceVersion: string | undefined;
    let token: string | undefined;
    do {
      const page = await getJson<KubeList>(this.opts.kubeConfig, collectionPath(api), {
        limit: String(this.opts.pageSize ?? 500),
        continue: token,
        fieldSelector: this.opts.fieldSelector,
      });
      items.push(...(page.items ?? []));
      resourceVersion ??= page.metadata?.resourceVersion;
      token = page.metadata?.continue || undefined;
    } while (token);
    if (!this.current(session)) throw new Superseded();
    this.opts.store.replaceKind(this.opts.kind, items.map((o) => normalize(o, this.opts.kind, api)));
    if (this.failing || this.missingLogged) this.opts.logger.info(`${this.opts.kind}: listed ${items.length} at ${apiVersionOf(api)}, ${this.failing ? 'the watch is back' : 'now served'}`);
    this.failing = false;
    this.missingLogged = false;
    this.markListed();
    return { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion }, items };
  }

  private upsert(obj: KubernetesObject, api: KindApi): void {
    const o = normalize(obj, this.opts.kind, api);
    const have = this.opts.store.get(o.kind, o.metadata.namespace, o.metadata.name);
    // A relist re-announces every object it just put in the Store: no change, no signal.
    if (have && have.metadata.uid === o.metadata.uid && have.metadata.resourceVersion === o.metadata.resourceVersion) return;
    this.opts.store.upsert(o);
  }

  private failed(session: number, err: unknown): void {
    if (!this.current(session) || err instanceof Superseded) return;
    if (statusCodeOf(err) === 404) {
      this.notServed(session, errorText(err));
      return;
    }
    const { initialMs, maxMs } = this.opts.backoff;
    // A session that stayed up longer than the cap was healthy: start the backoff over.
    const healthy = Date.now() - this.sessionStart > maxMs;
    this.delayMs = healthy || this.delayMs === 0 ? initialMs : Math.min(this.delayMs * 2, maxMs);
    const msg = `${this.opts.kind}: watch failed (${errorText(err)}); relisting in ${this.delayMs} ms`;
    if (this.failing) this.opts.logger.debug(msg);
    else this.opts.logger.warn(msg);
    this.failing = true;
    this.restartIn(this.delayMs);
  }

  /** The CRD is not installed: the kind is empty, and looked for again now and then. */
  private notServed(session: number, why: string): void {
    if (!this.current(session)) return;
    this.api = undefined;
    if (!this.missingLogged) {
      this.opts.logger.warn(`${this.opts.kind}: not served by the API server (${why}); its CRD is probably not installed, looking again every ${this.opts.missingRetryMs / 1000} s`);
      this.missingLogged = true;
    }
    if (this.opts.store.list(this.opts.kind).length > 0 || !this.isSynced) this.opts.store.replaceKind(this.opts.kind, []);
    this.markListed();
    this.restartIn(this.opts.missingRetryMs);
  }

  private restartIn(ms: number): void {
    const informer = this.informer;
    this.informer = undefined;
    this.session++; // callbacks of the failed session are ignored from here on
    void informer?.stop();
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (!this.stopped) void this.run();
    }, ms);
  }

  private markListed(): void {
    if (this.isSynced) return;
    this.isSynced = true;
    this.markSynced();
  }
}

/** List items come without apiVersion and kind; the Store keys by kind. */
function normalize(obj: KubernetesObject, kind: WatchedKind, api: KindApi): KubeObject {
  return { ...(obj as KubeObject), apiVersion: apiVersionOf(api), kind };
}

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    return cause instanceof Error ? `${err.message}: ${cause.message}` : err.message;
  }
  return String(err);
}
