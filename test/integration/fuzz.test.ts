// Property-based security fuzz: every user field that reaches nginx.conf gets values built
// from its CRD schema (valid ones, boundary lengths, hostile strings), each value twice:
// through the CRD validator as the API server would admit it, and raw (defense in depth:
// our own layer must hold whatever the schema says). Then the real pipeline (buildGraph ->
// buildHttpModel -> renderConfig) and a real nginx. For every value:
//   - refused: a False condition on the object that carries it, naming the field (or the
//     CRD validator's error naming it); core objects without status may instead be dropped;
//   - or accepted: `nginx -t` passes, the value is one argument of the directive that carries
//     it (decoded as nginx decodes it, equal to the value or its escaped form), a request
//     shows the literal value back ("$" never expands), and a fixed route keeps serving.
// Values are batched: one config, one `nginx -t` and one reload per batch.
// FUZZ_SEED fixes the seed (printed at start and on failure with the path); FUZZ_PATH
// replays one counterexample (with --grep on its field); FUZZ_RUNS sets batches per field.
import { expect } from 'chai';
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEcho, type EchoServer } from '../../examples/echo.ts';
import { buildHttpModel } from '../../operator/src/dataplane/build.ts';
import { normalizePrefix } from '../../operator/src/graph/precedence.ts';
import { buildGraph } from '../../operator/src/graph/graph.ts';
import { desiredStatuses } from '../../operator/src/graph/status.ts';
import type { Graph } from '../../operator/src/graph/types.ts';
import type { ModelProblem } from '../../operator/src/dataplane/model.ts';
import type { Condition, KubeObject } from '../../operator/src/objects.ts';
import { renderConfig, type RenderedConfig } from '../../operator/src/render/render.ts';
import { loadCrdValidator, validateCoreObject, type FieldError } from '../../operator/src/validation/crd.ts';
import type { DesiredStatus } from '../../operator/src/status/merge.ts';
import { freePort } from '../cluster/processes.ts';
import { startNginx, type ThrowawayNginx } from '../cluster/nginx.ts';
import { crdSchema, integerField, regexFragments, stringField, validString, type StringFieldOptions } from '../support/crd-arbitraries.ts';
import { eventually, get, type HttpResult } from '../support/http.ts';
import { parseNginx, type Directive } from '../support/nginx-tokens.ts';
import { CONTROLLER, storeOf } from '../support/objects.ts';

const G = 'gateway.networking.k8s.io';
const MAIN = '127.0.0.67';
const NS = 'fuzz';
const FIXED_HOST = 'fixed.fuzz.test';
const BATCH = Number(process.env.FUZZ_BATCH ?? 25); // values per config; each value makes two slots (CRD, raw)
const RUNS = Number(process.env.FUZZ_RUNS ?? 5);
// CI (CI=true) runs one fixed seed, so that its verdict is about the change and not about
// luck; local runs explore a new seed each time and print it. A seed that finds a bug is
// replayed with FUZZ_SEED.
const CI_SEED = 20261128;
const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : process.env.CI === 'true' ? CI_SEED : (Date.now() ^ (Math.random() * 2 ** 31)) | 0;
const PATH = process.env.FUZZ_PATH;
const SHRINK_MS = Number(process.env.FUZZ_SHRINK_MS ?? 20_000);
const graphOpts = { controllerName: CONTROLLER, supportedFeatures: [], addressBlock: 77 };
const validator = loadCrdValidator();

/** Header names whose probes would test HTTP framing, not our escaping. */
const SPECIAL_HEADERS = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'te', 'upgrade', 'expect', 'keep-alive', 'proxy-connection', 'trailer', 'date', 'server', 'content-type', 'x-backend', 'x-forwarded-for', 'x-forwarded-proto', 'location', 'x-fz', 'cookie', 'set-cookie']);
const SAFE_QUERY = /^[A-Za-z0-9\-._~!$'()*+,;=:@/?]*$/;

/** "$" made inert for nginx script contexts, as the spec of our quoting says (quote.ts). */
const scriptForm = (v: string) => v.replace(/\$/g, '${wg_dollar}');
/** PCRE metacharacters escaped, as the dispatch maps write literal values. */
const regexForm = (v: string) => v.replace(/[\\^$.|?*+()[\]{}\/-]/g, '\\$&');

const headerVar = (n: string) => `$http_${n.toLowerCase().replace(/-/g, '_')}`;

interface Env {
  port: number;
  /** Listener port of raw-mode Gateways in the Gateway address field, so a CRD and a raw copy never share an address:port. */
  rawPort: number;
  echo: EchoServer;
  busyPorts: Set<number>;
}

interface Slot {
  i: number;
  mode: 'crd' | 'raw';
  host: string;
  path: string;
  name: string;
}

interface Ctx {
  env: Env;
  graph: Graph;
  config: RenderedConfig;
  dirs: Directive[];
  /** routes.txt, decoded: the plain rules nginx serves from the route table (waygate.routes). */
  table: TableDoc;
}

/** routes.txt decoded as nginx/lua/waygate/routes.lua reads it. */
interface TableDoc {
  hosts: string[];
  rules: { host: string; exact: boolean; path: string; route: string; upstream?: string; method?: string; headers: [string, string][]; queries: [string, string][] }[];
}

function parseTable(text: string): TableDoc {
  const dec = (t: string) => Buffer.from(t.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
  const doc: TableDoc = { hosts: [], rules: [] };
  let host = '';
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f[0] === 'host') doc.hosts.push((host = f[1] === '-' ? '' : dec(f[1]!)));
    if (f[0] !== 'rule') continue;
    const conds = f.slice(7);
    const pairs = (k: string) => conds.flatMap((x, i) => (i % 3 === 0 && x === k ? [[dec(conds[i + 1]!), dec(conds[i + 2]!)] as [string, string]] : []));
    doc.rules.push({ host, exact: f[1] === 'e', path: dec(f[2]!), route: dec(f[3]!), ...(f[4] !== '-' ? { upstream: f[4] } : {}), ...(f[6] !== '-' ? { method: dec(f[6]!) } : {}), headers: pairs('h'), queries: pairs('q') });
  }
  return doc;
}
const tableRules = (c: Ctx, s: Slot, ns = NS) => c.table.rules.filter((r) => r.route === `HTTPRoute/${ns}/${s.name}`);

interface Case {
  name: string;
  /** Field path as the CRD validator and our conditions name it, e.g. spec.rules[0].matches[0].path. */
  field: string;
  /** Other fields the CRD validator may name for this value (e.g. the Service's own port). */
  crdFields?: string[];
  /** Which object's status must carry a refusal. */
  owner: 'route' | 'listener' | 'gateway' | 'core';
  values: (env: Env) => fc.Arbitrary<unknown>;
  build: (v: any, s: Slot, env: Env) => KubeObject[];
  /** Checks on the rendered config for an accepted value; each must find its directive. */
  carriers?: (v: any, s: Slot, c: Ctx) => { what: string; ok: (d: Directive) => boolean }[];
  /** The same for a route served from the route table (routes.txt): each must hold. */
  tableCarriers?: (v: any, s: Slot, c: Ctx) => { what: string; ok: () => boolean }[];
  /** A request that must show the literal value (or the accepted route's answer). */
  probe?: (v: any, s: Slot, c: Ctx) => Promise<void>;
}

// ---- objects ---------------------------------------------------------------------------

