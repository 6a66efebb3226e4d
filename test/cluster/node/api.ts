// The node agent's API server client: JSON over HTTPS with the kubeconfig's credentials on
// one keep-alive agent, plus a watch that only says "something changed" (the agent
// reconciles from lists, so it never has to trust a watch to be complete).
import { Agent, request } from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';

export class ApiError extends Error {
  readonly statusCode: number;
  constructor(
    statusCode: number,
    message: string,
  ) {
    super(message);
    this.statusCode = statusCode;
  }
}

export interface RequestOptions {
  body?: unknown;
  /** Content-Type of the body; PATCH defaults to a JSON merge patch. */
  contentType?: string;
  query?: Record<string, string | undefined>;
  timeoutMs?: number;
}

export interface Api {
  server: string;
  request<T>(method: string, path: string, opts?: RequestOptions): Promise<T>;
  /** Streams watch events of `path` until the server ends the watch or `signal` aborts. */
  watch(path: string, query: Record<string, string>, onEvent: (type: string, obj: unknown) => void, signal: AbortSignal): Promise<void>;
  close(): void;
}

export async function connect(kubeconfig: string): Promise<Api> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const server = kc.getCurrentCluster()?.server?.replace(/\/+$/, '');
  if (!server?.startsWith('https://')) throw new Error(`${kubeconfig}: the current cluster needs an https:// server`);
  // Let client-node resolve files, tokens and CA once; then reuse them on our own agent.
  const tmpl: { ca?: Buffer; cert?: Buffer; key?: Buffer; headers?: Record<string, string> } = {};
  await kc.applyToHTTPSOptions(tmpl);
  const agent = new Agent({ keepAlive: true, maxSockets: 16, ca: tmpl.ca, cert: tmpl.cert, key: tmpl.key });
  const headers = { ...(tmpl.headers ?? {}) };

  const url = (path: string, query: Record<string, string | undefined> = {}) => {
    const u = new URL(server + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) u.searchParams.set(k, v);
    return u;
  };

  const api: Api = {
    server,
    request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
      const timeoutMs = opts.timeoutMs ?? 30_000;
      // Content-Length always: Node sends a DELETE body unframed otherwise, which the server
      // ignores and then misreads as the start of the next request on the connection.
      const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
      const contentType = opts.contentType ?? (method === 'PATCH' ? 'application/merge-patch+json' : 'application/json');
      return new Promise<T>((resolve, reject) => {
        const req = request(url(path, opts.query), { method, agent, headers: { ...headers, Accept: 'application/json', ...(body ? { 'Content-Type': contentType, 'Content-Length': String(Buffer.byteLength(body)) } : {}) }, timeout: timeoutMs }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (d: string) => (text += d));
          res.on('error', reject);
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status < 200 || status >= 300) return reject(new ApiError(status, `${method} ${path}: HTTP ${status}: ${statusMessage(text)}`));
            try {
              resolve((text ? JSON.parse(text) : undefined) as T);
            } catch (err) {
              reject(new Error(`${method} ${path}: invalid JSON: ${(err as Error).message}`));
            }
          });
        });
        req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)));
        req.on('error', reject);
        req.end(body);
      });
    },
    watch(path, query, onEvent, signal) {
      return new Promise<void>((resolve, reject) => {
        if (signal.aborted) return resolve();
        const req = request(url(path, { ...query, watch: 'true' }), { method: 'GET', agent, headers: { ...headers, Accept: 'application/json' }, signal }, (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            return reject(new ApiError(res.statusCode ?? 0, `watch ${path}: HTTP ${res.statusCode}`));
          }
          let buf = '';
          res.setEncoding('utf8').on('data', (d: string) => {
            buf += d;
            for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
              const line = buf.slice(0, nl).trim();
              buf = buf.slice(nl + 1);
              if (!line) continue;
              const ev = JSON.parse(line) as { type: string; object: unknown };
              onEvent(ev.type, ev.object);
            }
          });
          res.on('end', () => resolve());
          res.on('error', (err) => (signal.aborted ? resolve() : reject(err)));
        });
        req.on('error', (err) => (signal.aborted ? resolve() : reject(err)));
        req.end();
      });
    },
    close: () => agent.destroy(),
  };
  return api;
}

function statusMessage(body: string): string {
  try {
    const s = JSON.parse(body) as { message?: string };
    if (s.message) return s.message;
  } catch {
    // not JSON
  }
  return body.slice(0, 300);
}

export function isStatus(err: unknown, ...codes: number[]): boolean {
  return err instanceof ApiError && codes.includes(err.statusCode);
}
