// Certificate rotation in standalone mode with a real nginx: the listener's Secret file is
// rewritten three times while clients send ~200 requests/s (half on keep-alive connections,
// half on new ones). Every request must succeed without a retry, the served certificate must
// become each new one without a reload (the same nginx workers throughout: a reload would
// close idle keep-alive connections under their clients), key files stay 0600, and no log
// line carries PEM or key material.
import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { cpus } from 'node:os';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { selfSigned, type TestCertificate } from '../support/certs.ts';
import { captureLogger } from '../support/logs.ts';
import { freePort } from '../cluster/processes.ts';
import { nginxProcesses } from '../support/nginx-processes.ts';
import { tempStandalone, type TempStandalone } from '../support/standalone-run.ts';
import { backend, gatewayClass, httpRoute, toYaml } from '../support/standalone-yaml.ts';

const ADDRESS = '127.0.0.65';
const HOST = 'rotate.example.com';

const secretYaml = (c: TestCertificate) => toYaml([{ apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name: 'cert', namespace: 'web' }, stringData: { 'tls.crt': c.cert, 'tls.key': c.key } }]);

function get(port: number, agent: Agent | false): Promise<{ status: number; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: ADDRESS, port, path: '/', servername: HOST, headers: { host: HOST }, rejectUnauthorized: false, agent }, (res) => {
      const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256 ?? '';
      res.resume().on('end', () => resolve({ status: res.statusCode ?? 0, fingerprint }));
    });
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.on('error', (e) => reject(new Error(`${e.message}${req.reusedSocket ? ' (on a reused keep-alive connection)' : ''}`)));
    req.end();
  });
}

describe('certificate rotation under load (standalone, real nginx)', function () {
  this.timeout(120_000);
  let run: TempStandalone;
  const log = captureLogger('debug');

  after(async () => {
    await run?.stop();
  });

  it('switches the certificate three times with zero failed requests and no reload', async () => {
    run = tempStandalone('rotation');
    const port = await freePort();
    const echo = await run.echo('rotated');
    const certs = [0, 1, 2, 3].map(() => selfSigned([HOST]));
    const fp = (c: TestCertificate) => new X509Certificate(c.cert).fingerprint256;
    run.write('gateway.yaml', [gatewayClass(), {
      apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: 'web' },
      spec: { gatewayClassName: 'waygate', addresses: [{ type: 'IPAddress', value: ADDRESS }], listeners: [{ name: 'https', protocol: 'HTTPS', port, tls: { certificateRefs: [{ name: 'cert' }] } }] },
    }]);
    run.write('backend.yaml', backend('web', 'app', echo.port));
    run.write('route.yaml', [httpRoute({ hostnames: [HOST] })]);
    run.write('secret.yaml', secretYaml(certs[0]!));
    const sa = await run.start(log.logger);
    const until = async (what: string, ok: () => Promise<boolean>, ms = 20_000) => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        if (await ok().catch(() => false)) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`timed out waiting for ${what}`);
    };
    await until('first certificate', async () => (await get(port, false)).fingerprint === fp(certs[0]!));

    // Load: every 5 ms one request, alternating keep-alive and new connections (~200/s).
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 8 });
    let sent = 0;
    const failures: string[] = [];
    const seen = new Set<string>();
    const inflight = new Set<Promise<void>>();
    let loading = true;
    const loader = (async () => {
      const started = Date.now();
      while (loading) {
        const mode = sent % 2 ? "keep-alive" : "new connection";
        const p = get(port, sent % 2 ? keepAlive : false).then(
          (r) => { if (r.status !== 200) failures.push(`status ${r.status}`); seen.add(r.fingerprint); },
          (e: Error) => { failures.push(`${e.message} (${mode})`); },
        );
        sent++;
        inflight.add(p);
        void p.finally(() => inflight.delete(p));
        const next = started + sent * 5;
        await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
      }
      await Promise.all(inflight);
    })();

    const t0 = Date.now();
    await sa.controller.idle();
    await sa.agent.settled();
    // The first version's reload is over when the old workers are gone (they leave the list when they start shutting down).
    await until('one generation of nginx workers', async () => nginxProcesses(run.runDir).workers.length === cpus().length); // worker_processes auto
    const nginxBefore = nginxProcesses(run.runDir);
    expect(nginxBefore.workers.length, 'nginx workers found').to.be.greaterThan(0);
    for (const c of certs.slice(1)) {
      await new Promise((r) => setTimeout(r, 1000));
      run.write('secret.yaml', secretYaml(c));
      await until('the new certificate', async () => (await get(port, false)).fingerprint === fp(c));
    }
    await new Promise((r) => setTimeout(r, 1000));
    loading = false;
    await loader;
    keepAlive.destroy();
    const seconds = (Date.now() - t0) / 1000;
    console.log(`      ${sent} requests in ${seconds.toFixed(1)} s (${(sent / seconds).toFixed(0)}/s), ${failures.length} failed, ${seen.size} certificates served`);
    expect(failures, failures.slice(0, 5).join('; ')).to.deep.equal([]);
    expect(nginxProcesses(run.runDir), 'the same nginx master and workers: no reload').to.deep.equal(nginxBefore);
    expect(sent / seconds).to.be.greaterThan(150);
    for (const c of certs) expect(seen.has(fp(c)), 'every certificate was served under load').to.equal(true);
    // Only those (a reused connection shows no certificate: ''), never the config's placeholder.
    const placeholder = new X509Certificate(readFileSync(new URL('../../templates/placeholder-certificate.pem', import.meta.url))).fingerprint256;
    expect([...seen].filter((f) => f !== '' && !certs.some((c) => fp(c) === f)), 'other certificates served').to.deep.equal([]);
    expect(seen.has(placeholder)).to.equal(false);

    // Key material: 0600 files, and never in a log line.
    const certDir = join(run.runDir, 'config', 'certs');
    const files = readdirSync(certDir).filter((f) => f.endsWith('.pem'));
    expect(files.length).to.be.greaterThan(0);
    for (const f of files) expect(statSync(join(certDir, f)).mode & 0o777, f).to.equal(0o600);
    const logs = log.lines.join('\n');
    for (const c of certs) {
      expect(logs).to.not.contain(c.key.split('\n')[1]!);
      expect(logs).to.not.contain(c.cert.split('\n')[1]!);
    }
    expect(logs).to.not.contain('PRIVATE KEY');
  });
});