function route(s: Slot, o: { hostnames?: string[]; matches?: any[]; filters?: any[]; backendRefs?: any[]; name?: string; namespace?: string; parentRefs?: any[] } = {}): KubeObject {
  const rule: any = { matches: o.matches ?? [{ path: { type: 'PathPrefix', value: s.path } }] };
  if (o.filters) rule.filters = o.filters;
  const backendRefs = o.backendRefs ?? [{ name: 'echo', port: 80 }];
  if (backendRefs.length) rule.backendRefs = backendRefs;
  return {
    apiVersion: `${G}/v1`, kind: 'HTTPRoute',
    metadata: { name: o.name ?? s.name, namespace: o.namespace ?? NS, generation: 1 },
    spec: { parentRefs: o.parentRefs ?? [{ name: 'gw', namespace: NS }], hostnames: o.hostnames ?? [s.host], rules: [rule] },
  };
}

function gatewayObj(name: string, listeners: any[], extra: any = {}): KubeObject {
  return { apiVersion: `${G}/v1`, kind: 'Gateway', metadata: { name, namespace: NS, generation: 1 }, spec: { gatewayClassName: 'waygate', listeners, ...extra } };
}

function serviceObjs(name: string, port: unknown, addresses: unknown[], slicePort: unknown, addressType = 'IPv4'): KubeObject[] {
  return [
    { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NS }, spec: { ports: [{ name: 'http', port, protocol: 'TCP', targetPort: typeof slicePort === 'number' && slicePort >= 1 && slicePort <= 65535 ? slicePort : 8080 }] } },
    {
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
      metadata: { name: `${name}-1`, namespace: NS, labels: { 'kubernetes.io/service-name': name } },
      addressType, ports: [{ name: 'http', port: slicePort, protocol: 'TCP' }],
      endpoints: [{ addresses, conditions: { ready: true } }],
    },
  ];
}

function baseObjects(env: Env, fixedEcho: EchoServer): KubeObject[] {
  const fixedSlot: Slot = { i: -1, mode: 'raw', host: FIXED_HOST, path: '/', name: 'fixed' };
  return [
    { apiVersion: `${G}/v1`, kind: 'GatewayClass', metadata: { name: 'waygate', generation: 1 }, spec: { controllerName: CONTROLLER } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels: { 'kubernetes.io/metadata.name': NS } } },
    // The oldest Gateway keeps an address that others request too (fuzzed ones have no creationTimestamp: newest).
    { ...gatewayObj('gw', [{ name: 'http', port: env.port, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'All' } } }], { addresses: [{ type: 'IPAddress', value: MAIN }] }), metadata: { name: 'gw', namespace: NS, generation: 1, creationTimestamp: '2026-01-01T00:00:00Z' } },
    ...serviceObjs('echo', 80, ['127.0.0.1'], env.echo.port),
    ...serviceObjs('fixed', 80, ['127.0.0.1'], fixedEcho.port),
    route(fixedSlot, { backendRefs: [{ name: 'fixed', port: 80 }] }),
  ];
}

// ---- values ----------------------------------------------------------------------------

const routeSchema = (p: string) => crdSchema('HTTPRoute', `.spec.rules[*]${p}`);
const str = (schema: ReturnType<typeof crdSchema>, opts: StringFieldOptions = {}) => () => stringField(schema, opts);
/** Paths have no pattern in the CRD (CEL rules check them): valid shapes are made here. */
const pathShapes = fc.stringMatching(/^\/[A-Za-z0-9\-._~!$&'()*+,;=:@]{0,40}(\/[A-Za-z0-9\-._~!$&'()*+,;=:@]{1,20}){0,3}$/);
const pathOpts: StringFieldOptions = { valid: pathShapes, pad: (l) => `/${'a'.repeat(l - 1)}` };
const regexShapes = fc.oneof(pathShapes.map((p) => p.replace(/[.*+?()$]/g, '\\$&')), fc.constantFrom('/re/[0-9]+', '/a.*', '^/x(y|z)?$', '[a-z]{1,3}', '\\d+', '(foo|bar)+', '.*'));
const regexOpts: StringFieldOptions = { valid: regexShapes, fragments: regexFragments };
const hostnameOpts: StringFieldOptions = { pad: (l) => Array.from({ length: Math.ceil(l / 64) }, () => 'a'.repeat(63)).join('.').slice(0, l).replace(/\.$/, 'a') };
const headerValue = (p: string) => str(routeSchema(p));
/** Header names: the CRD pattern, and its subset our layer accepts, so hostile splices land in names that would otherwise pass. */
const headerName = (p: string) => {
  const schema = routeSchema(p);
  return str(schema, { valid: fc.oneof(fc.stringMatching(new RegExp(schema.pattern!)), fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,30}$/)) });
};
const ipv4 = fc.oneof(fc.ipV4(), fc.tuple(fc.nat(255), fc.nat(255), fc.integer({ min: 1, max: 254 })).map(([a, b, c]) => `127.${a}.${b}.${c}`));

function ports(env: Env, schema = crdSchema('Gateway', '.spec.listeners[*].port')): fc.Arbitrary<unknown> {
  return integerField(schema).filter((p) => !(typeof p === 'number' && env.busyPorts.has(p)));
}

// ---- expectations ----------------------------------------------------------------------

const args = (d: Directive, name: string, want: string[]) => d.name === name && d.args.length === want.length && want.every((w, k) => d.args[k] === w);
const mapEntry = (d: Directive) => d.parents.at(-1)?.name === 'map' && !d.block;
const hasEntryPattern = (pred: (pattern: string) => boolean) => (d: Directive) => mapEntry(d) && d.args.length === 1 && pred(d.name);
const hasEntryValue = (value: string) => (d: Directive) => mapEntry(d) && d.args.length === 1 && d.args[0] === value;

async function req(address: string, port: number, path: string, opts: { host: string; headers?: Record<string, string>; method?: string }): Promise<HttpResult> {
  return get(address, port, path, { ...opts, timeoutMs: 3000 });
}
const echoBody = (r: HttpResult) => {
  expect(r.status, `expected the echo backend, got ${r.status} ${r.body.slice(0, 200)}`).to.equal(200);
  return JSON.parse(r.body);
};
const onMain = (s: Slot, c: Ctx, path = s.path, o: { headers?: Record<string, string>; method?: string; host?: string } = {}) =>
  req(MAIN, c.env.port, path, { host: o.host ?? s.host, headers: o.headers, method: o.method });
/** The endpoints of the upstream the route's first rule proxies to: its peers (peers.txt) or its server lines. */
const upstreamServers = (c: Ctx, s: Slot, ns = NS): Directive[] => {
  // The route's first target: the location that sets $wg_route to it (an internal one, or the path's own).
  const key = `HTTPRoute/${ns}/${s.name}`;
  const marked = c.dirs.find((d) => d.name === 'set' && d.args[0] === '$wg_route' && d.args[1]?.replace(/^"|"$/g, '') === key);
  const target = marked?.parents.at(-1);
  const pass = target && c.dirs.find((d) => d.parents.at(-1) === target && d.name === 'proxy_pass');
  // A route of the route table: its rule names the upstream (peers.txt).
  const name = /^https?:\/\/(wg_u_\w+?)(?:\$|$)/.exec(pass?.args[0] ?? '')?.[1] ?? tableRules(c, s, ns)[0]?.upstream;
  const ups = c.dirs.filter((d) => d.name === 'upstream' && d.block && d.args[0] === name);
  // "server 0.0.0.1:1" is the placeholder of an upstream the Lua balancer serves from its peers.
  return c.dirs.filter((d) => ups.includes(d.parents.at(-1)!) && d.name === 'server' && d.args[0] !== '0.0.0.1:1');
};

