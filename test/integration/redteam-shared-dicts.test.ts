// RED TEAM (shared dicts, session 7), on the agent's real nginx (standalone mode), pushing
// through its status socket:
// - wg_routes kept the served document, the one before it and, after a push that failed half
//   way, every document no later push deleted. Each failure leaked its predecessors until
//   nginx restarted; then a table that had fit was refused too, for every tenant. Now a push
//   first deletes every document but the served one.
// - wg_peers stored with set(), which evicts the least recently used upstreams to make room:
//   a document too big for the dict took a quiet tenant's peers with it (its route answered
//   503). Now safe_set() refuses and evicts nothing (and the operator keeps peers.txt within a
//   budget, peers-budget.ts).
import { expect } from 'chai';
import { join } from 'node:path';
import { runPaths } from '../../nginx/agent/config.ts';
import { pushPeers } from '../../nginx/agent/peers.ts';
import { pushRoutes } from '../../nginx/agent/routes.ts';
import { eventually, get } from '../support/http.ts';
import { freePort } from '../cluster/processes.ts';
import { captureLogger } from '../support/logs.ts';
import { tempStandalone, type TempStandalone } from '../support/standalone-run.ts';
import { backend, gateway, gatewayClass, httpRoute } from '../support/standalone-yaml.ts';

const ADDRESS = '127.0.0.96';

/** A valid routes.txt of about `mib` MiB: one host of Exact rules answering 500. */
function table(mib: number, tag: string): string {
  const lines = ['port wg_t_dicttest', 'host big.example'];
  let size = 0;
  for (let i = 0; size < mib * 1048576; i++) {
    const line = `rule e /${tag}/${i}/${'x'.repeat(40)} HTTPRoute/t/r - 500 -`;
    lines.push(line);
    size += line.length + 1;
  }
  return `${lines.join('\n')}\n`;
}

describe('RED TEAM shared dicts: a refused push leaks nothing and evicts nobody (real nginx)', function () {
  this.timeout(180_000);
  let run: TempStandalone;
  let socket: string;
  let port: number;
  const quiet = () => get(ADDRESS, port, '/', { host: 'quiet.example.com' }).then((r) => r.status, () => 0);
  const push = (doc: string) => pushRoutes(socket, doc, 60_000).then(() => 'ok', (err: Error) => err.message);

  before(async () => {
    run = tempStandalone('shared-dicts');
    port = await freePort();
    const echo = await run.echo('quiet');
    // a server block (a filter): its upstream's peers are in wg_peers, and the table pushes below leave it alone
    run.write('objects.yaml', [gatewayClass(), gateway({ address: ADDRESS, port }), ...backend('web', 'quiet', echo.port),
      httpRoute({ name: 'quiet', hostnames: ['quiet.example.com'], rules: [{ filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-a', value: '1' }] } }], backendRefs: [{ name: 'quiet', port: 80 }] }] })]);
    const sa = await run.start(captureLogger().logger);
    await sa.controller.idle(); // its first version written and loaded: no reload under the pushes
    await sa.agent.settled();
    socket = runPaths(join(run.runDir, 'nginx')).socket;
    await eventually('quiet served', quiet, (s) => s === 200, 20_000);
  });

  after(async () => {
    await run?.stop();
  });

  it('after refused pushes of a table too big for the dict, tables of the size that fitted still fit', async () => {
    const fits = table(20, 'a');
    expect(await push(fits)).to.equal('ok');
    expect(await push(table(20, 'b'))).to.equal('ok');
    const tooBig = table(48, 'c'); // next to a 20 MiB document in the 64 MiB dict
    for (let i = 0; i < 2; i++) expect(await push(tooBig)).to.match(/no memory/);
    expect(await push(fits)).to.equal('ok');
    expect(await push(table(20, 'd'))).to.equal('ok');
  });

  it('a peers document too big for the dict is refused and takes no other upstream\'s peers with it', async () => {
    // 1,100 upstreams of 1,600 peers: ~35 MB for the 32 MiB dict
    const lines: string[] = [];
    for (let u = 0; u < 1100; u++) {
      lines.push(`upstream wg_u_fill${u}`);
      for (let p = 0; p < 1600; p++) lines.push(`10.${u >> 8}.${u & 255}.${p & 255}:${8000 + (p >> 8)} 1`);
    }
    const refused = await pushPeers(socket, `${lines.join('\n')}\n`, false, 60_000).then(() => 'ok', (err: Error) => err.message);
    expect(refused).to.match(/wg_peers is full/);
    expect(await quiet(), 'the quiet route keeps its peers').to.equal(200);
  });
});
