// RED TEAM (route table): while any worker of an older config drains (an in-flight request
// the tenant controls: its own backend trickling a response keeps one up to
// worker_shutdown_timeout, 5 min by default), the agent pushes `next` PLUS every host of the
// previously pushed document (nginx/agent/routes.ts withPreviousHosts). The NEW workers'
// router reads that merged document too: a deleted route (or a host the admin took away
// from the tenant, e.g. with a new, more specific listener) keeps being served by the new
// workers. pushedRoutes is itself the merged document, so the zombie hosts survive every
// push for as long as some old worker is draining (a tenant can keep re-triggering reloads
// by toggling a filter on one of its own routes).
//
// This test asserts the SECURE behaviour: it fails while the finding is open.
import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EchoServer } from '../../examples/echo.ts';
import type { Verdict } from '../../nginx/agent/verdict.ts';
import type { Standalone } from '../../operator/src/modes/standalone.ts';
import { freePort } from '../cluster/processes.ts';
import { eventually, get } from '../support/http.ts';
import { captureLogger } from '../support/logs.ts';
import { tempStandalone, type TempStandalone } from '../support/standalone-run.ts';
import { backend, gateway, gatewayClass, httpRoute } from '../support/standalone-yaml.ts';

const ADDRESS = '127.0.0.97';