/** peers.txt ("upstream NAME", then "ADDRESS WEIGHT" lines) as upstream blocks of server directives, for the carriers. */
function peerDirectives(peers: string): Directive[] {
  const out: Directive[] = [];
  let up: Directive | undefined;
  for (const [n, line] of peers.split('\n').entries()) {
    const words = line.trim().split(/\s+/);
    if (!line.trim()) continue;
    if (words[0] === 'upstream') out.push((up = { name: 'upstream', args: [words[1]!], line: n + 1, parents: [], block: true }));
    else if (up) out.push({ name: 'server', args: [words[0]!, `weight=${words[1]}`], line: n + 1, parents: [up], block: false });
  }
  return out;
}
const wellFormedServer = (d: Directive) => d.args.length === 2 && /^weight=[1-9][0-9]*$/.test(d.args[1]);
const gatewayAddress = (c: Ctx, name: string) => c.graph.gateways.find((g) => g.key === `${NS}/${name}`)?.address;
const probeHost = (h: string, s: Slot) => h.replace(/^\*/, `wz${s.i}`);

const PROBE_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']);

// ---- the fields ------------------------------------------------------------------------

const cases: Case[] = [
  {
    name: 'HTTPRoute spec.hostnames', field: 'spec.hostnames[0]', owner: 'route',
    values: str(crdSchema('HTTPRoute', '.spec.hostnames[*]'), hostnameOpts),
    build: (v, s) => [route(s, { hostnames: [v] })],
    carriers: (v) => [{ what: `server_name ${JSON.stringify(v)}`, ok: (d) => args(d, 'server_name', [v]) }],
    tableCarriers: (v, s, c) => [{ what: `host ${JSON.stringify(v)} with the route's rule`, ok: () => tableRules(c, s).some((r) => r.host === v) }],
    probe: async (v, s, c) => { expect(echoBody(await onMain(s, c, s.path, { host: probeHost(v, s) })).host).to.equal(probeHost(v, s)); },
  },
  ...(['Exact', 'PathPrefix'] as const).map((type): Case => ({
    name: `path ${type}`, field: 'spec.rules[0].matches[0].path', owner: 'route',
    values: str(routeSchema('.matches[*].path.value'), pathOpts),
    build: (v, s) => [route(s, { matches: [{ path: { type, value: v } }] })],
    carriers: (v) => [{
      what: `a location for ${JSON.stringify(v)}`,
      ok: (d) => d.block && (type === 'PathPrefix' && normalizePrefix(v) === '/' ? args(d, 'location', ['/']) : args(d, 'location', ['=', type === 'Exact' ? v : normalizePrefix(v)])),
    }],
    tableCarriers: (v, s, c) => [{ what: `a rule for ${JSON.stringify(v)}`, ok: () => tableRules(c, s).some((r) => r.exact === (type === 'Exact') && r.path === (type === 'Exact' ? v : normalizePrefix(v))) }],
    probe: async (v, s, c) => { expect(echoBody(await onMain(s, c, v)).path).to.equal(v); },
  })),
  {
    name: 'path RegularExpression', field: 'spec.rules[0].matches[0].path', owner: 'route',
    values: str(routeSchema('.matches[*].path.value'), regexOpts),
    build: (v, s) => [route(s, { matches: [{ path: { type: 'RegularExpression', value: v } }] })],
    carriers: (v) => [{ what: 'the flag map pattern', ok: hasEntryPattern((p) => p === `~^(?:${v})$`) }],
  },
  {
    name: 'header match name', field: 'spec.rules[0].matches[0].headers[0].name', owner: 'route',
    values: headerName('.matches[*].headers[*].name'),
    build: (v, s) => [route(s, { matches: [{ path: { type: 'PathPrefix', value: s.path }, headers: [{ name: v, value: 'fz' }] }] })],
    carriers: (v) => [{ what: `a map keyed on ${headerVar(v)}`, ok: (d) => d.name === 'map' && d.block && d.args.length === 2 && d.args[0].split('\n').some((f) => f.replace(/^k/, '') === headerVar(v)) }],
    tableCarriers: (v, s, c) => [{ what: `a rule on ${headerVar(v)}`, ok: () => tableRules(c, s).some((r) => r.headers.some(([n, x]) => `$${n}` === headerVar(v) && x === 'fz')) }],
    probe: async (v, s, c) => { if (!SPECIAL_HEADERS.has(v.toLowerCase())) echoBody(await onMain(s, c, s.path, { headers: { [v]: 'fz' } })); },
  },
  ...(['Exact', 'RegularExpression'] as const).map((type): Case => ({
    name: `header match value ${type}`, field: 'spec.rules[0].matches[0].headers[0].value', owner: 'route',
    values: type === 'Exact' ? headerValue('.matches[*].headers[*].value') : str(routeSchema('.matches[*].headers[*].value'), regexOpts),
    build: (v, s) => [route(s, { matches: [{ path: { type: 'PathPrefix', value: s.path }, headers: [{ name: 'x-fz', type, value: v }] }] })],
    carriers: (v) => [type === 'Exact'
      ? { what: 'a dispatch pattern with the literal value', ok: hasEntryPattern((p) => p.includes(`\n${regexForm(v)}`) || p.includes(`^k${regexForm(v)}`)) }
      : { what: 'the flag map pattern', ok: hasEntryPattern((p) => p === `~^(?:${v})$`) }],
    tableCarriers: (v, s, c) => [{ what: 'a rule with the literal value', ok: () => tableRules(c, s).some((r) => r.headers.some(([n, x]) => n === 'http_x_fz' && x === v)) }],
    probe: type === 'Exact'
      ? async (v, s, c) => { if (v === v.trim() && v.length > 0) echoBody(await onMain(s, c, s.path, { headers: { 'x-fz': v } })); }
      : undefined,
  })),
  {
    name: 'query match name', field: 'spec.rules[0].matches[0].queryParams[0].name', owner: 'route',
    values: headerName('.matches[*].queryParams[*].name'),
    build: (v, s) => [route(s, { matches: [{ path: { type: 'PathPrefix', value: s.path }, queryParams: [{ name: v, value: 'fz' }] }] })],
    carriers: (v) => [{ what: `a map keyed on \${arg_${v}}`, ok: (d) => d.name === 'map' && d.block && d.args[0].includes(`\${arg_${v}}`) }],
    tableCarriers: (v, s, c) => [{ what: `a rule on $arg_${v}`, ok: () => tableRules(c, s).some((r) => r.queries.some(([n, x]) => n === `arg_${v}` && x === 'fz')) }],
    probe: async (v, s, c) => { if (SAFE_QUERY.test(v) && !v.includes('?')) echoBody(await onMain(s, c, `${s.path}?${v}=fz`)); },
  },
  ...(['Exact', 'RegularExpression'] as const).map((type): Case => ({
    name: `query match value ${type}`, field: 'spec.rules[0].matches[0].queryParams[0].value', owner: 'route',
    values: type === 'Exact' ? str(routeSchema('.matches[*].queryParams[*].value')) : str(routeSchema('.matches[*].queryParams[*].value'), regexOpts),
    build: (v, s) => [route(s, { matches: [{ path: { type: 'PathPrefix', value: s.path }, queryParams: [{ name: 'q', type, value: v }] }] })],
    carriers: (v) => [type === 'Exact'
      ? { what: 'a dispatch pattern with the literal value', ok: hasEntryPattern((p) => p.includes(`^k${regexForm(v)}`)) }
      : { what: 'the flag map pattern', ok: hasEntryPattern((p) => p === `~^(?:${v})$`) }],
    tableCarriers: (v, s, c) => [{ what: 'a rule with the literal value', ok: () => tableRules(c, s).some((r) => r.queries.some(([n, x]) => n === 'arg_q' && x === v)) }],
    probe: type === 'Exact' ? async (v, s, c) => { if (SAFE_QUERY.test(v)) echoBody(await onMain(s, c, `${s.path}?q=${v}`)); } : undefined,
  })),
  {
    name: 'method', field: 'spec.rules[0].matches[0].method', owner: 'route',
    values: () => fc.oneof(validString(routeSchema('.matches[*].method')), stringField(routeSchema('.matches[*].method'))),
    build: (v, s) => [route(s, { matches: [{ path: { type: 'PathPrefix', value: s.path }, method: v }] })],
    carriers: (v) => [{ what: 'a dispatch pattern with the method', ok: hasEntryPattern((p) => p.startsWith(`~^k${regexForm(v)}`)) }],
    tableCarriers: (v, s, c) => [{ what: 'a rule with the method', ok: () => tableRules(c, s).some((r) => r.method === v) }],
    probe: async (v, s, c) => {
      if (!PROBE_METHODS.has(v)) return;
      const r = await onMain(s, c, s.path, { method: v });
      expect(r.status).to.equal(200);
      expect(r.backend).to.equal('fuzz');
    },
  },
  // RequestHeaderModifier / ResponseHeaderModifier
  ...(['set', 'add'] as const).flatMap((op): Case[] => [
    {
      name: `RequestHeaderModifier ${op} name`, field: `spec.rules[0].filters[0].requestHeaderModifier.${op}[0]`, owner: 'route',
      values: headerName(`.filters[*].requestHeaderModifier.${op}[*].name`),
      build: (v, s) => [route(s, { filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { [op]: [{ name: v, value: 'fz' }] } }] })],
      carriers: (v) => [op === 'set'
        ? { what: `proxy_set_header ${JSON.stringify(v)} "fz"`, ok: (d) => args(d, 'proxy_set_header', [v, 'fz']) }
        : { what: `proxy_set_header ${JSON.stringify(v)} $map`, ok: (d) => d.name === 'proxy_set_header' && d.args.length === 2 && d.args[0] === v && /^\$wg_m[0-9]+$/.test(d.args[1]) }],
      probe: async (v, s, c) => { if (!SPECIAL_HEADERS.has(v.toLowerCase())) expect(echoBody(await onMain(s, c)).headers[v.toLowerCase()]).to.equal('fz'); },
    },
    {
      name: `RequestHeaderModifier ${op} value`, field: `spec.rules[0].filters[0].requestHeaderModifier.${op}[0]`, owner: 'route',
      values: headerValue(`.filters[*].requestHeaderModifier.${op}[*].value`),
      build: (v, s) => [route(s, { filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { [op]: [{ name: 'x-fz', value: v }] } }] })],
      carriers: (v) => [op === 'set'
        ? { what: 'proxy_set_header x-fz with the value, "$" inert', ok: (d) => args(d, 'proxy_set_header', ['x-fz', scriptForm(v)]) }
        : { what: 'the append map with the value, "$" inert', ok: hasEntryValue(scriptForm(v)) }],
      probe: async (v, s, c) => { expect(echoBody(await onMain(s, c)).headers['x-fz']).to.equal(v === '' ? undefined : v.trim()); },
    },
    {
      name: `ResponseHeaderModifier ${op} name`, field: `spec.rules[0].filters[0].responseHeaderModifier.${op}[0]`, owner: 'route',
      values: headerName(`.filters[*].responseHeaderModifier.${op}[*].name`),
      build: (v, s) => [route(s, { filters: [{ type: 'ResponseHeaderModifier', responseHeaderModifier: { [op]: [{ name: v, value: 'fz' }] } }] })],
      carriers: (v) => [{ what: `add_header ${JSON.stringify(v)} "fz" always`, ok: (d) => args(d, 'add_header', [v, 'fz', 'always']) },
        ...(op === 'set' ? [{ what: `proxy_hide_header ${JSON.stringify(v)}`, ok: (d: Directive) => args(d, 'proxy_hide_header', [v]) }] : [])],
      probe: async (v, s, c) => {
        if (SPECIAL_HEADERS.has(v.toLowerCase())) return;
        const r = await onMain(s, c);
        expect(r.status).to.equal(200);
        expect(r.headers[v.toLowerCase()]).to.equal('fz');
      },
    },
    {
      name: `ResponseHeaderModifier ${op} value`, field: `spec.rules[0].filters[0].responseHeaderModifier.${op}[0]`, owner: 'route',
      values: headerValue(`.filters[*].responseHeaderModifier.${op}[*].value`),
      build: (v, s) => [route(s, { filters: [{ type: 'ResponseHeaderModifier', responseHeaderModifier: { [op]: [{ name: 'x-fz', value: v }] } }] })],
      carriers: (v) => [{ what: 'add_header x-fz with the value, "$" inert', ok: (d) => args(d, 'add_header', ['x-fz', scriptForm(v), 'always']) }],
      probe: async (v, s, c) => {
        const r = await onMain(s, c);
        expect(r.status).to.equal(200);
        expect(r.headers['x-fz']).to.equal(v === '' ? undefined : v.trim());
      },
    },
  ]),
  ...(['request', 'response'] as const).map((dir): Case => ({
    name: `${dir === 'request' ? 'Request' : 'Response'}HeaderModifier remove`, field: `spec.rules[0].filters[0].${dir}HeaderModifier.remove[0]`, owner: 'route',
    values: headerName(`.filters[*].${dir}HeaderModifier.set[*].name`), // remove[] items have no schema of their own; set names are the same header names
    build: (v, s) => [route(s, { filters: [{ type: `${dir === 'request' ? 'Request' : 'Response'}HeaderModifier`, [`${dir}HeaderModifier`]: { remove: [v] } }] })],
    carriers: (v) => [dir === 'request'
      ? { what: `proxy_set_header ${JSON.stringify(v)} ""`, ok: (d) => args(d, 'proxy_set_header', [v, '']) }
      : { what: `proxy_hide_header ${JSON.stringify(v)}`, ok: (d) => args(d, 'proxy_hide_header', [v]) }],
    probe: async (v, s, c) => {
      if (SPECIAL_HEADERS.has(v.toLowerCase())) return;
      const b = echoBody(await onMain(s, c, s.path, { headers: { [v]: 'gone' } }));
      // Own properties only: a header named "constructor" is not on Object.prototype's side.
      if (dir === 'request') expect(Object.hasOwn(b.headers, v.toLowerCase()), `header ${v} still reaches the backend`).to.equal(false);
    },
  })),
  // backendRef filters and CORS (their values reach nginx.conf too)
  {
    name: 'backendRef RequestHeaderModifier set value', field: 'spec.rules[0].backendRefs[0].filters[0].requestHeaderModifier.set[0]', owner: 'route',
    values: headerValue('.backendRefs[*].filters[*].requestHeaderModifier.set[*].value'),
    build: (v, s) => [route(s, { backendRefs: [{ name: 'echo', port: 80, filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-fz', value: v }] } }] }] })],
    carriers: (v) => [{ what: 'proxy_set_header x-fz with the value, "$" inert', ok: (d) => args(d, 'proxy_set_header', ['x-fz', scriptForm(v)]) }],
    probe: async (v, s, c) => { expect(echoBody(await onMain(s, c)).headers['x-fz']).to.equal(v === '' ? undefined : v.trim()); },
  },
  {
    name: 'CORS allowOrigins', field: 'spec.rules[0].filters[0].cors.allowOrigins[0]', owner: 'route',
    values: str(routeSchema('.filters[*].cors.allowOrigins[*]')),
    build: (v, s) => [route(s, { filters: [{ type: 'CORS', cors: { allowOrigins: [v] } }] })],
    carriers: () => [{ what: 'an origin map entry answering the Origin (or "*")', ok: (d) => mapEntry(d) && d.name.startsWith('~*^(?:') && d.args.length === 1 && ['$http_origin', '*'].includes(d.args[0]) }],
    probe: async (v, s, c) => {
      // A wildcard host stands for any name: probe with one of ours. Browsers send a port
      // without leading zeros ("http://x:01" is port 1, sent as "http://x:1").
      const origin = v === '*' ? 'https://any.fuzz.test' : v.replace('://*.', `://wz${s.i}.`).replace('://*', `://wz${s.i}.fuzz.test`).replace(/:0+(?=[0-9]+$)/, ':');
      const r = await onMain(s, c, s.path, { method: 'OPTIONS', headers: { Origin: origin, 'Access-Control-Request-Method': 'GET' } });
      expect(r.status).to.equal(204);
      expect(r.headers['access-control-allow-origin']).to.equal(v === '*' ? '*' : origin);
    },
  },
  ...(['allowHeaders', 'exposeHeaders'] as const).map((list): Case => ({
    name: `CORS ${list}`, field: `spec.rules[0].filters[0].cors.${list}[0]`, owner: 'route',
    values: headerName(`.filters[*].cors.${list}[*]`),
    build: (v, s) => [route(s, { filters: [{ type: 'CORS', cors: { allowOrigins: ['https://ok.fuzz.test'], [list]: [v] } }] })],
    carriers: (v) => [{ what: `a map answering ${JSON.stringify(v)} for allowed origins`, ok: (d) => mapEntry(d) && d.name === 'default' && d.args.length === 1 && d.args[0] === v }],
    probe: async (v, s, c) => {
      const headers = { Origin: 'https://ok.fuzz.test', ...(list === 'allowHeaders' ? { 'Access-Control-Request-Method': 'GET' } : {}) };
      const r = await onMain(s, c, s.path, { method: list === 'allowHeaders' ? 'OPTIONS' : 'GET', headers });
      expect(r.headers[list === 'allowHeaders' ? 'access-control-allow-headers' : 'access-control-expose-headers']).to.equal(v);
    },
  })),
  // RequestRedirect
  {
    name: 'RequestRedirect scheme', field: 'spec.rules[0].filters[0].requestRedirect.scheme', owner: 'route',
    values: () => stringField(routeSchema('.filters[*].requestRedirect.scheme')),
    build: (v, s) => [route(s, { filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: v } }], backendRefs: [] })],
    carriers: (v) => [{ what: 'return 302 with the scheme', ok: (d) => d.name === 'return' && d.args.length === 2 && d.args[1].startsWith(`${v}://`) }],
    probe: async (v, s, c) => { const r = await onMain(s, c); expect(r.status).to.equal(302); expect(r.headers.location).to.equal(`${v}://${s.host}${s.path}`); },
  },
  {
    name: 'RequestRedirect hostname', field: 'spec.rules[0].filters[0].requestRedirect.hostname', owner: 'route',
    values: str(routeSchema('.filters[*].requestRedirect.hostname'), hostnameOpts),
    build: (v, s) => [route(s, { filters: [{ type: 'RequestRedirect', requestRedirect: { hostname: v } }], backendRefs: [] })],
    carriers: (v) => [{ what: 'return 302 with the hostname', ok: (d) => d.name === 'return' && d.args.length === 2 && d.args[1].startsWith(`$scheme://${scriptForm(v)}$`) }],
    probe: async (v, s, c) => { const r = await onMain(s, c); expect(r.status).to.equal(302); expect(r.headers.location).to.equal(`http://${v}:${c.env.port}${s.path}`); },
  },
  {
    name: 'RequestRedirect port', field: 'spec.rules[0].filters[0].requestRedirect.port', owner: 'route',
    values: () => integerField(routeSchema('.filters[*].requestRedirect.port')),
    build: (v, s) => [route(s, { filters: [{ type: 'RequestRedirect', requestRedirect: { port: v } }], backendRefs: [] })],
    // null is no port (the API server prunes it): the listener's port then.
    carriers: (v) => (v === null ? [] : [{ what: `a ":${v}" map value`, ok: (d) => mapEntry(d) && d.args.length === 1 && d.args[0] === `:${v}` }]),
    probe: async (v, s, c) => {
      const r = await onMain(s, c);
      expect(r.status).to.equal(302);
      expect(r.headers.location).to.equal(`http://${s.host}${v === 80 ? '' : `:${v ?? c.env.port}`}${s.path}`);
    },
  },
  {
    name: 'RequestRedirect statusCode', field: 'spec.rules[0].filters[0].requestRedirect.statusCode', owner: 'route',
    values: () => integerField(routeSchema('.filters[*].requestRedirect.statusCode')),
    build: (v, s) => [route(s, { filters: [{ type: 'RequestRedirect', requestRedirect: { statusCode: v } }], backendRefs: [] })],
    carriers: (v) => [{ what: `return ${v ?? 302} "<location>"`, ok: (d) => d.name === 'return' && d.args.length === 2 && d.args[0] === String(v ?? 302) && d.args[1].startsWith('$scheme://') }],
    probe: async (v, s, c) => { const r = await onMain(s, c); expect(r.status).to.equal(v ?? 302); expect(r.headers.location).to.equal(`http://${s.host}:${c.env.port}${s.path}`); },
  },
  ...(['ReplaceFullPath', 'ReplacePrefixMatch'] as const).flatMap((type): Case[] => {
    const key = type === 'ReplaceFullPath' ? 'replaceFullPath' : 'replacePrefixMatch';
    const repl = (v: string) => (normalizePrefix(v) === '/' ? '' : normalizePrefix(v));
    return [
      {
        name: `RequestRedirect path ${type}`, field: 'spec.rules[0].filters[0].requestRedirect.path', owner: 'route',
        values: str(routeSchema(`.filters[*].requestRedirect.path.${key}`), pathOpts),
        build: (v, s) => [route(s, { filters: [{ type: 'RequestRedirect', requestRedirect: { path: { type, [key]: v } } }], backendRefs: [] })],
        carriers: (v) => [type === 'ReplaceFullPath'
          ? { what: 'return 302 with the path, "$" inert', ok: (d) => d.name === 'return' && d.args.length === 2 && d.args[1].endsWith(`${scriptForm(v)}$is_args$args`) }
          : { what: 'the prefix map with the replacement, "$" inert', ok: hasEntryValue(`${scriptForm(repl(v))}$1`) }],
        probe: async (v, s, c) => {
          const r = await onMain(s, c, type === 'ReplaceFullPath' ? s.path : `${s.path}/z`);
          expect(r.status).to.equal(302);
          expect(r.headers.location).to.equal(`http://${s.host}:${c.env.port}${type === 'ReplaceFullPath' ? v : `${repl(v)}/z`}`);
        },
      },
      {
        name: `URLRewrite path ${type}`, field: 'spec.rules[0].filters[0].urlRewrite.path', owner: 'route',
        values: str(routeSchema(`.filters[*].urlRewrite.path.${key}`), pathOpts),
        build: (v, s) => [route(s, { filters: [{ type: 'URLRewrite', urlRewrite: { path: { type, [key]: v } } }] })],
        carriers: (v) => [type === 'ReplaceFullPath'
          ? { what: 'proxy_pass with the path, "$" inert', ok: (d) => d.name === 'proxy_pass' && d.args.length === 1 && d.args[0].endsWith(`${scriptForm(v)}$is_args$args`) }
          : { what: 'the prefix map with the replacement, "$" inert', ok: hasEntryValue(`${scriptForm(repl(v))}$1`) }],
        probe: async (v, s, c) => {
          const b = echoBody(await onMain(s, c, type === 'ReplaceFullPath' ? s.path : `${s.path}/z`));
          expect(b.path).to.equal(type === 'ReplaceFullPath' ? v : `${repl(v)}/z`);
        },
      },
    ];
  }),
  {
    name: 'URLRewrite hostname', field: 'spec.rules[0].filters[0].urlRewrite.hostname', owner: 'route',
    values: str(routeSchema('.filters[*].urlRewrite.hostname'), hostnameOpts),
    build: (v, s) => [route(s, { filters: [{ type: 'URLRewrite', urlRewrite: { hostname: v } }] })],
    carriers: (v) => [{ what: 'proxy_set_header Host with the hostname', ok: (d) => args(d, 'proxy_set_header', ['Host', scriptForm(v)]) }],
    probe: async (v, s, c) => { expect(echoBody(await onMain(s, c)).host).to.equal(v); },
  },
  // Backends
  {
    name: 'backendRef weight', field: 'spec.rules[0].backendRefs[0].weight', owner: 'route',
    values: () => integerField(routeSchema('.backendRefs[*].weight')),
    build: (v, s) => [route(s, { backendRefs: [{ name: 'echo', port: 80, weight: v }] })],
    carriers: (v, s, c) => (Number.isInteger(v) && v > 0 ? [{ what: 'the upstream server with an integer weight', ok: (d) => upstreamServers(c, s).includes(d) && wellFormedServer(d) }] : []),
    probe: async (v, s, c) => {
      const r = await onMain(s, c);
      if (upstreamServers(c, s).length) expect(r.backend).to.equal('fuzz');
      else expect(r.status).to.equal(500); // no backend with a positive weight
    },
  },
  {
    name: 'backendRef and Service port', field: 'spec.rules[0].backendRefs[0]', crdFields: ['spec.ports[0].port'], owner: 'route',
    values: () => integerField(routeSchema('.backendRefs[*].port')),
    build: (v, s, env) => [route(s, { backendRefs: [{ name: `svc${s.i}`, port: v }] }), ...serviceObjs(`svc${s.i}`, v, ['127.0.0.1'], env.echo.port)],
    carriers: (v, s, c) => [{ what: 'the echo endpoint in the upstream', ok: (d) => upstreamServers(c, s).includes(d) && wellFormedServer(d) && d.args[0] === c.env.echo.endpoint }],
    probe: async (v, s, c) => { expect(echoBody(await onMain(s, c)).backend).to.equal('fuzz'); },
  },
  {
    name: 'backendRef name', field: 'spec.rules[0].backendRefs[0]', owner: 'route',
    values: () => fc.oneof(fc.constant('echo'), stringField(routeSchema('.backendRefs[*].name'))),
    build: (v, s) => [route(s, { backendRefs: [{ name: v, port: 80 }] })],
    probe: async (v, s, c) => { const r = await onMain(s, c); if (v === 'echo') expect(r.backend).to.equal('fuzz'); else expect(r.status).to.equal(500); },
  },
  {
    name: 'backendRef namespace', field: 'spec.rules[0].backendRefs[0]', owner: 'route',
    values: () => fc.oneof(fc.constant(NS), stringField(routeSchema('.backendRefs[*].namespace'))),
    build: (v, s) => [route(s, { backendRefs: [{ name: 'echo', namespace: v, port: 80 }] })],
    probe: async (v, s, c) => { const r = await onMain(s, c); if (v === NS) expect(r.backend).to.equal('fuzz'); else expect(r.status).to.equal(500); },
  },
  ...(['IPv4', 'IPv6'] as const).map((family): Case => ({
    name: `EndpointSlice address (${family})`, field: 'endpoints[0].addresses[0]', owner: 'core',
    values: () => {
      const valid = family === 'IPv4' ? fc.oneof(ipv4, fc.constant('127.0.0.1')) : fc.oneof(fc.ipV6(), fc.constantFrom('::1', 'fe80::1%eth0', '::ffff:127.0.0.1', '[::1]'));
      const schema = { type: 'string' as const, maxLength: 45 };
      return fc.oneof(valid, stringField(schema, { valid }));
    },
    build: (v, s, env) => [route(s, { backendRefs: [{ name: `svc${s.i}`, port: 80 }] }), ...serviceObjs(`svc${s.i}`, 80, [v], env.echo.port, family)],
    carriers: (v, s, c) => {
      const servers = upstreamServers(c, s);
      // An address our layer cannot use is dropped (the rule answers 503); one it uses is one
      // token, IPv6 in the canonical RFC 5952 form nginx parses (URL's writer, computed here
      // independently of the operator's code).
      if (!servers.length) return [];
      let want: string;
      try {
        want = family === 'IPv4' ? `${v}:${c.env.echo.port}` : `${new URL(`http://[${String(v)}]/`).hostname}:${c.env.echo.port}`;
      } catch {
        want = `(${JSON.stringify(v)} is no IPv6 address, yet the upstream has a server)`;
      }
      return [{ what: `server ${JSON.stringify(want)} weight=N`, ok: (d) => servers.includes(d) && wellFormedServer(d) && d.args[0] === want }];
    },
    probe: async (v, s, c) => {
      const r = upstreamServers(c, s).length ? undefined : await onMain(s, c);
      if (r) expect(r.status).to.equal(503);
      else if (v === '127.0.0.1') expect(echoBody(await onMain(s, c)).backend).to.equal('fuzz');
    },
  })),
  {
    name: 'EndpointSlice port', field: 'ports[0].port', owner: 'core',
    values: (env) => fc.oneof(fc.constant(env.echo.port), integerField({ type: 'integer', minimum: 1, maximum: 65535 })),
    build: (v, s) => [route(s, { backendRefs: [{ name: `svc${s.i}`, port: 80 }] }), ...serviceObjs(`svc${s.i}`, 80, ['127.0.0.1'], v)],
    carriers: (v, s, c) => {
      const servers = upstreamServers(c, s);
      return servers.length ? [{ what: `server "127.0.0.1:${v}"`, ok: (d) => servers.includes(d) && wellFormedServer(d) && d.args[0] === `127.0.0.1:${v}` }] : [];
    },
    probe: async (v, s, c) => {
      if (!upstreamServers(c, s).length) expect((await onMain(s, c)).status).to.be.oneOf([500, 503]);
      else if (v === c.env.echo.port) expect(echoBody(await onMain(s, c)).backend).to.equal('fuzz');
    },
  },
  // Gateways and listeners: one Gateway per slot, so the CRD validator judges one value at a time.
  {
    name: 'listener hostname', field: 'spec.listeners[0].hostname', owner: 'listener',
    values: str(crdSchema('Gateway', '.spec.listeners[*].hostname'), hostnameOpts),
    build: (v, s, env) => [gatewayObj(`g${s.i}`, [{ name: 'l', port: env.port, protocol: 'HTTP', hostname: v }]), route(s, { hostnames: [], parentRefs: [{ name: `g${s.i}`, namespace: NS }] })],
    carriers: (v) => [{ what: `server_name ${JSON.stringify(v)}`, ok: (d) => args(d, 'server_name', [v]) }],
    tableCarriers: (v, s, c) => [{ what: `host ${JSON.stringify(v)} with the route's rule`, ok: () => tableRules(c, s).some((r) => r.host === v) }],
    probe: async (v, s, c) => { expect(echoBody(await req(gatewayAddress(c, `g${s.i}`)!, c.env.port, s.path, { host: probeHost(v, s) })).backend).to.equal('fuzz'); },
  },
  {
    name: 'listener port', field: 'spec.listeners[0].port', owner: 'listener',
    values: (env) => ports(env),
    build: (v, s) => [gatewayObj(`g${s.i}`, [{ name: 'l', port: v, protocol: 'HTTP' }]), route(s, { parentRefs: [{ name: `g${s.i}`, namespace: NS }] })],
    carriers: (v, s, c) => [{ what: `listen "${gatewayAddress(c, `g${s.i}`)}:${v}"`, ok: (d) => d.name === 'listen' && d.args[0] === `${gatewayAddress(c, `g${s.i}`)}:${v}` && d.args.slice(1).every((a) => a === 'default_server') }],
    probe: async (v, s, c) => { expect(echoBody(await req(gatewayAddress(c, `g${s.i}`)!, v, s.path, { host: s.host })).backend).to.equal('fuzz'); },
  },
  {
    name: 'Gateway address', field: 'spec.addresses[0]', owner: 'gateway',
    values: () => fc.oneof({ arbitrary: ipv4, weight: 4 }, { arbitrary: fc.constant(MAIN), weight: 1 }, { arbitrary: stringField(crdSchema('Gateway', '.spec.addresses[*].value'), { valid: ipv4 }), weight: 4 }),
    build: (v, s, env) => [gatewayObj(`g${s.i}`, [{ name: 'l', port: s.mode === 'crd' ? env.port : env.rawPort, protocol: 'HTTP' }], { addresses: [{ type: 'IPAddress', value: v }] }), route(s, { parentRefs: [{ name: `g${s.i}`, namespace: NS }] })],
    carriers: (v, s, c) => [{ what: `listen "${v}:<port>"`, ok: (d) => d.name === 'listen' && d.args[0] === `${v}:${s.mode === 'crd' ? c.env.port : c.env.rawPort}` }],
    probe: async (v, s, c) => { expect(echoBody(await req(v, s.mode === 'crd' ? c.env.port : c.env.rawPort, s.path, { host: s.host })).backend).to.equal('fuzz'); },
  },
  // Object names: they reach nginx.conf only in source comments.
  {
    name: 'HTTPRoute metadata.name', field: 'metadata.name', owner: 'route',
    values: () => fc.oneof(fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?(\.[a-z0-9]{1,10}){0,2}$/), stringField({ type: 'string', maxLength: 253, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$' })),
    build: (v, s) => [route(s, { name: v, namespace: s.mode === 'crd' ? NS : `${NS}-raw`, filters: [{ type: 'RequestRedirect', requestRedirect: { hostname: 'named.fuzz.test' } }], backendRefs: [] })],
    carriers: (v, s, c) => [{ what: 'a source comment naming the route', ok: () => c.config.sources.some((r) => r.object === `HTTPRoute/${s.mode === 'crd' ? NS : `${NS}-raw`}/${v}`) }],
    probe: async (v, s, c) => { expect((await onMain(s, c)).headers.location).to.equal(`http://named.fuzz.test:${c.env.port}${s.path}`); },
  },
  {
    name: 'HTTPRoute metadata.namespace', field: 'metadata.namespace', owner: 'route',
    values: () => fc.oneof(fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?$/), stringField({ type: 'string', maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' })),
    build: (v, s) => [route(s, { namespace: v, filters: [{ type: 'RequestRedirect', requestRedirect: { hostname: 'named.fuzz.test' } }], backendRefs: [] })],
    carriers: (v, s, c) => [{ what: 'a source comment naming the route', ok: () => c.config.sources.some((r) => r.object === `HTTPRoute/${v}/${s.name}`) }],
    probe: async (v, s, c) => { expect((await onMain(s, c)).headers.location).to.equal(`http://named.fuzz.test:${c.env.port}${s.path}`); },
  },
];

// ---- one batch: admit, build, render, check, serve --------------------------------------

const related = (a: string, b: string) => a !== '' && (a.startsWith(b) || b.startsWith(a));
const isGatewayApi = (o: KubeObject) => o.apiVersion.startsWith(`${G}/`);
const falseConditions = (cs: Condition[]) => cs.filter((c) => (c.type === 'PartiallyInvalid' ? c.status === 'True' : c.type === 'Conflicted' ? c.status === 'True' : c.status === 'False'));
const show = (v: unknown) => { const s = JSON.stringify(v) ?? String(v); return s.length > 200 ? `${s.slice(0, 200)}... (${s.length} chars)` : s; };

function admit(objs: KubeObject[]): { objects: KubeObject[]; errors: FieldError[] } {
  const objects: KubeObject[] = [];
  const errors: FieldError[] = [];
  for (const o of objs) {
    if (isGatewayApi(o)) {
      const r = validator.validate(o)!;
      errors.push(...r.errors);
      objects.push(r.object);
    } else {
      errors.push(...validateCoreObject(o));
      objects.push(o);
    }
  }
  return { objects, errors };
}

/** What our layer decided for a slot: 'refused' (a condition naming the field), 'dropped', or 'accepted'. */
function verdict(c: Case, s: Slot, v: unknown, statuses: DesiredStatus[], ns: string, name: string, problems: ModelProblem[]): 'refused' | 'dropped' | 'accepted' {
  const at = `${c.name} (${s.mode}) = ${show(v)}`;
  // A rule the model cannot express is a model problem; the pipeline turns it into the
  // route's condition on its next pass (pipeline.ts), so it must name the field too.
  const mine = problems.filter((p) => p.route === `HTTPRoute/${ns}/${name}`);
  if (mine.length) {
    for (const p of mine) expect(`${p.field}: ${p.message}`, `${at}: a model problem that does not name ${c.field}`).to.include(c.field);
    return 'refused';
  }
  let conds: Condition[] | undefined;
  if (c.owner === 'route' || c.owner === 'core') {
    const st = statuses.find((d) => d.kind === 'HTTPRoute' && d.namespace === ns && d.name === name);
    if (!st) {
      expect(c.owner === 'core' || c.field.startsWith('metadata.'), `${at}: the route vanished without a condition`).to.equal(true);
      return 'dropped';
    }
    conds = st.parents![0].conditions;
  } else {
    const st = statuses.find((d) => d.kind === 'Gateway' && d.namespace === NS && d.name === `g${s.i}`)!;
    // Programmed=False follows from Accepted=False, except AddressNotUsable (accepted, address held by an older Gateway).
    const gwFalse = falseConditions(st.status!.conditions as Condition[]).filter((x) => x.type !== 'Programmed' || x.reason === 'AddressNotUsable');
    const listener = (st.status!.listeners as any[])[0];
    const lFalse = falseConditions(listener.conditions).filter((x) => x.type !== 'Programmed');
    // "no listener is valid" follows from the listener's own condition, which must name the field.
    const bad = [...gwFalse.filter((x) => !(x.reason === 'ListenersNotValid' && lFalse.length)), ...lFalse];
    if (bad.length) {
      for (const b of bad) expect(b.message, `${at}: a False condition on Gateway g${s.i} that does not name ${c.field}: ${b.type} ${b.reason}`).to.include(c.field);
      return 'refused';
    }
    conds = statuses.find((d) => d.kind === 'HTTPRoute' && d.name === name)!.parents![0].conditions;
  }
  const bad = falseConditions(conds);
  if (!bad.length) return 'accepted';
  expect(c.owner, `${at}: the route got ${bad.map((b) => `${b.type} ${b.reason}: ${b.message}`).join('; ')}`).to.equal('route');
  for (const b of bad) expect(b.message, `${at}: a False condition on the route that does not name ${c.field}: ${b.type} ${b.reason}`).to.include(c.field);
  return 'refused';
}

describe(`security fuzz: every user field that reaches nginx.conf (seed ${SEED}${PATH ? `, path ${PATH}` : ''})`, function () {
  this.timeout(120_000);
  let env: Env;
  let nginx: ThrowawayNginx;
  let fixedEcho: EchoServer;
  let versionPort: number;
  let batchNo = 0;
  const tally = new Map<string, Record<string, number>>();

  before(async () => {
    console.log(`      fuzz: seed ${SEED} (FUZZ_SEED=${SEED} to replay), ${RUNS} batches of ${BATCH} values per field`);
    const busyPorts = listeningPorts();
    const echo = await startEcho('fuzz');
    fixedEcho = await startEcho('fixed');
    env = { port: await freePort(), rawPort: await freePort(), echo, busyPorts };
    versionPort = await freePort();
    const config = renderConfig(buildHttpModel(buildGraph(storeFrom(baseObjects(env, fixedEcho)), graphOpts)));
    nginx = await startNginx({ http: config.files['http.conf'], peers: config.files['peers.txt'], certs: config.files['certs.txt'], routes: config.files['routes.txt'] });
    await eventually('nginx to serve the fixed route', () => req(MAIN, env.port, '/', { host: FIXED_HOST }), (r) => r.backend === 'fixed', 5000);
  });

  after(async () => {
    await nginx?.stop();
    await env?.echo.close();
    await fixedEcho?.close();
    for (const [name, t] of tally) console.log(`      ${name}: ${Object.entries(t).map(([k, n]) => `${k} ${n}`).join(', ')}`);
  });

  async function runBatch(c: Case, values: unknown[]): Promise<void> {
    const t = tally.get(c.name) ?? {};
    tally.set(c.name, t);
    const count = (k: string) => { t[k] = (t[k] ?? 0) + 1; };
    const slots = values.flatMap((v, k) => (['crd', 'raw'] as const).map((mode, m) => {
      const i = 2 * k + m;
      return { v, s: { i, mode, host: `s${i}.fuzz.test`, path: `/f${i}`, name: `r${i}` } as Slot };
    }));
    const objects = baseObjects(env, fixedEcho);
    const live: { v: unknown; s: Slot; ns: string; name: string }[] = [];
    for (const { v, s } of slots) {
      const built = c.build(v, s, env);
      const carrier = built[0];
      const { objects: admitted, errors } = s.mode === 'crd' ? admit(built) : { objects: built, errors: [] };
      if (errors.length) {
        // What the API server refuses never reaches us; its error must name the field.
        expect(errors.some((e) => [c.field, ...(c.crdFields ?? [])].some((f) => related(e.field, f))), `${c.name} = ${show(v)}: the CRD validator refused it without naming ${c.field}: ${show(errors)}`).to.equal(true);
        count('refused by the CRD validator');
        continue;
      }
      objects.push(...admitted);
      const r = carrier.kind === 'HTTPRoute' ? carrier : built.find((o) => o.kind === 'HTTPRoute')!;
      live.push({ v, s, ns: r.metadata.namespace!, name: r.metadata.name });
    }

    // The pure pipeline must not throw: a throw would take every tenant's config down.
    let graph: Graph;
    let config: RenderedConfig;
    let problems: ModelProblem[];
    try {
      graph = buildGraph(storeFrom(objects), graphOpts);
      const model = buildHttpModel(graph);
      problems = model.problems;
      config = renderConfig(model);
    } catch (e) {
      throw new Error(`${c.name}: the pipeline threw for the whole config: ${(e as Error).message}`);
    }
    const statuses = desiredStatuses(graph, graphOpts, { ok: true, reason: 'Programmed', message: '' });
    const http = config.files['http.conf'];
    let dirs: Directive[];
    try {
      dirs = parseNginx(http);
    } catch (e) {
      throw new Error(`${c.name}: the rendered config does not tokenize as nginx reads it: ${(e as Error).message}`);
    }
    dirs.push(...peerDirectives(config.files['peers.txt'] ?? ''));
    const ctx: Ctx = { env, graph, config, dirs, table: parseTable(config.files['routes.txt'] ?? '') };
    const fixed = statuses.find((d) => d.kind === 'HTTPRoute' && d.name === 'fixed')!;
    expect(falseConditions(fixed.parents![0].conditions), 'the fixed route stays accepted').to.deep.equal([]);

    const accepted: typeof live = [];
    for (const l of live) {
      const outcome = verdict(c, l.s, l.v, statuses, l.ns, l.name, problems);
      count(`${outcome} (${l.s.mode})`);
      if (outcome !== 'accepted') continue;
      if (c.tableCarriers && tableRules(ctx, l.s, l.ns).length) {
        for (const k of c.tableCarriers(l.v, l.s, ctx)) expect(k.ok(), `${c.name} (${l.s.mode}) = ${show(l.v)}: no ${k.what} in routes.txt`).to.equal(true);
      } else for (const k of c.carriers?.(l.v, l.s, ctx) ?? []) {
        expect(dirs.some(k.ok), `${c.name} (${l.s.mode}) = ${show(l.v)}: no ${k.what} in the rendered config`).to.equal(true);
      }
      accepted.push(l);
    }

    // One nginx -t and reload per batch; a version server tells when the new workers answer.
    const version = `batch-${++batchNo}`;
    const versionServer = `server {\n    listen ${MAIN}:${versionPort};\n    location / { return 200 "${version}"; }\n}\n`;
    try {
      await nginx.reload({ http: `${http}\n${versionServer}`, peers: config.files['peers.txt'], certs: config.files['certs.txt'], routes: config.files['routes.txt'] });
    } catch (e) {
      throw new Error(`${c.name}: nginx rejected the config: ${(e as Error).message.slice(0, 2000)}`);
    }
    // Old workers may still accept a connection or two until they see the signal: once the
    // new version answers, wait for them to exit.
    await eventually('the new config to serve', () => req(MAIN, versionPort, '/', { host: 'v' }), (r) => r.body === version, 10_000, 10);
    await eventually('the old workers to exit', async () => workers(nginx.dir), (n) => n === 1, 10_000, 5);
    const f = await req(MAIN, env.port, '/', { host: FIXED_HOST });
    expect({ status: f.status, backend: f.backend }, 'the fixed route keeps serving').to.deep.equal({ status: 200, backend: 'fixed' });
    for (const l of accepted) {
      if (!c.probe) continue;
      try {
        await c.probe(l.v, l.s, ctx);
      } catch (e) {
        throw new Error(`${c.name} (${l.s.mode}) = ${show(l.v)}: ${(e as Error).message}`);
      }
    }
  }


  for (const c of cases) {
    it(`${c.name}: refused naming ${c.field}, or served literally`, async () => {
      const values = fc.uniqueArray(c.values(env), { minLength: 1, maxLength: BATCH, size: 'max', selector: (v) => JSON.stringify(v) ?? String(v) });
      // Shrinking reloads nginx for each candidate: bounded, it reports the smallest batch found so far.
      await fc.assert(fc.asyncProperty(values, (vs) => runBatch(c, vs)), { numRuns: RUNS, seed: SEED, ...(PATH ? { path: PATH } : {}), interruptAfterTimeLimit: SHRINK_MS });
    });
  }
});

const storeFrom = (objects: KubeObject[]) => storeOf(...objects).snapshot();

/** Worker processes of a throwaway nginx (children of its master). */
function workers(dir: string): number {
  const master = readFileSync(join(dir, 'nginx.pid'), 'utf8').trim();
  let n = 0;
  for (const p of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] === master) n++;
    } catch { /* exited meanwhile */ }
  }
  return n;
}

/** TCP ports something listens on (any address): nginx could not bind them on ours either. */
function listeningPorts(): Set<number> {
  const out = new Set<number>();
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try { text = readFileSync(f, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] === '0A') out.add(parseInt(cols[1].split(':').at(-1)!, 16));
    }
  }
  return out;
}
