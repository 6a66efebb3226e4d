// The route table's pure parts (operator/src/dataplane/route-table.ts, nginx/agent/routes.ts):
// which hosts it serves, routes.txt, what a table route leaves out of http.conf, and the
// agent's merge while older workers run. The router itself runs on nginx in
// test/integration/route-table.test.ts.
import { expect } from 'chai';
import { buildHttpModel } from '../../operator/src/dataplane/build.ts';
import type { MatchCandidate } from '../../operator/src/graph/precedence.ts';
import { renderRouteTable, tableHosts } from '../../operator/src/dataplane/route-table.ts';
import { renderConfig } from '../../operator/src/render/render.ts';
import { withPreviousHosts } from '../../nginx/agent/routes.ts';
import { gateway, httpRoute, service } from '../support/objects.ts';
import { statusesOf } from '../support/statuses.ts';

/** A candidate whose plainness is all that tableHosts looks at. */
function candidate(plain: boolean): MatchCandidate {
  const rule = { index: 0, matches: [], backends: [], filters: plain ? {} : { redirect: { statusCode: 302 } } };
  return { route: { kind: 'HTTPRoute', key: 'HTTPRoute/a/r', hostnames: [], rules: [rule] }, ruleIndex: 0, matchIndex: 0, match: { path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] } } as unknown as MatchCandidate;
}
const hosts = (spec: Record<string, boolean>) => new Map(Object.entries(spec).map(([h, plain]) => [h, [candidate(plain)]]));

