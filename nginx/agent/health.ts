// The probe and metrics endpoint shared by the agent and the operator (both containers of
// the pod): GET /healthz (alive: the component's own checks), /readyz (its readiness
// checks), /metrics (a prom-client registry). Plain text answers; 200 when every check
// passes, 503 with the failing checks otherwise. The event loop answers /healthz itself: a
// blocked loop cannot answer, and the probe's timeout fails it (a heartbeat timer could not
// tell more: after a block, timers run before the waiting request is read). The loop's lag
// is in /metrics (nodejs_eventloop_lag_seconds) with the default metrics.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface HealthChecks {
  /** Why the component is not alive (e.g. nginx master gone); empty = alive. */
  notAlive?(): string[];
  /** Why the component is not ready; empty = ready. */
  notReady(): string[];
  registry: Registry;
}

export interface HealthServerOptions extends HealthChecks {
  port: number;
  /** Default 0.0.0.0 (the kubelet probes the pod IP). */
  host?: string;
}

export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startHealthServer(opts: HealthServerOptions): Promise<HealthServer> {
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
        case '/healthz':
          answer(opts.notAlive?.() ?? []);
          return;
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
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
