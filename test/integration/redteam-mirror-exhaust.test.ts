// Red team: RequestMirror copies held by a tenant's stalled mirror backend. The hop caps the
// copies in flight per mirror target (128), but every RequestMirror filter of every rule is a
// target of its own, and each copy in flight holds two nginx connections (the hop's side of
// the copy and its connection to the mirror backend) for up to 15 s (connect 5 s + read
// 10 s, the read timer restarting with every byte a trickling backend sends). One route with
// 3 rules of 16 mirrors each to a backend that never answers is 48 targets, 6144 copies and
// ~12000 connections: more than nginx's worker_connections (4096 per worker). Expected: the
// gateway keeps serving another tenant's route while the attack runs. Seen without a fix:
// 'worker_connections are not enough' in nginx's log, 4084 copies held, the victim's
// requests refused (-1: connection error or no answer in 3 s).
import { expect } from 'chai';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { freePort } from '../cluster/processes.ts';
import { eventually } from '../support/http.ts';
import { captureLogger } from '../support/logs.ts';
import { tempStandalone, type TempStandalone } from '../support/standalone-run.ts';
import { backend, gateway, gatewayClass, httpRoute } from '../support/standalone-yaml.ts';

const ADDRESS = '127.0.0.152';
const RULES = 3;
const MIRRORS = 16; // the CRD's maxItems for a rule's filters

describe('red team: RequestMirror copies to a stalled backend and everyone else\'s traffic', function () {
  this.timeout(120_000);
  let run: TempStandalone;
  let port: number;
  let ok: Server;
  let stall: TcpServer;
  const held = new Set<Socket>();
  const log = captureLogger();

  const send = (host: string, path: string, timeoutMs = 8000) =>
    new Promise<number>((resolve) => {
      const req = request({ host: ADDRESS, port, path, agent: false, headers: { host } }, (res) => {
        res.resume().on('end', () => resolve(res.statusCode ?? 0));
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve(-1));
      req.end();
    });

  before(async () => {
    port = await freePort();
    ok = createServer((_req, res) => res.end('ok\n'));
    await new Promise<void>((r) => ok.listen(0, '127.0.0.1', r));
    // Accepts, reads, never answers.
    stall = createTcpServer((s) => { held.add(s); s.resume(); s.on('close', () => held.delete(s)); s.on('error', () => {}); });
    stall.maxConnections = 15_000;
    await new Promise<void>((r) => stall.listen(0, '127.0.0.1', 2048, r));
    const okPort = (ok.address() as AddressInfo).port;
    const stallPort = (stall.address() as AddressInfo).port;
    run = tempStandalone('redteam-mirror-exhaust');
    run.write('objects.yaml', [
      gatewayClass(), gateway({ address: ADDRESS, port, allowedRoutes: { namespaces: { from: 'All' } } }),
      ...backend('victim', 'app', okPort), ...backend('evil', 'app', okPort), ...backend('evil', 'stall', stallPort),
      httpRoute({ namespace: 'victim', name: 'victim', gatewayNamespace: 'web', hostnames: ['victim.example.com'] }),
      httpRoute({ namespace: 'evil', name: 'evil', gatewayNamespace: 'web', hostnames: ['evil.example.com'], rules: Array.from({ length: RULES }, (_, r) => ({
        matches: [{ path: { type: 'PathPrefix', value: `/r${r}` } }],
        filters: Array.from({ length: MIRRORS }, () => ({ type: 'RequestMirror', requestMirror: { backendRef: { name: 'stall', port: 80 } } })),
        backendRefs: [{ name: 'app', port: 80 }],
      })) }),
    ]);
    await run.start(log.logger);
    await eventually('both routes served', async () => [await send('victim.example.com', '/'), await send('evil.example.com', '/r0')], ([a, b]) => a === 200 && b === 200, 30_000);
  });

  after(async () => {
    for (const s of held) s.destroy();
    stall?.close();
    ok?.closeAllConnections();
    ok?.close();
    await run?.stop();
  });

  it('another tenant is still served while one tenant\'s mirrors hold copies at a stalled backend', async () => {
    // The attack: ordinary requests to the tenant's own route, 8 at a time for 14 s (a burst
    // would overflow the hop socket's accept queue instead: copies dropped, not held).
    let peak = 0;
    const until = Date.now() + 14_000;
    const loops = Array.from({ length: 8 }, async (_, k) => {
      for (let i = 0; Date.now() < until; i++) {
        await send('evil.example.com', `/r${(i + k) % RULES}/${k}-${i}`, 5000);
        peak = Math.max(peak, held.size);
      }
    });
    await new Promise((r) => setTimeout(r, 9000));
    const victim: number[] = [];
    for (let i = 0; i < 5; i++) victim.push(await send('victim.example.com', `/v${i}`, 3000));
    await Promise.all(loops);
    const heldNow = peak;
    expect(victim, `victim.example.com answers while ${heldNow} copies were held at the stalled mirror backend`).to.deep.equal(Array(5).fill(200));
  });
});
