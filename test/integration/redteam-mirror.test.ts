// Red team: RequestMirror's local hop picks the copy's target from the X-Waygate-Mirror
// request header (a map on $http_x_waygate_mirror). The mirror location sets that header
// after the rule's own header changes, so a tenant whose RequestHeaderModifier sets
// X-Waygate-Mirror too sends two of them, its own first, and nginx 1.22's $http_* takes the
// first: the tenant's copies go to another tenant's mirror target (another namespace's
// Service, with that target's TLS settings), without any ReferenceGrant.
// The attack: tenant "evil" mirrors to its own Service and sets X-Waygate-Mirror to the
// target id of tenant "victim"'s mirror (ids are r<n>_<rule>_mirror<i>: guessable; the test
// reads it from the rendered config to stay deterministic). Expected: no copy of evil's
// requests ever reaches victim's mirror backend (the header is refused or overridden).
import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { freePort } from '../cluster/processes.ts';
import { eventually } from '../support/http.ts';
import { captureLogger } from '../support/logs.ts';
import { tempStandalone, type TempStandalone } from '../support/standalone-run.ts';
import { backend, gateway, gatewayClass, httpRoute } from '../support/standalone-yaml.ts';

const ADDRESS = '127.0.0.151';

interface Seen { url: string; headers: IncomingHttpHeaders }
async function recorder(): Promise<{ server: Server; port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    req.resume().on('end', () => {
      seen.push({ url: req.url ?? '', headers: req.headers });
      res.end('ok\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, seen };
}

/** Every nginx.conf-like file under dir (the versions the agent wrote). */
function confText(dir: string): string {
  let out = '';
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) out += confText(p);
    else if (name.endsWith('.conf')) out += readFileSync(p, 'utf8');
  }
  return out;
}

describe('red team: RequestMirror hop target chosen by a tenant header', function () {
  this.timeout(90_000);
  let run: TempStandalone;
  let port: number;
  const servers: Server[] = [];
  const log = captureLogger();

  const send = (host: string, path: string) =>
    new Promise<number>((resolve, reject) => {
      const req = request({ host: ADDRESS, port, path, agent: false, headers: { host } }, (res) => {
        res.resume().on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });

  after(async () => {
    await run?.stop();
    for (const s of servers) { s.closeAllConnections(); s.close(); }
  });

  it("a tenant's RequestHeaderModifier cannot send its copies to another tenant's mirror target", async () => {
    port = await freePort();
    const [main, victimMirror, evilMirror] = await Promise.all([recorder(), recorder(), recorder()]);
    servers.push(main.server, victimMirror.server, evilMirror.server);
    const objects = (evilHeader: string | undefined) => [
      gatewayClass(), gateway({ address: ADDRESS, port, allowedRoutes: { namespaces: { from: 'All' } } }),
      ...backend('victim', 'app', main.port), ...backend('victim', 'audit', victimMirror.port),
      ...backend('evil', 'app', main.port), ...backend('evil', 'sink', evilMirror.port),
      httpRoute({ namespace: 'victim', name: 'victim', gatewayNamespace: 'web', hostnames: ['victim.example.com'], rules: [
        { filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'audit', port: 80 } } }], backendRefs: [{ name: 'app', port: 80 }] },
      ] }),
      httpRoute({ namespace: 'evil', name: 'evil', gatewayNamespace: 'web', hostnames: ['evil.example.com'], rules: [
        { filters: [
          { type: 'RequestMirror', requestMirror: { backendRef: { name: 'sink', port: 80 } } },
          ...(evilHeader ? [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'X-Waygate-Mirror', value: evilHeader }] } }] : []),
        ], backendRefs: [{ name: 'app', port: 80 }] },
      ] }),
    ];
    run = tempStandalone('redteam-mirror');
    run.write('objects.yaml', objects(undefined));
    await run.start(log.logger);
    await eventually('both routes served', async () => [await send('victim.example.com', '/v'), await send('evil.example.com', '/e')], ([a, b]) => a === 200 && b === 200, 20_000);
    await eventually('victim copy', async () => victimMirror.seen.length, (n) => n > 0);
    // The victim's hop target id, as an attacker would guess it (r<route id>_<rule>_mirror<i>).
    const conf = confText(run.runDir);
    const ids = [...conf.matchAll(/"(r[0-9a-f]+_\d+_mirror\d+)"\s+"\/\^wg\//g)].map((m) => m[1]!);
    expect(ids.length, 'hop dispatch entries found').to.be.greaterThan(1);
    // Try every id that is not evil's own: one of them is the victim's.
    for (const id of new Set(ids)) {
      run.write('objects.yaml', objects(id));
      victimMirror.seen.length = 0;
      evilMirror.seen.length = 0;
      // The new version is served once the main backend sees the tenant's header (the filter applies there too).
      await eventually(`evil route with header ${id}`, async () => {
        await send('evil.example.com', '/probe');
        return main.seen.some((s) => s.headers['x-waygate-mirror'] === id);
      }, (ok) => ok, 20_000);
      victimMirror.seen.length = 0;
      evilMirror.seen.length = 0;
      for (let i = 0; i < 5; i++) expect(await send('evil.example.com', `/attack-${id}-${i}`)).to.equal(200);
      await eventually('the copies', async () => evilMirror.seen.length + victimMirror.seen.length, (n) => n >= 5);
      await new Promise((r) => setTimeout(r, 500));
      const leaked = victimMirror.seen.filter((s) => s.url.startsWith('/attack-'));
      expect(leaked.map((s) => s.url), `copies of evil.example.com requests reached the victim's mirror backend (X-Waygate-Mirror: ${id})`).to.deep.equal([]);
    }
  });
});
