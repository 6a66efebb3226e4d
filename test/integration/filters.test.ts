// HTTPRoute filters on a real nginx: what the backend receives and what the client gets.
import { expect } from 'chai';
import { buildHttpModel } from '../../operator/src/dataplane/build.ts';
import { buildGraph } from '../../operator/src/graph/graph.ts';
import { renderConfig } from '../../operator/src/render/render.ts';
import { startEcho, type EchoServer } from '../../examples/echo.ts';
import { freePort } from '../cluster/processes.ts';
import { startNginx, type ThrowawayNginx } from '../cluster/nginx.ts';
import { eventually, get } from '../support/http.ts';
import { CONTROLLER, gateway, gatewayClass, httpRoute, namespace, service, storeOf } from '../support/objects.ts';

const ADDRESS = '127.0.0.64';

describe('filters on a real nginx', function () {
  this.timeout(30_000);
  let nginx: ThrowawayNginx;
  let echo: EchoServer;
  let port: number;
  const rule = (path: string, filters: any[], backend = true) => ({ matches: [{ path: { type: 'PathPrefix', value: path } }], filters, ...(backend ? { backendRefs: [{ name: 'svc', port: 80 }] } : {}) });
  const req = (path: string, headers: Record<string, string> = {}) => get(ADDRESS, port, path, { host: 'f.example.com', headers });
  const seen = async (path: string, headers: Record<string, string> = {}) => JSON.parse((await req(path, headers)).body);

  before(async () => {
    port = await freePort();
    echo = await startEcho('filters');
    const objects = [
      gatewayClass(), namespace('app'),
      gateway('app', 'gw', [{ port }], { addresses: [{ type: 'IPAddress', value: ADDRESS }] }),
      ...service('app', 'svc', 80, [echo.endpoint]),
      httpRoute('app', 'r', {
        hostnames: ['f.example.com'],
        rules: [
          rule('/headers', [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'X-Set', value: 'set-$1;{"}' }], add: [{ name: 'X-Add', value: 'added' }], remove: ['X-Remove'] } }]),
          rule('/response', [{ type: 'ResponseHeaderModifier', responseHeaderModifier: { set: [{ name: 'X-Backend', value: 'hidden' }], add: [{ name: 'X-Extra', value: 'one' }], remove: ['Content-Type'] } }]),
          rule('/redirect-host', [{ type: 'RequestRedirect', requestRedirect: { hostname: 'other.example.com', statusCode: 301 } }], false),
          rule('/redirect-scheme', [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https' } }], false),
          rule('/redirect-port', [{ type: 'RequestRedirect', requestRedirect: { port: 8443 } }], false),
          rule('/redirect-full', [{ type: 'RequestRedirect', requestRedirect: { path: { type: 'ReplaceFullPath', replaceFullPath: '/elsewhere' } } }], false),
          rule('/redirect-prefix', [{ type: 'RequestRedirect', requestRedirect: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/moved' } } }], false),
          rule('/rewrite-prefix', [{ type: 'URLRewrite', urlRewrite: { hostname: 'rewritten.example.com', path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/new' } } }]),
          rule('/rewrite-root', [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/' } } }]),
          rule('/rewrite-full', [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplaceFullPath', replaceFullPath: '/full' } } }]),
        ],
      }),
    ];
    const config = renderConfig(buildHttpModel(buildGraph(storeOf(...objects).snapshot(), { controllerName: CONTROLLER, supportedFeatures: [] })));
    nginx = await startNginx({ http: config.files['http.conf'], peers: config.files['peers.txt'], certs: config.files['certs.txt'], routes: config.files['routes.txt'] });
    await eventually('nginx', () => req('/headers'), (r) => r.status === 200);
  });

  after(async () => {
    await nginx?.stop();
    await echo?.close();
  });

  it('RequestHeaderModifier sets (with a literal "$"), adds and removes request headers', async () => {
    const b = await seen('/headers', { 'X-Set': 'client', 'X-Remove': 'bye', 'X-Keep': 'k' });
    expect(b.headers['x-set']).to.equal('set-$1;{"}');
    expect(b.headers['x-add']).to.equal('added');
    expect(b.headers).not.to.have.property('x-remove');
    expect(b.headers['x-keep']).to.equal('k');
    expect((await seen('/headers', { 'X-Add': 'first' })).headers['x-add']).to.equal('first,added');
  });

  it('ResponseHeaderModifier sets, adds and removes response headers', async () => {
    const r = await req('/response');
    expect(r.headers['x-backend']).to.equal('hidden');
    expect(r.headers['x-extra']).to.equal('one');
    expect(r.headers).not.to.have.property('content-type');
  });

  const redirects: [string, string, number, string][] = [
    ['hostname and status (the listener port, not well-known here)', '/redirect-host/a?q=1', 301, 'http://other.example.com:PORT/redirect-host/a?q=1'],
    ['scheme (its well-known port)', '/redirect-scheme', 302, 'https://f.example.com/redirect-scheme'],
    ['port', '/redirect-port/x', 302, 'http://f.example.com:8443/redirect-port/x'],
    ['full path', '/redirect-full/x?y=1', 302, 'http://f.example.com:PORT/elsewhere?y=1'],
    ['prefix', '/redirect-prefix/deep/er', 302, 'http://f.example.com:PORT/moved/deep/er'],
    ['prefix, bare', '/redirect-prefix', 302, 'http://f.example.com:PORT/moved'],
  ];
  for (const [name, path, status, location] of redirects) {
    it(`RequestRedirect: ${name}`, async () => {
      const r = await req(path);
      expect(r.status).to.equal(status);
      expect(r.headers.location).to.equal(location.replace('PORT', String(port)));
    });
  }

  it('URLRewrite: hostname and prefix', async () => {
    const b = await seen('/rewrite-prefix/a/b?x=1');
    expect(b.path).to.equal('/new/a/b?x=1');
    expect(b.host).to.equal('rewritten.example.com');
  });

  it('URLRewrite: prefix to "/" keeps one slash', async () => {
    expect((await seen('/rewrite-root/a')).path).to.equal('/a');
    expect((await seen('/rewrite-root')).path).to.equal('/');
  });

  it('URLRewrite: full path', async () => {
    expect((await seen('/rewrite-full/a?z=2')).path).to.equal('/full?z=2');
  });
});
