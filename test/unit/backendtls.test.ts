// BackendTLSPolicy in the graph and the model: which policy applies to a Service port
// (conflicts, sectionName), how each is judged (CA refs, SANs, options), what the routes and
// the policy report, and the proxy_ssl_* settings of the targets.
import { expect } from 'chai';
import { serverTargets } from '../../operator/src/dataplane/model.ts';
import { routeTargetPrefix } from '../../operator/src/dataplane/builder.ts';
import { buildHttpModel } from '../../operator/src/dataplane/build.ts';
import { buildGraph } from '../../operator/src/graph/graph.ts';
import { buildConfiguration } from '../../operator/src/pipeline.ts';
import { desiredStatuses } from '../../operator/src/graph/status.ts';
import { staleRouteStatuses } from '../../operator/src/modes/operator.ts';
import type { KubeObject } from '../../operator/src/objects.ts';
import { renderConfig } from '../../operator/src/render/render.ts';
import { backendTLSPolicy, CONTROLLER, gateway, gatewayClass, httpRoute, otherRoute, service, storeOf } from '../support/objects.ts';
import { tlsSecret } from '../support/certs.ts';
import { issue, makeCA } from '../support/test-ca.ts';
import { conds, graphOptions, statusesOf } from '../support/statuses.ts';

/** The target id prefix of the route 'r' in namespace 'app' (builder.ts). */
const R = routeTargetPrefix('HTTPRoute/app/r');

const opts = graphOptions;

function build(...objects: (KubeObject | KubeObject[])[]) {
  const r = statusesOf(...objects);
  return { ...r, policy: (name: string) => conds(r.find('BackendTLSPolicy', 'app', name)?.ancestors?.[0]?.conditions) };
}

const ca = makeCA('unit CA');
const configMap = (name: string, data: Record<string, string>): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'app' }, data } as KubeObject);
const withValidation = (p: KubeObject, validation: object, extra: object = {}): KubeObject => ({ ...p, spec: { ...(p as any).spec, validation, ...extra } } as KubeObject);
const caRefs = (...names: string[]) => ({ hostname: 'svc.app.svc', caCertificateRefs: names.map((name) => ({ group: '', kind: 'ConfigMap', name })) });

/** Service "svc" with two named ports (http 80, admin 81) and one endpoint each. */
function twoPortService(): KubeObject[] {
  const [svc, slice] = service('app', 'svc') as [any, any];
  svc.spec.ports = [{ name: 'http', port: 80 }, { name: 'admin', port: 81 }];
  slice.ports = [{ name: 'http', port: 8080 }, { name: 'admin', port: 8081 }];
  return [svc, slice];
}

const base = () => [gateway('app', 'gw'), twoPortService(), service('app', 'plain'), configMap('ca', { 'ca.crt': ca.cert }),
  httpRoute('app', 'r', { rules: [
    { backendRefs: [{ name: 'svc', port: 80 }] },
    { matches: [{ path: { type: 'PathPrefix', value: '/admin' } }], backendRefs: [{ name: 'svc', port: 81 }] },
    { matches: [{ path: { type: 'PathPrefix', value: '/plain' } }], backendRefs: [{ name: 'plain', port: 80 }] },
  ] })];
const backendsOf = (graph: ReturnType<typeof build>['graph']) => graph.routes[0]!.rules.map((r) => r.backends.map((b) => b.problem?.reason ?? b.tls?.policy ?? 'plain'));

