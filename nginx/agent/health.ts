// The probe and metrics endpoint shared by the agent and the operator (both containers of
// the pod): GET /healthz (alive: the event loop turns, plus the component's own checks),
// /readyz (the component's readiness checks), /metrics (a prom-client registry).
// Plain text answers; 200 when every check passes, 503 with the failing checks otherwise.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface HealthChecks {
  /** Why the component is not alive besides a stalled event loop (e.g. nginx master gone); empty = alive. */
  notAlive?(): string[];
  /** Why the component is not ready; empty = ready. */
  notReady(): string[];
  registry: Registry;
}

export interface HealthServerOptions extends HealthChecks {
  port: number;
  /** Default 0.0.0.0 (the kubelet probes the pod IP). */
  host?: string;
  /** /healthz fails when the event loop has not turned for this long (default 10 s). */
  stallMs?: number;
}

export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

const HEARTBEAT_MS = 500;

export async function startHealthServer(opts: HealthServerOptions): Promise<HealthServer> {
  const stallMs = opts.stallMs ?? 10_000;
  // A timer that stops firing means a blocked loop; the probe that finally gets through sees how long.
  let beat = performance.now();
  const heartbeat = setInterval(() => (beat = performance.now()), HEARTBEAT_MS).unref();

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const answer = (problems: string[]) => {
      res.writeHead(problems.length ? 503 : 200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end(problems.length ? `${problems.join('\n')}\n` : 'ok\n');
    };
    try {
      switch (path) {
        case '/healthz': {
          const stalled = performance.now() - beat;
          answer([...(stalled > stallMs ? [`event loop stalled for ${Math.round(stalled)} ms`] : []), ...(opts.notAlive?.() ?? [])]);
          return;
        }
        case '/readyz':
          answer(opts.notReady());
          return;
        case '/metrics':
          opts.registry.metrics().then(
            (body) => res.writeHead(200, { 'content-type': opts.registry.contentType }).end(body),
            (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
          );
          return;
        default:
          res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      }
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`);
    }
  });
  // Probes are tiny; a slow client must not hold a socket for long.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(heartbeat);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
