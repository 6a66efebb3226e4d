// Hostile route authors: every user-controlled field gets strings that try to break out of
// nginx's syntax. Each value must either be refused with a condition, or be rendered
// inert: the config's shape (directives and blocks, quoted contents erased) equals the shape
// rendered from a benign value in the same field, and the whole config passes `nginx -t`.
import { expect } from 'chai';
import { buildHttpModel } from '../../operator/src/dataplane/build.ts';
import { buildGraph } from '../../operator/src/graph/graph.ts';
import { desiredStatuses } from '../../operator/src/graph/status.ts';
import type { KubeObject } from '../../operator/src/objects.ts';
import { renderConfig } from '../../operator/src/render/render.ts';
import { freePort } from '../cluster/processes.ts';
import { startNginx } from '../cluster/nginx.ts';
import { configShape } from '../support/nginx-syntax.ts';
import { CONTROLLER, gateway, gatewayClass, httpRoute, namespace, service, storeOf } from '../support/objects.ts';

const hostile = [
  '"', "'", ';', '{', '}', '#', '$', '${host}', '$host', '\\', '\\"', '`id`',
  '\n', '\r\n', '\t', '\u0000', '\u007f', '%0a', ' ', '\u202e', 'é', '😀', 'ß',
  '"; return 200 "pwned', '}; server { listen 80; } #', '\nload_module /tmp/x.so;\n',
  'a'.repeat(5000), '\\n', '(?C1)', '(*LIMIT_MATCH=1)', '[', ')', '(?#',
];

type Mutation = { field: string; benign?: string; apply: (v: string, port: number) => KubeObject[] };

const opts = { controllerName: CONTROLLER, supportedFeatures: [] };
const routeWith = (spec: any) => httpRoute('app', 'victim', spec);
const prefixed = (v: string) => `/x${v}`;

