// Writes desired statuses to the API server, only where they change something.
//
// The current status comes from the Store (what the watches last saw), so an unchanged
// status costs no request at all. A change is a PUT of the status subresource carrying the
// object's resourceVersion: a route's status.parents is shared with other controllers, and a
// merge patch of that list would replace it whole, wiping their entries. With the
// resourceVersion precondition a concurrent write by anyone gives 409 Conflict instead;
// we then read the object fresh, merge again and retry.
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { objectFields, type Logger } from '../log.ts';
import { isWatchedKind, objectKey, watchedKinds, type KubeObject } from '../objects.ts';
import type { Store } from '../store.ts';
import { mergeStatus, statusEqual, type DesiredStatus } from './merge.ts';

export interface WriteResult {
  /** Statuses written. */
  written: number;
  /** Already as desired, or the object is gone. */
  skipped: number;
  /** 409 answers that were retried. */
  conflicts: number;
  /** Given up on (logged): errors other than 404/409, or still conflicting after maxAttempts. */
  failed: number;
}

export interface StatusWriterOptions {
  /** Requests in flight at once. */
  concurrency?: number;
  /** PUTs per object before giving up on conflicts. */
  maxAttempts?: number;
  /** The managedFields manager name of our writes. */
  fieldManager?: string;
  /** The current time as an RFC 3339 string (tests pin it). */
  now?: () => string;
  /** How long one request may take before it counts as failed (default 10 s). */
  requestTimeoutMs?: number;
}

/**
 * `promise`, or a rejection after `ms`. The client's fetch has no deadline of its own, and a
 * request whose connection broke at the wrong moment (an API server failover, a proxy cut)
 * can wait for minutes: the controller waits for its statuses before it builds again, so
 * such a request would freeze configuration for everyone.
 */
function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms); });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** metav1.Time: RFC 3339 with seconds precision. */
const rfc3339Now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

export class StatusWriter {
  private readonly api: CustomObjectsApi;
  private readonly concurrency: number;
  private readonly maxAttempts: number;
  private readonly fieldManager: string;
  private readonly now: () => string;
  private readonly requestTimeoutMs: number;

  private readonly controllerName: string;
  private readonly logger: Logger;
  constructor(
    kubeConfig: KubeConfig,
    controllerName: string,
    logger: Logger,
    options: StatusWriterOptions = {},
  ) {
    this.controllerName = controllerName;
    this.logger = logger;
    this.api = kubeConfig.makeApiClient(CustomObjectsApi);
    this.concurrency = options.concurrency ?? 8;
    this.maxAttempts = options.maxAttempts ?? 5;
    this.fieldManager = options.fieldManager ?? 'waygate';
    this.now = options.now ?? rfc3339Now;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  }

  async write(desired: readonly DesiredStatus[], store: Store): Promise<WriteResult> {
    const result: WriteResult = { written: 0, skipped: 0, conflicts: 0, failed: 0 };
    let next = 0;
    const worker = async () => {
      for (let d = desired[next++]; d; d = desired[next++]) {
        await this.writeOne(d, store, result);
        // An unchanged status costs no request, so nothing else would run until all are
        // compared (10,000 routes: most of a second): let watch events and I/O in.
        if (next % 256 === 0) await new Promise((r) => setImmediate(r));
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, desired.length) }, worker));
    return result;
  }

  private async writeOne(d: DesiredStatus, store: Store, result: WriteResult): Promise<void> {
    const key = objectKey(d.kind, d.namespace, d.name);
    let obj = store.get(d.kind, d.namespace, d.name);
    try {
      for (let attempt = 1; obj; attempt++) {
        const merged = mergeStatus(obj.status, d, this.controllerName, this.now());
        if (statusEqual(obj.status, merged)) {
          result.skipped++;
          return;
        }
        try {
          const updated = (await this.replaceStatus(obj, merged)) as KubeObject;
          // The answer is the newest state: later merges start from it, not from a Store
          // copy that the watch has not refreshed yet (which would only earn a 409). Only a
          // refresh: the route may have been deleted meanwhile (its DELETED event already in).
          store.refresh({ ...updated, apiVersion: obj.apiVersion, kind: obj.kind });
          result.written++;
          return;
        } catch (err) {
          if (httpStatus(err) !== 409) throw err;
          result.conflicts++;
          if (attempt >= this.maxAttempts) {
            this.logger.warn(`status of ${key}: still conflicting after ${attempt} attempts; left for the next round`, objectFields(key));
            result.failed++;
            return;
          }
          const fresh = await this.getFresh(obj);
          if (fresh) store.refresh(fresh);
          // A new object under the same name: this status was computed for the old one.
          obj = fresh?.metadata.uid === obj.metadata.uid ? fresh : undefined;
        }
      }
      result.skipped++; // not (or no longer) there: nothing to report status on
    } catch (err) {
      if (httpStatus(err) === 404) {
        result.skipped++;
        return;
      }
      this.logger.error(`status of ${key}: ${errorText(err)}`, objectFields(key));
      result.failed++;
    }
  }

  private async replaceStatus(obj: KubeObject, status: Record<string, unknown>): Promise<unknown> {
    const { name, namespace, resourceVersion } = obj.metadata;
    // Only status and the resourceVersion precondition count in a status PUT.
    const body = { apiVersion: obj.apiVersion, kind: obj.kind, metadata: { name, namespace, resourceVersion }, status };
    const at = this.location(obj);
    return withDeadline(at.namespace !== undefined
      ? this.api.replaceNamespacedCustomObjectStatus({ ...at, namespace: at.namespace, body, fieldManager: this.fieldManager })
      : this.api.replaceClusterCustomObjectStatus({ ...at, body, fieldManager: this.fieldManager }), this.requestTimeoutMs, 'status PUT');
  }

  /** The object as it is now, or undefined when it is gone. */
  private async getFresh(obj: KubeObject): Promise<KubeObject | undefined> {
    const at = this.location(obj);
    try {
      const fresh = (await withDeadline(at.namespace !== undefined
        ? this.api.getNamespacedCustomObject({ ...at, namespace: at.namespace })
        : this.api.getClusterCustomObject(at), this.requestTimeoutMs, 'GET')) as KubeObject;
      return { ...fresh, apiVersion: obj.apiVersion, kind: obj.kind };
    } catch (err) {
      if (httpStatus(err) === 404) return undefined;
      throw err;
    }
  }

  /** group/version from the object as watched (discovery may have picked a version), plural from watchedKinds. */
  private location(obj: KubeObject): { group: string; version: string; plural: string; name: string; namespace?: string } {
    if (!isWatchedKind(obj.kind)) throw new Error(`no status subresource known for kind ${obj.kind}`);
    const slash = obj.apiVersion.indexOf('/');
    if (slash < 0) throw new Error(`${obj.kind} is a core kind; this writer handles Gateway API kinds`);
    const kind = watchedKinds[obj.kind];
    return {
      group: obj.apiVersion.slice(0, slash),
      version: obj.apiVersion.slice(slash + 1),
      plural: kind.plural,
      name: obj.metadata.name,
      namespace: kind.namespaced ? obj.metadata.namespace : undefined,
    };
  }
}

/** HTTP status of client-node's ApiException. */
function httpStatus(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

function errorText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  // ApiException's message is generic; the API server's reason is in its body.
  const body = (err as { body?: unknown } | null)?.body;
  const detail = typeof body === 'string' ? body : (body as { message?: unknown } | undefined)?.message;
  return typeof detail === 'string' && detail ? `${text}: ${detail}` : text;
}
