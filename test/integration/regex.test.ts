// Tenant regexes on a real nginx: a route whose regex has a named group (nginx would turn
// it into a variable other routes read) or backtracks exponentially is refused with a
// condition naming the field, never reaches nginx.conf, and another tenant's route on the
// same host keeps serving.
import { expect } from 'chai';
import { buildHttpModel } from '../../operator/src/dataplane/build.ts';
import { buildGraph } from '../../operator/src/graph/graph.ts';
import { desiredStatuses } from '../../operator/src/graph/status.ts';
import type { KubeObject } from '../../operator/src/objects.ts';
import { renderConfig } from '../../operator/src/render/render.ts';
import { startEcho, type EchoServer } from '../../examples/echo.ts';
import { freePort } from '../cluster/processes.ts';
import { startNginx, type ThrowawayNginx } from '../cluster/nginx.ts';
import { eventually, get } from '../support/http.ts';
import { CONTROLLER, gateway, gatewayClass, httpRoute, namespace, service, storeOf } from '../support/objects.ts';

const ADDRESS = '127.0.0.66';
const HOST = 'shared.example.com';
const opts = { controllerName: CONTROLLER, supportedFeatures: [] };
const programmed = { ok: true, reason: 'Programmed', message: 'ok' };

describe('tenant regexes on a real nginx (graph + render + nginx + HTTP)', function () {
  this.timeout(30_000);
  let nginx: ThrowawayNginx;
  let port: number;
  let httpConf: string;
  let conditions: (name: string) => { type: string; status: string; reason: string; message: string }[];
  const echo = new Map<string, EchoServer>();

  before(async () => {
    port = await freePort();
    for (const n of ['victim', 'attacker']) echo.set(n, await startEcho(n));
    const route = (ns: string, name: string, match: any, backend: string) =>
      httpRoute(ns, name, { parentRefs: [{ name: 'gw', namespace: 'infra' }], hostnames: [HOST], rules: [{ matches: [match], backendRefs: [{ name: backend, port: 80 }] }] });
    const objects: (KubeObject | KubeObject[])[] = [
      gatewayClass(), namespace('infra'), namespace('tenant-a'), namespace('tenant-b'),
      gateway('infra', 'gw', [{ port, allowedRoutes: { namespaces: { from: 'All' } } }], { addresses: [{ type: 'IPAddress', value: ADDRESS }] }),
      service('tenant-a', 'attacker', 80, [echo.get('attacker')!.endpoint]),
      service('tenant-b', 'victim', 80, [echo.get('victim')!.endpoint]),
      // Would define $wg_dollar, the variable every "$" in a user value is rendered through.
      route('tenant-a', 'named-group', { path: { type: 'RegularExpression', value: '/app/(?<wg_dollar>[0-9]+)' } }, 'attacker'),
      route('tenant-a', 'named-group-p', { path: { type: 'RegularExpression', value: "/app/(?P<uri>.*)|/app/(?'args'.*)" } }, 'attacker'),
      route('tenant-a', 'exponential', { path: { type: 'PathPrefix', value: '/' }, headers: [{ name: 'x-slow', type: 'RegularExpression', value: '(a|a)*b' }] }, 'attacker'),
      route('tenant-b', 'app', { path: { type: 'RegularExpression', value: '/app/([0-9]+)' } }, 'victim'),
    ];
    const graph = buildGraph(storeOf(...objects).snapshot(), opts);
    const statuses = desiredStatuses(graph, opts, programmed);
    conditions = (name) => (statuses.find((d) => d.kind === 'HTTPRoute' && d.name === name)?.parents?.[0]?.conditions ?? []) as any;
    const rendered = renderConfig(buildHttpModel(graph));
    httpConf = rendered.files['http.conf'];
    nginx = await startNginx({ http: httpConf, peers: rendered.files['peers.txt'], certs: rendered.files['certs.txt'], routes: rendered.files['routes.txt'] });
    await eventually('nginx to listen', () => get(ADDRESS, port, '/', { host: HOST }).then(() => true), (ok) => ok, 5000)
      .catch((e) => { throw new Error(`${e.message}\n${nginx.errorLog()}`); });
  });

  after(async () => {
    await nginx?.stop();
    for (const e of echo.values()) await e.close();
  });

  const accepted = (name: string) => conditions(name).find((c) => c.type === 'Accepted');

  it('refuses named groups of each spelling with a condition naming the field', () => {
    for (const name of ['named-group', 'named-group-p']) {
      expect(accepted(name), name).to.include({ status: 'False', reason: 'UnsupportedValue' });
      expect(accepted(name)!.message).to.contain('spec.rules[0].matches[0].path.value').and.contain('named group');
    }
  });

  it('refuses an exponentially backtracking header regex, naming the field and an attack', () => {
    expect(accepted('exponential')).to.include({ status: 'False', reason: 'UnsupportedValue' });
    expect(accepted('exponential')!.message).to.contain('spec.rules[0].matches[0].headers[0].value').and.match(/backtrack exponentially .*attack string/);
  });

  it('keeps refused regexes out of nginx.conf', () => {
    expect(httpConf).to.not.match(/\(\?<|\(\?P<|\(\?'|\(a\|a\)/);
    expect(httpConf).to.contain('/app/([0-9]+)');
  });

  it("serves the other tenant's route on the same host", async () => {
    expect(accepted('app')).to.include({ status: 'True', reason: 'Accepted' });
    const r = await get(ADDRESS, port, '/app/42', { host: HOST, headers: { 'x-slow': `${'a'.repeat(4000)}!` } });
    expect(r.status).to.equal(200);
    expect(r.backend).to.equal('victim');
    expect((await get(ADDRESS, port, '/app/x', { host: HOST })).status).to.equal(404);
  });
});
