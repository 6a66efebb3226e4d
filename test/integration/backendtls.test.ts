// BackendTLSPolicy fails closed on a real nginx: until backend TLS is implemented, a route to
// a Service that a policy says must be reached over TLS answers 500 instead of sending the
// request in plain text, while another route on the same host keeps serving; the policy's
// status says why. Through the standalone mode (YAML directory -> agent -> nginx).
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { startEcho, type EchoServer } from '../../examples/echo.ts';
import { defaultControllerName, supportedFeatures } from '../../operator/src/features.ts';
import { startStandalone, type Standalone } from '../../operator/src/modes/standalone.ts';
import { eventually, get } from '../support/http.ts';
import { captureLogger } from '../support/logs.ts';

const ADDRESS = '127.0.0.95';
const PORT = 18195;
const HOST = 'shop.example.com';

const service = (name: string, port: number) => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: web}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${name}-1, namespace: web, labels: {kubernetes.io/service-name: ${name}}}
addressType: IPv4
ports: [{name: http, port: ${port}}]
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
`;

const objectsYaml = (securePort: number, plainPort: number) => `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: waygate}
spec: {controllerName: ${defaultControllerName}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: web}
spec:
  gatewayClassName: waygate
  addresses: [{type: IPAddress, value: ${ADDRESS}}]
  listeners: [{name: http, protocol: HTTP, port: ${PORT}}]
---
${service('secure', securePort)}---
${service('plain', plainPort)}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop, namespace: web}
spec:
  parentRefs: [{name: gw}]
  hostnames: [${HOST}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /secure}}]
    backendRefs: [{name: secure, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /plain}}]
    backendRefs: [{name: plain, port: 80}]
`;

const policyYaml = `apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: secure-tls, namespace: web}
spec:
  targetRefs: [{group: '', kind: Service, name: secure}]
  validation: {hostname: secure.web.svc, wellKnownCACertificates: System}
`;

describe('BackendTLSPolicy on a real nginx: fail closed until backend TLS exists', function () {
  this.timeout(30_000);
  let dir: string;
  let runDir: string;
  let secure: EchoServer;
  let plain: EchoServer;
  let standalone: Standalone;
  const log = captureLogger();
  const answer = (path: string) => get(ADDRESS, PORT, path, { host: HOST }).then((r) => ({ status: r.status, backend: r.backend }), () => ({ status: 0, backend: undefined }));
  const statusOf = (kind: string, name: string): any => {
    const docs = parseAllDocuments(readFileSync(join(runDir, 'status.yaml'), 'utf8')).map((d) => d.toJS());
    return docs.flatMap((d: any) => (Array.isArray(d) ? d : d?.items ?? [d])).find((o: any) => o?.kind === kind && o?.metadata?.name === name)?.status;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'waygate-backendtls-src-'));
    runDir = mkdtempSync(join(tmpdir(), 'waygate-backendtls-run-'));
    secure = await startEcho('secure');
    plain = await startEcho('plain');
    writeFileSync(join(dir, 'objects.yaml'), objectsYaml(secure.port, plain.port));
    standalone = await startStandalone({ dir, runDir, controllerName: defaultControllerName, supportedFeatures, logger: log.logger });
    // Control: without a policy both routes reach their echo backend in plain HTTP.
    await eventually('/secure without a policy', () => answer('/secure'), (r) => r.status === 200);
  });

  after(async () => {
    await standalone?.stop();
    await secure?.close();
    await plain?.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(runDir, { recursive: true, force: true });
  });

  it('a route to the policied Service answers 500 (never 200 in plain text); the other route keeps serving', async () => {
    writeFileSync(join(dir, 'policy.yaml'), policyYaml);
    const refused = await eventually('/secure refused', () => answer('/secure'), (r) => r.status !== 200);
    expect(refused.status).to.equal(500);
    expect(refused.backend).to.equal(undefined); // nginx answered, no echo backend did
    for (let i = 0; i < 20; i++) expect((await answer('/secure/x')).status).to.equal(500);
    const ok = await answer('/plain');
    expect(ok.status).to.equal(200);
    expect(ok.backend).to.equal('plain');
  });

  it('reports it: the policy is not accepted by the Gateway, the route says which backend and why', async () => {
    const policy = await eventually('policy status', async () => statusOf('BackendTLSPolicy', 'secure-tls'), (s) => s?.ancestors?.length > 0);
    expect(policy.ancestors).to.have.length(1);
    expect(policy.ancestors[0].ancestorRef).to.include({ kind: 'Gateway', name: 'gw', namespace: 'web' });
    expect(policy.ancestors[0].conditions[0]).to.include({ type: 'Accepted', status: 'False', reason: 'Invalid' });
    const route = statusOf('HTTPRoute', 'shop');
    const resolved = route.parents[0].conditions.find((c: any) => c.type === 'ResolvedRefs');
    expect(resolved).to.include({ status: 'False', reason: 'UnsupportedProtocol' });
    expect(resolved.message).to.contain('web/secure');
    expect(log.lines.join('\n')).to.contain('BackendTLSPolicy/web/secure-tls: [web/gw] Accepted=False (Invalid: waygate does not support backend TLS yet');
  });

  it('serves the Service again once the policy is removed', async () => {
    unlinkSync(join(dir, 'policy.yaml'));
    const back = await eventually('/secure served again', () => answer('/secure'), (r) => r.status === 200);
    expect(back.backend).to.equal('secure');
  });
});