describe('RED TEAM route table: a deleted route keeps being served while an old worker drains (real nginx)', function () {
  this.timeout(120_000);
  let run: TempStandalone;
  let port: number;
  let sa: Standalone;
  let a: EchoServer;
  let slow: Server;
  const verdicts: Verdict[] = [];
  const log = captureLogger('debug');
  const send = (host: string, path = '/') => get(ADDRESS, port, path, { host }).then((r) => (r.status === 200 ? r.backend! : String(r.status)), () => 'error');

  const objects = (opts: { gone: boolean; staticValue: string }) => [
    gatewayClass(), gateway({ address: ADDRESS, port }),
    ...backend('web', 'a', a.port), ...backend('web', 'slow', (slow.address() as AddressInfo).port),
    ...(opts.gone ? [httpRoute({ name: 'gone', hostnames: ['gone.example.com'], rules: [{ backendRefs: [{ name: 'a', port: 80 }] }] })] : []),
    // The tenant's own slow backend: a request to it keeps an old worker draining.
    httpRoute({ name: 'slow', hostnames: ['slow.example.com'], rules: [{ backendRefs: [{ name: 'slow', port: 80 }] }] }),
    // Any server-block route: changing it reloads nginx.
    httpRoute({ name: 'static', hostnames: ['static.example.com'], rules: [{ filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-v', value: opts.staticValue }] } }], backendRefs: [{ name: 'a', port: 80 }] }] }),
  ];

  before(async () => {
    run = tempStandalone('rt-zombie');
    port = await freePort();
    a = await run.echo('a');
    // Answers with headers, then a byte every second, never ending.
    slow = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const t = setInterval(() => res.write('.'), 1000);
      res.on('close', () => clearInterval(t));
    });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    run.write('objects.yaml', objects({ gone: true, staticValue: '1' }));
    sa = await run.start(log.logger);
    sa.agent.onVerdict((v) => verdicts.push(v));
    await eventually('gone served', () => send('gone.example.com'), (r) => r === 'a');
  });

  after(async () => {
    slow?.closeAllConnections();
    await new Promise((r) => slow?.close(r));
    await run?.stop();
  });

  it('after the route is deleted, its host is no longer served (the catch-all answers 404)', async () => {
    // An in-flight request on the current workers.
    const inflight = request({ host: ADDRESS, port, path: '/', headers: { host: 'slow.example.com' } });
    inflight.on('response', (res) => res.resume());
    inflight.on('error', () => {});
    inflight.end();
    await new Promise((r) => setTimeout(r, 500));
    // Someone's server-block route changes: a reload; the old worker keeps the slow request.
    const from = verdicts.length;
    run.write('objects.yaml', objects({ gone: true, staticValue: '2' }));
    await eventually('reloaded', async () => verdicts.slice(from).some((v) => v.reloaded), (x) => x, 30_000, 100);
    // The route is deleted (by its owner, or by an admin): a table-only change, no reload.
    run.write('objects.yaml', objects({ gone: false, staticValue: '2' }));
    await sa.controller.idle();
    await sa.agent.settled();
    await new Promise((r) => setTimeout(r, 2000));
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) seen.push(await send('gone.example.com'));
    console.log(`      gone.example.com after deletion: ${seen.join(' ')}`);
    inflight.destroy();
    expect(seen, 'a deleted route must not be served').to.deep.equal(seen.map(() => '404'));
  });
});

// The same hole used against listener isolation: the admin gives *.bank.example its own
// listener (only namespace bank may attach), which takes pay.bank.example away from the
// tenant "evil" that had claimed it on the shared listener. While an old worker drains (evil
// keeps one draining with a slow request to its own backend, after toggling a filter on one
// of its own routes to cause a reload), the merged document keeps evil's exact host
// pay.bank.example, which beats the bank's new *.bank.example entry in waygate.routes.
describe('RED TEAM route table: a host taken away by a more specific listener stays the old tenant\'s while an old worker drains', function () {
  this.timeout(120_000);
  const ADDR = '127.0.0.101';
  let run: TempStandalone;
  let port: number;
  let sa: Standalone;
  let a: EchoServer;
  let b: EchoServer;
  let slow: Server;
  const verdicts: Verdict[] = [];
  const log = captureLogger('debug');
  const send = (host: string) => get(ADDR, port, '/', { host }).then((r) => (r.status === 200 ? r.backend! : String(r.status)), () => 'error');
  const G = 'gateway.networking.k8s.io/v1';

  const objects = (opts: { bankListener: boolean; toggle: string }) => [
    gatewayClass(),
    { apiVersion: G, kind: 'Gateway', metadata: { name: 'gw', namespace: 'infra' }, spec: { gatewayClassName: 'waygate', addresses: [{ type: 'IPAddress', value: ADDR }], listeners: [
      { name: 'shared', protocol: 'HTTP', port, allowedRoutes: { namespaces: { from: 'All' } } },
      ...(opts.bankListener ? [{ name: 'bank', protocol: 'HTTP', port, hostname: '*.bank.example', allowedRoutes: { namespaces: { from: 'Selector', selector: { matchLabels: { 'kubernetes.io/metadata.name': 'bank' } } } } }] : []),
    ] } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bank', labels: { 'kubernetes.io/metadata.name': 'bank' } } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'evil', labels: { 'kubernetes.io/metadata.name': 'evil' } } },
    ...backend('bank', 'a', a.port), ...backend('evil', 'b', b.port), ...backend('evil', 'slow', (slow.address() as AddressInfo).port),
    httpRoute({ namespace: 'evil', name: 'claim', gatewayNamespace: 'infra', hostnames: ['pay.bank.example'], rules: [{ backendRefs: [{ name: 'b', port: 80 }] }] }),
    httpRoute({ namespace: 'evil', name: 'slow', gatewayNamespace: 'infra', hostnames: ['slow.evil.example'], rules: [{ backendRefs: [{ name: 'slow', port: 80 }] }] }),
    httpRoute({ namespace: 'evil', name: 'toggle', gatewayNamespace: 'infra', hostnames: ['toggle.evil.example'], rules: [{ filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-v', value: opts.toggle }] } }], backendRefs: [{ name: 'b', port: 80 }] }] }),
    ...(opts.bankListener ? [httpRoute({ namespace: 'bank', name: 'bank', gatewayNamespace: 'infra', hostnames: [], rules: [{ backendRefs: [{ name: 'a', port: 80 }] }] })] : []),
  ];

  before(async () => {
    run = tempStandalone('rt-zombie-listener');
    port = await freePort();
    a = await run.echo('a');
    b = await run.echo('b');
    slow = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const t = setInterval(() => res.write('.'), 1000);
      res.on('close', () => clearInterval(t));
    });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    run.write('objects.yaml', objects({ bankListener: false, toggle: '1' }));
    sa = await run.start(log.logger);
    sa.agent.onVerdict((v) => verdicts.push(v));
    await eventually('evil claims pay.bank.example on the shared listener', () => send('pay.bank.example'), (r) => r === 'b');
  });

  after(async () => {
    slow?.closeAllConnections();
    await new Promise((r) => slow?.close(r));
    await run?.stop();
  });

  it('once the bank listener exists, pay.bank.example is the bank\'s', async () => {
    const inflight = request({ host: ADDR, port, path: '/', headers: { host: 'slow.evil.example' } });
    inflight.on('response', (res) => res.resume());
    inflight.on('error', () => {});
    inflight.end();
    await new Promise((r) => setTimeout(r, 500));
    const from = verdicts.length;
    run.write('objects.yaml', objects({ bankListener: false, toggle: '2' })); // evil's own change: a reload
    await eventually('reloaded', async () => verdicts.slice(from).some((v) => v.reloaded), (x) => x, 30_000, 100);
    run.write('objects.yaml', objects({ bankListener: true, toggle: '2' })); // the admin isolates *.bank.example
    await sa.controller.idle();
    await sa.agent.settled();
    await new Promise((r) => setTimeout(r, 2000));
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) seen.push(await send('pay.bank.example'));
    const other = await send('www.bank.example');
    console.log(`      pay.bank.example after the bank listener: ${seen.join(' ')}; www.bank.example: ${other}; verdicts: ${JSON.stringify(verdicts.slice(from).map((v) => [v.ok, v.reloaded]))}`);
    inflight.destroy();
    // Control: once the old worker is gone, the agent prunes and the bank gets its host.
    const t0 = Date.now();
    const after = await eventually('the bank after the drain', () => send('pay.bank.example'), (r) => r === 'a', 60_000, 200).catch((err) => (err as Error).message);
    console.log(`      after the in-flight request ends: ${after} (${Date.now() - t0} ms)`);
    expect(other, 'the bank listener works').to.equal('a');
    expect(seen, 'listener isolation').to.deep.equal(seen.map(() => 'a'));
  });
});

