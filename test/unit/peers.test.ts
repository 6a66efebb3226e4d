// Upstream peers outside http.conf (issue 14): the model's dynamic upstreams, peers.txt, and
// the hashes that decide between a reload and a push of the endpoints.
import { expect } from 'chai';
import { serverTargets } from '../../operator/src/dataplane/model.ts';
import { buildHttpModel, defaultBuildOptions } from '../../operator/src/dataplane/build.ts';
import type { KubeObject } from '../../operator/src/objects.ts';
import { renderPeers } from '../../operator/src/render/peers.ts';
import { renderConfig } from '../../operator/src/render/render.ts';
import { buildConfiguration } from '../../operator/src/pipeline.ts';
import { desiredStatuses } from '../../operator/src/graph/status.ts';
import { gateway, gatewayClass, httpRoute, service, storeOf } from '../support/objects.ts';
import { graphOptions, statusesOf } from '../support/statuses.ts';

/** Every rule in server blocks: these tests are about the server renderer, not the route table. */
const SERVER_BLOCKS = { ...defaultBuildOptions, routeTable: false };

const route = (backendRefs: object[]) => httpRoute('app', 'r', { rules: [{ backendRefs }] });

function render(endpoints: string[], backendRefs: object[] = [{ name: 'svc', port: 80 }], more: KubeObject[] = []) {
  const { graph } = statusesOf(gateway('app', 'gw'), service('app', 'svc', 80, endpoints), ...more, route(backendRefs));
  const model = buildHttpModel(graph, SERVER_BLOCKS);
  const name = serverTargets(model.servers[0]!)[0]!.upstream;
  return { model, config: renderConfig(model), name };
}

