// A tiny echo backend: answers every request with JSON naming itself and what it saw.
// `npm start` runs a few of these for the example routes; tests use them as backends.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface EchoResponse {
  backend: string;
  method: string;
  path: string;
  host: string;
  headers: Record<string, string | string[] | undefined>;
}

export interface EchoServer {
  name: string;
  port: number;
  /** "127.0.0.1:port" */
  endpoint: string;
  requests: number;
  close(): Promise<void>;
}

export function startEcho(name: string, port = 0, host = '127.0.0.1'): Promise<EchoServer> {
  let count = 0;
  const server: Server = createServer((req, res) => {
    count++;
    const body: EchoResponse = { backend: name, method: req.method ?? '', path: req.url ?? '', host: req.headers.host ?? '', headers: req.headers };
    res.writeHead(200, { 'content-type': 'application/json', 'x-backend': name });
    res.end(`${JSON.stringify(body)}\n`);
  });
  server.keepAliveTimeout = 5000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const p = (server.address() as AddressInfo).port;
      resolve({
        name,
        port: p,
        endpoint: `${host}:${p}`,
        get requests() { return count; },
        close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
      });
    });
  });
}
