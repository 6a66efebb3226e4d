// rules[].timeouts and rules[].retry: the Gateway API duration parser, what the graph accepts
// or refuses (naming the field), and the nginx/Lua lines the model carries for a rule.
import { expect } from 'chai';
import { serverTargets } from '../../operator/src/dataplane/model.ts';
import fc from 'fast-check';
import { routeTargetPrefix } from '../../operator/src/dataplane/builder.ts';
import { buildHttpModel, defaultBuildOptions } from '../../operator/src/dataplane/build.ts';
import { balancerLua, targetPolicy } from '../../operator/src/dataplane/policy.ts';
import { MAX_ATTEMPTS, parseRulePolicy } from '../../operator/src/graph/rule-policy.ts';
import { renderConfig } from '../../operator/src/render/render.ts';
import { formatDuration, MAX_TIMEOUT_MS, parseDuration, parseTimeout } from '../../operator/src/values/duration.ts';
import { gateway, httpRoute, service } from '../support/objects.ts';
import { conds, statusesOf } from '../support/statuses.ts';

/** Every rule in server blocks: these tests are about the server renderer, not the route table. */
const SERVER_BLOCKS = { ...defaultBuildOptions, routeTable: false };
/** The target id prefix of the route 'r' in namespace 'app' (builder.ts). */
const R = routeTargetPrefix('HTTPRoute/app/r');

const ms = (s: string) => {
  const d = parseDuration(s);
  if ('error' in d) throw new Error(d.error);
  return d.ms;
};

describe('Gateway API durations', () => {
  it('reads each unit and sums the parts as Go does', () => {
    expect(ms('0s')).to.equal(0);
    expect(ms('1ms')).to.equal(1);
    expect(ms('500ms')).to.equal(500);
    expect(ms('10s')).to.equal(10_000);
    expect(ms('2m')).to.equal(120_000);
    expect(ms('1h')).to.equal(3_600_000);
    expect(ms('1h30m15s250ms')).to.equal(5_415_250);
    expect(ms('1s1s')).to.equal(2_000);
    expect(ms('1m1ms')).to.equal(60_001);
    expect(ms('99999ms')).to.equal(99_999);
    expect(ms('00010s')).to.equal(10_000);
  });

  it('refuses what the CRD pattern ^([0-9]{1,5}(h|m|s|ms)){1,4}$ refuses', () => {
    for (const bad of ['', '10', 's', '1.5s', '-1s', '1d', '1us', '1µs', '100000s', '1h1m1s1ms1h', ' 1s', '1s ', '1S', '1m s', '1hh', '1sm', '+1s', '0x1s', '1s\n', '１s']) {
      expect(parseDuration(bad), JSON.stringify(bad)).to.have.property('error');
    }
    expect(parseDuration(10 as unknown)).to.have.property('error');
    expect(parseDuration(undefined)).to.have.property('error');
  });

  it('agrees with the CRD pattern and with a reference sum on generated strings', () => {
    const pattern = /^([0-9]{1,5}(h|m|s|ms)){1,4}$/;
    const part = fc.tuple(fc.integer({ min: 0, max: 99999 }), fc.constantFrom('h', 'm', 's', 'ms'), fc.integer({ min: 0, max: 2 }));
    fc.assert(fc.property(fc.array(part, { minLength: 1, maxLength: 4 }), (parts) => {
      const text = parts.map(([n, u, pad]) => `${String(n).padStart(Math.min(5, String(n).length + pad), '0')}${u}`).join('');
      const expected = parts.reduce((sum, [n, u]) => sum + n * { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 }[u], 0);
      expect(pattern.test(text)).to.equal(true);
      expect(parseDuration(text)).to.deep.equal({ ms: expected });
    }));
    // Arbitrary strings: accepted exactly when the pattern accepts them.
    fc.assert(fc.property(fc.stringMatching(/^[0-9hms.]{0,12}$/), (text) => {
      expect('ms' in parseDuration(text), text).to.equal(pattern.test(text));
    }), { numRuns: 2000 });
  });

  it('range-checks timeouts: up to 2^31-1 ms, longer ones named', () => {
    expect(parseTimeout('596h31m23s647ms')).to.deep.equal({ ms: MAX_TIMEOUT_MS });
    expect(parseTimeout('596h31m23s648ms')).to.have.property('error').that.matches(/longer than the longest timeout nginx keeps \(596h31m23s647ms\)/);
    expect(parseTimeout('99999h')).to.have.property('error');
    expect(formatDuration(MAX_TIMEOUT_MS)).to.equal('596h31m23s647ms');
    expect(formatDuration(0)).to.equal('0s');
  });
});

