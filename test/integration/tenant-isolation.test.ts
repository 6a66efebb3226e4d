// One tenant's object never stops, slows or redirects what the others get (issue #7 §1).
// Each case: a hostile-but-valid route arrives next to a serving tenant; the hostile route
// is either served correctly or gets a condition naming its field; the other tenant keeps
// serving; and a route added afterwards is served (config and status keep flowing).
// Real nginx through the standalone mode (YAML directory -> controller -> agent).
import { expect } from 'chai';
import { unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { EchoResponse } from '../../examples/echo.ts';
import type { Standalone } from '../../operator/src/modes/standalone.ts';
import { eventually, get } from '../support/http.ts';
import { captureLogger } from '../support/logs.ts';
import { tempStandalone, type TempStandalone } from '../support/standalone-run.ts';
import { backend, gateway, gatewayClass, httpRoute } from '../support/standalone-yaml.ts';

const ADDRESS = '127.0.0.93';
const PORT = 18193;

interface Condition { type: string; status: string; reason: string; message: string }

/** The class and Gateway infra/gw on address:port, accepting routes from every namespace. */
const infra = (address: string, port: number) => [gatewayClass(), gateway({ address, port, namespace: 'infra', allowedRoutes: { namespaces: { from: 'All' } } })];

/** A route of tenant `ns` to its Service "app"; `rule` adds to (or replaces) the rule's fields. */
function route(ns: string, name: string, hostnames: string[], rule: Record<string, unknown> = {}): object {
  return httpRoute({ namespace: ns, name, hostnames, gatewayNamespace: 'infra', rules: [{ backendRefs: [{ name: 'app', port: 80 }], ...rule }] });
}

const long = (n: number, seed = 'v') => Array.from({ length: n }, (_, i) => String.fromCharCode(97 + ((i * 7 + seed.charCodeAt(0)) % 26))).join('');
/** A valid DNS name of exactly `n` characters (labels of at most 63). */
function hostname(n: number): string {
  const labels: string[] = [];
  let left = n;
  while (left > 0) {
    const size = Math.min(63, left === 64 ? 62 : left); // never leave a 0-length label after the dot
    labels.push(long(size, String(labels.length)));
    left -= size + 1;
  }
  return labels.join('.');
}

describe('tenant isolation: one object\'s failure stays that object\'s (real nginx, standalone mode)', function () {
  this.timeout(60_000);
  let run: TempStandalone;
  let standalone: Standalone;
  const log = captureLogger();
  const request = (host: string, path = '/', headers: Record<string, string> = {}) => get(ADDRESS, PORT, path, { host, headers }).catch(() => ({ status: 0, body: '', headers: {}, backend: undefined }));
  const parentConditions = (ns: string, name: string): Condition[] | undefined => {
    const s = standalone.status.get(`HTTPRoute/${ns}/${name}`) as { parents?: { conditions: Condition[] }[] } | undefined;
    return s?.parents?.[0]?.conditions;
  };
  const conditionOf = async (ns: string, name: string, type: string, ok: (c: Condition) => boolean): Promise<Condition> =>
    (await eventually(`${type} of HTTPRoute ${ns}/${name}`, async () => parentConditions(ns, name)?.find((c) => c.type === type), (c) => !!c && ok(c), 20_000))!;

  /** The serving tenant answers, and a route added after the hostile one is served. */
  async function othersKeepServing(tag: string): Promise<void> {
    expect((await request('a.example.com')).backend, 'tenant A keeps serving').to.equal('a');
    const name = `late-${tag}`;
    run.write(`${name}.yaml`, [route('team-b', name, [`${name}.example.com`])]);
    await eventually(`${name} served`, async () => (await request(`${name}.example.com`)).backend, (b) => b === 'b', 20_000);
    unlinkSync(join(run.dir, `${name}.yaml`));
  }

  before(async () => {
    run = tempStandalone('isolation');
    const echoA = await run.echo('a');
    const echoB = await run.echo('b');
    run.write('base.yaml', [...infra(ADDRESS, PORT), ...backend('team-a', 'app', echoA.port), ...backend('team-b', 'app', echoB.port)]);
    run.write('a.yaml', [route('team-a', 'a', ['a.example.com'])]);
    standalone = await run.start(log.logger);
    await eventually('tenant A served', async () => (await request('a.example.com')).backend, (b) => b === 'a', 20_000);
  });

  after(async () => {
    await run?.stop();
  });

  it('a RequestHeaderModifier value at the CRD maximum (4,096 characters) is served, or refused on its route only', async () => {
    const value = long(4096);
    run.write('x1.yaml', [route('team-b', 'x1', ['x1.example.com'], { filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'X-Big', value }] } }] })]);
    const accepted = await conditionOf('team-b', 'x1', 'Accepted', () => true);
    if (accepted.status === 'True') {
      const r = await eventually('x1 served', () => request('x1.example.com'), (x) => x.backend === 'b', 20_000);
      expect((JSON.parse(r.body) as EchoResponse).headers['x-big']).to.equal(value);
    } else {
      expect(accepted.reason).to.equal('UnsupportedValue');
      expect(accepted.message).to.contain('spec.rules[0].filters[0].requestHeaderModifier.set[0].value');
    }
    await othersKeepServing('x1');
    unlinkSync(join(run.dir, 'x1.yaml'));
  });

  it('two long header-match values on one rule: the route gets a condition naming the field, the others keep serving', async () => {
    // 1,024 characters each (our limit for match values), dots: each doubles as a regex
    // literal, so the two together outgrow one nginx configuration token.
    const headers = [{ name: 'X-One', value: '.'.repeat(1024) }, { name: 'X-Two', value: '.'.repeat(1024) }];
    run.write('x2.yaml', [route('team-b', 'x2', ['x2.example.com'], { matches: [{ path: { type: 'PathPrefix', value: '/' }, headers }] })]);
    const accepted = await conditionOf('team-b', 'x2', 'Accepted', () => true);
    if (accepted.status === 'True') {
      const r = await eventually('x2 served', () => request('x2.example.com', '/', { 'X-One': headers[0]!.value, 'X-Two': headers[1]!.value }), (x) => x.backend === 'b', 20_000);
      expect(r.status).to.equal(200);
      expect((await request('x2.example.com')).status, 'without the headers').to.equal(404);
    } else {
      expect(accepted.reason).to.equal('UnsupportedValue');
      expect(accepted.message).to.match(/spec\.rules\[0\]\.matches\[0\]/);
    }
    await othersKeepServing('x2');
    unlinkSync(join(run.dir, 'x2.yaml'));
  });

  it('a route hostname of 253 characters is served (server_names_hash sized for it) and nothing else breaks', async () => {
    const host = hostname(253);
    expect(host).to.have.length(253);
    run.write('x3.yaml', [route('team-b', 'x3', [host])]);
    await eventually('x3 served', async () => (await request(host)).backend, (b) => b === 'b', 20_000);
    await othersKeepServing('x3');
    unlinkSync(join(run.dir, 'x3.yaml'));
  });

  it('a header name of 256 characters in a header modifier is served (proxy_headers_hash sized for it)', async () => {
    const name = `X-${long(254, 'h')}`;
    run.write('x4.yaml', [route('team-b', 'x4', ['x4.example.com'], { filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name, value: 'yes' }] } }] })]);
    const r = await eventually('x4 served', () => request('x4.example.com'), (x) => x.backend === 'b', 20_000);
    expect((JSON.parse(r.body) as EchoResponse).headers[name.toLowerCase()]).to.equal('yes');
    await othersKeepServing('x4');
    unlinkSync(join(run.dir, 'x4.yaml'));
  });

  it('a backend cannot hand its client\'s request to another tenant\'s route with X-Accel-Redirect', async () => {
    // Team A's backend answers with nginx's internal-redirect header, naming a path that team
    // B's route serves on the same hostname; through a table route and a server block alike.
    const redirector = createServer((_req, res) => {
      res.writeHead(200, { 'x-accel-redirect': '/b-only', 'content-type': 'text/plain' });
      res.end('redirector');
    });
    await new Promise<void>((r) => redirector.listen(0, '127.0.0.1', r));
    try {
      const redirectorPort = (redirector.address() as AddressInfo).port;
      const filter = { filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-static', value: '1' }] } }] };
      run.write('x6.yaml', [
        ...backend('team-a', 'redirector', redirectorPort),
        route('team-a', 'x6-table', ['x6.example.com'], { backendRefs: [{ name: 'redirector', port: 80 }] }),
        route('team-a', 'x6-server', ['x6s.example.com'], { backendRefs: [{ name: 'redirector', port: 80 }], ...filter }),
        route('team-b', 'x6-b', ['x6.example.com', 'x6s.example.com'], { matches: [{ path: { type: 'PathPrefix', value: '/b-only' } }] }),
      ]);
      for (const host of ['x6.example.com', 'x6s.example.com']) {
        await eventually(`${host}/b-only served by team B`, async () => (await request(host, '/b-only')).backend, (b) => b === 'b', 20_000);
        const r = await request(host, '/');
        expect(r.body, host).to.equal('redirector');
        expect(r.backend, host).to.equal(undefined);
        expect(r.headers, host).to.not.have.property('x-accel-redirect');
      }
      await othersKeepServing('x6');
    } finally {
      unlinkSync(join(run.dir, 'x6.yaml'));
      redirector.closeAllConnections();
      await new Promise((r) => redirector.close(r));
    }
  });

  it('a weight split with a tiny valid share renders and serves that share', async () => {
    const split = route('team-b', 'x5', ['x5.example.com']) as { spec: { rules: { backendRefs: object[] }[] } };
    split.spec.rules[0]!.backendRefs = [{ name: 'app', port: 80, weight: 1 }, { name: 'missing', port: 80, weight: 1_000_000 }];
    run.write('x5.yaml', [split]);
    await conditionOf('team-b', 'x5', 'ResolvedRefs', (c) => c.status === 'False' && c.reason === 'BackendNotFound');
    // nginx must have loaded a config with this route: its requests answer 500 (the missing
    // backend's share), not 404 (route absent).
    await eventually('x5 programmed', async () => (await request('x5.example.com')).status, (s) => s === 500, 20_000);
    await othersKeepServing('x5');
    unlinkSync(join(run.dir, 'x5.yaml'));
  });
});

