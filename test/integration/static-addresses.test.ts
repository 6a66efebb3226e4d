// Gateway spec.addresses on a real nginx, loopback mode (features GatewayStaticAddresses,
// GatewayAddressEmpty): a requested loopback address is bound and serves; an IPAddress entry
// without a value gets the address the Gateway would get without spec.addresses, and serves
// there; an address nginx cannot bind here (not 127.0.0.0/8) leaves its Gateway accepted,
// not programmed, and out of nginx.conf, while the others keep serving.
import { expect } from 'chai';
import { startEcho, type EchoServer } from '../../examples/echo.ts';
import { desiredStatuses } from '../../operator/src/graph/status.ts';
import type { KubeObject } from '../../operator/src/objects.ts';
import { buildConfiguration } from '../../operator/src/pipeline.ts';
import { freePort } from '../cluster/processes.ts';
import { startNginx, type ThrowawayNginx } from '../cluster/nginx.ts';
import { eventually, get } from '../support/http.ts';
import { CONTROLLER, gateway, gatewayClass, httpRoute, namespace, service, storeOf } from '../support/objects.ts';

const REQUESTED = '127.0.0.188';
const UNUSABLE = '192.0.2.10';
/** Loopback block of this test's derived addresses: apart from the conformance runs' 10 and 11. */
const BLOCK = 77;
const opts = { controllerName: CONTROLLER, supportedFeatures: [], addressBlock: BLOCK };

describe('Gateway spec.addresses on a real nginx (loopback)', function () {
  this.timeout(30_000);
  let nginx: ThrowawayNginx;
  let echo: EchoServer;
  let port: number;
  let assigned: string;
  let conditions: (name: string) => Record<string, string>;
  let addresses: (name: string) => unknown;
  let conf: string;

  before(async () => {
    port = await freePort();
    echo = await startEcho('app');
    const gw = (name: string, addrs: unknown[]): KubeObject => gateway('app', name, [{ name: 'http', port }], { addresses: addrs });
    const route = (name: string, gwName: string) => httpRoute('app', name, { parentRefs: [{ name: gwName }], hostnames: [`${gwName}.example.com`], rules: [{ backendRefs: [{ name: 'app', port: 80 }] }] });
    const objects = [
      gatewayClass(), namespace('app'), service('app', 'app', 80, [echo.endpoint]),
      gw('requested', [{ type: 'IPAddress', value: REQUESTED }]), route('r1', 'requested'),
      gw('empty', [{ type: 'IPAddress' }]), route('r2', 'empty'),
      gw('unusable', [{ type: 'IPAddress', value: UNUSABLE }]), route('r3', 'unusable'),
    ];
    const { graph, config } = buildConfiguration(storeOf(...objects).snapshot(), opts);
    const all = desiredStatuses(graph, opts, { ok: true, reason: 'Programmed', message: 'ok' });
    const status = (name: string) => all.find((d) => d.kind === 'Gateway' && d.name === name)!.status as any;
    conditions = (name) => Object.fromEntries((status(name).conditions as any[]).map((c) => [c.type, `${c.status}/${c.reason}`]));
    addresses = (name) => status(name).addresses;
    assigned = graph.gateways.find((g) => g.key === 'app/empty')!.address!;
    conf = config.files['http.conf']!;
    nginx = await startNginx({ http: conf, peers: config.files['peers.txt'], certs: config.files['certs.txt'], routes: config.files['routes.txt'] });
    await eventually('nginx to listen', () => get(REQUESTED, port, '/', { host: 'requested.example.com' }).then(() => true), (ok) => ok, 5000)
      .catch((e) => { throw new Error(`${e.message}\n${nginx.errorLog()}`); });
  });

  after(async () => {
    await nginx?.stop();
    await echo?.close();
  });

  it('a requested loopback address: Programmed, listed, and served there', async () => {
    expect(conditions('requested')).to.include({ Accepted: 'True/Accepted', Programmed: 'True/Programmed' });
    expect(addresses('requested')).to.deep.equal([{ type: 'IPAddress', value: REQUESTED }]);
    const r = await get(REQUESTED, port, '/', { host: 'requested.example.com' });
    expect(r.status).to.equal(200);
    expect(r.backend).to.equal('app');
  });

  it('an IPAddress without a value: an address of the block is assigned, listed, and served there', async () => {
    expect(assigned).to.match(new RegExp(`^127\\.${BLOCK}\\.\\d+\\.\\d+$`));
    expect(conditions('empty')).to.include({ Accepted: 'True/Accepted', Programmed: 'True/Programmed' });
    expect(addresses('empty')).to.deep.equal([{ type: 'IPAddress', value: assigned }]);
    const r = await get(assigned, port, '/', { host: 'empty.example.com' });
    expect(r.status).to.equal(200);
    expect(r.backend).to.equal('app');
  });

  it('an address nginx cannot bind here: accepted, AddressNotUsable, nothing in nginx.conf for it', () => {
    expect(conditions('unusable')).to.include({ Accepted: 'True/Accepted', Programmed: 'False/AddressNotUsable' });
    expect(addresses('unusable')).to.deep.equal([]);
    expect(conf).to.not.include(UNUSABLE);
    expect(conf).to.not.include('unusable.example.com');
  });
});