describe('rules[].timeouts and rules[].retry in the graph', () => {
  const field = 'spec.rules[2]';

  it('parses timeouts, zero meaning no limit', () => {
    expect(parseRulePolicy({ timeouts: { request: '500ms' } }, field)).to.deep.equal({ policy: { requestMs: 500 } });
    expect(parseRulePolicy({ timeouts: { request: '10s', backendRequest: '2s' } }, field)).to.deep.equal({ policy: { requestMs: 10_000, backendRequestMs: 2_000 } });
    expect(parseRulePolicy({ timeouts: { request: '0s', backendRequest: '1h' } }, field)).to.deep.equal({ policy: { requestMs: 0, backendRequestMs: 3_600_000 } });
    expect(parseRulePolicy({}, field)).to.deep.equal({});
  });

  it('refuses bad durations and backendRequest above request, naming the field', () => {
    expect(parseRulePolicy({ timeouts: { request: '1.5s' } }, field)).to.have.property('problem').that.matches(/^spec\.rules\[2\]\.timeouts\.request: "1\.5s" is not a Gateway API duration/);
    expect(parseRulePolicy({ timeouts: { backendRequest: '700h' } }, field)).to.have.property('problem').that.matches(/^spec\.rules\[2\]\.timeouts\.backendRequest: .*longer than/);
    expect(parseRulePolicy({ timeouts: { request: '1s', backendRequest: '2s' } }, field)).to.deep.equal({ problem: 'spec.rules[2].timeouts: backendRequest timeout cannot be longer than request timeout' });
  });

  it('parses retries: the CRD default of one attempt, codes nginx retries on', () => {
    expect(parseRulePolicy({ retry: {} }, field)).to.deep.equal({ policy: { retry: { attempts: 1, codes: [] } } });
    expect(parseRulePolicy({ retry: { attempts: 3, codes: [504, 500, 429, 403, 404, 502, 503, 500] } }, field)).to.deep.equal({ policy: { retry: { attempts: 3, codes: [403, 404, 429, 500, 502, 503, 504] } } });
    expect(parseRulePolicy({ retry: { attempts: 0, codes: [500] } }, field)).to.deep.equal({ policy: { retry: { attempts: 0, codes: [500] } } });
  });

  it('refuses a code nginx cannot retry on, backoff, and attempts out of range, naming the field', () => {
    expect(parseRulePolicy({ retry: { codes: [500, 501] } }, field)).to.have.property('problem').that.matches(/^spec\.rules\[2\]\.retry\.codes\[1\]: 501 cannot be retried/);
    expect(parseRulePolicy({ retry: { codes: [599] } }, field)).to.have.property('problem').that.matches(/^spec\.rules\[2\]\.retry\.codes\[0\]: 599/);
    expect(parseRulePolicy({ retry: { attempts: 2, backoff: '100ms' } }, field)).to.have.property('problem').that.matches(/^spec\.rules\[2\]\.retry\.backoff: not supported/);
    expect(parseRulePolicy({ retry: { attempts: MAX_ATTEMPTS + 1 } }, field)).to.have.property('problem').that.matches(/^spec\.rules\[2\]\.retry\.attempts: must be an integer from 0 to 100/);
    expect(parseRulePolicy({ retry: { attempts: -1 } }, field)).to.have.property('problem');
    expect(parseRulePolicy({ retry: { attempts: 1.5 } }, field)).to.have.property('problem');
  });

  it('serves the other rules and reports the refused one on the route (UnsupportedValue)', () => {
    const route = httpRoute('app', 'r', {
      rules: [
        { matches: [{ path: { type: 'PathPrefix', value: '/ok' } }], timeouts: { request: '1s' }, retry: { attempts: 2, codes: [503] }, backendRefs: [{ name: 'svc', port: 80 }] },
        { matches: [{ path: { type: 'PathPrefix', value: '/bad' } }], retry: { codes: [501] }, backendRefs: [{ name: 'svc', port: 80 }] },
      ],
    });
    const r = statusesOf(gateway('app', 'gw'), service('app', 'svc'), route);
    const parent = r.find('HTTPRoute', 'app', 'r')!.parents![0]!;
    expect(conds(parent.conditions)).to.include({ Accepted: 'True/Accepted', PartiallyInvalid: 'True/UnsupportedValue' });
    expect(JSON.stringify(parent.conditions)).to.contain('spec.rules[1].retry.codes[0]: 501 cannot be retried');
    const node = r.graph.routes.find((x) => x.key === 'HTTPRoute/app/r')!;
    expect(node.rules[0]!.policy).to.deep.equal({ requestMs: 1000, retry: { attempts: 2, codes: [503] } });
    expect(node.rules[1]!.problem).to.have.property('reason', 'UnsupportedValue');
  });
});

