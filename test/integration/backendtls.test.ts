// BackendTLSPolicy fails closed on a real nginx: until backend TLS is implemented, a route to
// a Service that a policy says must be reached over TLS answers 500 instead of sending the
// request in plain text, while another route on the same host keeps serving; the policy's
// status says why. Through the standalone mode (YAML directory -> agent -> nginx).
import { expect } from 'chai';
import { readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { eventually, get } from '../support/http.ts';
import { captureLogger } from '../support/logs.ts';
import { tempStandalone, type TempStandalone } from '../support/standalone-run.ts';
import { backend, gateway, gatewayClass, httpRoute } from '../support/standalone-yaml.ts';

const ADDRESS = '127.0.0.95';
const PORT = 18195;
const HOST = 'shop.example.com';

const objects = (securePort: number, plainPort: number) => [
  gatewayClass(),
  gateway({ address: ADDRESS, port: PORT }),
  ...backend('web', 'secure', securePort),
  ...backend('web', 'plain', plainPort),
  httpRoute({
    name: 'shop',
    hostnames: [HOST],
    rules: [
      { matches: [{ path: { type: 'PathPrefix', value: '/secure' } }], backendRefs: [{ name: 'secure', port: 80 }] },
      { matches: [{ path: { type: 'PathPrefix', value: '/plain' } }], backendRefs: [{ name: 'plain', port: 80 }] },
    ],
  }),
];

const policyYaml = `apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: secure-tls, namespace: web}
spec:
  targetRefs: [{group: '', kind: Service, name: secure}]
  validation: {hostname: secure.web.svc, wellKnownCACertificates: System}
`;

describe('BackendTLSPolicy on a real nginx: fail closed until backend TLS exists', function () {
  this.timeout(30_000);
  let run: TempStandalone;
  const log = captureLogger();
  const answer = (path: string) => get(ADDRESS, PORT, path, { host: HOST }).then((r) => ({ status: r.status, backend: r.backend }), () => ({ status: 0, backend: undefined }));
  const statusOf = (kind: string, name: string): any => {
    const docs = parseAllDocuments(readFileSync(join(run.runDir, 'status.yaml'), 'utf8')).map((d) => d.toJS());
    return docs.flatMap((d: any) => (Array.isArray(d) ? d : d?.items ?? [d])).find((o: any) => o?.kind === kind && o?.metadata?.name === name)?.status;
  };

  before(async () => {
    run = tempStandalone('backendtls');
    const secure = await run.echo('secure');
    const plain = await run.echo('plain');
    run.write('objects.yaml', objects(secure.port, plain.port));
    await run.start(log.logger);
    // Control: without a policy both routes reach their echo backend in plain HTTP.
    await eventually('/secure without a policy', () => answer('/secure'), (r) => r.status === 200);
  });

  after(async () => {
    await run?.stop();
  });

  it('a route to the policied Service answers 500 (never 200 in plain text); the other route keeps serving', async () => {
    run.write('policy.yaml', policyYaml);
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
    unlinkSync(join(run.dir, 'policy.yaml'));
    const back = await eventually('/secure served again', () => answer('/secure'), (r) => r.status === 200);
    expect(back.backend).to.equal('secure');
  });
});
