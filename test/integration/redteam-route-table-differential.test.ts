// RED TEAM (route table): the same tenants' routes served twice by real nginx, once from the
// route table (every rule plain) and once from server blocks (the port's catch-all route
// carries a filter, which turns the table off for the whole port: tableHosts), and hostile
// requests compared: Host case, trailing dots, ports, absolute-form URIs, HTTP/1.0 without
// Host, empty Host, leading dots, wildcard depth, path normalisation, header/query spelling.
// Any difference is a consistency finding; the test prints both columns.
import { expect } from 'chai';
import { connect } from 'node:net';
import type { EchoServer } from '../../examples/echo.ts';
import type { Standalone } from '../../operator/src/modes/standalone.ts';
import { freePort } from '../cluster/processes.ts';
import { eventually } from '../support/http.ts';
import { captureLogger } from '../support/logs.ts';
import { tempStandalone, type TempStandalone } from '../support/standalone-run.ts';
import { backend, gateway, gatewayClass, httpRoute } from '../support/standalone-yaml.ts';

/** A raw request; answers "<status> <x-backend>" or "error". */
function raw(address: string, port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, address);
    let data = '';
    s.setTimeout(5000, () => { s.destroy(); resolve('timeout'); });
    s.on('data', (d) => (data += d.toString('latin1')));
    s.on('error', () => resolve('error'));
    s.on('close', () => {
      const status = /^HTTP\/1\.[01] (\d+)/.exec(data)?.[1] ?? 'none';
      const be = /\r\nx-backend: ([^\r]*)/i.exec(data)?.[1] ?? '-';
      resolve(`${status} ${be}`);
    });
    s.write(text);
  });
}

const req = (host: string | undefined, path = '/', extra = '', version = '1.1') => `GET ${path} HTTP/${version}\r\n${host === undefined ? '' : `Host: ${host}\r\n`}${extra}Connection: close\r\n\r\n`;

const CASES: [string, string][] = [
  ['victim', req('v.victim.example')],
  ['victim upper + trailing dot', req('V.VICTIM.EXAMPLE.')],
  ['victim with port', req('v.victim.example:12345')],
  ['victim two trailing dots', req('v.victim.example..')],
  ['absolute-form to victim, Host evil', req('x.evil.example', 'http://v.victim.example/')],
  ['absolute-form to evil, Host victim', req('v.victim.example', 'http://x.evil.example/')],
  ['HTTP/1.0 no Host', req(undefined, '/', '', '1.0')],
  ['empty Host', req('')],
  ['leading dot .victim.example', req('.victim.example')],
  ['leading dot .v.victim.example', req('.v.victim.example')],
  ['deep under evil wildcard', req('a.b.c.victim.example')],
  ['bare victim.example', req('victim.example')],
  ['victim exact path', req('v.victim.example', '/admin')],
  ['victim exact path, trailing /', req('v.victim.example', '/admin/')],
  ['victim exact path, encoded', req('v.victim.example', '/%61dmin')],
  ['victim exact path via ..', req('v.victim.example', '/x/../admin')],
  ['victim exact path via //', req('v.victim.example', '//admin')],
  ['victim prefix /api', req('v.victim.example', '/api')],
  ['victim prefix /api/', req('v.victim.example', '/api/')],
  ['victim prefix /apix', req('v.victim.example', '/apix')],
  ['victim prefix /API', req('v.victim.example', '/API/x')],
  ['header match', req('v.victim.example', '/h', 'X-Team: red\r\n')],
  ['header match, two headers', req('v.victim.example', '/h', 'X-Team: blue\r\nX-Team: red\r\n')],
  ['header match, underscore name', req('v.victim.example', '/h', 'X_Team: red\r\n')],
  ['header match, spaces', req('v.victim.example', '/h', 'X-Team:   red  \r\n')],
  ['query match', req('v.victim.example', '/q?team=red')],
  ['query match, name upper', req('v.victim.example', '/q?TEAM=red')],
  ['query match, repeated', req('v.victim.example', '/q?team=blue&team=red')],
  ['query match, encoded', req('v.victim.example', '/q?team=%72ed')],
  ['method POST', req('v.victim.example', '/m').replace('GET', 'POST')],
  ['method HEAD on GET rule', req('v.victim.example', '/g').replace('GET', 'HEAD')],
  ['unknown host', req('unknown.example')],
  ['IP host', req('127.0.0.1')],
];

