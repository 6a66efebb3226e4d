// The part of the kubelet API that `kubectl logs` needs: kube-apiserver proxies
// GET /containerLogs/<ns>/<pod>/<container>?follow&tailLines&sinceSeconds&sinceTime&
// timestamps&limitBytes&previous&stream to https://<node InternalIP>:<kubelet port>.
// TLS both ways with the test bed's CA: the API server verifies this server's certificate
// (--kubelet-certificate-authority) and presents its client certificate
// (--kubelet-client-certificate), which any request here must carry.
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ContainerRunner } from './container.ts';
import { parseLine, readFrom, readLog, selected, type LogQuery } from './logfile.ts';

export interface KubeletApiOptions {
  host: string;
  port: number;
  cert: string;
  key: string;
  ca: string;
  /** The container of a pod on this node, if any. */
  lookup: (ns: string, pod: string, container: string) => { runner?: ContainerRunner } | undefined;
  log: (msg: string) => void;
}

export interface KubeletApi {
  port: number;
  close(): Promise<void>;
}

function fail(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' }).end(message);
}

function query(url: URL): LogQuery & { follow: boolean; previous: boolean } {
  const num = (k: string) => (url.searchParams.has(k) ? Number(url.searchParams.get(k)) : undefined);
  const bool = (k: string) => ['true', '1'].includes(url.searchParams.get(k) ?? '');
  const sinceSeconds = num('sinceSeconds');
  const sinceTime = url.searchParams.get('sinceTime');
  return {
    follow: bool('follow'),
    previous: bool('previous'),
    timestamps: bool('timestamps'),
    tailLines: num('tailLines'),
    limitBytes: num('limitBytes'),
    stream: url.searchParams.get('stream') ?? undefined,
    since: sinceSeconds !== undefined ? new Date(Date.now() - sinceSeconds * 1000) : sinceTime ? new Date(sinceTime) : undefined,
  };
}

function serveLogs(req: IncomingMessage, res: ServerResponse, runner: ContainerRunner, podName: string, url: URL): void {
  const q = query(url);
  const file = runner.logPath(q.previous);
  if (!file || !existsSync(file)) {
    if (q.previous) return fail(res, 400, `previous terminated container "${runner.name}" in pod "${podName}" not found`);
    const waiting = runner.state.waiting;
    return fail(res, 400, `container "${runner.name}" in pod "${podName}" is waiting to start: ${waiting?.reason ?? 'ContainerCreating'}`);
  }
  let budget = q.limitBytes ?? Number.POSITIVE_INFINITY;
  const send = (text: string): boolean => {
    const buf = Buffer.from(text, 'utf8');
    if (buf.length >= budget) {
      res.end(buf.subarray(0, budget));
      return false;
    }
    budget -= buf.length;
    if (buf.length) res.write(buf);
    return true;
  };
  res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
  const first = readLog(file, q);
  if (!send(first.text)) return;
  if (!q.follow || q.previous) return void res.end();

  // Follow: new lines of this run's file, until the client goes or the container stops.
  let offset = first.offset;
  const renderer = first.renderer;
  const timer = setInterval(() => {
    const done = runner.logComplete(file); // decided before the last read: nothing is missed
    const more = readFrom(file, offset);
    offset = more.offset;
    for (const line of more.lines) {
      const e = parseLine(line);
      if (e && selected(e, q) && !send(renderer.render(e))) return clearInterval(timer);
    }
    if (done) {
      clearInterval(timer);
      res.end();
    }
  }, 200);
  req.on('close', () => clearInterval(timer));
}

export function startKubeletApi(o: KubeletApiOptions): Promise<KubeletApi> {
  const server: Server = createServer({ cert: readFileSync(o.cert), key: readFileSync(o.key), ca: readFileSync(o.ca), requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://kubelet');
    const m = url.pathname.match(/^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)\/?$/);
    if (req.method === 'GET' && url.pathname === '/healthz') return void res.end('ok');
    if (req.method !== 'GET' || !m) return fail(res, 404, `${req.method} ${url.pathname}: not served by the waygate node agent (it serves /containerLogs and /healthz)`);
    const [ns, pod, container] = m.slice(1).map(decodeURIComponent);
    const found = o.lookup(ns, pod, container);
    if (!found) return fail(res, 404, `pod ${ns}/${pod} is not on this node`);
    if (!found.runner) return fail(res, 404, `container "${container}" not found in pod ${ns}/${pod}`);
    try {
      serveLogs(req, res, found.runner, pod, url);
    } catch (err) {
      o.log(`kubelet API: ${req.url}: ${(err as Error).message}`);
      if (!res.headersSent) fail(res, 500, (err as Error).message);
      else res.end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      const addr = server.address();
      resolve({
        port: typeof addr === 'object' && addr ? addr.port : o.port,
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            server.closeAllConnections();
          }),
      });
    });
  });
}
