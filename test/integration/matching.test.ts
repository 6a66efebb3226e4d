// Rendered configs on a real nginx with real HTTP backends: every matching rule of the
// spec decided by a request, not by reading the config.
import { expect } from 'chai';
import { buildHttpModel } from '../../operator/src/dataplane/build.ts';
import { buildGraph } from '../../operator/src/graph/graph.ts';
import type { KubeObject } from '../../operator/src/objects.ts';
import { renderConfig } from '../../operator/src/render/render.ts';
import { startEcho, type EchoServer } from '../../examples/echo.ts';
import { freePort } from '../cluster/processes.ts';
import { startNginx, type ThrowawayNginx } from '../cluster/nginx.ts';
import { eventually, get } from '../support/http.ts';
import { CONTROLLER, gateway, gatewayClass, httpRoute, namespace, service, storeOf } from '../support/objects.ts';

const ADDRESS = '127.0.0.61';
const backendNames = ['one-header', 'solo-fallback', 'exact', 'prefix', 'deeper', 'canary', 'query', 'post', 'regex', 'fallback', 'h1', 'h2', 'older', 'newer', 'alpha', 'wild', 'exacthost', 'split'];

describe('matching on a real nginx (render + nginx + HTTP)', function () {
  this.timeout(30_000);
  let nginx: ThrowawayNginx;
  let port: number;
  const echo = new Map<string, EchoServer>();

  const rule = (backend: string, match: any = {}) => ({ matches: [{ path: { type: 'PathPrefix', value: '/' }, ...match }], backendRefs: [{ name: backend, port: 80 }] });

  before(async () => {
    port = await freePort();
    for (const n of backendNames) echo.set(n, await startEcho(n));
    const objects: (KubeObject | KubeObject[])[] = [
      gatewayClass(), namespace('app'),
      gateway('app', 'gw', [{ port }], { addresses: [{ type: 'IPAddress', value: ADDRESS }] }),
      ...backendNames.map((n) => service('app', n, 80, [echo.get(n)!.endpoint])),
      service('app', 'empty', 80, []),
      httpRoute('app', 'main', {
        hostnames: ['match.example.com'],
        rules: [
          rule('exact', { path: { type: 'Exact', value: '/exact' } }),
          rule('prefix', { path: { type: 'PathPrefix', value: '/prefix/' } }),
          rule('deeper', { path: { type: 'PathPrefix', value: '/prefix/deeper' } }),
          rule('canary', { headers: [{ name: 'X-Env', value: 'canary' }] }),
          rule('query', { queryParams: [{ name: 'q', value: '1' }] }),
          rule('post', { method: 'POST' }),
          rule('regex', { path: { type: 'RegularExpression', value: '/re/[0-9]+' } }),
          rule('h1', { path: { type: 'PathPrefix', value: '/hdr' }, headers: [{ name: 'a', value: '1' }] }),
          rule('h2', { path: { type: 'PathPrefix', value: '/hdr' }, headers: [{ name: 'a', value: '1' }, { name: 'b', value: '2' }] }),
          { matches: [{ path: { type: 'PathPrefix', value: '/broken' } }], backendRefs: [{ name: 'missing', port: 80 }] },
          { matches: [{ path: { type: 'PathPrefix', value: '/empty' } }], backendRefs: [{ name: 'empty', port: 80 }] },
          { matches: [{ path: { type: 'PathPrefix', value: '/half' } }], backendRefs: [{ name: 'split', port: 80 }, { name: 'missing', port: 80 }] },
          rule('fallback'),
        ],
      }),
      // Same match in two routes: the older route wins; on equal age, namespace/name order.
      httpRoute('app', 'newer', { hostnames: ['tie.example.com'], rules: [rule('newer', { path: { type: 'PathPrefix', value: '/same' } })] }, { creationTimestamp: '2026-01-02T00:00:00Z' }),
      httpRoute('app', 'older', { hostnames: ['tie.example.com'], rules: [rule('older', { path: { type: 'PathPrefix', value: '/same' } })] }, { creationTimestamp: '2026-01-01T00:00:00Z' }),
      httpRoute('app', 'b-route', { hostnames: ['tie.example.com'], rules: [rule('newer', { path: { type: 'PathPrefix', value: '/name' } })] }, { creationTimestamp: '2026-01-01T00:00:00Z' }),
      httpRoute('app', 'a-route', { hostnames: ['tie.example.com'], rules: [rule('alpha', { path: { type: 'PathPrefix', value: '/name' } })] }, { creationTimestamp: '2026-01-01T00:00:00Z' }),
      // One header field only in a host: an absent header makes the map's key empty.
      httpRoute('app', 'solo', { hostnames: ['solo.example.com'], rules: [rule('one-header', { headers: [{ name: 'x-solo', value: 'yes' }] }), rule('solo-fallback')] }),
      httpRoute('app', 'wild', { hostnames: ['*.wild.example.com'], rules: [rule('wild')] }),
      httpRoute('app', 'exacthost', { hostnames: ['a.wild.example.com'], rules: [rule('exacthost', { path: { type: 'PathPrefix', value: '/only' } })] }),
    ];
    const graph = buildGraph(storeOf(...objects).snapshot(), { controllerName: CONTROLLER, supportedFeatures: [] });
    const config = renderConfig(buildHttpModel(graph));
    nginx = await startNginx({ http: config.files['http.conf'], peers: config.files['peers.txt'], certs: config.files['certs.txt'], routes: config.files['routes.txt'] });
    await eventually('nginx to listen', () => get(ADDRESS, port, '/', { host: 'match.example.com' }).then(() => true), (ok) => ok, 5000)
      .catch((e) => { throw new Error(`${e.message}\n${nginx.errorLog()}`); });
  });

  after(async () => {
    await nginx?.stop();
    for (const e of echo.values()) await e.close();
  });

  const cases: { name: string; path: string; host?: string; headers?: Record<string, string>; method?: string; want: string | number }[] = [
    { name: 'Exact path', path: '/exact', want: 'exact' },
    { name: 'Exact path does not match a longer path', path: '/exact/more', want: 'fallback' },
    { name: 'PathPrefix with trailing slash matches the bare prefix', path: '/prefix', want: 'prefix' },
    { name: 'PathPrefix matches below the prefix', path: '/prefix/x', want: 'prefix' },
    { name: 'PathPrefix matches whole path elements only', path: '/prefixx', want: 'fallback' },
    { name: 'the longest PathPrefix wins', path: '/prefix/deeper/x', want: 'deeper' },
    { name: 'PathPrefix element boundary on the longer prefix', path: '/prefix/deeperx', want: 'prefix' },
    { name: 'header match', path: '/', headers: { 'x-env': 'canary' }, want: 'canary' },
    { name: 'header names are case-insensitive', path: '/', headers: { 'X-ENV': 'canary' }, want: 'canary' },
    { name: 'header values are case-sensitive', path: '/', headers: { 'x-env': 'Canary' }, want: 'fallback' },
    { name: 'a longer path beats a header match', path: '/prefix/a', headers: { 'x-env': 'canary' }, want: 'prefix' },
    { name: 'query parameter match', path: '/?q=1', want: 'query' },
    { name: 'query parameter with another value', path: '/?q=2', want: 'fallback' },
    { name: 'method match', path: '/', method: 'POST', want: 'post' },
    { name: 'method beats headers', path: '/', method: 'POST', headers: { 'x-env': 'canary' }, want: 'post' },
    { name: 'more header matches win', path: '/hdr', headers: { a: '1', b: '2' }, want: 'h2' },
    { name: 'fewer header matches still match', path: '/hdr', headers: { a: '1' }, want: 'h1' },
    { name: 'no header match falls back to a shorter prefix', path: '/hdr', want: 'fallback' },
    { name: 'a single header condition', path: '/', host: 'solo.example.com', headers: { 'x-solo': 'yes' }, want: 'one-header' },
    { name: 'the fallback when the only header field is absent (empty map key)', path: '/', host: 'solo.example.com', want: 'solo-fallback' },
    { name: 'regular expression path', path: '/re/42', want: 'regex' },
    { name: 'regular expression is anchored', path: '/re/42x', want: 'fallback' },
    { name: 'a missing backend answers 500', path: '/broken', want: 500 },
    { name: 'a Service without ready endpoints answers 503', path: '/empty', want: 503 },
    { name: 'the oldest route wins a tie', path: '/same', host: 'tie.example.com', want: 'older' },
    { name: 'then namespace/name order', path: '/name', host: 'tie.example.com', want: 'alpha' },
    { name: 'wildcard hostname', path: '/', host: 'b.wild.example.com', want: 'wild' },
    { name: 'wildcard covers several labels', path: '/', host: 'x.b.wild.example.com', want: 'wild' },
    { name: 'an exact hostname takes the host from a wildcard', path: '/only', host: 'a.wild.example.com', want: 'exacthost' },
    { name: 'a host no route serves answers 404', path: '/', host: 'nobody.example.org', want: 404 },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const r = await get(ADDRESS, port, c.path, { host: c.host ?? 'match.example.com', headers: c.headers, method: c.method });
      if (typeof c.want === 'number') expect(r.status, r.body).to.equal(c.want);
      else expect({ status: r.status, backend: r.backend }).to.deep.equal({ status: 200, backend: c.want });
    });
  }

  it('forwards the original request URI and Host to the backend', async () => {
    const r = await get(ADDRESS, port, '/prefix/a%20b?x=1&y', { host: 'match.example.com' });
    const body = JSON.parse(r.body);
    expect(body.path).to.equal('/prefix/a%20b?x=1&y');
    expect(body.host).to.equal('match.example.com');
  });

  it('splits traffic between a valid and an invalid backend by weight (500 for the invalid share)', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 60; i++) statuses.push((await get(ADDRESS, port, `/half?i=${i}`, { host: 'match.example.com' })).status);
    const ok = statuses.filter((s) => s === 200).length;
    const failed = statuses.filter((s) => s === 500).length;
    expect(ok + failed).to.equal(60);
    expect(ok).to.be.within(15, 45);
  });
});
