// HTTP requests to a Gateway address with a chosen Host header, no proxies, no keep-alive.
import { request } from 'node:http';
import { waitFor } from '../cluster/exec.ts';

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** x-backend of the echo server that answered, if any. */
  backend?: string;
}

export function get(address: string, port: number, path: string, opts: { host?: string; headers?: Record<string, string>; method?: string; timeoutMs?: number } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request({ host: address, port, path, method: opts.method ?? 'GET', headers: { host: opts.host ?? 'example.com', connection: 'close', ...opts.headers }, timeout: opts.timeoutMs ?? 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d) => (body += d)).on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, backend: res.headers['x-backend'] as string | undefined }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${opts.method ?? 'GET'} http://${address}:${port}${path}`)));
    req.on('error', reject);
    req.end();
  });
}

/** Polls until `probe` returns a value that `ok` accepts; returns it, or throws with the last value seen. */
export async function eventually<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  let seen = false;
  let last: T | undefined;
  try {
    return await waitFor(what, async () => {
      last = await probe();
      seen = true;
      return ok(last) ? last : undefined;
    }, timeoutMs, everyMs);
  } catch (e) {
    throw new Error(`${(e as Error).message}${seen ? `; last: ${JSON.stringify(last)?.slice(0, 500)}` : ''}`);
  }
}
