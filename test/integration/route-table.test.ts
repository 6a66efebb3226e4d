// The route table (issue #14): plain HTTPRoute rules are served by waygate.routes from a
// table the agent pushes, not from server blocks, so that adding, changing and removing
// them needs no reload. On a real nginx through the standalone pipeline (YAML dir ->
// controller -> ConfigWriter -> agent -> nginx): what lands in the table and what stays a
// server block, the spec's matching through the router, and route changes that leave
// http.conf, the nginx master and its workers alone.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { EchoServer } from '../../examples/echo.ts';
import type { Verdict } from '../../nginx/agent/verdict.ts';
import { listComplete, versionDir } from '../../nginx/agent/versions.ts';
import type { Standalone } from '../../operator/src/modes/standalone.ts';
import { freePort } from '../cluster/processes.ts';
import { eventually, get } from '../support/http.ts';
import { captureLogger } from '../support/logs.ts';
import { nginxProcesses } from '../support/nginx-processes.ts';
import { tempStandalone, type TempStandalone } from '../support/standalone-run.ts';
import { backend, gateway, gatewayClass, httpRoute } from '../support/standalone-yaml.ts';

const ADDRESS = '127.0.0.94';

/** A raw HTTP/1.1 request (the request target exactly as given); answers the status line's code, the headers and the body. */
function raw(port: number, target: string, host: string): Promise<{ status: string; head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const s = connect(port, ADDRESS);
    let data = '';
    s.setTimeout(5000, () => s.destroy(new Error('timeout')));
    s.on('data', (d) => (data += d.toString('latin1')));
    s.on('error', reject);
    s.on('close', () => {
      const [head = '', body = ''] = data.split('\r\n\r\n');
      // the echo's JSON is one line (the answer may come chunked)
      resolve({ status: /^HTTP\/1\.1 (\d+)/.exec(head)?.[1] ?? 'none', head, body: /\{.*\}/.exec(body)?.[0] ?? body });
    });
    s.write(`GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  });
}

const prefix = (path: string, svc: string, extra: object = {}) => ({ matches: [{ path: { type: 'PathPrefix', value: path }, ...extra }], backendRefs: [{ name: svc, port: 80 }] });
const exact = (path: string, svc: string) => ({ matches: [{ path: { type: 'Exact', value: path } }], backendRefs: [{ name: svc, port: 80 }] });
/** A rule the table does not take: a request header filter keeps its host in a server block. */
const filtered = (svc: string) => ({ filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-static', value: '1' }] } }], backendRefs: [{ name: svc, port: 80 }] });

describe('the route table: plain routes without reloads (real nginx, standalone pipeline)', function () {
  this.timeout(120_000);
  let run: TempStandalone;
  let port: number;
  let sa: Standalone;
  const e: Record<string, EchoServer> = {};
  /** A backend answering with a Location naming the table's upstream, as nginx's default proxy_redirect would rewrite it. */
  let locationServer: Server;
  let locationPort: number;
  const verdicts: Verdict[] = [];
  const log = captureLogger('debug');

  const send = (host: string, path: string, opts: { headers?: Record<string, string>; method?: string } = {}) =>
    get(ADDRESS, port, path, { host, ...opts }).then((r) => (r.status === 200 ? r.backend! : String(r.status)), () => 'error');

  /** The objects: these routes, and Services a, b and c on their echo servers unless `ports` moves one. */
  function write(routes: object[], ports: Record<string, number> = {}): void {
    run.write('objects.yaml', [gatewayClass(), gateway({ address: ADDRESS, port }), ...['a', 'b', 'c'].flatMap((s) => backend('web', s, ports[s] ?? e[s]!.port)), ...backend('web', 'loc', locationPort), ...routes]);
  }
  const baseRoutes = () => [
    httpRoute({ name: 'plain', hostnames: ['plain.example.com'], rules: [
      prefix('/', 'a'),
      exact('/exact', 'b'),
      prefix('/api', 'b'),
      prefix('/api', 'c', { headers: [{ name: 'x-version', value: 'v2' }] }),
      prefix('/q', 'c', { queryParams: [{ name: 'pick', value: 'c' }] }),
      prefix('/m', 'b', { method: 'POST' }),
    ] }),
    httpRoute({ name: 'catchall', hostnames: [], rules: [prefix('/', 'c')] }),
    // One PathPrefix "/" and an Exact path: the router must still look at the path.
    httpRoute({ name: 'two', hostnames: ['two.example.com'], rules: [prefix('/', 'a'), exact('/x', 'b')] }),
    // A server block for *.wild.example.com; its own host below must not fall into it.
    httpRoute({ name: 'wild', hostnames: ['*.wild.example.com'], rules: [filtered('b')] }),
    httpRoute({ name: 'under-wild', hostnames: ['x.wild.example.com'], rules: [prefix('/', 'a')] }),
    httpRoute({ name: 'static', hostnames: ['static.example.com'], rules: [filtered('c')] }),
    httpRoute({ name: 'loc', hostnames: ['loc.example.com'], rules: [prefix('/', 'loc')] }),
  ];
  const live = () => versionDir(join(run.runDir, 'config'), listComplete(join(run.runDir, 'config')).at(-1)!);
  async function processed(from: number): Promise<Verdict[]> {
    await sa.controller.idle();
    await sa.agent.settled();
    return verdicts.slice(from);
  }

  before(async () => {
    run = tempStandalone('route-table');
    port = await freePort();
    for (const n of ['a', 'b', 'c']) e[n] = await run.echo(n);
    locationServer = createServer((_req, res) => {
      res.writeHead(302, { location: 'http://wg_table/moved', refresh: '0; url=http://wg_table/moved' });
      res.end();
    });
    await new Promise<void>((r) => locationServer.listen(0, '127.0.0.1', r));
    locationPort = (locationServer.address() as AddressInfo).port;
    write(baseRoutes());
    sa = await run.start(log.logger);
    sa.agent.onVerdict((v) => verdicts.push(v));
    await eventually('served', () => send('plain.example.com', '/'), (r) => r === 'a');
    await processed(0);
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.error(`log:\n${log.lines.slice(-40).join('\n')}`);
  });

  after(async () => {
    await run?.stop();
    locationServer?.closeAllConnections();
    await new Promise((r) => (locationServer ? locationServer.close(r) : r(undefined)));
  });

  it('plain rules go to routes.txt, the others and the hosts a wildcard server would catch stay server blocks', () => {
    const http = readFileSync(join(live(), 'http.conf'), 'utf8');
    const routes = readFileSync(join(live(), 'routes.txt'), 'utf8');
    expect(http).not.to.contain('plain.example.com');
    expect(routes).to.contain('host plain.example.com\n');
    expect(routes, 'the catch-all').to.contain('host -\n');
    expect(http).to.contain('server_name "static.example.com";').and.contain('server_name "*.wild.example.com";');
    expect(http, 'behind the static wildcard server, x.wild.example.com needs its own').to.contain('server_name "x.wild.example.com";');
    expect(routes).not.to.match(/^host .*wild\.example\.com$/m);
    expect(routes, 'listed as server blocks, for the agent').to.contain('server x.wild.example.com\n').and.contain('server static.example.com\n');
  });

  it('matches as the spec says: Exact over PathPrefix, the longest prefix, headers, query, method, 404', async () => {
    const h = 'plain.example.com';
    expect(await send(h, '/')).to.equal('a');
    expect(await send(h, '/exact')).to.equal('b');
    expect(await send(h, '/exact/more'), 'Exact is not a prefix').to.equal('a');
    expect(await send(h, '/api')).to.equal('b');
    expect(await send(h, '/api/x')).to.equal('b');
    expect(await send(h, '/apix'), 'PathPrefix matches whole path elements').to.equal('a');
    expect(await send(h, '/api/x', { headers: { 'X-Version': 'v2' } }), 'more header matches win').to.equal('c');
    expect(await send(h, '/api/x', { headers: { 'x-version': 'V2' } }), 'header values are case-sensitive').to.equal('b');
    expect(await send(h, '/q?pick=c')).to.equal('c');
    expect(await send(h, '/q?pick=d')).to.equal('a');
    expect(await send(h, '/m', { method: 'POST' })).to.equal('b');
    expect(await send(h, '/m')).to.equal('a');
    expect(await send('PLAIN.example.com', '/exact'), 'hostnames ignore case').to.equal('b');
    expect(await send('other.example.com', '/'), 'the catch-all route').to.equal('c');
    expect(await send('two.example.com', '/x')).to.equal('b');
    expect(await send('two.example.com', '/y')).to.equal('a');
    expect(await send('x.wild.example.com', '/'), 'its own route, not the wildcard server').to.equal('a');
    expect(await send('y.wild.example.com', '/')).to.equal('b');
    expect(await send('static.example.com', '/')).to.equal('c');
  });

  it('passes the request target to the backend as the client sent it, and its Location unchanged', async () => {
    const h = 'plain.example.com';
    const targets = ['/a%2Fb/../c//d;p=1?q=%20x&r=a+b&&s', '/%61pi/%2e%2e/%25?', '/exact?x=%2F', '/api//x/./y?%zz'];
    const seen = await Promise.all(targets.map(async (t) => {
      const r = await raw(port, t, h);
      return r.status === '200' ? (JSON.parse(r.body) as { path: string }).path : r.status;
    }));
    expect(seen).to.deep.equal(targets);
    // The absolute form with no path: nginx makes it "/" (with the variable as without it).
    const abs = await raw(port, 'http://plain.example.com?x=1', h);
    expect(abs.status).to.equal('200');
    expect((JSON.parse(abs.body) as { path: string }).path).to.equal('/?x=1');
    // nginx's default proxy_redirect would turn "http://wg_table/" into "/" in Location and Refresh.
    const loc = await raw(port, '/', 'loc.example.com');
    expect(loc.status).to.equal('302');
    expect(`${loc.head}\r\n`).to.match(/\r\nLocation: http:\/\/wg_table\/moved\r\n/i).and.match(/\r\nRefresh: 0; url=http:\/\/wg_table\/moved\r\n/i);
  });

  it('a client\'s path past 254 characters still finds its prefix (of up to 254); a Host past 253 falls to the catch-all', async () => {
    const long = `/${'p'.repeat(253)}`; // the longest prefix a route may have (nginx locations hold 254)
    const routes = baseRoutes();
    routes.push(httpRoute({ name: 'longest', hostnames: ['long.example.com'], rules: [prefix('/', 'a'), prefix(long, 'b'), prefix('/x', 'c')] }));
    write(routes);
    await eventually('the long prefix', () => send('long.example.com', `${long}/q`), (r) => r === 'b');
    const deep = `/${'s/'.repeat(2000)}`;
    expect(await send('long.example.com', `${long}${deep}`), 'past 254 at a "/" right after the prefix').to.equal('b');
    expect(await send('long.example.com', `${long}x${deep}`), 'no boundary after the prefix').to.equal('a');
    expect(await send('long.example.com', `/x${deep}`)).to.equal('c');
    expect(await send('long.example.com', deep)).to.equal('a');
    const host = `${'h'.repeat(60)}.`.repeat(5) + 'example.com';
    expect(await send(host, '/api'), 'an unknown long host: the catch-all route').to.equal('c');
    write(baseRoutes());
  });

  it('a new route, a changed one and a removed one: served within the push, no reload, the same nginx workers', async () => {
    const before = { verdicts: verdicts.length, nginx: nginxProcesses(run.runDir), http: readFileSync(join(live(), 'http.conf'), 'utf8') };
    const routes = baseRoutes();
    routes.push(httpRoute({ name: 'new', hostnames: ['new.example.com'], rules: [prefix('/', 'b')] }));
    routes[0] = httpRoute({ name: 'plain', hostnames: ['plain.example.com'], rules: [prefix('/', 'c')] });
    write(routes);
    await eventually('the new route', () => send('new.example.com', '/'), (r) => r === 'b');
    await eventually('the changed route', () => send('plain.example.com', '/exact'), (r) => r === 'c');
    write(routes.filter((r) => (r as { metadata: { name: string } }).metadata.name !== 'new'));
    await eventually('the removed route', () => send('new.example.com', '/'), (r) => r === 'c'); // the catch-all again
    const since = await processed(before.verdicts);
    expect(since.length, 'the agent judged the new versions').to.be.greaterThan(0);
    expect(since.map((v) => [v.ok, v.reloaded]), 'no reload').to.deep.equal(since.map(() => [true, false]));
    expect(nginxProcesses(run.runDir), 'the same nginx workers').to.deep.equal(before.nginx);
    expect(readFileSync(join(live(), 'http.conf'), 'utf8'), 'http.conf unchanged').to.equal(before.http);
  });

  it('nginx is sent only what changed: a route change pushes the route table, an endpoint change the peers', async () => {
    const routes = baseRoutes();
    routes.push(httpRoute({ name: 'pushed', hostnames: ['pushed.example.com'], rules: [prefix('/', 'b')] }));
    let before = sa.agent.pushes();
    write(routes);
    await eventually('the new route', () => send('pushed.example.com', '/'), (r) => r === 'b');
    await processed(0);
    const delta = (from: Record<string, number>) => Object.fromEntries(Object.entries(sa.agent.pushes()).map(([k, n]) => [k, n - from[k]!]));
    expect(delta(before), 'the same Services: the same peers').to.deep.equal({ routes: 1, peers: 0, certificates: 0 });
    before = sa.agent.pushes();
    // Service b's endpoint moves to echo c: its peers change, no rule does.
    write(routes, { b: e.c!.port });
    await eventually('b\'s new endpoint', () => send('pushed.example.com', '/'), (r) => r === 'c');
    await processed(0);
    expect(delta(before), 'the same rules: the same route table').to.deep.equal({ routes: 0, peers: 1, certificates: 0 });
  });

  it('a route that leaves the table for a server block is reloaded and keeps answering', async () => {
    const from = verdicts.length;
    const routes = baseRoutes();
    routes[0] = httpRoute({ name: 'plain', hostnames: ['plain.example.com'], rules: [filtered('b')] });
    write(routes);
    await eventually('served by its server block', () => send('plain.example.com', '/exact'), (r) => r === 'b');
    const since = await processed(from);
    expect(since.some((v) => v.reloaded), 'a reload').to.equal(true);
    expect(readFileSync(join(live(), 'http.conf'), 'utf8')).to.contain('server_name "plain.example.com";');
  });
});
