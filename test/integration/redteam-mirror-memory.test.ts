// Red team: RequestMirror request bodies held in nginx's memory. A mirrored request's body is
// read whole (mirror_request_body), and the hop reads it again for every copy, into a 1m
// buffer in memory, held until the copy's subrequest to the mirror backend ends (up to 15 s,
// longer with a trickling backend). With 128 copies in flight per target and every
// RequestMirror filter its own target, one rule with 8 mirrors to a backend that never
// answers holds 8 x 128 x ~1 MB: about 1 GB, the nginx container's whole memory limit in
// the Deployment (1Gi), from ordinary 1 MB POSTs to the tenant's own route. Expected: the
// nginx workers' memory stays well below that while the attack runs.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { freePort } from '../cluster/processes.ts';
import { eventually } from '../support/http.ts';
import { captureLogger } from '../support/logs.ts';
import { tempStandalone, type TempStandalone } from '../support/standalone-run.ts';
import { backend, gateway, gatewayClass, httpRoute } from '../support/standalone-yaml.ts';

const ADDRESS = '127.0.0.153';
const MIRRORS = 8;
const BODY = Buffer.alloc(1_000_000, 'x');

/** Resident memory of the nginx workers (children of the master whose pid file is under runDir), in MB. */
function workersRssMB(runDir: string): number {
  const pids = execFileSync('find', [runDir, '-name', '*.pid'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  let kb = 0;
  for (const f of pids) {
    const master = readFileSync(f, 'utf8').trim();
    const children = execFileSync('ps', ['-o', 'rss=', '--ppid', master], { encoding: 'utf8' }).split('\n').filter(Boolean);
    for (const c of children) kb += Number(c.trim());
  }
  return kb / 1024;
}

describe('red team: RequestMirror bodies in nginx memory', function () {
  this.timeout(120_000);
  let run: TempStandalone;
  let port: number;
  let ok: Server;
  let stall: TcpServer;
  const held = new Set<Socket>();
  const log = captureLogger();

  const post = (path: string, timeoutMs = 10_000) =>
    new Promise<number>((resolve) => {
      const req = request({ host: ADDRESS, port, path, method: 'POST', agent: false, headers: { host: 'evil.example.com', 'content-length': BODY.length } }, (res) => {
        res.resume().on('end', () => resolve(res.statusCode ?? 0));
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve(-1));
      req.end(BODY);
    });

  before(async () => {
    port = await freePort();
    ok = createServer((req, res) => req.resume().on('end', () => res.end('ok\n')));
    await new Promise<void>((r) => ok.listen(0, '127.0.0.1', r));
    // Accepts, never reads past the socket buffers, never answers.
    stall = createTcpServer((s) => { held.add(s); s.on('close', () => held.delete(s)); s.on('error', () => {}); });
    await new Promise<void>((r) => stall.listen(0, '127.0.0.1', 2048, r));
    run = tempStandalone('redteam-mirror-memory');
    run.write('objects.yaml', [
      gatewayClass(), gateway({ address: ADDRESS, port, allowedRoutes: { namespaces: { from: 'All' } } }),
      ...backend('evil', 'app', (ok.address() as AddressInfo).port), ...backend('evil', 'stall', (stall.address() as AddressInfo).port),
      httpRoute({ namespace: 'evil', name: 'evil', gatewayNamespace: 'web', hostnames: ['evil.example.com'], rules: [{
        filters: Array.from({ length: MIRRORS }, () => ({ type: 'RequestMirror', requestMirror: { backendRef: { name: 'stall', port: 80 } } })),
        backendRefs: [{ name: 'app', port: 80 }],
      }] }),
    ]);
    await run.start(log.logger);
    await eventually('route served', () => post('/warm'), (s) => s === 200, 30_000);
  });

  after(async () => {
    for (const s of held) s.destroy();
    stall?.close();
    ok?.closeAllConnections();
    ok?.close();
    await run?.stop();
  });

  it('1 MB POSTs to a route with 8 mirrors to a stalled backend do not grow nginx by hundreds of MB', async () => {
    await new Promise((r) => setTimeout(r, 11_000)); // the warm-up copies time out
    const base = workersRssMB(run.runDir);
    let peak = base;
    const until = Date.now() + 8000;
    await Promise.all(Array.from({ length: 8 }, async (_, k) => {
      for (let i = 0; Date.now() < until; i++) {
        await post(`/p${k}-${i}`);
        peak = Math.max(peak, workersRssMB(run.runDir));
      }
    }));
    expect(peak - base, `nginx workers grew from ${base.toFixed(0)} MB to ${peak.toFixed(0)} MB with ${held.size} copies held`).to.be.below(300);
  });
});