describe('rules[].timeouts and rules[].retry in the model', () => {
  it('retries: proxy_next_upstream with the codes, tries = attempts + 1; zero attempts: off', () => {
    expect(targetPolicy({ retry: { attempts: 3, codes: [500, 503] } })).to.deep.equal({ deadlines: false, nextUpstream: 'error timeout http_500 http_503', tries: 4 });
    expect(targetPolicy({ retry: { attempts: 0, codes: [500] } })).to.deep.equal({ deadlines: false, nextUpstream: 'off' });
  });

  it('timeouts: deadlines held by Lua; the request timeout also bounds nginx retries; only zero: the longest timer', () => {
    expect(targetPolicy({ requestMs: 500 })).to.deep.equal({ deadlines: true, nextUpstreamTimeout: '500ms' });
    expect(targetPolicy({ backendRequestMs: 250 })).to.deep.equal({ deadlines: true });
    expect(targetPolicy({ requestMs: 0 })).to.deep.equal({ deadlines: false, timeout: '2147483647ms' });
    expect(targetPolicy({ requestMs: 0, backendRequestMs: 100 })).to.deep.equal({ deadlines: true });
    expect(targetPolicy({ backendRequestMs: 0, retry: { attempts: 2, codes: [] } })).to.deep.equal({ deadlines: false, nextUpstream: 'error timeout', tries: 3, timeout: '2147483647ms' });
  });

  it('balancer: the limits as Lua, only from numbers and the generated name (the peers are in peers.txt)', () => {
    const u = { name: 'wg_u_r0_1', source: 'HTTPRoute/app/r', servers: [{ address: '"10.0.0.1:8080"', weight: 50 }, { address: '"[fd00::1]:80"', weight: 50 }, { address: '"unix:/run/waygate/nginx/wg-1.sock"', weight: 1 }] };
    expect(balancerLua(u, { requestMs: 500, backendRequestMs: 0, retry: { attempts: 3, codes: [500] } })).to.deep.equal([
      'local policy = require("waygate.policy")',
      'policy.balance(policy.upstreams["wg_u_r0_1"] or policy.define("wg_u_r0_1", {',
      '    attempts = 3, request_ms = 500, backend_request_ms = 0,',
      '}))',
    ]);
    expect(() => balancerLua({ ...u, name: 'wg"x' }, { requestMs: 1 })).to.throw(/bad identifier/);
  });

  it('renders the upstream balancer and the target directives for the rule that asks, nothing for the others', () => {
    const route = httpRoute('app', 'r', {
      rules: [
        { matches: [{ path: { type: 'PathPrefix', value: '/t' } }], timeouts: { request: '2s', backendRequest: '1s' }, retry: { attempts: 2, codes: [502] }, backendRefs: [{ name: 'svc', port: 80 }] },
        { matches: [{ path: { type: 'PathPrefix', value: '/zero' } }], timeouts: { request: '0s' }, backendRefs: [{ name: 'svc', port: 80 }] },
        { matches: [{ path: { type: 'PathPrefix', value: '/plain' } }], backendRefs: [{ name: 'svc', port: 80 }] },
      ],
    });
    const { graph } = statusesOf(gateway('app', 'gw'), service('app', 'svc', 80, ['10.0.0.1:8080', '10.0.0.2:8080']), route);
    const model = buildHttpModel(graph, SERVER_BLOCKS);
    const files = renderConfig(model).files;
    const http = files['http.conf']!;
    const nameOf = (id: string) => serverTargets(model.servers[0]!).find((t) => t.id === id)!.upstream!;
    const upstream = (id: string) => http.slice(http.indexOf(`upstream ${nameOf(id)} {`), http.indexOf('}', http.indexOf(`upstream ${nameOf(id)} {`) + 20) + 200);
    // Each rule's target is served in its PathPrefix's locations ("= /t" and "/t/"): no internal location.
    const byPath: Record<string, string> = { [`${R}_0`]: '/t', [`${R}_1`]: '/zero', [`${R}_2`]: '/plain' };
    const target = (id: string) => { const at = http.indexOf(`location = "${byPath[id]}" {`); expect(at, id).to.be.at.least(0); return http.slice(at, http.indexOf('# waygate:end', at)); };
    expect(http).not.to.contain(`location = "/^wg/${R}_`);
    expect(upstream(`${R}_0`)).to.contain('balancer_by_lua_block {').and.contain('attempts = 2, request_ms = 2000, backend_request_ms = 1000,').and.not.contain('10.0.0.2');
    expect(files['peers.txt']).to.contain(`upstream ${nameOf(`${R}_0`)}\n10.0.0.1:8080 50\n10.0.0.2:8080 50\n`);
    // The same Service without a Lua policy: one upstream for both rules.
    expect(nameOf(`${R}_1`)).to.equal(nameOf(`${R}_2`)).and.not.equal(nameOf(`${R}_0`));
    expect(upstream(`${R}_0`).indexOf('balancer_by_lua_block')).to.be.below(upstream(`${R}_0`).indexOf('keepalive'));
    expect(target(`${R}_0`)).to.contain('proxy_next_upstream error timeout http_502;').and.contain('proxy_next_upstream_tries 3;').and.contain('proxy_next_upstream_timeout 2000ms;')
      .and.contain('header_filter_by_lua_block { require("waygate.policy").header_filter() }').and.contain('body_filter_by_lua_block { return require("waygate.policy").body_filter() }').and.contain('proxy_buffering off;');
    expect(upstream(`${R}_1`)).not.to.contain('waygate.policy');
    expect(upstream(`${R}_1`)).to.contain(`require("waygate.peers").balance("${nameOf(`${R}_1`)}")`);
    expect(target(`${R}_1`)).to.contain('proxy_read_timeout 2147483647ms;').and.not.contain('lua');
    expect(upstream(`${R}_2`)).not.to.contain('waygate.policy');
    expect(target(`${R}_0`).match(/proxy_buffering off;/g)).to.have.length(1);
    expect(target(`${R}_2`)).not.to.contain('proxy_next_upstream').and.not.contain('timeout').and.not.contain('lua');
  });

  it('a kubernetes.io/ws backend keeps its idle limit unless a "0s" timeout sets the longest itself (never two proxy_read_timeout)', () => {
    const ws = service('app', 'svc', 80, ['10.0.0.1:8080']);
    (ws[0] as any).spec.ports[0].appProtocol = 'kubernetes.io/ws';
    const route = httpRoute('app', 'r', {
      rules: [
        { matches: [{ path: { type: 'PathPrefix', value: '/zero' } }], timeouts: { request: '0s' }, backendRefs: [{ name: 'svc', port: 80 }] },
        { matches: [{ path: { type: 'PathPrefix', value: '/retry' } }], retry: { attempts: 1 }, backendRefs: [{ name: 'svc', port: 80 }] },
        { matches: [{ path: { type: 'PathPrefix', value: '/deadline' } }], timeouts: { request: '5s' }, backendRefs: [{ name: 'svc', port: 80 }] },
      ],
    });
    const { graph } = statusesOf(gateway('app', 'gw'), ws, route);
    const http = renderConfig(buildHttpModel(graph, SERVER_BLOCKS)).files['http.conf']!;
    const byPath: Record<string, string> = { [`${R}_0`]: '/zero', [`${R}_1`]: '/retry', [`${R}_2`]: '/deadline' };
    const target = (id: string) => { const at = http.indexOf(`location = "${byPath[id]}" {`); expect(at, id).to.be.at.least(0); return http.slice(at, http.indexOf('# waygate:end', at)); };
    expect(target(`${R}_0`).match(/proxy_read_timeout [^;]+;/g)).to.deep.equal(['proxy_read_timeout 2147483647ms;']);
    expect(target(`${R}_1`).match(/proxy_read_timeout [^;]+;/g)).to.deep.equal(['proxy_read_timeout 3600s;']);
    expect(target(`${R}_2`).match(/proxy_read_timeout [^;]+;/g), 'Lua cuts each try; the static idle limit stays').to.deep.equal(['proxy_read_timeout 3600s;']);
  });
});
