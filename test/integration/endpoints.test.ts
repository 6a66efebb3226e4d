// Endpoint changes without reloads (issue 14), on a real nginx through the standalone
// pipeline (YAML dir -> controller -> ConfigWriter -> agent -> nginx): EndpointSlices change,
// the version's peers.txt changes and http.conf does not, the agent pushes the peers into
// waygate.peers' shared dict and nginx is not reloaded (the agent's verdicts say so and the
// same workers serve). Traffic reaches exactly the current endpoints, in the weights asked;
// no ready endpoint answers 503, an invalid backend's share 500; an nginx restart re-fills
// the peers.
import { expect } from 'chai';
import { join } from 'node:path';
import type { EchoServer } from '../../examples/echo.ts';
import type { Verdict } from '../../nginx/agent/verdict.ts';
import type { Standalone } from '../../operator/src/modes/standalone.ts';
import { freePort } from '../cluster/processes.ts';
import { eventually, get } from '../support/http.ts';
import { captureLogger } from '../support/logs.ts';
import { tempStandalone, type TempStandalone } from '../support/standalone-run.ts';
import { gateway, gatewayClass, httpRoute, service } from '../support/standalone-yaml.ts';
import { nginxProcesses } from '../support/nginx-processes.ts';

const ADDRESS = '127.0.0.93';
const HOST = 'endpoints.example.com';

/** One EndpointSlice per echo server: Service `name` reaches 127.0.0.1 on each one's port; `ready: false` for the others. */
const slices = (name: string, ready: EchoServer[], notReady: EchoServer[] = []): object[] =>
  [...ready.map((e) => [e, true] as const), ...notReady.map((e) => [e, false] as const)].map(([e, r]) => ({
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `${name}-${e.port}`, namespace: 'web', labels: { 'kubernetes.io/service-name': name } },
    addressType: 'IPv4', ports: [{ name: 'http', port: e.port }], endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: r } }],
  }));

const rule = (path: string, backendRefs: object[]) => ({ matches: [{ path: { type: 'PathPrefix', value: path } }], backendRefs });