// nginx errors that name no line (a hash it cannot build, say) cannot be traced to a route
// by file:line. Fault injection: a wrapper around the real nginx refuses, with such an
// error, every configuration that serves the hostname "poison.example.com"; the operator
// must find the route by itself (probe configurations without recently changed routes)
// and report it, while the others keep being served and later routes are added.
describe('tenant isolation: an nginx error that names no object is traced by leaving routes out', function () {
  this.timeout(90_000);
  const address = '127.0.0.94';
  const port = 18194;
  let run: TempStandalone;
  let standalone: Standalone;
  const log = captureLogger();
  const backendOf = async (host: string) => (await get(address, port, '/', { host }).catch(() => undefined))?.backend;

  before(async () => {
    run = tempStandalone('untraced');
    const wrapper = join(run.runDir, 'nginx-refusing-poison');
    writeFileSync(wrapper, `#!/bin/bash
conf=""; test=0; prev=""
for a in "$@"; do [ "$prev" = "-c" ] && conf="$a"; [ "$a" = "-t" ] && test=1; prev="$a"; done
if [ "$test" = 1 ] && [ -n "$conf" ]; then
  for inc in $(grep -o 'include [^;]*' "$conf" | awk '{print $2}' | tr -d '"'); do
    if grep -qs 'poison.example.com' "$inc"; then
      echo 'nginx: [emerg] could not build server_names_hash, you should increase server_names_hash_bucket_size: 64' >&2
      echo 'nginx: configuration file test failed' >&2
      exit 1
    fi
  done
fi
exec /usr/sbin/nginx "$@"
`, { mode: 0o755 });
    const echo = await run.echo('b');
    run.write('base.yaml', [...infra(address, port), ...backend('team-b', 'app', echo.port)]);
    run.write('a.yaml', [route('team-b', 'a', ['a.example.com'])]);
    standalone = await run.start(log.logger, { nginxBinary: wrapper });
    await eventually('route a served', () => backendOf('a.example.com'), (b) => b === 'b', 20_000);
  });

  after(async () => {
    await run?.stop();
  });

  it('blames the poisoned route with nginx\'s message, keeps serving the others, and serves a route added afterwards', async () => {
    // A filter keeps the route in a server block of http.conf (a plain one would be in the route table, which nginx -t never reads).
    run.write('poison.yaml', [route('team-b', 'poison', ['poison.example.com'], { filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-poison', value: '1' }] } }] })]);
    const accepted = await eventually('the poisoned route reported', async () => {
      const s = standalone.status.get('HTTPRoute/team-b/poison') as { parents?: { conditions: Condition[] }[] } | undefined;
      return s?.parents?.[0]?.conditions.find((c) => c.type === 'Accepted');
    }, (c) => c?.status === 'False', 30_000);
    expect(accepted!.message).to.contain('could not build server_names_hash').and.contain('leaving routes out');
    expect(await backendOf('a.example.com'), 'route a keeps serving').to.equal('b');
    run.write('late.yaml', [route('team-b', 'late', ['late.example.com'])]);
    await eventually('a route added afterwards is served', () => backendOf('late.example.com'), (b) => b === 'b', 30_000);
    const a = standalone.status.get('HTTPRoute/team-b/a') as { parents?: { conditions: Condition[] }[] } | undefined;
    expect(a?.parents?.[0]?.conditions.find((c) => c.type === 'Accepted')?.status, 'route a is not blamed').to.equal('True');
  });
});
