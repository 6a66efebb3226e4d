// Standalone mode: a YAML directory drives a real nginx through the agent. Edits apply,
// broken files are reported and change nothing else, deleted files take their routes away.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEcho, type EchoServer } from '../../examples/echo.ts';
import { defaultControllerName, supportedFeatures } from '../../operator/src/features.ts';
import { startStandalone, type Standalone } from '../../operator/src/modes/standalone.ts';
import { eventually, get } from '../support/http.ts';
import { captureLogger } from '../support/logs.ts';

const ADDRESS = '127.0.0.91';
const PORT = 18191;

const gatewayYaml = `apiVersion: gateway.networking.k8s.io/v1
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
`;

const backendYaml = (port: number) => `apiVersion: v1
kind: Service
metadata: {name: app, namespace: web}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: app-1, namespace: web, labels: {kubernetes.io/service-name: app}}
addressType: IPv4
ports: [{name: http, port: ${port}}]
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
`;

const routeYaml = (host: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: app, namespace: web}
spec:
  parentRefs: [{name: gw}]
  hostnames: [${host}]
  rules: [{backendRefs: [{name: app, port: 80}]}]
`;

describe('standalone mode (YAML directory -> nginx)', function () {
  this.timeout(30_000);
  let dir: string;
  let runDir: string;
  let echo: EchoServer;
  let standalone: Standalone;
  const log = captureLogger();
  const status = (host: string) => get(ADDRESS, PORT, '/', { host }).then((r) => r.status, () => 0);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'waygate-standalone-src-'));
    runDir = mkdtempSync(join(tmpdir(), 'waygate-standalone-run-'));
    echo = await startEcho('app');
    writeFileSync(join(dir, 'gateway.yaml'), gatewayYaml);
    writeFileSync(join(dir, 'backend.yaml'), backendYaml(echo.port));
    writeFileSync(join(dir, 'route.yaml'), routeYaml('one.example.com'));
    standalone = await startStandalone({ dir, runDir, controllerName: defaultControllerName, supportedFeatures, logger: log.logger });
  });

  after(async () => {
    await standalone?.stop();
    await echo?.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(runDir, { recursive: true, force: true });
  });

  it('serves the routes of the directory', async () => {
    await eventually('one.example.com', () => status('one.example.com'), (s) => s === 200);
    expect(await status('other.example.com')).to.equal(404);
  });

  it('writes every object\'s status to status.yaml', async () => {
    const text = await eventually('status.yaml', async () => readFileSync(join(runDir, 'status.yaml'), 'utf8'), (t) => t.includes('reason: Programmed'));
    expect(text).to.contain('kind: HTTPRoute').and.contain('reason: Accepted');
  });

  it('applies an edit', async () => {
    writeFileSync(join(dir, 'route.yaml'), routeYaml('two.example.com'));
    await eventually('two.example.com', () => status('two.example.com'), (s) => s === 200);
    expect(await status('one.example.com')).to.equal(404);
  });

  it('reports a malformed file and an object the CRDs refuse, and keeps serving the rest', async () => {
    writeFileSync(join(dir, 'broken.yaml'), 'apiVersion: v1\nkind: [unclosed\n');
    writeFileSync(join(dir, 'refused.yaml'), routeYaml('UPPER.example.com').replace('name: app,', 'name: refused,'));
    await eventually('the errors to be logged', async () => log.lines.join(''), (t) => t.includes('broken.yaml') && t.includes('refused.yaml'));
    const logged = log.lines.join('');
    expect(logged).to.match(/broken\.yaml \(document 1\): invalid YAML/);
    expect(logged).to.match(/refused\.yaml \(document 1\) HTTPRoute web\/refused: spec\.hostnames\[0\]/);
    expect(await status('two.example.com')).to.equal(200);
    unlinkSync(join(dir, 'broken.yaml'));
    unlinkSync(join(dir, 'refused.yaml'));
  });

  it('removes the routes of a deleted file', async () => {
    unlinkSync(join(dir, 'route.yaml'));
    await eventually('two.example.com gone', () => status('two.example.com'), (s) => s === 404);
  });
});