describe('RED TEAM route table: table vs server blocks on hostile requests (real nginx)', function () {
  this.timeout(120_000);
  const runs: { run: TempStandalone; sa?: Standalone; port: number; address: string }[] = [];
  const e: Record<string, EchoServer> = {};
  const log = captureLogger('info');

  const objects = (address: string, port: number, table: boolean) => [
    gatewayClass(), gateway({ address, port, namespace: 'infra', allowedRoutes: { namespaces: { from: 'All' } } }),
    ...backend('victim', 'a', e.a!.port), ...backend('victim', 'c', e.c!.port), ...backend('evil', 'b', e.b!.port),
    httpRoute({ namespace: 'victim', name: 'v', gatewayNamespace: 'infra', hostnames: ['v.victim.example'], rules: [
      { backendRefs: [{ name: 'a', port: 80 }] },
      { matches: [{ path: { type: 'Exact', value: '/admin' } }], backendRefs: [{ name: 'c', port: 80 }] },
      { matches: [{ path: { type: 'PathPrefix', value: '/api' } }], backendRefs: [{ name: 'c', port: 80 }] },
      { matches: [{ path: { type: 'PathPrefix', value: '/h' }, headers: [{ name: 'X-Team', value: 'red' }] }], backendRefs: [{ name: 'c', port: 80 }] },
      { matches: [{ path: { type: 'PathPrefix', value: '/q' }, queryParams: [{ name: 'team', value: 'red' }] }], backendRefs: [{ name: 'c', port: 80 }] },
      { matches: [{ path: { type: 'PathPrefix', value: '/m' }, method: 'POST' }], backendRefs: [{ name: 'c', port: 80 }] },
      { matches: [{ path: { type: 'PathPrefix', value: '/g' }, method: 'GET' }], backendRefs: [{ name: 'c', port: 80 }] },
    ] }),
    // The attacker: a wildcard over the victim's domain and the port's catch-all.
    httpRoute({ namespace: 'evil', name: 'wild', gatewayNamespace: 'infra', hostnames: ['*.victim.example', '*.evil.example'], rules: [{ backendRefs: [{ name: 'b', port: 80 }] }] }),
    httpRoute({ namespace: 'evil', name: 'any', gatewayNamespace: 'infra', hostnames: [], rules: [{ ...(table ? {} : { filters: [{ type: 'ResponseHeaderModifier', responseHeaderModifier: { set: [{ name: 'x-static', value: '1' }] } }] }), backendRefs: [{ name: 'b', port: 80 }] }] }),
  ];

  before(async () => {
    for (const n of ['a', 'b', 'c']) {
      const r = tempStandalone(`rt-diff-${n}`);
      e[n] = await r.echo(n);
      if (n === 'a') runs.push({ run: r, port: 0, address: '127.0.0.99' });
      else if (n === 'b') runs.push({ run: r, port: 0, address: '127.0.0.100' });
      else runs.push({ run: r, port: 0, address: '' }); // holds c's echo only
    }
    for (const [i, table] of [[0, true], [1, false]] as const) {
      const r = runs[i]!;
      r.port = await freePort();
      r.run.write('objects.yaml', objects(r.address, r.port, table));
      r.sa = await r.run.start(log.logger);
      await eventually('served', () => raw(r.address, r.port, req('v.victim.example')), (x) => x === '200 a', 30_000);
    }
  });

  after(async () => {
    for (const r of runs.reverse()) await r.run.stop();
  });

  it('answers alike from the table and from server blocks', async () => {
    const diffs: string[] = [];
    const rows: string[] = [];
    for (const [name, text] of CASES) {
      const t = await raw(runs[0]!.address, runs[0]!.port, text);
      const s = await raw(runs[1]!.address, runs[1]!.port, text);
      rows.push(`${t === s ? '  ' : '!!'} ${name.padEnd(40)} table=${t.padEnd(10)} server-blocks=${s}`);
      if (t !== s) diffs.push(name);
    }
    console.log(rows.join('\n'));
    expect(diffs).to.deep.equal([]);
  });
});
