// The in-memory object store: every watched object by kind and key, and a change signal.
// Sources (API server watches, a YAML directory) write here; the graph reads a snapshot.
import { isWatchedKind, keyOf, objectKey, ofKind, type KubeObject, type ObjectOfKind, type WatchedKind } from './objects.ts';

/**
 * Whether resourceVersion `a` is newer than `b`. The API server's are etcd revisions, decimal
 * integers that grow with every write (comparable since Kubernetes 1.34, KEP-5504); anything
 * else cannot be ordered, and then nothing is newer: the watch brings the change instead.
 */
function isNewer(a: string | undefined, b: string | undefined): boolean {
  const decimal = /^[1-9][0-9]{0,30}$/;
  if (!a || !b || !decimal.test(a) || !decimal.test(b)) return false;
  return BigInt(a) > BigInt(b);
}

export type Snapshot = ReadonlyMap<string, readonly KubeObject[]>;

export class Store {
  private readonly byKind = new Map<string, Map<string, KubeObject>>();
  private readonly listeners = new Set<(statusOnly: boolean) => void>();
  private revision = 0;
  /** Revision at which each object last changed: the order of suspicion when a config fails. */
  private readonly changedAt = new Map<string, number>();

  /** Adds or replaces one object. */
  upsert(obj: KubeObject): void {
    const key = keyOf(obj);
    const before = this.kind(obj.kind).get(key);
    this.kind(obj.kind).set(key, obj);
    if (before && statusOnly(before, obj)) return this.changed(true);
    this.changedAt.set(key, this.revision + 1);
    this.changed();
  }

  /**
   * Takes a copy of an object that we got from our own request (a status write's answer), not
   * from the watch: only when the Store still holds that very object (same uid) at an older
   * resourceVersion. A DELETED event may have arrived while the request was in flight, and
   * the watch may already have delivered something newer; an upsert here would bring a
   * deleted route back for good (no further event ever removes it) or roll a spec back.
   * Returns whether the copy was taken.
   */
  refresh(obj: KubeObject): boolean {
    const have = this.get(obj.kind, obj.metadata.namespace, obj.metadata.name);
    if (!have || have.metadata.uid === undefined || have.metadata.uid !== obj.metadata.uid) return false;
    if (!isNewer(obj.metadata.resourceVersion, have.metadata.resourceVersion)) return false;
    this.upsert(obj);
    return true;
  }

  /** When an object last changed (a store revision; 0 when unknown). */
  lastChanged(key: string): number {
    return this.changedAt.get(key) ?? 0;
  }

  remove(kind: string, namespace: string | undefined, name: string): void {
    if (this.kind(kind).delete(objectKey(kind, namespace, name))) this.changed();
  }

  /**
   * Replaces every object of a kind: what a relist after a watch restart returns is the
   * truth, so objects deleted while the watch was down disappear here too.
   */
  replaceKind(kind: string, objects: readonly KubeObject[]): void {
    const next = new Map(objects.map((o) => [keyOf(o), o] as const));
    const before = this.byKind.get(kind);
    for (const [key, o] of next) {
      const old = before?.get(key);
      if (!old || old.metadata.resourceVersion !== o.metadata.resourceVersion || (o.metadata.resourceVersion === undefined && JSON.stringify(old) !== JSON.stringify(o))) this.changedAt.set(key, this.revision + 1);
    }
    for (const key of before?.keys() ?? []) if (!next.has(key)) this.changedAt.delete(key);
    this.byKind.set(kind, next);
    this.changed();
  }

  /** One object; typed as its kind when the kind is a literal (objects are filed under their own kind, and validated; see ofKind). */
  get<K extends WatchedKind>(kind: K, namespace: string | undefined, name: string): ObjectOfKind<K> | undefined;
  get(kind: string, namespace: string | undefined, name: string): KubeObject | undefined;
  get(kind: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.byKind.get(kind)?.get(objectKey(kind, namespace, name));
  }

  /** Every object of a kind; typed as the kind when it is a literal. */
  list<K extends WatchedKind>(kind: K): ObjectOfKind<K>[];
  list(kind: string): KubeObject[];
  list(kind: string): KubeObject[] {
    const all = [...(this.byKind.get(kind)?.values() ?? [])];
    return isWatchedKind(kind) ? ofKind(all, kind) : all;
  }

  /** A consistent copy of everything, sorted by key so that the graph is deterministic. */
  snapshot(): Snapshot {
    const out = new Map<string, KubeObject[]>();
    for (const [kind, objs] of this.byKind) {
      out.set(kind, [...objs.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, o]) => o));
    }
    return out;
  }

  get version(): number {
    return this.revision;
  }

  /** `statusOnly`: only the status of an object whose status waygate writes changed (nothing the graph reads). */
  onChange(listener: (statusOnly: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private kind(kind: string): Map<string, KubeObject> {
    let m = this.byKind.get(kind);
    if (!m) this.byKind.set(kind, (m = new Map()));
    return m;
  }

  private changed(statusOnly = false): void {
    this.revision++;
    for (const l of this.listeners) l(statusOnly);
  }
}

/** Kinds whose status is waygate's own output: the graph never reads it (a Service's status, its load balancer, it does). */
const OWN_STATUS = new Set(['GatewayClass', 'Gateway', 'HTTPRoute', 'GRPCRoute', 'TLSRoute', 'TCPRoute', 'UDPRoute', 'BackendTLSPolicy']);

/**
 * Whether `after` differs from `before` in its status (and resourceVersion) only. Our own
 * status writes come back as such watch events: at 10,000 routes each one rebuilt the whole
 * configuration (most of a second) and delayed the next real change by as much.
 */
export function statusOnly(before: KubeObject, after: KubeObject): boolean {
  if (!OWN_STATUS.has(after.kind)) return false;
  const bare = (o: KubeObject) => JSON.stringify({ ...o, status: undefined, metadata: { ...o.metadata, resourceVersion: undefined, managedFields: undefined } });
  return bare(before) === bare(after);
}