const mutations: Mutation[] = [
  { field: 'spec.hostnames[0]', apply: (v) => [routeWith({ hostnames: [`a${v}.example.com`] })] },
  { field: 'path Exact', apply: (v) => [routeWith({ rules: [{ matches: [{ path: { type: 'Exact', value: prefixed(v) } }], backendRefs: [{ name: 'svc', port: 80 }] }] })] },
  { field: 'path PathPrefix', apply: (v) => [routeWith({ rules: [{ matches: [{ path: { type: 'PathPrefix', value: prefixed(v) } }], backendRefs: [{ name: 'svc', port: 80 }] }] })] },
  { field: 'path RegularExpression', apply: (v) => [routeWith({ rules: [{ matches: [{ path: { type: 'RegularExpression', value: prefixed(v) } }], backendRefs: [{ name: 'svc', port: 80 }] }] })] },
  { field: 'header name', apply: (v) => [routeWith({ rules: [{ matches: [{ headers: [{ name: `x${v}`, value: 'v' }] }], backendRefs: [{ name: 'svc', port: 80 }] }] })] },
  { field: 'header value Exact', apply: (v) => [routeWith({ rules: [{ matches: [{ headers: [{ name: 'x', value: `v${v}` }] }], backendRefs: [{ name: 'svc', port: 80 }] }] })] },
  { field: 'header value RegularExpression', apply: (v) => [routeWith({ rules: [{ matches: [{ headers: [{ name: 'x', type: 'RegularExpression', value: `v${v}` }] }], backendRefs: [{ name: 'svc', port: 80 }] }] })] },
  { field: 'query name', apply: (v) => [routeWith({ rules: [{ matches: [{ queryParams: [{ name: `q${v}`, value: 'v' }] }], backendRefs: [{ name: 'svc', port: 80 }] }] })] },
  { field: 'query value Exact', apply: (v) => [routeWith({ rules: [{ matches: [{ queryParams: [{ name: 'q', value: `v${v}` }] }], backendRefs: [{ name: 'svc', port: 80 }] }] })] },
  { field: 'query value RegularExpression', apply: (v) => [routeWith({ rules: [{ matches: [{ queryParams: [{ name: 'q', type: 'RegularExpression', value: `v${v}` }] }], backendRefs: [{ name: 'svc', port: 80 }] }] })] },
  { field: 'method', benign: '', apply: (v) => [routeWith({ rules: [{ matches: [{ method: `GET${v}` }], backendRefs: [{ name: 'svc', port: 80 }] }] })] },
  { field: 'backendRef name', benign: '', apply: (v) => [routeWith({ rules: [{ backendRefs: [{ name: `svc${v}`, port: 80 }] }] })] },
  { field: 'backendRef namespace', benign: '', apply: (v) => [routeWith({ rules: [{ backendRefs: [{ name: 'svc', namespace: `app${v}`, port: 80 }] }] })] },
  { field: 'RequestHeaderModifier set name', apply: (v) => [routeWith({ rules: [{ filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: `x${v}`, value: 'v' }] } }], backendRefs: [{ name: 'svc', port: 80 }] }] })] },
  { field: 'RequestHeaderModifier set value', apply: (v) => [routeWith({ rules: [{ filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x', value: `v${v}` }] } }], backendRefs: [{ name: 'svc', port: 80 }] }] })] },
  { field: 'RequestHeaderModifier add value', apply: (v) => [routeWith({ rules: [{ filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { add: [{ name: 'x', value: `v${v}` }] } }], backendRefs: [{ name: 'svc', port: 80 }] }] })] },
  { field: 'RequestHeaderModifier remove', apply: (v) => [routeWith({ rules: [{ filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { remove: [`x${v}`] } }], backendRefs: [{ name: 'svc', port: 80 }] }] })] },
  { field: 'ResponseHeaderModifier set value', apply: (v) => [routeWith({ rules: [{ filters: [{ type: 'ResponseHeaderModifier', responseHeaderModifier: { set: [{ name: 'x', value: `v${v}` }] } }], backendRefs: [{ name: 'svc', port: 80 }] }] })] },
  { field: 'RequestRedirect hostname', apply: (v) => [routeWith({ rules: [{ filters: [{ type: 'RequestRedirect', requestRedirect: { hostname: `a${v}.example.com` } }] }] })] },
  { field: 'RequestRedirect ReplaceFullPath', apply: (v) => [routeWith({ rules: [{ filters: [{ type: 'RequestRedirect', requestRedirect: { path: { type: 'ReplaceFullPath', replaceFullPath: prefixed(v) } } }] }] })] },
  { field: 'URLRewrite hostname', apply: (v) => [routeWith({ rules: [{ filters: [{ type: 'URLRewrite', urlRewrite: { hostname: `a${v}.example.com` } }], backendRefs: [{ name: 'svc', port: 80 }] }] })] },
  { field: 'URLRewrite ReplacePrefixMatch', apply: (v) => [routeWith({ rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/p' } }], filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: prefixed(v) } } }], backendRefs: [{ name: 'svc', port: 80 }] }] })] },
  { field: 'metadata.name', apply: (v) => [httpRoute('app', `victim${v}`, {})] },
  { field: 'listener hostname', apply: (v, port) => [gateway('app', 'gw', [{ port, hostname: `a${v}.example.com` }], { addresses: [{ type: 'IPAddress', value: '127.0.0.62' }] }), routeWith({})] },
  { field: 'Gateway address', benign: '', apply: (v, port) => [gateway('app', 'gw', [{ port }], { addresses: [{ type: 'IPAddress', value: `127.0.0.62${v}` }] }), routeWith({})] },
  {
    field: 'EndpointSlice address',
    apply: (v) => {
      const [svc, slice] = service('app', 'svc2', 80, ['10.0.0.9:8080']);
      (slice as any).endpoints[0].addresses = [`10.0.0.9${v}`];
      return [svc, slice, routeWith({ rules: [{ backendRefs: [{ name: 'svc2', port: 80 }] }] })];
    },
  },
];

describe('security: hostile strings in every user-controlled field', function () {
  this.timeout(60_000);
  let port: number;
  before(async () => { port = await freePort(); });

  const base = (p: number) => [gatewayClass(), namespace('app'), gateway('app', 'gw', [{ port: p }], { addresses: [{ type: 'IPAddress', value: '127.0.0.62' }] }), ...service('app', 'svc')];

  function render(objects: KubeObject[], p: number) {
    // Later objects replace earlier ones with the same key (e.g. a mutated Gateway).
    const graph = buildGraph(storeOf(...base(p), ...objects).snapshot(), opts);
    const statuses = desiredStatuses(graph, opts, { ok: true, reason: 'Programmed', message: '' });
    const refused = statuses.some((d) =>
      (d.parents ?? []).some((pp) => pp.conditions.some((c) => (c.type === 'PartiallyInvalid' ? c.status === 'True' : c.status === 'False'))) ||
      (d.kind === 'Gateway' && ((d.status!.conditions as any[]).some((c) => c.status === 'False') || (d.status!.listeners as any[]).some((l) => l.conditions.some((c: any) => c.type === 'Accepted' && c.status === 'False')))));
    const ignored = !graph.routes.some((r) => r.obj.metadata.name.startsWith('victim'));
    return { config: renderConfig(buildHttpModel(graph)), refused, ignored };
  }

  const accepted: { field: string; value: string; http: string }[] = [];
  for (const m of mutations) {
    it(`${m.field}: each hostile value is refused or inert`, () => {
      const benign = render(m.apply(m.benign ?? 'b', port), port);
      expect(benign.refused || benign.ignored, `the benign value of ${m.field} must be accepted`).to.equal(false);
      const shape = configShape(benign.config.files['http.conf']);
      const outcomes: string[] = [];
      for (const v of hostile) {
        const r = render(m.apply(v, port), port);
        if (r.refused || r.ignored) { outcomes.push('refused'); continue; }
        expect(configShape(r.config.files['http.conf']), `${m.field} = ${JSON.stringify(v)} changed the config's structure`).to.deep.equal(shape);
        accepted.push({ field: m.field, value: v, http: r.config.files['http.conf'] });
        outcomes.push('inert');
      }
      expect(outcomes).to.have.length(hostile.length);
    });
  }

  it('every accepted hostile value passes nginx -t', async () => {
    expect(accepted.length, 'some hostile values are legal and must be rendered').to.be.greaterThan(0);
    // One nginx -t per accepted config, batched by concatenating into distinct ports would
    // change the configs; test them one by one but with a shared nginx binary.
    for (const a of accepted) {
      const nginx = await startNginx({ http: a.http }).catch((e) => { throw new Error(`${a.field} = ${JSON.stringify(a.value)}: ${e.message}`); });
      await nginx.stop();
    }
  });
});