describe('route table', () => {
  it('serves the plain hosts of a port whose catch-all is plain, none when the catch-all is not', () => {
    expect([...tableHosts(hosts({ '*': true, 'a.example.com': true, 'b.example.com': false }))].sort()).to.deep.equal(['*', 'a.example.com']);
    expect([...tableHosts(hosts({ '*': false, 'a.example.com': true }))]).to.deep.equal([]);
  });

  it('leaves a host that a static wildcard server would catch (and what that uncovers) to server blocks', () => {
    const t = tableHosts(hosts({ '*': true, '*.example.com': false, '*.a.example.com': true, 'x.a.example.com': true, 'b.example.com': true, '*.other.com': true, 'y.other.com': true }));
    // *.a.example.com falls under the static *.example.com, and then x.a.example.com under it.
    expect([...t].sort()).to.deep.equal(['*', '*.other.com', 'y.other.com']);
  });

  it('writes routes.txt with every user value %-encoded into one token ("" too)', () => {
    const text = renderRouteTable([{ id: 'wg_t_1', servers: ['*.s.example.com'], hosts: [
      { host: '', rules: [] },
      { host: '*.example.com', rules: [{ exact: false, path: '/a b', method: 'POST', headers: [['http_x_v', 'a b\n%rule p / x']], queries: [['arg_q', 'ü']], target: { route: 'HTTPRoute/ns/r', upstream: 'wg_u_1' } }] },
      { host: 'e.example.com', rules: [{ exact: true, path: '/x', headers: [['http_x_e', '']], queries: [], target: { route: 'HTTPRoute/ns/r', status: 500 } }] },
    ] }]);
    expect(text).to.equal([
      'port wg_t_1',
      'server *.s.example.com',
      'host -',
      'host *.example.com',
      'rule p /a%20b HTTPRoute/ns/r wg_u_1 0 POST h http_x_v a%20b%0A%25rule%20p%20/%20x q arg_q %C3%BC',
      'host e.example.com',
      'rule e /x HTTPRoute/ns/r - 500 - h http_x_e %',
      '',
    ].join('\n'));
  });

  it('puts a plain route in routes.txt and its upstream only in peers.txt; adding another leaves http.conf as it was', () => {
    const objs = (n: number) => [gateway('app', 'gw'), ...Array.from({ length: n }, (_, i) => [service('app', `s${i}`, 80, [`10.0.0.${i + 1}:8080`]), httpRoute('app', `r${i}`, { hostnames: [`h${i}.example.com`], rules: [{ backendRefs: [{ name: `s${i}`, port: 80 }] }] })]).flat(2)];
    const one = renderConfig(buildHttpModel(statusesOf(...objs(1)).graph));
    const two = renderConfig(buildHttpModel(statusesOf(...objs(2)).graph));
    expect(one.files['http.conf']).not.to.contain('h0.example.com').and.not.to.match(/upstream wg_u_/);
    expect(one.files['routes.txt']).to.match(/host h0\.example\.com\nrule p \/ HTTPRoute\/app\/r0 (wg_u_[0-9a-f]+) 0 -\n/);
    const upstream = /HTTPRoute\/app\/r0 (wg_u_[0-9a-f]+)/.exec(one.files['routes.txt']!)![1];
    expect(one.files['peers.txt']).to.contain(`upstream ${upstream}\n10.0.0.1:8080 100\n`);
    expect(two.hash, 'the config hash: no reload').to.equal(one.hash);
    expect(two.peersHash).not.to.equal(one.peersHash);
  });

  it('gives a backend set that a server block also uses its upstream block (the table saw it first)', () => {
    const filtered = { filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-a', value: '1' }] } }] };
    const { graph } = statusesOf(gateway('app', 'gw'), service('app', 's', 80, ['10.0.0.1:8080']),
      httpRoute('app', 'plain', { hostnames: ['a.example.com'], rules: [{ backendRefs: [{ name: 's', port: 80 }] }] }),
      httpRoute('app', 'static', { hostnames: ['b.example.com'], rules: [{ ...filtered, backendRefs: [{ name: 's', port: 80 }] }] }));
    const files = renderConfig(buildHttpModel(graph)).files;
    const name = /HTTPRoute\/app\/plain (wg_u_[0-9a-f]+)/.exec(files['routes.txt']!)![1];
    expect(files['http.conf']).to.contain(`proxy_pass http://${name}$request_uri;`).and.contain(`upstream ${name} {`);
  });

  it('keeps an older config\'s entry only for a host that a server block of the new one serves (not a deleted or reassigned one)', () => {
    const previous = 'port p1\nhost -\nhost moved.example.com\nrule p / R/a/old u1 0 -\nhost gone.example.com\nrule p / R/a/g u2 0 -\nhost a.example.com\nrule p / R/a/a u4 0 -\n';
    const next = 'port p1\nserver moved.example.com\nhost -\nhost a.example.com\nrule p / R/a/new u3 0 -\n';
    expect(withPreviousHosts(next, previous)).to.equal('port p1\nserver moved.example.com\nhost -\nhost a.example.com\nrule p / R/a/new u3 0 -\nhost moved.example.com\nrule p / R/a/old u1 0 -\n');
    expect(withPreviousHosts(next, '')).to.equal(next);
  });

  it('leaves a route whose rules would take more than its budget in routes.txt to server blocks', () => {
    const big = 'v'.repeat(1024);
    const matches = Array.from({ length: 8 }, (_, i) => ({ path: { type: 'PathPrefix', value: `/p${i}` }, headers: Array.from({ length: 2 }, (_, k) => ({ name: `x-${k}`, value: big })) }));
    const { graph } = statusesOf(gateway('app', 'gw'), service('app', 's', 80, ['10.0.0.1:8080']),
      httpRoute('app', 'small', { hostnames: ['small.example.com'], rules: [{ matches: matches.slice(0, 1), backendRefs: [{ name: 's', port: 80 }] }] }),
      httpRoute('app', 'big', { hostnames: ['big.example.com'], rules: [{ matches, backendRefs: [{ name: 's', port: 80 }] }] }));
    const files = renderConfig(buildHttpModel(graph)).files;
    expect(files['routes.txt']).to.contain('host small.example.com\n').and.not.contain('host big.example.com');
    expect(files['routes.txt'], 'listed as a server block').to.contain('server big.example.com\n');
    expect(files['http.conf']).to.contain('server_name "big.example.com";');
  });

  it('counts a route\'s budget in every host entry it is written under: no hostnames on a port of 32 listener hostnames', () => {
    const listeners = [{ name: 'any' }, ...Array.from({ length: 32 }, (_, i) => ({ name: `l${i}`, hostname: `l${i}.shop.example` }))];
    // About 0.8 KiB of routes.txt per host entry: within the budget once, over it 33 times.
    const route = (name: string, hostnames: string[]) => httpRoute('app', name, { hostnames, rules: [{ matches: [{ path: { type: 'Exact', value: `/${name}/${'p'.repeat(240)}` } }], backendRefs: [{ name: 's', port: 80 }] }] });
    const { graph } = statusesOf(gateway('app', 'gw', listeners), service('app', 's', 80, ['10.0.0.1:8080']), route('everywhere', []), route('one', ['l1.shop.example']));
    const files = renderConfig(buildHttpModel(graph)).files;
    expect(files['routes.txt'] ?? '', 'over its budget: server blocks').to.not.contain('/everywhere/');
    expect(files['http.conf']).to.contain('/everywhere/');
    // under one host entry the same size fits
    const alone = renderConfig(buildHttpModel(statusesOf(gateway('app', 'gw', listeners), service('app', 's', 80, ['10.0.0.1:8080']), route('one', ['l1.shop.example']), httpRoute('app', 'catchall', { rules: [{ backendRefs: [{ name: 's', port: 80 }] }] })).graph)).files;
    expect(alone['routes.txt']).to.contain('/one/');
  });
});
