// Listener ports on a real nginx (features HTTPRouteParentRefPort,
// HTTPRouteDestinationPortMatching, GatewayPort8080): routes that name a parentRef port are
// served on that port's listeners only, whatever the hostname; the Host header's port is
// ignored for matching (spec: HTTPRoute.spec.hostnames); a listener on port 8080 is bound
// and serves, and a redirect without a port keeps the listener's port 8080. The scenario of
// the conformance test HTTPRouteListenerPortMatching, on ports 8080 and two free ports.
import { expect } from 'chai';
import { startEcho, type EchoServer } from '../../examples/echo.ts';
import type { KubeObject } from '../../operator/src/objects.ts';
import { buildConfiguration } from '../../operator/src/pipeline.ts';
import { freePort } from '../cluster/processes.ts';
import { startNginx, type ThrowawayNginx } from '../cluster/nginx.ts';
import { eventually, get } from '../support/http.ts';
import { CONTROLLER, gateway, gatewayClass, httpRoute, namespace, service, storeOf } from '../support/objects.ts';

const ADDRESS = '127.0.0.187';
const P8080 = 8080;

describe('listener ports on a real nginx: parentRef port, port 8080', function () {
  this.timeout(30_000);
  let nginx: ThrowawayNginx;
  const echoes: EchoServer[] = [];
  let p80: number; // stands for the conformance test's port 80
  let p8090: number;

  before(async () => {
    p80 = await freePort();
    p8090 = await freePort();
    for (const name of ['v1', 'v2', 'v3']) echoes.push(await startEcho(name));
    const same = { namespaces: { from: 'Same' } };
    const route = (name: string, parentRef: Record<string, unknown>, backend: string, rules?: unknown[]) =>
      httpRoute('infra', name, { parentRefs: [{ name: 'gw', namespace: 'infra', ...parentRef }], rules: rules ?? [{ backendRefs: [{ name: backend, port: 80 }] }] });
    const objects: (KubeObject | KubeObject[])[] = [
      gatewayClass(), namespace('infra'),
      gateway('infra', 'gw', [
        { name: 'listener-1', port: p80, hostname: 'foo.com', allowedRoutes: same },
        { name: 'listener-2', port: P8080, hostname: 'foo.com', allowedRoutes: same },
        { name: 'listener-3', port: P8080, hostname: 'bar.com', allowedRoutes: same },
        { name: 'listener-4', port: p8090, hostname: 'foo.com', allowedRoutes: same },
        { name: 'listener-5', port: p8090, hostname: 'bar.com', allowedRoutes: same },
        { name: 'redirects', port: P8080, hostname: 'redirect.example', allowedRoutes: same },
      ], { addresses: [{ type: 'IPAddress', value: ADDRESS }] }),
      ...echoes.map((e) => service('infra', e.name, 80, [e.endpoint])),
      route('backend-v1', { port: p80 }, 'v1'),
      route('backend-v2', { port: P8080 }, 'v2'),
      route('backend-v3', { port: p8090, sectionName: 'listener-4' }, 'v3'),
      route('redirect', { sectionName: 'redirects' }, '', [
        { matches: [{ path: { type: 'PathPrefix', value: '/scheme-nil-and-port-nil' } }], filters: [{ type: 'RequestRedirect', requestRedirect: { hostname: 'example.org' } }] },
        { matches: [{ path: { type: 'PathPrefix', value: '/scheme-https-and-port-nil' } }], filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', hostname: 'example.org' } }] },
        { matches: [{ path: { type: 'PathPrefix', value: '/scheme-nil-and-port-80' } }], filters: [{ type: 'RequestRedirect', requestRedirect: { port: 80, hostname: 'example.org' } }] },
      ]),
    ];
    const { config } = buildConfiguration(storeOf(...objects).snapshot(), { controllerName: CONTROLLER, supportedFeatures: [] });
    nginx = await startNginx({ http: config.files['http.conf'], peers: config.files['peers.txt'], certs: config.files['certs.txt'], routes: config.files['routes.txt'] });
    await eventually('nginx to listen', () => get(ADDRESS, P8080, '/', { host: 'foo.com' }).then(() => true), (ok) => ok, 5000)
      .catch((e) => { throw new Error(`${e.message}\n${nginx.errorLog()}`); });
  });

  after(async () => {
    await nginx?.stop();
    for (const e of echoes) await e.close();
  });

  // [port, Host header, backend or status] from HTTPRouteListenerPortMatching.
  const cases: [() => number, string, string | number][] = [
    [() => p80, 'foo.com', 'v1'],
    [() => P8080, 'foo.com:8080', 'v2'],
    [() => P8080, 'bar.com:8080', 'v2'],
    [() => p8090, 'foo.com:8090', 'v3'],
    [() => p8090, 'bar.com:8090', 404],
    [() => p80, 'bar.com', 404],
  ];
  for (const [port, host, want] of cases) {
    it(`Host ${host} on the ${host.split(':')[1] ?? '80'} listener port -> ${want}`, async () => {
      const r = await get(ADDRESS, port(), '/', { host });
      if (typeof want === 'number') expect(r.status).to.equal(want);
      else {
        expect(r.status).to.equal(200);
        expect(r.backend).to.equal(want);
      }
    });
  }

  // From HTTPRouteRedirectPortAndScheme, for the listener on 8080.
  const redirects: [string, string][] = [
    ['/scheme-nil-and-port-nil', 'http://example.org:8080/scheme-nil-and-port-nil'],
    ['/scheme-nil-and-port-80', 'http://example.org/scheme-nil-and-port-80'],
    ['/scheme-https-and-port-nil', 'https://example.org/scheme-https-and-port-nil'],
  ];
  for (const [path, location] of redirects) {
    it(`redirect on the 8080 listener: ${path} -> 302 ${location}`, async () => {
      const r = await get(ADDRESS, P8080, path, { host: 'redirect.example' });
      expect(r.status).to.equal(302);
      expect(r.headers.location).to.equal(location);
    });
  }
});
