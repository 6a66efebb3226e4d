// Reads and writes one coordination.k8s.io/v1 Lease with plain JSON requests, each bounded
// by a timeout: a leader must learn that a renewal failed before its deadline passes, and
// client-node's typed API has no per-request timeout (and turns MicroTimes into Dates).
import { request as httpsRequest } from 'node:https';
import { request as httpRequest, type RequestOptions } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import { ApiError } from '../sources/rest.ts';
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

  private async send<T>(method: string, path: string, body: unknown, timeoutMs: number): Promise<T> {
    const server = this.kubeConfig.getCurrentCluster()?.server;
    if (!server) throw new Error('the kubeconfig has no current cluster');
    const url = new URL(server.replace(/\/+$/, '') + path);
    url.searchParams.set('fieldManager', 'waygate-leader-election');
    if (method === 'GET') url.search = '';
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (payload !== undefined) headers['Content-Type'] = 'application/json';
    const opts: RequestOptions & { headers: Record<string, string> } = { method, headers, timeout: timeoutMs };
    await this.kubeConfig.applyToHTTPSOptions(opts);
    const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
    return new Promise<T>((resolve, reject) => {
      const req = send(url, opts, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('error', reject);
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status < 200 || status >= 300) {
            reject(new ApiError(status, `${method} ${path}: HTTP ${status}: ${message(text)}`));
            return;
          }
          try {
            resolve(JSON.parse(text) as T);
          } catch (err) {
            reject(new Error(`${method} ${path}: invalid JSON: ${(err as Error).message}`));
          }
        });
      });
      // The whole exchange is bounded, not only idle time: a trickling answer is no renewal.
      const timer = setTimeout(() => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)), timeoutMs);
      req.on('close', () => clearTimeout(timer));
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }
}

function record(obj: LeaseObject): LeaseRecord {
  const resourceVersion = obj.metadata.resourceVersion;
  if (!resourceVersion) throw new Error('the API server returned a Lease without metadata.resourceVersion');
  return { resourceVersion, spec: obj.spec ?? {} };
}

function message(body: string): string {
  try {
    const s = JSON.parse(body) as { message?: string };
    if (s.message) return s.message;
  } catch {
    // not JSON
  }
  return body.slice(0, 200);
}
