// Route hostname precedence on a real nginx (spec: HTTPRoute.spec.hostnames; feature
// GatewayRouteHostnameIntersectionPrecedence). Two routes on one listener whose hostnames
// intersect the listener's to the same name: the route with the more specific hostname of
// its own (exact over wildcard, longer wildcard over shorter) is tried first, even when it
// is newer and its path is shorter; a request its rules do not match falls to the other
// route. The six scenarios of the conformance test
// HTTPRouteMultipleRoutesAttachmentSameHostnameIntersection.
import { expect } from 'chai';
import { startEcho, type EchoServer } from '../../examples/echo.ts';
import type { KubeObject } from '../../operator/src/objects.ts';
import { buildConfiguration } from '../../operator/src/pipeline.ts';
import { freePort } from '../cluster/processes.ts';
import { startNginx, type ThrowawayNginx } from '../cluster/nginx.ts';
import { eventually, get } from '../support/http.ts';
import { CONTROLLER, gateway, gatewayClass, httpRoute, namespace, service, storeOf } from '../support/objects.ts';

/** One address per Gateway: two Gateways cannot share one (the newer is AddressNotUsable). */
const address = (i: number) => `127.0.0.${181 + i}`;
const OLDER = '2026-01-01T00:00:00Z';
const NEWER = '2026-01-01T00:00:01Z';

interface Match { path?: string; header?: string }
interface Scenario {
  name: string;
  listener: string;
  older: { hostname: string; match: Match };
  newer: { hostname: string; match: Match };
  /** [path, headers, backend that must answer] */
  requests: [string, Record<string, string>, 'v1' | 'v2'][];
}

// v1 serves the older route, v2 the newer one, as in the conformance test.
const scenarios: Scenario[] = [
  { name: 'exact over wildcard', listener: 'abc.example.com', older: { hostname: '*.example.com', match: {} }, newer: { hostname: 'abc.example.com', match: {} }, requests: [['/', {}, 'v2']] },
  { name: 'exact over wildcard with a longer prefix', listener: 'abc.example.com', older: { hostname: '*.example.com', match: { path: '/path/prefix' } }, newer: { hostname: 'abc.example.com', match: { path: '/path' } }, requests: [['/path/prefix/longer', {}, 'v2']] },
  {
    name: 'exact passes unmatched requests to wildcard', listener: 'abc.example.com',
    older: { hostname: '*.example.com', match: { path: '/path/prefix', header: 'Header-B' } }, newer: { hostname: 'abc.example.com', match: { path: '/path', header: 'Header-A' } },
    requests: [['/path/prefix/longer', { 'Header-A': 'A', 'Header-B': 'B' }, 'v2'], ['/path/prefix/longer', { 'Header-B': 'B' }, 'v1']],
  },
  { name: 'longer wildcard over shorter', listener: '*.example.com', older: { hostname: '*.com', match: {} }, newer: { hostname: '*.example.com', match: {} }, requests: [['/', {}, 'v2']] },
  { name: 'longer wildcard over shorter with a longer prefix', listener: '*.example.com', older: { hostname: '*.com', match: { path: '/path/prefix' } }, newer: { hostname: '*.example.com', match: { path: '/path' } }, requests: [['/path/prefix/longer', {}, 'v2']] },
  {
    name: 'longer wildcard passes unmatched requests to shorter', listener: '*.example.com',
    older: { hostname: '*.com', match: { path: '/path/prefix', header: 'Header-B' } }, newer: { hostname: '*.example.com', match: { path: '/path', header: 'Header-A' } },
    requests: [['/path/prefix/longer', { 'Header-A': 'A', 'Header-B': 'B' }, 'v2'], ['/path/prefix/longer', { 'Header-B': 'B' }, 'v1']],
  },
];

describe('route hostname precedence on a real nginx', function () {
  this.timeout(30_000);
  let nginx: ThrowawayNginx;
  const echoes: EchoServer[] = [];
  const ports: number[] = [];

  before(async () => {
    const v1 = await startEcho('v1');
    const v2 = await startEcho('v2');
    echoes.push(v1, v2);
    const objects: (KubeObject | KubeObject[])[] = [gatewayClass(), namespace('infra'), service('infra', 'v1', 80, [v1.endpoint]), service('infra', 'v2', 80, [v2.endpoint])];
    const rule = (m: Match, backend: string) => ({
      matches: [{ path: { type: 'PathPrefix', value: m.path ?? '/' }, ...(m.header ? { headers: [{ type: 'Exact', name: m.header, value: m.header.slice(-1) }] } : {}) }],
      backendRefs: [{ name: backend, port: 80 }],
    });
    for (const [i, s] of scenarios.entries()) {
      const port = await freePort();
      ports.push(port);
      const gw = `gw${i}`;
      objects.push(
        gateway('infra', gw, [{ name: 'l', port, hostname: s.listener }], { addresses: [{ type: 'IPAddress', value: address(i) }] }),
        httpRoute('infra', `older${i}`, { parentRefs: [{ name: gw }], hostnames: [s.older.hostname], rules: [rule(s.older.match, 'v1')] }, { creationTimestamp: OLDER }),
        httpRoute('infra', `newer${i}`, { parentRefs: [{ name: gw }], hostnames: [s.newer.hostname], rules: [rule(s.newer.match, 'v2')] }, { creationTimestamp: NEWER }),
      );
    }
    const { config } = buildConfiguration(storeOf(...objects).snapshot(), { controllerName: CONTROLLER, supportedFeatures: [] });
    nginx = await startNginx({ http: config.files['http.conf'], peers: config.files['peers.txt'], certs: config.files['certs.txt'], routes: config.files['routes.txt'] });
    await eventually('nginx to listen', () => get(address(0), ports[0]!, '/', { host: 'abc.example.com' }).then(() => true), (ok) => ok, 5000)
      .catch((e) => { throw new Error(`${e.message}\n${nginx.errorLog()}`); });
  });

  after(async () => {
    await nginx?.stop();
    for (const e of echoes) await e.close();
  });

  for (const [i, s] of scenarios.entries()) {
    for (const [path, headers, backend] of s.requests) {
      it(`${s.name}: abc.example.com${path} ${JSON.stringify(headers)} -> ${backend} (${backend === 'v2' ? 'newer, more specific hostname' : 'older, less specific hostname'})`, async () => {
        const r = await get(address(i), ports[i]!, path, { host: 'abc.example.com', headers });
        expect(r.status).to.equal(200);
        expect(r.backend).to.equal(backend);
      });
    }
  }
});
