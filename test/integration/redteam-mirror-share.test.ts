// Red team: the mirror hop's copies in flight are capped per mirror and in all (64). One
// tenant whose mirrors point at a backend that never answers keeps its copies in flight up
// to the caps: the cap in all must not let it take every other tenant's mirroring with it
// (their copies dropped with 503 at the hop, silently: mirrors report nothing). Expected: a
// victim tenant's mirror still gets (nearly) every copy while the attack runs.
import { expect } from 'chai';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { freePort } from '../cluster/processes.ts';
import { eventually } from '../support/http.ts';
import { captureLogger } from '../support/logs.ts';
import { tempStandalone, type TempStandalone } from '../support/standalone-run.ts';
import { backend, gateway, gatewayClass, httpRoute } from '../support/standalone-yaml.ts';

const ADDRESS = '127.0.0.156';
const MIRRORS = 8;

describe('red team: one tenant\'s stalled mirrors and another tenant\'s mirroring', function () {
  this.timeout(120_000);
  let run: TempStandalone;
  let port: number;
  let ok: Server;
  let audit: Server;
  let stall: TcpServer;
  const copies: string[] = [];
  const held = new Set<Socket>();
  const log = captureLogger();

  const send = (host: string, path: string, timeoutMs = 5000) =>
    new Promise<number>((resolve) => {
      const req = request({ host: ADDRESS, port, path, agent: false, headers: { host } }, (res) => res.resume().on('end', () => resolve(res.statusCode ?? 0)));
      req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve(-1));
      req.end();
    });

  before(async () => {
    port = await freePort();
    ok = createServer((_q, r) => r.end('ok\n'));
    audit = createServer((q, r) => { copies.push(q.url ?? ''); r.end('ok\n'); });
    stall = createTcpServer((s) => { held.add(s); s.resume(); s.on('close', () => held.delete(s)); s.on('error', () => {}); });
    await Promise.all([ok, audit, stall].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
    const p = (s: Server | TcpServer) => (s.address() as AddressInfo).port;
    run = tempStandalone('redteam-mirror-share');
    run.write('objects.yaml', [
      gatewayClass(), gateway({ address: ADDRESS, port, allowedRoutes: { namespaces: { from: 'All' } } }),
      ...backend('victim', 'app', p(ok)), ...backend('victim', 'audit', p(audit)), ...backend('evil', 'app', p(ok)), ...backend('evil', 'stall', p(stall)),
      httpRoute({ namespace: 'victim', name: 'victim', gatewayNamespace: 'web', hostnames: ['victim.example.com'], rules: [
        { filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'audit', port: 80 } } }], backendRefs: [{ name: 'app', port: 80 }] },
      ] }),
      httpRoute({ namespace: 'evil', name: 'evil', gatewayNamespace: 'web', hostnames: ['evil.example.com'], rules: [{
        filters: Array.from({ length: MIRRORS }, () => ({ type: 'RequestMirror', requestMirror: { backendRef: { name: 'stall', port: 80 } } })),
        backendRefs: [{ name: 'app', port: 80 }],
      }] }),
    ]);
    await run.start(log.logger);
    await eventually('both served', async () => [await send('victim.example.com', '/'), await send('evil.example.com', '/')], ([a, b]) => a === 200 && b === 200, 30_000);
    await eventually('victim mirrored', async () => copies.length, (n) => n > 0);
  });

  after(async () => {
    for (const s of held) s.destroy();
    stall?.close();
    for (const s of [ok, audit]) { s?.closeAllConnections(); s?.close(); }
    await run?.stop();
  });

  it('the victim\'s mirror gets its copies while the other tenant\'s mirrors are stalled', async () => {
    const until = Date.now() + 6000;
    const attack = Array.from({ length: 4 }, async (_, k) => { for (let i = 0; Date.now() < until; i++) await send('evil.example.com', `/e${k}-${i}`); });
    await new Promise((r) => setTimeout(r, 1500));
    copies.length = 0;
    const heldDuring = held.size;
    for (let i = 0; i < 10; i++) {
      expect(await send('victim.example.com', `/victim-${i}`)).to.equal(200);
      await new Promise((r) => setTimeout(r, 200));
    }
    await Promise.all(attack);
    await new Promise((r) => setTimeout(r, 1000));
    const got = copies.filter((u) => u.startsWith('/victim-')).length;
    expect(got, `victim copies that reached its mirror while ${heldDuring} copies of the other tenant were held`).to.be.at.least(8);
  });
});
