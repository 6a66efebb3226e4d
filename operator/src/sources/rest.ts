// Plain JSON requests to the API server with the kubeconfig's credentials. Lists go through
// here rather than client-node's typed APIs: those turn timestamps into Date objects, and
// the Store holds objects exactly as the API server serialises them.
import { request as httpsRequest } from 'node:https';
import { request as httpRequest, type RequestOptions } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';

/** A non-2xx answer; `statusCode` is the HTTP status (404: no such resource or object). */
export class ApiError extends Error {
  readonly statusCode: number;
  constructor(
    statusCode: number,
    message: string,
  ) {
    super(message);
    this.statusCode = statusCode;
    this.name = 'ApiError';
  }
}

export async function getJson<T>(kubeConfig: KubeConfig, path: string, query: Record<string, string | undefined> = {}, timeoutMs = 60_000): Promise<T> {
  return requestJson<T>(kubeConfig, 'GET', path, { query, timeoutMs });
}

export interface RequestJsonOptions {
  query?: Record<string, string | undefined>;
  body?: unknown;
  /** Default application/json; server-side apply takes application/apply-patch+yaml (JSON is YAML). */
  contentType?: string;
  timeoutMs?: number;
}

/** One request with the kubeconfig's credentials; resolves with the parsed answer (undefined when empty). */
export async function requestJson<T>(kubeConfig: KubeConfig, method: string, path: string, o: RequestJsonOptions = {}): Promise<T> {
  const server = kubeConfig.getCurrentCluster()?.server;
  if (!server) throw new Error('the kubeconfig has no current cluster');
  const url = new URL(server.replace(/\/+$/, '') + path);
  for (const [k, v] of Object.entries(o.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
  const timeoutMs = o.timeoutMs ?? 60_000;
  const payload = o.body === undefined ? undefined : JSON.stringify(o.body);
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (payload !== undefined) headers['Content-Type'] = o.contentType ?? 'application/json';
  const opts: RequestOptions & { headers: Record<string, string> } = { method, headers, timeout: timeoutMs };
  await kubeConfig.applyToHTTPSOptions(opts);
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
          reject(new ApiError(status, `${method} ${path}: HTTP ${status}: ${statusMessage(text)}`));
          return;
        }
        try {
          resolve((text ? JSON.parse(text) : undefined) as T);
        } catch (err) {
          reject(new Error(`${method} ${path}: invalid JSON: ${(err as Error).message}`));
        }
      });
    });
    // The whole exchange is bounded, not only idle time: a trickling answer is no answer (a
    // leader must learn that a renewal failed before its deadline).
    const timer = setTimeout(() => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('close', () => clearTimeout(timer));
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** The message of a metav1.Status body, or the body itself. */
function statusMessage(body: string): string {
  try {
    const s = JSON.parse(body) as { message?: string };
    if (s.message) return s.message;
  } catch {
    // not JSON
  }
  return body.slice(0, 200);
}

/** The HTTP status of an error from here, from client-node's ApiException or its Watch. */
export function statusCodeOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { statusCode?: unknown; code?: unknown };
  if (typeof e.statusCode === 'number') return e.statusCode;
  if (typeof e.code === 'number') return e.code;
  return undefined;
}