describe('upstream peers outside http.conf', () => {
  it('an HTTP rule upstream is dynamic: a placeholder server and the Lua balancer in http.conf, the endpoints in peers.txt', () => {
    const { config, name } = render(['10.0.0.1:8080', '10.0.0.2:8080']);
    const http = config.files['http.conf']!;
    expect(name).to.match(/^wg_u_[0-9a-f]{16}$/);
    expect(http).to.contain(`upstream ${name} {`).and.contain('server 0.0.0.1:1;').and.contain(`balancer_by_lua_block { require("waygate.peers").balance("${name}") }`).and.contain('keepalive 16;');
    expect(http).not.to.contain('10.0.0.1');
    expect(config.files['peers.txt']).to.equal(`upstream ${name}\n10.0.0.1:8080 50\n10.0.0.2:8080 50\n`);
  });

  it('endpoints alone change peers.txt and its hash, never http.conf or the config hash', () => {
    const a = render(['10.0.0.1:8080', '10.0.0.2:8080']).config;
    const b = render(['10.0.0.3:8080']).config;
    const { config: none, name } = render([]);
    expect(b.files['http.conf']).to.equal(a.files['http.conf']);
    expect(none.files['http.conf']).to.equal(a.files['http.conf']);
    expect(b.hash).to.equal(a.hash);
    expect(none.hash).to.equal(a.hash);
    expect(b.peersHash).not.to.equal(a.peersHash);
    expect(none.peersHash).not.to.equal(b.peersHash);
    expect(none.files['peers.txt']).to.equal(`upstream ${name}\n`);
  });

  it('no ready endpoint: the upstream stays (waygate.peers answers 503); invalid backends: still the 500 share of the config', () => {
    const none = render([]);
    const t = serverTargets(none.model.servers[0]!)[0]!;
    expect(t.status).to.equal(undefined);
    expect(t.upstream).to.equal(none.name);
    // Half the weight on a Service that does not exist: split_clients answers 500 for it.
    const split = render(['10.0.0.1:8080'], [{ name: 'svc', port: 80, weight: 1 }, { name: 'missing', port: 80, weight: 1 }]);
    expect(split.config.files['http.conf']).to.match(/split_clients[^{]*\{\s*50\.00% ok;/);
    expect(split.config.files['peers.txt']).to.equal(`upstream ${split.name}\n10.0.0.1:8080 100\n`);
    const invalid = render(['10.0.0.1:8080'], [{ name: 'missing', port: 80 }]);
    expect(serverTargets(invalid.model.servers[0]!)[0]!.status).to.equal(500);
    expect(invalid.config.files['peers.txt']).to.equal(undefined);
  });

  it('weights: each backend weight spread over its endpoints, as the upstream server weights were', () => {
    const { config, name } = render(['10.0.0.1:8080'], [{ name: 'svc', port: 80, weight: 3 }, { name: 'other', port: 80, weight: 1 }], service('app', 'other', 80, ['10.0.1.1:9090', '10.0.1.2:9090']));
    expect(config.files['peers.txt']).to.equal(`upstream ${name}\n10.0.0.1:8080 300\n10.0.1.1:9090 50\n10.0.1.2:9090 50\n`);
  });

  it('an upstream name means the same backends in every version: not the route\'s position, shared by rules with the same set, apart for other sets, weights or policies', () => {
    const routeTo = (name: string, backendRefs: object[], extra: object = {}) => httpRoute('app', name, { hostnames: [`${name}.example.com`], rules: [{ backendRefs, ...extra }] });
    const names = (...routes: KubeObject[]) => {
      const { graph } = statusesOf(gateway('app', 'gw'), service('app', 'svc', 80, ['10.0.0.1:8080']), service('app', 'other', 80, ['10.0.1.1:8080']), ...routes);
      const model = buildHttpModel(graph, SERVER_BLOCKS);
      return Object.fromEntries(model.servers.flatMap((srv) => serverTargets(srv).map((t) => [t.route, t.upstream])));
    };
    const one = names(routeTo('b', [{ name: 'svc', port: 80 }]));
    // A route added before it (it was route 0, now route 1): the same name, so the peers pushed before a reload mean the same to old workers.
    const two = names(routeTo('a', [{ name: 'other', port: 80 }]), routeTo('b', [{ name: 'svc', port: 80 }]));
    expect(two['"HTTPRoute/app/b"']).to.equal(one['"HTTPRoute/app/b"']);
    expect(two['"HTTPRoute/app/a"']).to.not.equal(two['"HTTPRoute/app/b"']);
    const more = names(
      routeTo('b', [{ name: 'svc', port: 80 }]), routeTo('c', [{ name: 'svc', port: 80, weight: 7 }]),
      routeTo('d', [{ name: 'svc', port: 80, weight: 1 }, { name: 'other', port: 80, weight: 1 }]), routeTo('e', [{ name: 'svc', port: 80, weight: 3 }, { name: 'other', port: 80, weight: 1 }]),
      routeTo('f', [{ name: 'svc', port: 80 }], { timeouts: { request: '2s' } }), routeTo('g', [{ name: 'svc', port: 80 }], { timeouts: { request: '3s' } }),
    );
    // One backend: its weight does not matter, one upstream shared.
    expect(more['"HTTPRoute/app/c"']).to.equal(more['"HTTPRoute/app/b"']);
    const distinct = ['b', 'd', 'e', 'f', 'g'].map((r) => more[`"HTTPRoute/app/${r}"`]);
    expect(new Set(distinct).size, 'other weights or other policies: other upstreams').to.equal(5);
  });

  it('peers.txt is written only from endpoint tokens and generated names', () => {
    const u = { name: 'wg_u_r0_1', source: 'HTTPRoute/app/r', dynamic: true, servers: [{ address: '"10.0.0.1:8080"', weight: 50 }, { address: '"[fd00::1]:80"', weight: 50 }, { address: '"unix:/run/waygate/nginx/wg-1.sock"', weight: 1 }] };
    expect(renderPeers([u])).to.equal('upstream wg_u_r0_1\n10.0.0.1:8080 50\n[fd00::1]:80 50\nunix:/run/waygate/nginx/wg-1.sock 1\n');
    for (const address of ['"10.0.0.1:80" .. os.exit()', '"a\\"b"', '"10.0.0.1:80\nupstream x"', '10.0.0.1:80', '"10.0.0.1:80 1"']) {
      expect(() => renderPeers([{ ...u, servers: [{ address, weight: 1 }] }]), address).to.throw(/cannot be written as a peer/);
    }
    expect(() => renderPeers([{ ...u, servers: [{ address: '"10.0.0.1:80"', weight: 0 }] }])).to.throw(/not a weight/);
    expect(() => renderPeers([{ ...u, name: 'wg\nx' }])).to.throw(/bad identifier/);
    // Static upstreams without a Lua balancer keep their servers in http.conf only.
    expect(renderPeers([{ ...u, dynamic: undefined }])).to.equal('');
  });

  it('an address is one peer with the weights of every reference to it summed: duplicate backendRefs do not multiply peers.txt', () => {
    const pods = ['10.0.0.1:8080', '10.0.0.2:8080'];
    const refs = (n: number) => Array.from({ length: n }, (_, i) => ({ name: i % 2 ? 'svc' : 'same-pods', port: 80, weight: 1 }));
    const { config } = render(pods, refs(16), service('app', 'same-pods', 80, pods));
    const lines = config.files['peers.txt']!.trim().split('\n');
    expect(lines).to.have.length(3); // the upstream and two peers
    expect(lines.slice(1)).to.deep.equal(['10.0.0.1:8080 800', '10.0.0.2:8080 800']); // 16 refs x weight 1 x 100 / 2 endpoints
  });

  it('over the peers budget the rules of the largest upstreams are refused, naming their backendRefs; the others keep serving', () => {
    const many = Array.from({ length: 200 }, (_, i) => `10.1.${i >> 8}.${i & 255}:8080`);
    const objects = [gatewayClass(), gateway('app', 'gw'), ...service('app', 'big', 80, many), ...service('app', 'small', 80, ['10.0.0.9:8080']),
      httpRoute('app', 'fat', { hostnames: ['fat.example.com'], rules: [{ backendRefs: [{ name: 'big', port: 80 }] }, { backendRefs: [{ name: 'big', port: 80, weight: 2 }, { name: 'small', port: 80 }] }] }),
      httpRoute('app', 'thin', { hostnames: ['thin.example.com'], rules: [{ backendRefs: [{ name: 'small', port: 80 }] }] })];
    const result = buildConfiguration(storeOf(...objects).snapshot(), { ...graphOptions, build: { ...defaultBuildOptions, peersBudget: 4096 } });
    const peers = result.config.files['peers.txt']!;
    expect(peers.length).to.be.at.most(4096);
    // rule 1 (big and small: 201 peers) is the largest; without it rule 0 (200) and thin fit
    expect(peers).to.contain('10.0.0.9:8080').and.contain('10.1.0.1:8080');
    expect(peers.match(/^10\.1\.0\.1:8080 /gm)).to.have.length(1);
    const status = (name: string) => desiredStatuses(result.graph, graphOptions, { ok: true, reason: 'Programmed', message: '' }).find((d) => d.kind === 'HTTPRoute' && d.name === name)!;
    const said = JSON.stringify(status('fat').parents![0]!.conditions);
    expect(said).to.contain('UnsupportedValue').and.contain('spec.rules[1].backendRefs').and.contain('201 peers').and.not.contain('spec.rules[0]');
    expect(status('thin').parents![0]!.conditions.find((c) => c.type === 'Accepted')!.status).to.equal('True');
  });
});
