// Two Gateways that request the same address on one port, next to a third elsewhere, on a
// real nginx: the config passes `nginx -t` (before the fix both got a `default_server` on
// that address:port and nginx refused the whole config, "a duplicate default server"); the
// oldest Gateway and the third serve; the newer one reports Programmed=False/AddressNotUsable.
import { expect } from 'chai';
import { startEcho, type EchoServer } from '../../examples/echo.ts';
import type { KubeObject } from '../../operator/src/objects.ts';
import { desiredStatuses } from '../../operator/src/graph/status.ts';
import { buildConfiguration } from '../../operator/src/pipeline.ts';
import { freePort } from '../cluster/processes.ts';
import { startNginx, type ThrowawayNginx } from '../cluster/nginx.ts';
import { get } from '../support/http.ts';
import { CONTROLLER, gateway, gatewayClass, httpRoute, namespace, service, storeOf } from '../support/objects.ts';

const SHARED = '127.0.0.76';
const ELSEWHERE = '127.0.0.77';
const opts = { controllerName: CONTROLLER, supportedFeatures: [] };

describe('Gateways requesting the same address on a real nginx', function () {
  this.timeout(30_000);
  let nginx: ThrowawayNginx | undefined;
  let port: number;
  const echoes: EchoServer[] = [];
  let statuses: ReturnType<typeof desiredStatuses>;
  let httpConf: string;

  before(async () => {
    port = await freePort();
    const tenants = [
      // [namespace, Gateway, created, address]; "second" sorts first by name, so age decides.
      ['team-first', 'zz-first', '2026-01-01T00:00:01Z', SHARED],
      ['team-second', 'aa-second', '2026-01-01T00:00:02Z', SHARED],
      ['team-third', 'third', '2026-01-01T00:00:03Z', ELSEWHERE],
    ] as const;
    const objects: (KubeObject | KubeObject[])[] = [gatewayClass()];
    for (const [ns, name, created, address] of tenants) {
      const echo = await startEcho(ns);
      echoes.push(echo);
      const gw = gateway(ns, name, [{ name: 'http', port }], { addresses: [{ type: 'IPAddress', value: address }] });
      gw.metadata.creationTimestamp = created;
      objects.push(namespace(ns), gw, service(ns, 'svc', 80, [echo.endpoint]), httpRoute(ns, 'r', { parentRefs: [{ name }] }));
    }
    const { config, graph } = buildConfiguration(storeOf(...objects).snapshot(), opts);
    statuses = desiredStatuses(graph, opts, { ok: true, reason: 'Programmed', message: 'ok' });
    httpConf = config.files['http.conf']!;
    nginx = await startNginx({ http: httpConf, peers: config.files['peers.txt'], certs: config.files['certs.txt'], routes: config.files['routes.txt'] }); // runs `nginx -t` first and throws with its output
  });

  after(async () => {
    await nginx?.stop();
    for (const e of echoes) await e.close();
  });

  const gatewayStatus = (ns: string, name: string) => statuses.find((d) => d.kind === 'Gateway' && d.namespace === ns && d.name === name)!.status as any;
  const condition = (ns: string, name: string, type: string) => (gatewayStatus(ns, name).conditions as any[]).find((c) => c.type === type);

  it('nginx -t accepts the config: one server block set on the shared address:port', async () => {
    const r = await nginx!.test();
    expect(r.ok, r.output).to.equal(true);
    expect(httpConf.match(new RegExp(`listen "?${SHARED.replace(/\./g, '\\.')}:${port}"? default_server`, 'g')), 'default servers on the shared address').to.have.length(1);
  });

  it('the oldest Gateway serves on the shared address, the third on its own', async () => {
    expect((await get(SHARED, port, '/')).backend).to.equal('team-first');
    expect((await get(ELSEWHERE, port, '/')).backend).to.equal('team-third');
  });

  it('the newer Gateway is accepted, not programmed: AddressNotUsable naming spec.addresses[0] and the holder', () => {
    expect(condition('team-second', 'aa-second', 'Accepted')).to.include({ status: 'True', reason: 'Accepted' });
    const p = condition('team-second', 'aa-second', 'Programmed');
    expect(p).to.include({ status: 'False', reason: 'AddressNotUsable' });
    expect(p.message).to.contain('spec.addresses[0]').and.contain(SHARED).and.contain('Gateway team-first/zz-first');
    expect(gatewayStatus('team-second', 'aa-second').addresses).to.deep.equal([]);
    for (const [ns, name, address] of [['team-first', 'zz-first', SHARED], ['team-third', 'third', ELSEWHERE]] as const) {
      expect(condition(ns, name, 'Programmed'), `${ns}/${name}`).to.include({ status: 'True' });
      expect(gatewayStatus(ns, name).addresses).to.deep.equal([{ type: 'IPAddress', value: address }]);
    }
  });
});
