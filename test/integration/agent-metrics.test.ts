// The agent's probes and per-route traffic metrics against a real nginx: a configuration
// rendered from Gateway API objects by the operator's pipeline, written as a version, served;
// requests through its routes must show up in /metrics by route, Gateway and status class.
import { expect } from 'chai';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import winston from 'winston';
import { startObservedAgent, type ObservedAgent } from '../../nginx/agent/observability.ts';
import { ConfigWriter } from '../../operator/src/apply/writer.ts';
import { defaultControllerName, supportedFeatures } from '../../operator/src/features.ts';
import { buildConfiguration } from '../../operator/src/pipeline.ts';
import { loadFiles } from '../../operator/src/sources/files.ts';
import { Store } from '../../operator/src/store.ts';
import { freePort } from '../cluster/processes.ts';
import { backend, gateway, gatewayClass, httpRoute, toYaml, writeFiles } from '../support/standalone-yaml.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function get(port: number, path: string, host = 'localhost'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host }, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** The value of one sample line of the exposition text, 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) && want.length === 0) return Number(line.slice(name.length + 1));
    if (!line.startsWith(`${name}{`)) continue;
    const have = line.slice(name.length + 1, line.lastIndexOf('}')).split(/,(?=[a-z_]+=")/);
    if (want.length === have.length && want.every((w) => have.includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

describe('nginx agent: probes and per-route traffic metrics (real nginx)', function () {
  this.timeout(60_000);

  let root: string;
  let observed: ObservedAgent | undefined;
  let echo: Server;
  let gwPort: number;
  const logLines: string[] = [];
  const logger = winston.createLogger({
    level: 'debug',
    format: winston.format.json(),
    transports: [new winston.transports.Stream({ stream: new Writable({ write(c: Buffer, _e, done) { logLines.push(c.toString().trim()); done(); } }) })],
  });

  before(async () => {
    expect(existsSync('/usr/sbin/nginx'), 'the agent runs /usr/sbin/nginx').to.equal(true);
    root = mkdtempSync(join(tmpdir(), 'waygate-agent-metrics-'));
    chmodSync(root, 0o755);
    gwPort = await freePort();
    // The backend: /slow answers after 300 ms, /missing 404, /fail 500, anything else 200.
    echo = createServer((req, res) => {
      const answer = (status: number) => res.writeHead(status, { 'content-type': 'text/plain' }).end(`${status}\n`);
      if (req.url === '/slow') setTimeout(() => answer(200), 300);
      else answer(req.url === '/missing' ? 404 : req.url === '/fail' ? 500 : 200);
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.error(`agent log:\n${logLines.slice(-30).join('\n')}`);
  });

  after(async () => {
    await observed?.stop();
    echo?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('answers /healthz at once, /readyz 503 until nginx serves the first version, then 200 and per-route metrics', async () => {
    const configRoot = join(root, 'config');
    const runDir = join(root, 'run');
    observed = await startObservedAgent({
      configRoot, runDir, healthPort: 0, healthHost: '127.0.0.1', workerProcesses: 1, accessLog: false,
      logger, verifyTimeoutMs: 8000, rescanIntervalMs: 0, defaultMetrics: false,
    });
    const health = observed.health.port;
    expect((await get(health, '/healthz')).status).to.equal(200);
    const before = await get(health, '/readyz');
    expect(before.status).to.equal(503);
    expect(before.body).to.include('no configuration version');

    // Render Gateway API objects with the operator's pipeline and write a version.
    const dead = await freePort(); // nothing listens there: connect() fails, nginx answers 502
    const yamlDir = join(root, 'yaml');
    mkdirSync(yamlDir);
    const echoPort = (echo.address() as { port: number }).port;
    writeFiles(yamlDir, {
      'objects.yaml': toYaml([
        gatewayClass(),
        gateway({ address: '127.0.0.1', port: gwPort }),
        ...backend('web', 'app', echoPort),
        ...backend('web', 'dead', dead),
        httpRoute({ name: 'app', hostnames: ['app.example'] }),
        httpRoute({ name: 'dead', hostnames: ['dead.example'], rules: [{ backendRefs: [{ name: 'dead', port: 80 }] }] }),
      ]),
    });
    const { objects, errors } = loadFiles([yamlDir]);
    expect(errors).to.deep.equal([]);
    const store = new Store();
    for (const o of objects) store.upsert(o);
    const writer = new ConfigWriter(configRoot);
    const { config } = buildConfiguration(store.snapshot(), { controllerName: defaultControllerName, supportedFeatures, build: { certDir: writer.certsDir } });
    const version = writer.write(config);

    const deadline = Date.now() + 15_000;
    while ((await get(health, '/readyz')).status !== 200) {
      if (Date.now() > deadline) throw new Error('/readyz never became ready');
      await sleep(50);
    }

    const sent = { app2xx: 0, app4xx: 0, app5xx: 0, dead: 0, unmatched: 0 };
    for (let i = 0; i < 7; i++) expect((await get(gwPort, '/', 'app.example')).status).to.equal(200), sent.app2xx++;
    expect((await get(gwPort, '/slow', 'app.example')).status).to.equal(200), sent.app2xx++;
    for (let i = 0; i < 3; i++) expect((await get(gwPort, '/missing', 'app.example')).status).to.equal(404), sent.app4xx++;
    for (let i = 0; i < 2; i++) expect((await get(gwPort, '/fail', 'app.example')).status).to.equal(500), sent.app5xx++;
    for (let i = 0; i < 4; i++) expect((await get(gwPort, '/', 'dead.example')).status).to.equal(502), sent.dead++;
    for (let i = 0; i < 2; i++) expect((await get(gwPort, '/', 'nobody.example')).status).to.equal(404), sent.unmatched++;
    const total = Object.values(sent).reduce((a, b) => a + b, 0);

    // Datagrams are asynchronous: wait until all of them are counted (or time out and compare).
    let text = '';
    for (const until = Date.now() + 5000; Date.now() < until; await sleep(50)) {
      text = (await get(health, '/metrics')).body;
      if (observed.receiver.counts.ok >= total) break;
    }
    const app = { kind: 'HTTPRoute', namespace: 'web', route: 'web/app', gateway: 'web/gw' };
    const deadRoute = { kind: 'HTTPRoute', namespace: 'web', route: 'web/dead', gateway: 'web/gw' };
    expect(sample(text, 'waygate_http_requests_total', { ...app, code: '2xx' })).to.equal(sent.app2xx);
    expect(sample(text, 'waygate_http_requests_total', { ...app, code: '4xx' })).to.equal(sent.app4xx);
    expect(sample(text, 'waygate_http_requests_total', { ...app, code: '5xx' })).to.equal(sent.app5xx);
    expect(sample(text, 'waygate_http_request_duration_seconds_count', app)).to.equal(sent.app2xx + sent.app4xx + sent.app5xx);
    // Only /slow (300 ms) is above 0.25 s.
    expect(sample(text, 'waygate_http_request_duration_seconds_bucket', { ...app, le: '0.25' })).to.equal(sent.app2xx + sent.app4xx + sent.app5xx - 1);
    expect(sample(text, 'waygate_http_request_duration_seconds_bucket', { ...app, le: '+Inf' })).to.equal(sent.app2xx + sent.app4xx + sent.app5xx);
    expect(sample(text, 'waygate_http_request_duration_seconds_sum', app)).to.be.at.least(0.3);
    expect(sample(text, 'waygate_http_upstream_errors_total', app)).to.equal(0); // a backend's 500 is its answer, not an upstream error
    expect(sample(text, 'waygate_http_requests_total', { ...deadRoute, code: '5xx' })).to.equal(sent.dead);
    expect(sample(text, 'waygate_http_upstream_errors_total', deadRoute)).to.equal(sent.dead);
    expect(sample(text, 'waygate_http_requests_total', { kind: '', namespace: '', route: '', gateway: 'web/gw', code: '4xx' })).to.equal(sent.unmatched);
    expect(sample(text, 'waygate_nginx_config_version', {})).to.equal(Number(version));
    expect(sample(text, 'waygate_nginx_reloads_total', { result: 'ok' })).to.be.at.least(1);
    expect(sample(text, 'waygate_traffic_log_datagrams', { result: 'malformed' })).to.equal(0);
    expect(observed.receiver.counts.ok).to.equal(total);
  });

  it('drops datagrams without its tag (another local process cannot forge traffic)', async () => {
    const { createSocket } = await import('node:dgram');
    const s = createSocket('udp4');
    const forged = '<190>Nov 28 10:00:00 wgdeadbeef: HTTPRoute/web/app\tweb/gw\t200\t0.001\t';
    await new Promise<void>((r) => s.send(forged, observed!.receiver.target.port, '127.0.0.1', () => r()));
    s.close();
    for (const until = Date.now() + 2000; observed!.receiver.counts.foreign === 0 && Date.now() < until; ) await sleep(20);
    expect(observed!.receiver.counts.foreign).to.equal(1);
  });
});
