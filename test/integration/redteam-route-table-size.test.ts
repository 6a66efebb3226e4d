// RED TEAM (route table): one tenant's HTTPRoute, within the CRD's limits and under etcd's
// 1.5 MiB object size, makes routes.txt ~63 MB (16 hostnames x 40 matches x 32 header/query
// conditions of 1,024 "%" each, every "%" written "%25"): ~47x amplification. The push
// of that document to the shared dict wg_routes (64 MB, two documents kept) fails, and
// every tenant's table routes are affected, not just the attacker's.
//
// Fixed: a route over the table's per-route budget (route-table.ts ROUTE_TABLE_BUDGET) is
// served from server blocks, where nginx's token limits report it on its route; the dict
// never evicts (safe_set). These tests fail without the budget.
import { expect } from 'chai';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { EchoServer } from '../../examples/echo.ts';
import type { Verdict } from '../../nginx/agent/verdict.ts';
import { listComplete, versionDir } from '../../nginx/agent/versions.ts';
import type { Standalone } from '../../operator/src/modes/standalone.ts';
import { freePort } from '../cluster/processes.ts';
import { eventually, get } from '../support/http.ts';
import { captureLogger } from '../support/logs.ts';
import { tempStandalone, type TempStandalone } from '../support/standalone-run.ts';
import { backend, gateway, gatewayClass, httpRoute } from '../support/standalone-yaml.ts';
import { bigRoute } from '../support/big-route.ts';

function scenario(n: number, address: string): void {
describe(`RED TEAM route table: one tenant makes routes.txt too big for everyone (real nginx, ${n} matches)`, function () {
  this.timeout(240_000);
  let run: TempStandalone;
  let port: number;
  let sa: Standalone;
  const e: Record<string, EchoServer> = {};
  const verdicts: Verdict[] = [];
  const log = captureLogger('debug');

  const send = (host: string, path = '/') => get(address, port, path, { host }).then((r) => (r.status === 200 ? r.backend! : String(r.status)), () => 'error');
  const victim = (n: number) => Array.from({ length: n }, (_, i) => httpRoute({ namespace: 'victim', name: `v${i}`, gatewayNamespace: 'infra', hostnames: [`v${i}.victim.example`], rules: [{ backendRefs: [{ name: 'a', port: 80 }] }] }));
  function write(objects: object[]): void {
    run.write('objects.yaml', [
      gatewayClass(), gateway({ address, port, namespace: 'infra', allowedRoutes: { namespaces: { from: 'All' } } }),
      ...backend('victim', 'a', e.a!.port), ...backend('evil', 'e', e.b!.port), ...objects,
    ]);
  }
  const live = () => versionDir(join(run.runDir, 'config'), listComplete(join(run.runDir, 'config')).at(-1)!);

  before(async () => {
    run = tempStandalone('rt-size');
    port = await freePort();
    e.a = await run.echo('a');
    e.b = await run.echo('b');
    write(victim(1));
    sa = await run.start(log.logger);
    sa.agent.onVerdict((v) => verdicts.push(v));
    await eventually('victim served', () => send('v0.victim.example'), (r) => r === 'a');
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.error(`log:\n${log.lines.filter((l) => /warn|error|reject|route table|routes/i.test(l)).slice(-15).map((l) => l.slice(0, 400)).join('\n')}`);
  });

  after(async () => {
    await run?.stop();
  });

  it('after the attacker\'s 1.3-1.4 MB route, the victim\'s existing and new routes are still served', async () => {
    const attacker = bigRoute(n);
    console.log(`      attacker object: ${JSON.stringify(attacker).length} bytes of JSON`);
    write([...victim(1), attacker]);
    // The attacker's route has a status (it is over the table's per-route budget: server blocks, where it is refused or served).
    const conditions = await eventually('the attacker\'s status', async () => (sa.status.get('HTTPRoute/evil/big') as { parents?: { conditions: { type: string; status: string; reason: string }[] }[] } | undefined)?.parents?.[0]?.conditions, (c) => !!c?.length, 60_000, 200);
    console.log(`      attacker: ${conditions!.map((c) => `${c.type}=${c.status} ${c.reason}`).join(', ')}; routes.txt: ${statSync(join(live(), 'routes.txt')).size} bytes`);
    expect(readFileSync(join(live(), 'routes.txt'), 'utf8'), 'not in the route table').not.to.match(/^host .*big\.evil\.example$/m);
    await sa.controller.idle();
    await sa.agent.settled();
    // A victim's route added afterwards (a push, no reload).
    write([...victim(2), attacker]);
    await sa.controller.idle();
    await sa.agent.settled();
    await new Promise((r) => setTimeout(r, 3000));
    await sa.agent.settled();
    const results = { existing: await send('v0.victim.example'), added: await send('v1.victim.example'), attacker: await send('h0.big.evil.example', '/p0') };
    console.log(`      observed: ${JSON.stringify(results)}; verdicts: ${JSON.stringify(verdicts.slice(-3).map((v) => ({ ok: v.ok, reloaded: v.reloaded, error: v.error?.slice(0, 200) })))}`);
    const status = readFileSync(join(run.runDir, 'status.yaml'), 'utf8');
    const at = status.indexOf('name: v1');
    console.log(`      status of victim/v1 (excerpt): ${status.slice(at, at + 1500).split('\n').filter((l) => /type|status:|reason|message/.test(l)).join(' | ').slice(0, 900)}`);
    console.log(`      culprit search: ${log.lines.filter((l) => /culprit|no route is the cause|found \d+ route/.test(l)).map((l) => l.slice(0, 200)).join(' | ')}`);
    expect(results.existing, 'the victim\'s existing route').to.equal('a');
    expect(results.added, 'the victim\'s new route').to.equal('a');
  });
});
}

// 40 matches: a 63 MB document; the push of the NEXT change (anyone's) fails: new routes are not served.
scenario(40, '127.0.0.95');
// 42 matches (1.42 MB object): a 66 MB document; its own push already fails, evicting what the dict held.
scenario(42, '127.0.0.96');
