// Gateway spec.tls.frontend in the graph: which listeners a configuration covers (perPort
// over default, HTTPS only), the spec's reasons for CA references that do not resolve
// (the conformance test GatewayInvalidFrontendClientCertificateValidation's table), the
// InsecureFrontendValidationMode Gateway condition, and what reaches the model.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildHttpModel } from '../../operator/src/dataplane/build.ts';
import { parseCABundle } from '../../operator/src/graph/frontend-tls.ts';
import { buildGraph } from '../../operator/src/graph/graph.ts';
import { desiredStatuses } from '../../operator/src/graph/status.ts';
import type { KubeObject } from '../../operator/src/objects.ts';
import { renderConfig } from '../../operator/src/render/render.ts';
import { selfSigned, tlsSecret } from '../support/certs.ts';
import { CONTROLLER, gateway, gatewayClass, namespace, referenceGrant, storeOf } from '../support/objects.ts';

const opts = { controllerName: CONTROLLER, supportedFeatures: [] };
const programmed = { ok: true, reason: 'Programmed', message: 'ok' };

function caPem(): string {
  const dir = mkdtempSync(join(tmpdir(), 'waygate-ca-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=ca', '-keyout', join(dir, 'k'), '-out', join(dir, 'c')], { stdio: 'pipe' });
    return readFileSync(join(dir, 'c'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const CA = caPem();
const bundle = (text: string) => {
  const r = parseCABundle(text);
  if (!('pem' in r)) throw new Error(r.error);
  return r.pem;
};
const cm = (ns: string, name: string, data: Record<string, string | undefined>): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns }, data });
const https = (name: string, port: number, hostname?: string) => ({ name, protocol: 'HTTPS', port, ...(hostname ? { hostname } : {}), tls: { certificateRefs: [{ name: 'server' }] } });
const ref = (name: string, extra: object = {}) => ({ group: '', kind: 'ConfigMap', name, ...extra });

/** The conformance test's Gateway: a valid default, and perPort entries that each fail in one way. */
function invalidConformanceGateway(frontendExtra: object = {}): KubeObject {
  return gateway('infra', 'gw', [https('https', 443), https('https-unresolved', 7443, 'first-example.org'), https('https-invalid-kind', 8443, 'second-example.org'), https('https-grant-missing', 6443, 'fourth-example.org'), { name: 'http', protocol: 'HTTP', port: 80 }], {
    tls: {
      frontend: {
        default: { validation: { caCertificateRefs: [ref('ca')] } },
        perPort: [
          { port: 7443, tls: { validation: { caCertificateRefs: [ref('non-existing-cm')] } } },
          { port: 8443, tls: { validation: { caCertificateRefs: [{ group: '', kind: 'Service', name: 'infra-backend-v2' }] } } },
          { port: 6443, tls: { validation: { caCertificateRefs: [ref('web-backend-cm', { namespace: 'web' })] } } },
          { port: 80, tls: { validation: { caCertificateRefs: [ref('non-existing-cm')] } } },
        ],
        ...frontendExtra,
      },
    },
  });
}

function status(...objects: KubeObject[]) {
  const graph = buildGraph(storeOf(gatewayClass(), namespace('infra'), namespace('web'), tlsSecret('infra', 'server', selfSigned(['example.org'])), ...objects).snapshot(), opts);
  const gw = desiredStatuses(graph, opts, programmed).find((d) => d.kind === 'Gateway')!;
  const listener = (name: string) => {
    const l = (gw.status!.listeners as { name: string; conditions: { type: string; status: string; reason: string; message: string }[] }[]).find((x) => x.name === name)!;
    return Object.fromEntries(l.conditions.map((c) => [c.type, `${c.status}/${c.reason}`]));
  };
  const message = (name: string, type: string) => (gw.status!.listeners as any[]).find((x) => x.name === name).conditions.find((c: any) => c.type === type).message as string;
  return { graph, gw, listener, message, gatewayConds: Object.fromEntries((gw.status!.conditions as any[]).map((c) => [c.type, `${c.status}/${c.reason}`])) };
}

