// Reads and writes one coordination.k8s.io/v1 Lease with plain JSON requests, each bounded
// by a timeout: a leader must learn that a renewal failed before its deadline passes, and
// client-node's typed API has no per-request timeout (and turns MicroTimes into Dates).
import type { KubeConfig } from '@kubernetes/client-node';
import { ApiError, requestJson } from '../sources/rest.ts';
import type { LeaseRecord, LeaseSpec } from './lease.ts';

export interface LeaseClient {
  /** The Lease, or undefined when there is none. */
  get(timeoutMs: number): Promise<LeaseRecord | undefined>;
  /** Creates the Lease; ApiError 409 when it exists. */
  create(spec: LeaseSpec, timeoutMs: number): Promise<LeaseRecord>;
  /** Replaces the spec if the Lease is still at resourceVersion; ApiError 409 otherwise. */
  update(resourceVersion: string, spec: LeaseSpec, timeoutMs: number): Promise<LeaseRecord>;
}

interface LeaseObject {
  metadata: { resourceVersion?: string };
  spec?: LeaseSpec;
}

export class KubeLeaseClient implements LeaseClient {
  private readonly kubeConfig: KubeConfig;
  private readonly namespace: string;
  private readonly name: string;

  constructor(kubeConfig: KubeConfig, namespace: string, name: string) {
    this.kubeConfig = kubeConfig;
    this.namespace = namespace;
    this.name = name;
  }

  private get collection(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.namespace)}/leases`;
  }

  async get(timeoutMs: number): Promise<LeaseRecord | undefined> {
    try {
      return record(await this.send<LeaseObject>('GET', `${this.collection}/${encodeURIComponent(this.name)}`, undefined, timeoutMs));
    } catch (err) {
      if (err instanceof ApiError && err.statusCode === 404) return undefined;
      throw err;
    }
  }

  async create(spec: LeaseSpec, timeoutMs: number): Promise<LeaseRecord> {
    const body = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.name, namespace: this.namespace }, spec };
    return record(await this.send<LeaseObject>('POST', this.collection, body, timeoutMs));
  }

  async update(resourceVersion: string, spec: LeaseSpec, timeoutMs: number): Promise<LeaseRecord> {
    const body = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.name, namespace: this.namespace, resourceVersion }, spec };
    return record(await this.send<LeaseObject>('PUT', `${this.collection}/${encodeURIComponent(this.name)}`, body, timeoutMs));
  }

  private send<T>(method: string, path: string, body: unknown, timeoutMs: number): Promise<T> {
    return requestJson<T>(this.kubeConfig, method, path, { body, timeoutMs, query: method === 'GET' ? {} : { fieldManager: 'waygate-leader-election' } });
  }
}

function record(obj: LeaseObject): LeaseRecord {
  const resourceVersion = obj.metadata.resourceVersion;
  if (!resourceVersion) throw new Error('the API server returned a Lease without metadata.resourceVersion');
  return { resourceVersion, spec: obj.spec ?? {} };
}
