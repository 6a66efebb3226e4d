// Listener isolation on a real nginx (spec: GatewayHTTPListenerIsolation): listeners that
// share a port; a request is handled by the most specific listener whose hostname matches
// it, and only routes attached to that listener may serve it, even when a route on a less
// specific listener names the host. The conformance suite's own scenario, plus a tenant
// trying to take paths on another team's hostname.
import { expect } from 'chai';
import { startEcho, type EchoServer } from '../../examples/echo.ts';
import type { KubeObject } from '../../operator/src/objects.ts';
import { buildConfiguration } from '../../operator/src/pipeline.ts';
import { freePort } from '../cluster/processes.ts';
import { startNginx, type ThrowawayNginx } from '../cluster/nginx.ts';
import { eventually, get } from '../support/http.ts';
import { CONTROLLER, gateway, gatewayClass, httpRoute, namespace, service, storeOf } from '../support/objects.ts';

const ADDRESS = '127.0.0.62';

describe('listener isolation on a real nginx', function () {
  this.timeout(30_000);
  let nginx: ThrowawayNginx;
  let port: number;
  let echo: EchoServer;
  let hijacker: EchoServer;
  const backendAt = async (host: string, path: string) => {
    const r = await get(ADDRESS, port, path, { host });
    return r.status === 200 ? (JSON.parse(r.body) as { path: string }).path : r.status;
  };

  before(async () => {
    port = await freePort();
    echo = await startEcho('infra');
    hijacker = await startEcho('hijacker');
    const all = { namespaces: { from: 'All' } };
    const route = (name: string, sectionName: string, path: string, hostnames?: string[], ns = 'infra', backend = 'infra') =>
      httpRoute(ns, name, { parentRefs: [{ name: 'gw', namespace: 'infra', sectionName }], ...(hostnames ? { hostnames } : {}), rules: [{ matches: [{ path: { type: 'PathPrefix', value: path } }], backendRefs: [{ name: backend, port: 80 }] }] });
    const objects: (KubeObject | KubeObject[])[] = [
      gatewayClass(), namespace('infra'), namespace('team-x'),
      gateway('infra', 'gw', [
        { name: 'empty-hostname', port, allowedRoutes: all },
        { name: 'wildcard-example-com', port, hostname: '*.example.com', allowedRoutes: all },
        { name: 'wildcard-foo-example-com', port, hostname: '*.foo.example.com', allowedRoutes: all },
        { name: 'abc-foo-example-com', port, hostname: 'abc.foo.example.com', allowedRoutes: all },
      ], { addresses: [{ type: 'IPAddress', value: ADDRESS }] }),
      service('infra', 'infra', 80, [echo.endpoint]),
      service('team-x', 'hijacker', 80, [hijacker.endpoint]),
      route('empty', 'empty-hostname', '/empty-hostname', ['bar.com', '*.example.com', '*.foo.example.com', 'abc.foo.example.com']),
      route('wildcard', 'wildcard-example-com', '/wildcard-example-com', ['bar.com', '*.example.com', '*.foo.example.com', 'abc.foo.example.com']),
      route('wildcard-foo', 'wildcard-foo-example-com', '/wildcard-foo-example-com'),
      route('abc', 'abc-foo-example-com', '/abc-foo-example-com'),
      // A tenant on the catch-all listener claiming another team's host and a path there.
      route('hijack', 'empty-hostname', '/abc-foo-example-com/admin', ['abc.foo.example.com'], 'team-x', 'hijacker'),
    ];
    const { config, graph } = buildConfiguration(storeOf(...objects).snapshot(), { controllerName: CONTROLLER, supportedFeatures: [] });
    expect(graph.routes.map((r) => r.key)).to.include('HTTPRoute/team-x/hijack');
    nginx = await startNginx({ http: config.files['http.conf'], peers: config.files['peers.txt'], certs: config.files['certs.txt'], routes: config.files['routes.txt'] });
    await eventually('nginx to listen', () => get(ADDRESS, port, '/', { host: 'bar.com' }).then(() => true), (ok) => ok, 5000)
      .catch((e) => { throw new Error(`${e.message}\n${nginx.errorLog()}`); });
  });

  after(async () => {
    await nginx?.stop();
    await echo?.close();
    await hijacker?.close();
  });

  // [host, path, served?] from the conformance test GatewayHTTPListenerIsolation.
  const cases: [string, string, boolean][] = [
    ['bar.com', '/empty-hostname', true], ['bar.com', '/wildcard-example-com', false], ['bar.com', '/wildcard-foo-example-com', false], ['bar.com', '/abc-foo-example-com', false],
    ['bar.example.com', '/empty-hostname', false], ['bar.example.com', '/wildcard-example-com', true], ['bar.example.com', '/wildcard-foo-example-com', false], ['bar.example.com', '/abc-foo-example-com', false],
    ['bar.foo.example.com', '/empty-hostname', false], ['bar.foo.example.com', '/wildcard-example-com', false], ['bar.foo.example.com', '/wildcard-foo-example-com', true], ['bar.foo.example.com', '/abc-foo-example-com', false],
    ['abc.foo.example.com', '/empty-hostname', false], ['abc.foo.example.com', '/wildcard-example-com', false], ['abc.foo.example.com', '/wildcard-foo-example-com', false], ['abc.foo.example.com', '/abc-foo-example-com', true],
  ];
  for (const [host, path, served] of cases) {
    it(`${host}${path} is ${served ? 'served by its own listener\'s route' : 'not served (404): a more specific listener handles the host'}`, async () => {
      expect(await backendAt(host, path)).to.equal(served ? path : 404);
    });
  }

  it('a route on the catch-all listener cannot take paths on a host that a more specific listener handles', async () => {
    const r = await get(ADDRESS, port, '/abc-foo-example-com/admin', { host: 'abc.foo.example.com' });
    expect(r.backend, 'served by the abc listener\'s route, not the hijacker\'s').to.equal('infra');
  });
});