describe('graph: Gateway spec.tls.frontend (client certificate validation)', () => {
  it('reports each invalid caCertificateRef with the spec reason on the listeners of its port; the others are served', () => {
    const s = status(invalidConformanceGateway(), cm('infra', 'ca', { 'ca.crt': CA }), cm('web', 'web-backend-cm', { 'ca.crt': CA }));
    expect(s.listener('https')).to.include({ Accepted: 'True/Accepted', ResolvedRefs: 'True/ResolvedRefs', Programmed: 'True/Programmed' });
    expect(s.listener('https-unresolved')).to.include({ Accepted: 'False/NoValidCACertificate', ResolvedRefs: 'False/InvalidCACertificateRef' });
    expect(s.listener('https-invalid-kind')).to.include({ Accepted: 'False/NoValidCACertificate', ResolvedRefs: 'False/InvalidCACertificateKind' });
    expect(s.listener('https-grant-missing')).to.include({ Accepted: 'False/NoValidCACertificate', ResolvedRefs: 'False/RefNotPermitted' });
    for (const l of ['https-unresolved', 'https-invalid-kind', 'https-grant-missing']) expect(s.listener(l).Programmed).to.match(/^False\//);
    // perPort naming an HTTP port changes nothing there (the spec covers HTTPS listeners)
    expect(s.listener('http')).to.include({ Accepted: 'True/Accepted', ResolvedRefs: 'True/ResolvedRefs' });
    expect(s.message('https-unresolved', 'ResolvedRefs')).to.equal('spec.tls.frontend.perPort[0].tls.validation.caCertificateRefs[0]: ConfigMap infra/non-existing-cm not found');
    expect(s.message('https-invalid-kind', 'ResolvedRefs')).to.contain('spec.tls.frontend.perPort[1].tls.validation.caCertificateRefs[0]: Service is not supported');
    expect(s.message('https-grant-missing', 'ResolvedRefs')).to.contain('perPort[2].tls.validation.caCertificateRefs[0]: ConfigMap web/web-backend-cm is in another namespace');
    expect(s.gatewayConds).to.include({ Accepted: 'True/ListenersNotValid' });
    expect(s.gatewayConds).to.not.have.property('InsecureFrontendValidationMode');
  });

  it('TLS listeners fail closed only when a validation covers their port (the CRD requires default, often without one)', () => {
    const tls = (name: string, port: number) => ({ name, protocol: 'TLS', port, tls: { mode: 'Passthrough' } });
    const validated = { validation: { caCertificateRefs: [ref('ca')] } };
    const s = status(gateway('infra', 'gw', [https('https', 443), tls('pass', 8443), tls('covered', 9443)], { tls: { frontend: { default: {}, perPort: [{ port: 443, tls: validated }, { port: 9443, tls: validated }] } } }), cm('infra', 'ca', { 'ca.crt': CA }));
    expect(s.listener('pass')).to.include({ Accepted: 'True/Accepted', Programmed: 'True/Programmed' });
    expect(s.listener('covered')).to.include({ Accepted: 'False/UnsupportedValue' });
    expect(s.message('covered', 'Accepted')).to.contain('spec.tls.frontend.perPort[1]');
    const d = status(gateway('infra', 'gw', [tls('pass', 8443)], { tls: { frontend: { default: validated } } }), cm('infra', 'ca', { 'ca.crt': CA }));
    expect(d.listener('pass')).to.include({ Accepted: 'False/UnsupportedValue' });
  });

  it('accepts a cross-namespace CA ConfigMap with a ReferenceGrant', () => {
    const s = status(invalidConformanceGateway(), cm('infra', 'ca', { 'ca.crt': CA }), cm('web', 'web-backend-cm', { 'ca.crt': CA }),
      referenceGrant('web', 'rg', [{ kind: 'Gateway', namespace: 'infra' }], [{ kind: 'ConfigMap' }]));
    expect(s.listener('https-grant-missing')).to.include({ Accepted: 'True/Accepted', ResolvedRefs: 'True/ResolvedRefs' });
  });

  it('an invalid default affects only HTTPS listeners without a perPort entry', () => {
    const s = status(gateway('infra', 'gw', [https('https', 443), { name: 'http', protocol: 'HTTP', port: 80 }], { tls: { frontend: { default: { validation: { caCertificateRefs: [ref('does-not-exist')] } } } } }));
    expect(s.listener('https')).to.include({ Accepted: 'False/NoValidCACertificate', ResolvedRefs: 'False/InvalidCACertificateRef' });
    expect(s.listener('http')).to.include({ Accepted: 'True/Accepted', Programmed: 'True/Programmed' });
  });

  it('a ConfigMap without ca.crt, or whose ca.crt holds no certificate, is an InvalidCACertificateRef; its content never reaches the message', () => {
    const key = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n';
    for (const data of [{ 'tls.crt': CA }, { 'ca.crt': key }, { 'ca.crt': '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n' }]) {
      const s = status(gateway('infra', 'gw', [https('https', 443)], { tls: { frontend: { default: { validation: { caCertificateRefs: [ref('ca')] } } } } }), cm('infra', 'ca', data));
      expect(s.listener('https')).to.include({ ResolvedRefs: 'False/InvalidCACertificateRef', Accepted: 'False/NoValidCACertificate' });
      const text = JSON.stringify(s.gw);
      expect(text).to.not.match(/BEGIN|MIGHAgEA|not base64/);
    }
  });

  it('with one valid and one invalid ref: ResolvedRefs False, still accepted and served with the valid CA only', () => {
    const s = status(gateway('infra', 'gw', [https('https', 443)], { tls: { frontend: { default: { validation: { caCertificateRefs: [ref('ca'), ref('missing')] } } } } }), cm('infra', 'ca', { 'ca.crt': CA }));
    expect(s.listener('https')).to.include({ Accepted: 'True/Accepted', ResolvedRefs: 'False/InvalidCACertificateRef', Programmed: 'True/Programmed' });
    const l = s.graph.gateways[0]!.listeners[0]!;
    expect(l.clientValidation?.ca.pem).to.equal(bundle(CA));
  });

  it('InsecureFrontendValidationMode=True (ConfigurationChanged) while some validation allows insecure fallback, naming the field', () => {
    const s = status(gateway('infra', 'gw', [https('https', 443), https('h2', 8443)], { tls: { frontend: { default: { validation: { caCertificateRefs: [ref('ca')] } }, perPort: [{ port: 8443, tls: { validation: { mode: 'AllowInsecureFallback', caCertificateRefs: [ref('ca')] } } }] } } }), cm('infra', 'ca', { 'ca.crt': CA }));
    expect(s.gatewayConds).to.include({ InsecureFrontendValidationMode: 'True/ConfigurationChanged' });
    expect(JSON.stringify(s.gw.status!.conditions)).to.contain('spec.tls.frontend.perPort[0].tls.validation.mode');
    expect(s.graph.gateways[0]!.listeners.map((l) => l.clientValidation?.mode)).to.deep.equal(['AllowValidOnly', 'AllowInsecureFallback']);
  });

  it('renders ssl_verify_client on (with the CA file) on every server of an AllowValidOnly port, optional_no_ca on a fallback port', () => {
    const s = status(gateway('infra', 'gw', [https('a', 443, 'a.example.org'), https('b', 443, 'b.example.org'), https('f', 8443)], { addresses: [{ type: 'IPAddress', value: '127.0.0.9' }], tls: { frontend: { default: { validation: { caCertificateRefs: [ref('ca')] } }, perPort: [{ port: 8443, tls: { validation: { mode: 'AllowInsecureFallback', caCertificateRefs: [ref('ca')] } } }] } } }), cm('infra', 'ca', { 'ca.crt': CA }));
    const model = buildHttpModel(s.graph, { certDir: '/certs' });
    const on443 = model.servers.filter((x) => x.listen.includes(':443'));
    expect(on443.map((x) => x.serverNames[0])).to.have.members(['""', '"a.example.org"', '"b.example.org"']);
    for (const server of on443) expect(server.clientCertificate?.ca).to.match(/^"\/certs\/[0-9a-f]{64}\.pem"$/);
    // Fallback: the certificate is asked for (clients present it), missing or foreign ones are served.
    for (const server of model.servers.filter((x) => x.listen.includes(':8443'))) expect(server.clientCertificate).to.include({ verify: 'optional_no_ca', strict: false });
    const ca = model.certificates.find((c) => on443[0]!.clientCertificate!.ca!.includes(c.name))!;
    expect(ca.pem).to.equal(bundle(CA));
    const conf = renderConfig(model).files['http.conf']!;
    expect(conf.match(/ssl_verify_client on;/g)).to.have.length(3);
    expect(conf.match(/ssl_verify_client optional_no_ca;/g)).to.have.length(1);
  });

  it('parseCABundle keeps certificates only, re-encoded', () => {
    const withKey = `${CA}-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n`;
    const r = parseCABundle(withKey);
    expect('pem' in r && r.pem).to.not.contain('PRIVATE');
    expect(parseCABundle('nothing')).to.deep.equal({ error: 'holds no PEM certificate' });
  });
});