describe('graph: BackendTLSPolicy', () => {
  it('a valid policy: Accepted and ResolvedRefs per Gateway, the backend carries its TLS settings, the route resolves', () => {
    const { graph, find, policy } = build(...base(), withValidation(backendTLSPolicy('app', 'tls', [{ name: 'svc' }]), caRefs('ca')));
    expect(policy('tls')).to.deep.equal({ Accepted: 'True/Accepted', ResolvedRefs: 'True/ResolvedRefs' });
    expect(find('BackendTLSPolicy', 'app', 'tls')!.ancestors![0]!.ancestorRef).to.deep.equal({ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'app', name: 'gw' });
    expect(backendsOf(graph)).to.deep.equal([['BackendTLSPolicy/app/tls'], ['BackendTLSPolicy/app/tls'], ['plain']]);
    const tls = graph.routes[0]!.rules[0]!.backends[0]!.tls!;
    expect(tls.serverName).to.equal('svc.app.svc');
    expect(tls.trust).to.not.equal('System');
    expect((tls.trust as { pem: string }).pem).to.contain('BEGIN CERTIFICATE');
    expect(conds(find('HTTPRoute', 'app', 'r')!.parents![0]!.conditions)).to.include({ Accepted: 'True/Accepted', ResolvedRefs: 'True/ResolvedRefs' });
  });

  it('conflicts: the oldest policy wins a target, then namespace/name; the others are Conflicted', () => {
    const older = withValidation(backendTLSPolicy('app', 'b-old', [{ name: 'svc' }], { creationTimestamp: '2026-01-01T00:00:00Z' }), caRefs('ca'));
    const newer = withValidation(backendTLSPolicy('app', 'a-new', [{ name: 'svc' }], { creationTimestamp: '2026-02-01T00:00:00Z' }), caRefs('ca'));
    const r = build(...base(), newer, older);
    expect(r.policy('b-old')).to.include({ Accepted: 'True/Accepted' });
    expect(r.policy('a-new')).to.include({ Accepted: 'False/Conflicted' });
    expect(r.find('BackendTLSPolicy', 'app', 'a-new')!.ancestors![0]!.conditions[0]!.message).to.contain('BackendTLSPolicy/app/b-old');
    expect(backendsOf(r.graph)[0]).to.deep.equal(['BackendTLSPolicy/app/b-old']);
    // Same timestamp: by namespace/name.
    const same = { creationTimestamp: '2026-01-01T00:00:00Z' };
    const t = build(...base(), withValidation(backendTLSPolicy('app', 'zz', [{ name: 'svc' }], same), caRefs('ca')), withValidation(backendTLSPolicy('app', 'aa', [{ name: 'svc' }], same), caRefs('ca')));
    expect([t.policy('aa').Accepted, t.policy('zz').Accepted]).to.deep.equal(['True/Accepted', 'False/Conflicted']);
  });

  it('sectionName: a policy for a port and one for the whole Service do not conflict; the port\'s own applies to it', () => {
    const whole = withValidation(backendTLSPolicy('app', 'whole', [{ name: 'svc' }], { creationTimestamp: '2026-01-01T00:00:00Z' }), caRefs('ca'));
    const admin = withValidation(backendTLSPolicy('app', 'admin', [{ name: 'svc', sectionName: 'admin' }], { creationTimestamp: '2026-03-01T00:00:00Z' }), caRefs('ca'));
    const r = build(...base(), whole, admin);
    expect(r.policy('whole').Accepted).to.equal('True/Accepted');
    expect(r.policy('admin').Accepted).to.equal('True/Accepted');
    expect(backendsOf(r.graph)).to.deep.equal([['BackendTLSPolicy/app/whole'], ['BackendTLSPolicy/app/admin'], ['plain']]);
  });

  it('CA references: missing ConfigMap, missing key, malformed PEM, wrong kind; all invalid -> NoValidCACertificate, and the backend fails (500)', () => {
    const cases: [object, string][] = [
      [caRefs('missing'), 'False/InvalidCACertificateRef'],
      [caRefs('nokey'), 'False/InvalidCACertificateRef'],
      [caRefs('garbage'), 'False/InvalidCACertificateRef'],
      [caRefs('keyinside'), 'False/InvalidCACertificateRef'],
      [{ hostname: 'svc.app.svc', caCertificateRefs: [{ group: '', kind: 'Secret', name: 'ca' }] }, 'False/InvalidKind'],
    ];
    const bad = [configMap('nokey', { other: ca.cert }), configMap('garbage', { 'ca.crt': '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' }), configMap('keyinside', { 'ca.crt': `${ca.cert}${ca.key}` })];
    for (const [validation, resolved] of cases) {
      const r = build(...base(), ...bad, withValidation(backendTLSPolicy('app', 'tls', [{ name: 'svc' }]), validation));
      expect(r.policy('tls'), JSON.stringify(validation)).to.deep.equal({ Accepted: 'False/NoValidCACertificate', ResolvedRefs: resolved });
      expect(r.find('BackendTLSPolicy', 'app', 'tls')!.ancestors![0]!.conditions[1]!.message).to.contain('spec.validation.caCertificateRefs[0]');
      expect(backendsOf(r.graph)[0]).to.deep.equal(['UnsupportedProtocol']);
    }
    // One valid, one invalid: accepted, refs unresolved, and connections still fail (spec: MUST fail, 5xx).
    const r = build(...base(), withValidation(backendTLSPolicy('app', 'tls', [{ name: 'svc' }]), caRefs('ca', 'missing')));
    expect(r.policy('tls')).to.deep.equal({ Accepted: 'True/Accepted', ResolvedRefs: 'False/InvalidCACertificateRef' });
    expect(backendsOf(r.graph)[0]).to.deep.equal(['UnsupportedProtocol']);
  });

  it('SANs: Hostname (wildcards too) and URI entries are accepted and carried to the backend; an entry that is not valid is Accepted=False/Invalid naming it', () => {
    const sans = [{ type: 'Hostname', hostname: 'other.app.svc' }, { type: 'Hostname', hostname: '*.app.svc' }, { type: 'URI', uri: 'spiffe://cluster.local/ns/app/sa/svc' }];
    const ok = build(...base(), withValidation(backendTLSPolicy('app', 'tls', [{ name: 'svc' }]), { ...caRefs('ca'), subjectAltNames: sans }));
    expect(ok.policy('tls')).to.deep.equal({ Accepted: 'True/Accepted', ResolvedRefs: 'True/ResolvedRefs' });
    const tls = ok.graph.routes[0]!.rules[0]!.backends[0]!.tls!;
    expect(tls.serverName).to.equal('svc.app.svc');
    expect(tls.subjectAltNames).to.deep.equal(sans);
    // Without subjectAltNames nothing is carried (nginx verifies the hostname).
    expect(build(...base(), withValidation(backendTLSPolicy('app', 'tls', [{ name: 'svc' }]), caRefs('ca'))).graph.routes[0]!.rules[0]!.backends[0]!.tls!.subjectAltNames).to.equal(undefined);
    for (const [bad, index] of [
      [[{ type: 'URI', uri: 'no-scheme' }], 0],
      [[{ type: 'Hostname', hostname: 'svc.app.svc' }, { type: 'URI', uri: 'spiffe://x/has space' }], 1],
      [[{ type: 'URI', uri: 'spiffe://x/\u00e9' }], 0],
      [[{ type: 'Hostname', hostname: 'Bad_Name' }], 0],
      [[{ type: 'IPAddress', hostname: '10.0.0.1' }], 0],
    ] as const) {
      const r = build(...base(), withValidation(backendTLSPolicy('app', 'tls', [{ name: 'svc' }]), { ...caRefs('ca'), subjectAltNames: bad }));
      expect(r.policy('tls').Accepted, JSON.stringify(bad)).to.equal('False/Invalid');
      expect(r.find('BackendTLSPolicy', 'app', 'tls')!.ancestors![0]!.conditions[0]!.message).to.contain(`spec.validation.subjectAltNames[${index}]`);
      expect(backendsOf(r.graph)[0]).to.deep.equal(['UnsupportedProtocol']);
    }
  });

  it('wellKnownCACertificates: System is the system store; another value, and options, are Accepted=False/Invalid', () => {
    const sys = build(...base(), backendTLSPolicy('app', 'tls', [{ name: 'svc' }]));
    expect(sys.policy('tls').Accepted).to.equal('True/Accepted');
    expect(sys.graph.routes[0]!.rules[0]!.backends[0]!.tls!.trust).to.equal('System');
    const other = build(...base(), withValidation(backendTLSPolicy('app', 'tls', [{ name: 'svc' }]), { hostname: 'svc.app.svc', wellKnownCACertificates: 'example.com/mine' }));
    expect(other.policy('tls').Accepted).to.equal('False/Invalid');
    const options = build(...base(), withValidation(backendTLSPolicy('app', 'tls', [{ name: 'svc' }]), caRefs('ca'), { options: { 'example.com/min-version': '1.3' } }));
    expect(options.policy('tls').Accepted).to.equal('False/Invalid');
    expect(options.find('BackendTLSPolicy', 'app', 'tls')!.ancestors![0]!.conditions[0]!.message).to.contain('spec.options["example.com/min-version"]');
  });

  it('stream routes: TCPRoute reaches a policied Service over verified TLS; UDPRoute fails closed; a passthrough TLSRoute is refused', () => {
    const streamConf = (...objects: (KubeObject | KubeObject[])[]) => {
      const { config, graph } = buildConfiguration(storeOf(gatewayClass(), ...objects).snapshot(), opts);
      const all = desiredStatuses(graph, opts, { ok: true, reason: 'Programmed', message: '' });
      return { stream: config.files['stream.conf'] ?? '', find: (kind: string, name: string) => all.find((d) => d.kind === kind && d.name === name) };
    };
    const policy = backendTLSPolicy('app', 'tls', [{ name: 'svc' }]);
    let r = streamConf(gateway('app', 'gw', [{ name: 'tcp', protocol: 'TCP', port: 9000 }]), service('app', 'svc'), policy, otherRoute('TCPRoute', 'app', 't'));
    expect(conds(r.find('TCPRoute', 't')?.parents?.[0]?.conditions)).to.include({ Accepted: 'True/Accepted', ResolvedRefs: 'True/ResolvedRefs' });
    expect(r.stream).to.match(/proxy_ssl on;[\s\S]*proxy_ssl_name "[^"]+";[\s\S]*proxy_ssl_verify on;[\s\S]*proxy_ssl_trusted_certificate "[^"]+";/);

    r = streamConf(gateway('app', 'gw', [{ name: 'udp', protocol: 'UDP', port: 9000 }]), service('app', 'svc'), policy, otherRoute('UDPRoute', 'app', 'u'));
    expect(conds(r.find('UDPRoute', 'u')?.parents?.[0]?.conditions).ResolvedRefs).to.equal('False/UnsupportedProtocol');
    expect(r.stream).to.not.include('proxy_ssl on');

    const passthrough = gateway('app', 'gw', [{ name: 'tls', protocol: 'TLS', port: 9443, tls: { mode: 'Passthrough' } }]);
    r = streamConf(passthrough, service('app', 'svc'), policy, otherRoute('TLSRoute', 'app', 'p', { hostnames: ['p.example.com'] }));
    const accepted = (r.find('TLSRoute', 'p')?.parents?.[0]?.conditions ?? []).find((c: any) => c.type === 'Accepted');
    expect(accepted).to.include({ status: 'False' });
    expect(accepted?.message).to.include('passthrough listener cannot originate TLS');
    expect(r.stream).to.not.include('proxy_ssl on');
  });

  it('a policy targeting a Service no route of ours uses gets no status from us; cluster mode clears a stale entry', () => {
    const p = backendTLSPolicy('app', 'tls', [{ name: 'unused' }]);
    expect(build(...base(), service('app', 'unused'), p).find('BackendTLSPolicy', 'app', 'tls')).to.equal(undefined);
    p.status = { ancestors: [{ ancestorRef: { name: 'gw' }, controllerName: CONTROLLER, conditions: [] }] };
    const store = storeOf(gatewayClass(), ...base(), p);
    expect(staleRouteStatuses(store, buildGraph(store.snapshot(), opts), CONTROLLER)).to.deep.include({ kind: 'BackendTLSPolicy', namespace: 'app', name: 'tls', ancestors: [] });
  });

  it('a policy in another namespace does not apply to a Service of the same name', () => {
    expect(backendsOf(build(...base(), backendTLSPolicy('elsewhere', 'tls', [{ name: 'svc' }])).graph)).to.deep.equal([['plain'], ['plain'], ['plain']]);
  });
});