describe('endpoint changes without reloads (real nginx, standalone pipeline)', function () {
  this.timeout(120_000);
  let run: TempStandalone;
  let port: number;
  let sa: Standalone;
  let e: EchoServer[];
  const verdicts: Verdict[] = [];
  const log = captureLogger('debug');

  const send = (path: string) => get(ADDRESS, port, path, { host: HOST }).then((r) => ({ status: r.status, backend: r.backend }), () => ({ status: 0, backend: undefined }));
  /** Who answered `n` requests: backend name (or status) -> count. */
  async function tally(path: string, n: number): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const r = await send(path);
      const k = r.status === 200 ? r.backend! : String(r.status);
      out[k] = (out[k] ?? 0) + 1;
    }
    return out;
  }
  /** The directory's objects: Service "svc" with these ready endpoints (and not-ready ones), "a" on e0, "b" on `bEndpoints`. */
  function write(svc: EchoServer[], notReady: EchoServer[] = [], bEndpoints: EchoServer[] = [e[1]!]): void {
    run.write('objects.yaml', [
      gatewayClass(), gateway({ address: ADDRESS, port }),
      service('web', 'svc'), ...slices('svc', svc, notReady),
      service('web', 'a'), ...slices('a', [e[0]!]),
      service('web', 'b'), ...slices('b', bEndpoints),
      httpRoute({ hostnames: [HOST], rules: [
        rule('/svc', [{ name: 'svc', port: 80 }]),
        rule('/weights', [{ name: 'a', port: 80, weight: 3 }, { name: 'b', port: 80, weight: 1 }]),
        rule('/invalid', [{ name: 'svc', port: 80, weight: 1 }, { name: 'missing', port: 80, weight: 1 }]),
      ] }),
    ]);
  }
  /** Waits until the controller and agent processed the directory; returns the verdicts since `from`. */
  async function processed(from: number): Promise<Verdict[]> {
    await sa.controller.idle();
    await sa.agent.settled();
    return verdicts.slice(from);
  }

  before(async () => {
    run = tempStandalone('endpoints');
    port = await freePort();
    e = [];
    for (const n of ['e0', 'e1', 'e2', 'e3']) e.push(await run.echo(n));
    write([e[0]!]);
    sa = await run.start(log.logger);
    sa.agent.onVerdict((v) => verdicts.push(v));
    await eventually('served', () => send('/svc'), (r) => r.backend === 'e0');
    await processed(0);
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.error(`log:\n${log.lines.slice(-40).join('\n')}`);
  });

  after(async () => {
    await run?.stop();
  });

  it('endpoints added, then removed: traffic reaches exactly the current ones, with no reload', async () => {
    const before = { verdicts: verdicts.length, nginx: nginxProcesses(run.runDir) };
    write([e[0]!, e[1]!, e[2]!]);
    await eventually('all three answer', () => tally('/svc', 12), (t) => t.e0 > 0 && t.e1 > 0 && t.e2 > 0 && Object.keys(t).length === 3);
    // Round robin over three equal peers: each gets a third (every worker runs its own round).
    const t = await tally('/svc', 60);
    expect(Object.keys(t).sort()).to.deep.equal(['e0', 'e1', 'e2']);
    for (const k of ['e0', 'e1', 'e2']) expect(t[k], k).to.be.within(12, 28);
    write([e[2]!]);
    await eventually('only e2', () => tally('/svc', 10), (x) => x.e2 === 10);
    expect(await tally('/svc', 30)).to.deep.equal({ e2: 30 });
    const since = await processed(before.verdicts);
    expect(since.length, 'the agent judged the new versions').to.be.greaterThan(0);
    expect(since.map((v) => [v.ok, v.reloaded]), 'no reload').to.deep.equal(since.map(() => [true, false]));
    expect(nginxProcesses(run.runDir), 'the same nginx workers').to.deep.equal(before.nginx);
  });

  it('no ready endpoint: 503, and back to 200 once one is ready, with no reload', async () => {
    const before = { verdicts: verdicts.length, nginx: nginxProcesses(run.runDir) };
    write([], [e[2]!]);
    await eventually('503', () => send('/svc'), (r) => r.status === 503);
    expect(await tally('/svc', 10)).to.deep.equal({ 503: 10 });
    write([e[3]!]);
    await eventually('e3', () => send('/svc'), (r) => r.backend === 'e3');
    expect(await tally('/svc', 10)).to.deep.equal({ e3: 10 });
    const since = await processed(before.verdicts);
    expect(since.map((v) => v.reloaded), 'no reload').to.deep.equal(since.map(() => false));
    expect(nginxProcesses(run.runDir)).to.deep.equal(before.nginx);
  });

  it('weights between backendRefs hold, and a backend spreads its weight over its endpoints after a change without reload', async () => {
    const t = await tally('/weights', 200);
    expect(Object.keys(t).sort()).to.deep.equal(['e0', 'e1']);
    expect(t.e0! / 200, 'a has weight 3 of 4').to.be.within(0.65, 0.85);
    const before = { verdicts: verdicts.length, nginx: nginxProcesses(run.runDir) };
    write([e[3]!], [], [e[1]!, e[2]!]);
    await eventually('b on two endpoints', () => tally('/weights', 20), (x) => (x.e2 ?? 0) > 0);
    const u = await tally('/weights', 400);
    expect(Object.keys(u).sort()).to.deep.equal(['e0', 'e1', 'e2']);
    expect(u.e0! / 400, 'a keeps 3 of 4').to.be.within(0.65, 0.85);
    expect(u.e1! / 400, 'b\'s quarter halved').to.be.within(0.06, 0.19);
    expect(u.e2! / 400).to.be.within(0.06, 0.19);
    const since = await processed(before.verdicts);
    expect(since.map((v) => v.reloaded)).to.deep.equal(since.map(() => false));
    expect(nginxProcesses(run.runDir)).to.deep.equal(before.nginx);
  });

  it('an invalid backendRef keeps its 500 share (the valid share reaches the current endpoints)', async () => {
    const t = await tally('/invalid', 200);
    expect(Object.keys(t).sort()).to.deep.equal(['500', 'e3']);
    expect(t['500']! / 200).to.be.within(0.35, 0.65);
  });

  it('a restarted nginx gets the peers again: the current endpoints answer, not 503', async () => {
    const { master, workers } = nginxProcesses(run.runDir);
    for (const pid of [master, ...workers]) process.kill(pid, 'SIGKILL');
    await eventually('a new master', async () => { try { return nginxProcesses(run.runDir).master; } catch { return 0; } }, (m) => m > 0 && m !== master, 30_000);
    await eventually('served again by e3', () => send('/svc'), (r) => r.backend === 'e3', 30_000);
    expect(await tally('/svc', 10)).to.deep.equal({ e3: 10 });
    expect(await tally('/weights', 40)).to.have.all.keys('e0', 'e1', 'e2');
  });
});
