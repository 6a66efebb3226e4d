// Per-backendRef filters and named rules on a real nginx: each backend sees its own header
// changes (after the rule's), weights hold, an invalid backendRef keeps its 500 share,
// URLRewrite and ResponseHeaderModifier on a backendRef, CORS and a backend choice in one
// rule; a named rule is served like any other, and a rule that cannot be served is reported
// by index and name.
import { expect } from 'chai';
import { Agent, request } from 'node:http';
import { buildHttpModel } from '../../operator/src/dataplane/build.ts';
import { buildGraph } from '../../operator/src/graph/graph.ts';
import { renderConfig } from '../../operator/src/render/render.ts';
import type { Graph } from '../../operator/src/graph/types.ts';
import { startEcho, type EchoServer } from '../../examples/echo.ts';
import { freePort } from '../cluster/processes.ts';
import { startNginx, type ThrowawayNginx } from '../cluster/nginx.ts';
import { eventually } from '../support/http.ts';
import { CONTROLLER, gateway, gatewayClass, httpRoute, namespace, service, storeOf } from '../support/objects.ts';

const ADDRESS = '127.0.0.143';
const HOST = 'backends.example.com';

const set = (headers: Record<string, string>) => ({ type: 'RequestHeaderModifier', requestHeaderModifier: { set: Object.entries(headers).map(([name, value]) => ({ name, value })) } });