describe('model: proxy_ssl_* for backends a BackendTLSPolicy protects', () => {
  const client = issue(makeCA('client CA'), 'gw', {}, { client: true });
  const gwWithClient = (name: string) => gateway('app', name, [{}], { tls: { backend: { clientCertificateRef: { name: 'client' } } } });

  it('https upstream, SNI and verified name, CA file beside the certificates, and the Gateway\'s client certificate', () => {
    const { graph } = build(...base(), tlsSecret('app', 'client', client), withValidation(backendTLSPolicy('app', 'tls', [{ name: 'svc', sectionName: 'http' }]), caRefs('ca')));
    const plainConf = renderConfig(buildHttpModel(graph)).files['http.conf']!;
    expect(plainConf).to.match(/proxy_pass https:\/\/wg_u_[0-9a-f]{16}\$request_uri;/).and.match(/proxy_pass http:\/\/wg_u_[0-9a-f]{16}\$request_uri;/);
    expect(plainConf).to.contain('proxy_ssl_name "svc.app.svc";').and.contain('proxy_ssl_verify on;').and.contain('proxy_ssl_verify_depth 4;');
    expect(plainConf).to.not.contain('proxy_ssl_certificate '); // this Gateway has no spec.tls.backend
    const withClient = build(gwWithClient('gw'), twoPortService(), service('app', 'plain'), configMap('ca', { 'ca.crt': ca.cert }), tlsSecret('app', 'client', client),
      withValidation(backendTLSPolicy('app', 'tls', [{ name: 'svc' }]), caRefs('ca')), httpRoute('app', 'r', { rules: [{ backendRefs: [{ name: 'svc', port: 80 }] }] }));
    const model = buildHttpModel(withClient.graph);
    const target = model.servers.flatMap((s) => serverTargets(s)).find((t) => t.proxySsl)!;
    const caFile = model.certificates.find((c) => c.pem.includes(ca.cert.trim().split('\n')[1]!))!;
    expect(target.proxySsl!.trustedCertificate).to.equal(`"/etc/waygate/config/certs/${caFile.name}"`);
    const clientFile = model.certificates.find((c) => c.pem.includes(client.key.trim().split('\n')[1]!))!;
    expect(target.proxySsl!.certificate).to.equal(`"/etc/waygate/config/certs/${clientFile.name}"`);
    expect(target.proxyPass).to.match(/^https:\/\/wg_u_[0-9a-f]{16}\$request_uri$/);
  });

  it('two Gateways with different client certificates never share an upstream (idle connections and TLS sessions are per upstream)', () => {
    const other = issue(makeCA('other client CA'), 'gw2', {}, { client: true });
    const gw2 = gateway('app', 'gw2', [{}], { tls: { backend: { clientCertificateRef: { name: 'client2' } } } });
    const route = httpRoute('app', 'r', { parentRefs: [{ name: 'gw' }, { name: 'gw2' }], rules: [{ backendRefs: [{ name: 'svc', port: 80 }] }] });
    const { graph } = build(gwWithClient('gw'), gw2, twoPortService(), configMap('ca', { 'ca.crt': ca.cert }), tlsSecret('app', 'client', client), tlsSecret('app', 'client2', other),
      withValidation(backendTLSPolicy('app', 'tls', [{ name: 'svc' }]), caRefs('ca')), route);
    const model = buildHttpModel(graph);
    const byGateway = model.servers.map((s) => [s.gateway, serverTargets(s).map((t) => t.upstream)]);
    expect(new Set(model.upstreams.map((u) => u.name)).size).to.equal(2);
    expect(byGateway.map(([g, names]) => [g, names!.length])).to.deep.equal([['"app/gw"', 1], ['"app/gw2"', 1]]);
    expect(byGateway[0]![1]![0]).to.not.equal(byGateway[1]![1]![0]);
  });

  it('one rule whose backends need different TLS settings is not served, and its route says why', () => {
    const route = httpRoute('app', 'r', { rules: [{ backendRefs: [{ name: 'svc', port: 80 }, { name: 'plain', port: 80 }] }] });
    const { graph } = build(gateway('app', 'gw'), twoPortService(), service('app', 'plain'), backendTLSPolicy('app', 'tls', [{ name: 'svc' }]), route);
    const model = buildHttpModel(graph);
    expect(model.problems.map((p) => p.field)).to.deep.equal(['spec.rules[0].backendRefs']);
    expect(model.problems[0]!.message).to.contain('different TLS settings');
    expect(model.upstreams).to.deep.equal([]);
  });
});

describe('model: the agent\'s TLS hop for policies with subjectAltNames', () => {
  const client = issue(makeCA('hop client CA'), 'gw', {}, { client: true });
  const sans = [{ type: 'URI', uri: 'spiffe://cluster.local/ns/app/sa/svc' }, { type: 'Hostname', hostname: 'svc.app.svc' }];
  const sanPolicy = (name = 'tls', validation: object = { ...caRefs('ca'), subjectAltNames: sans }) => withValidation(backendTLSPolicy('app', name, [{ name: 'svc' }]), validation);
  const opts = { certDir: '/cfg/certs', socketDir: '/run/wg' };
  const gwWithClient = (name: string) => gateway('app', name, [{}], { tls: { backend: { clientCertificateRef: { name: 'client' } } } });
  /** svc:80 with two endpoints; rules 0 and 1 both to svc:80, rule 2 to the plain Service. */
  const objects = (...extra: KubeObject[]) => [gwWithClient('gw'), service('app', 'svc', 80, ['10.0.0.1:8443', '10.0.0.2:8443']), service('app', 'plain'), configMap('ca', { 'ca.crt': ca.cert }), tlsSecret('app', 'client', client),
    httpRoute('app', 'r', { rules: [
      { backendRefs: [{ name: 'svc', port: 80 }] },
      { matches: [{ path: { type: 'PathPrefix', value: '/again' } }], backendRefs: [{ name: 'svc', port: 80 }] },
      { matches: [{ path: { type: 'PathPrefix', value: '/plain' } }], backendRefs: [{ name: 'plain', port: 80 }] },
    ] }), ...extra];

  it('one unix socket per endpoint as the upstream servers, plain HTTP to them, no proxy_ssl_*; the manifest carries the settings and file paths', () => {
    const { graph } = build(...objects(sanPolicy()));
    const model = buildHttpModel(graph, opts);
    const config = renderConfig(model);
    const http = config.files['http.conf']!;
    expect(http).to.not.contain('proxy_ssl');
    // The upstream's peers (peers.txt, pushed by the agent): the hop's sockets.
    const name = serverTargets(model.servers[0]!).find((t) => t.id === `${R}_0_c0`)!.upstream!;
    expect(config.files['peers.txt']).to.match(new RegExp(`upstream ${name}\n${'unix:/run/wg/wg-o-[0-9a-f]{16}\\.sock 50\n'.repeat(2)}`));
    expect(http).to.contain(`proxy_pass http://${name}$request_uri;`);
    const manifest = JSON.parse(config.files['tls-origin.json']!);
    const caFile = model.certificates.find((c) => c.pem.includes(ca.cert.trim().split('\n')[1]!))!;
    const clientFile = model.certificates.find((c) => c.pem.includes(client.key.trim().split('\n')[1]!))!;
    expect(manifest.version).to.equal(1);
    // Two endpoints, each once: the second rule to the same Service shares the sockets.
    expect(manifest.origins.map((o: any) => o.address)).to.have.members(['10.0.0.1:8443', '10.0.0.2:8443']);
    for (const o of manifest.origins) {
      expect(o).to.deep.include({ serverName: 'svc.app.svc', ca: { file: `/cfg/certs/${caFile.name}` }, subjectAltNames: sans, clientCertificate: `/cfg/certs/${clientFile.name}`, alpn: ['http/1.1'], source: 'BackendTLSPolicy/app/tls' });
      expect(config.files['peers.txt']).to.contain(`unix:${o.socket} 50\n`);
    }
    expect(config.files['tls-origin.json']).to.not.contain('BEGIN');
    expect(config.certificates.map((c) => c.name)).to.include.members([caFile.name, clientFile.name]);
    // Deterministic, and no manifest without a hop.
    expect(renderConfig(buildHttpModel(build(...objects(sanPolicy())).graph, opts)).files['tls-origin.json']).to.equal(config.files['tls-origin.json']);
    expect(renderConfig(buildHttpModel(build(...objects(withValidation(backendTLSPolicy('app', 'tls', [{ name: 'svc' }]), caRefs('ca')))).graph, opts)).files).to.not.have.property('tls-origin.json');
  });

  it('socket names stand for the settings: another SAN list, CA, client certificate or endpoint is another socket; the same settings keep the name', () => {
    const sockets = (...extra: KubeObject[]) => JSON.parse(renderConfig(buildHttpModel(build(...objects(...extra)).graph, opts)).files['tls-origin.json']!).origins.map((o: any) => o.socket).sort();
    const first = sockets(sanPolicy());
    expect(sockets(sanPolicy())).to.deep.equal(first);
    expect(sockets(sanPolicy('tls', { ...caRefs('ca'), subjectAltNames: [sans[0]] }))).to.not.have.members(first);
    expect(sockets(sanPolicy('tls', { hostname: 'svc.app.svc', wellKnownCACertificates: 'System', subjectAltNames: sans }))).to.not.have.members(first);
    const noClient = JSON.parse(renderConfig(buildHttpModel(build(gateway('app', 'gw'), ...objects(sanPolicy()).slice(1)).graph, opts)).files['tls-origin.json']!);
    expect(noClient.origins.map((o: any) => o.socket)).to.not.have.members(first);
    expect(noClient.origins[0]).to.not.have.property('clientCertificate');
    expect(first.every((s: string) => /^\/run\/wg\/wg-o-[0-9a-f]{16}\.sock$/.test(s))).to.equal(true);
  });

  it('System trust: the manifest says System (the agent loads the system store)', () => {
    const manifest = JSON.parse(renderConfig(buildHttpModel(build(...objects(sanPolicy('tls', { hostname: 'svc.app.svc', wellKnownCACertificates: 'System', subjectAltNames: sans }))).graph, opts)).files['tls-origin.json']!);
    expect(manifest.origins[0].ca).to.equal('System');
  });

  it('stream: a TCPRoute backend with SANs goes through the hop (no ALPN, no proxy_ssl); a passthrough TLSRoute to it is still refused', () => {
    const streamConf = (...objs: (KubeObject | KubeObject[])[]) => {
      const { config, graph } = buildConfiguration(storeOf(gatewayClass(), ...objs).snapshot(), { ...graphOptions, build: opts });
      const all = desiredStatuses(graph, graphOptions, { ok: true, reason: 'Programmed', message: '' });
      return { config, find: (kind: string, name: string) => all.find((d) => d.kind === kind && d.name === name) };
    };
    const policy = withValidation(backendTLSPolicy('app', 'tls', [{ name: 'svc' }]), { hostname: 'svc.app.svc', wellKnownCACertificates: 'System', subjectAltNames: sans });
    let r = streamConf(gateway('app', 'gw', [{ name: 'tcp', protocol: 'TCP', port: 9000 }]), service('app', 'svc'), policy, otherRoute('TCPRoute', 'app', 't'));
    expect(conds(r.find('TCPRoute', 't')?.parents?.[0]?.conditions)).to.include({ Accepted: 'True/Accepted', ResolvedRefs: 'True/ResolvedRefs' });
    const stream = r.config.files['stream.conf']!;
    expect(stream).to.not.contain('proxy_ssl');
    expect(stream).to.match(/server "unix:\/run\/wg\/wg-o-[0-9a-f]{16}\.sock"/);
    const manifest = JSON.parse(r.config.files['tls-origin.json']!);
    expect(manifest.origins).to.have.length(1);
    expect(manifest.origins[0]).to.deep.include({ address: '10.0.0.1:8080', alpn: [], serverName: 'svc.app.svc', ca: 'System' });

    const passthrough = gateway('app', 'gw', [{ name: 'tls', protocol: 'TLS', port: 9443, tls: { mode: 'Passthrough' } }]);
    r = streamConf(passthrough, service('app', 'svc'), policy, otherRoute('TLSRoute', 'app', 'p', { hostnames: ['p.example.com'] }));
    const accepted = (r.find('TLSRoute', 'p')?.parents?.[0]?.conditions ?? []).find((c: any) => c.type === 'Accepted');
    expect(accepted?.message).to.include('passthrough listener cannot originate TLS');
    expect(r.config.files).to.not.have.property('tls-origin.json');
  });
});