describe('per-backendRef filters and named rules on a real nginx', function () {
  this.timeout(60_000);
  let nginx: ThrowawayNginx;
  let one: EchoServer;
  let two: EchoServer;
  let port: number;
  let graph: Graph;
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const send = (path: string, opts: { method?: string; headers?: Record<string, string>; host?: string } = {}) =>
    new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string; json?: any }>((resolve, reject) => {
      const req = request({ host: ADDRESS, port, path, method: opts.method ?? 'GET', agent, headers: { host: opts.host ?? HOST, ...opts.headers } }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => {
          let json;
          try { json = JSON.parse(body); } catch { /* not an echo answer */ }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
        });
      });
      req.on('error', reject);
      req.end();
    });
  const many = (path: string, n: number, headers: Record<string, string> = {}) => Promise.all(Array.from({ length: n }, (_, i) => send(`${path}?i=${i}`, { headers })));
  /** Within 4 binomial standard deviations of n * p. */
  const near = (count: number, n: number, p: number) => {
    const sd = Math.sqrt(n * p * (1 - p));
    expect(count, `${count} of ${n}, expected ${n * p}`).to.be.within(n * p - 4 * sd, n * p + 4 * sd);
  };

  before(async () => {
    port = await freePort();
    [one, two] = await Promise.all([startEcho('one'), startEcho('two')]);
    const objects = [
      gatewayClass(), namespace('app'),
      gateway('app', 'gw', [{ port }], { addresses: [{ type: 'IPAddress', value: ADDRESS }] }),
      ...service('app', 'one', 80, [one.endpoint]), ...service('app', 'two', 80, [two.endpoint]),
      httpRoute('app', 'r', {
        hostnames: [HOST],
        rules: [
          {
            matches: [{ path: { type: 'PathPrefix', value: '/weights' } }],
            filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { add: [{ name: 'X-Rule', value: 'r' }], set: [{ name: 'X-Over', value: 'rule' }] } }],
            backendRefs: [
              { name: 'one', port: 80, weight: 1, filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'Backend', value: 'one' }], add: [{ name: 'X-Rule', value: 'b1' }] } }] },
              { name: 'two', port: 80, weight: 3, filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'Backend', value: 'two' }, { name: 'X-Over', value: 'b2' }], remove: ['X-Rule'] } }] },
            ],
          },
          { matches: [{ path: { type: 'PathPrefix', value: '/invalid-share' } }], backendRefs: [{ name: 'one', port: 80, filters: [set({ Backend: 'one' })] }, { name: 'missing', port: 80 }] },
          { matches: [{ path: { type: 'PathPrefix', value: '/zero' } }], backendRefs: [{ name: 'one', port: 80, weight: 0, filters: [set({ Backend: 'one' })] }, { name: 'two', port: 80, filters: [set({ Backend: 'two' })] }] },
          { matches: [{ path: { type: 'PathPrefix', value: '/prefix' } }], backendRefs: [{ name: 'one', port: 80, filters: [{ type: 'URLRewrite', urlRewrite: { hostname: 'inner.example.com', path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/rewritten-prefix' } } }] }] },
          { matches: [{ path: { type: 'PathPrefix', value: '/full' } }], backendRefs: [{ name: 'one', port: 80, filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplaceFullPath', replaceFullPath: '/rewritten-full' } } }] }] },
          {
            matches: [{ path: { type: 'PathPrefix', value: '/response' } }],
            filters: [{ type: 'ResponseHeaderModifier', responseHeaderModifier: { add: [{ name: 'X-Resp-Rule', value: 'r' }], set: [{ name: 'X-Resp', value: 'rule' }] } }],
            backendRefs: [{ name: 'one', port: 80, filters: [{ type: 'ResponseHeaderModifier', responseHeaderModifier: { set: [{ name: 'X-Resp', value: 'backend' }], remove: ['Content-Type'] } }] }],
          },
          {
            matches: [{ path: { type: 'PathPrefix', value: '/cors' } }],
            filters: [{ type: 'CORS', cors: { allowOrigins: ['https://app.example.com'], allowMethods: ['PUT'] } }],
            backendRefs: [{ name: 'one', port: 80, filters: [set({ Backend: 'one' })] }, { name: 'two', port: 80, filters: [set({ Backend: 'two' })] }],
          },
        ],
      }),
      httpRoute('app', 'named', {
        hostnames: ['named.example.com'],
        rules: [
          { name: 'named-rule', matches: [{ path: { type: 'PathPrefix', value: '/named' } }], backendRefs: [{ name: 'one', port: 80 }] },
          { matches: [{ path: { type: 'PathPrefix', value: '/unnamed' } }], backendRefs: [{ name: 'two', port: 80 }] },
          { name: 'not-served', matches: [{ path: { type: 'PathPrefix', value: '/bad' } }], backendRefs: [{ name: 'one', port: 80, filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'two', port: 80 } } }] }] },
        ],
      }),
    ];
    graph = buildGraph(storeOf(...objects).snapshot(), { controllerName: CONTROLLER, supportedFeatures: [] });
    const model = buildHttpModel(graph);
    expect(model.problems).to.deep.equal([]);
    const rendered = renderConfig(model);
    nginx = await startNginx({ http: `proxy_http_version 1.1;\n${rendered.files['http.conf']}`, peers: rendered.files['peers.txt'], certs: rendered.files['certs.txt'], routes: rendered.files['routes.txt'] });
    await eventually('nginx', () => send('/zero'), (r) => r.status === 200);
  });

  after(async () => {
    agent.destroy();
    await nginx?.stop();
    await one?.close();
    await two?.close();
  });

  it('each backend gets its own headers after the rule\'s (set, add, remove composed in order), weights 1:3 hold over 800 requests', async () => {
    const answers = await many('/weights', 800, { 'X-Rule': 'client' });
    expect(answers.filter((a) => a.status !== 200)).to.deep.equal([]);
    for (const a of answers) expect(a.json.headers.backend, a.json.backend).to.equal(a.json.backend);
    const ones = answers.filter((a) => a.json.backend === 'one');
    const twos = answers.filter((a) => a.json.backend === 'two');
    near(ones.length, 800, 0.25);
    expect(new Set(ones.map((a) => `${a.json.headers['x-rule']}|${a.json.headers['x-over']}`))).to.deep.equal(new Set(['client,r,b1|rule']));
    expect(new Set(twos.map((a) => `${a.json.headers['x-rule']}|${a.json.headers['x-over']}`))).to.deep.equal(new Set(['undefined|b2']));
    const bare = await many('/weights', 40);
    expect(new Set(bare.filter((a) => a.json.backend === 'one').map((a) => a.json.headers['x-rule']))).to.deep.equal(new Set(['r,b1']));
  });

  it('an invalid backendRef keeps its share: about half of 800 requests get 500, the rest reach the valid backend with its header', async () => {
    const answers = await many('/invalid-share', 800);
    const failed = answers.filter((a) => a.status === 500);
    near(failed.length, 800, 0.5);
    const served = answers.filter((a) => a.status === 200);
    expect(served.length + failed.length).to.equal(800);
    expect(new Set(served.map((a) => `${a.json.backend}|${a.json.headers.backend}`))).to.deep.equal(new Set(['one|one']));
  });

  it('weight 0 with filters gets nothing', async () => {
    const answers = await many('/zero', 100);
    expect(new Set(answers.map((a) => `${a.status}|${a.json?.backend}|${a.json?.headers.backend}`))).to.deep.equal(new Set(['200|two|two']));
  });

  it('URLRewrite on a backendRef: prefix and full path, hostname', async () => {
    const p = await send('/prefix/original?q=1');
    expect(p.json).to.include({ path: '/rewritten-prefix/original?q=1', host: 'inner.example.com' });
    expect((await send('/full/original')).json).to.include({ path: '/rewritten-full', host: HOST });
  });

  it('ResponseHeaderModifier on a backendRef, then the rule\'s: set overrides, add and remove apply', async () => {
    const r = await send('/response');
    expect(r.headers['x-resp']).to.equal('rule'); // the rule's set applies after the backendRef's
    expect(r.headers['x-resp-rule']).to.equal('r');
    expect(r.headers).not.to.have.property('content-type');
  });

  it('CORS on a rule with a backend choice: the preflight is answered before the choice; actual requests get the headers from either backend', async () => {
    const pre = await send('/cors', { method: 'OPTIONS', headers: { Origin: 'https://app.example.com', 'Access-Control-Request-Method': 'PUT' } });
    expect(pre.status).to.equal(204);
    expect(pre.headers['access-control-allow-methods']).to.equal('PUT');
    const answers = await many('/cors', 40, { Origin: 'https://app.example.com' });
    expect(new Set(answers.map((a) => a.json.backend))).to.deep.equal(new Set(['one', 'two']));
    for (const a of answers) {
      expect(a.headers['access-control-allow-origin']).to.equal('https://app.example.com');
      expect(a.json.headers.backend).to.equal(a.json.backend);
    }
  });

  it('named rules are served like unnamed ones; a rule that is not served is reported with its index and name', async () => {
    expect((await send('/named', { host: 'named.example.com' })).json.backend).to.equal('one');
    expect((await send('/unnamed', { host: 'named.example.com' })).json.backend).to.equal('two');
    expect((await send('/bad', { host: 'named.example.com' })).status).to.equal(404);
    const named = graph.routes.find((r) => r.obj.metadata.name === 'named')!;
    const conds = Object.fromEntries(named.parents[0]!.conditions.map((c) => [c.type, c]));
    expect(conds.Accepted!.status).to.equal('True');
    expect(conds.PartiallyInvalid!.message).to.equal('rules 2 (not-served) are not served: spec.rules[2].backendRefs[0].filters[0].type: filter RequestMirror is not supported on a backendRef (RequestHeaderModifier, ResponseHeaderModifier, URLRewrite are)');
  });
});
