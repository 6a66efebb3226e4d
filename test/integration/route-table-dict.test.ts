// RED TEAM (route table, session 7): the shared dict wg_routes kept the served document, the
// one before it and, after a push that failed half way, every document no later push
// deleted. Each failure leaked its predecessors until nginx restarted; then a table that had
// fit was refused too, for every tenant. Now a push first deletes every document but the
// served one. On the agent's real nginx (standalone mode), pushing through its status socket.
import { expect } from 'chai';
import { join } from 'node:path';
import { runPaths } from '../../nginx/agent/config.ts';
import { pushRoutes } from '../../nginx/agent/routes.ts';
import { captureLogger } from '../support/logs.ts';
import { tempStandalone, type TempStandalone } from '../support/standalone-run.ts';
import { gatewayClass } from '../support/standalone-yaml.ts';

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

describe('RED TEAM route table: a refused push leaks no document of the shared dict (real nginx)', function () {
  this.timeout(180_000);
  let run: TempStandalone;
  let socket: string;
  const push = (doc: string) => pushRoutes(socket, doc, 60_000).then(() => 'ok', (err: Error) => err.message);

  before(async () => {
    run = tempStandalone('route-dict');
    run.write('objects.yaml', [gatewayClass()]);
    const sa = await run.start(captureLogger().logger);
    await sa.controller.idle(); // its first version written and loaded: no reload under the pushes
    await sa.agent.settled();
    socket = runPaths(join(run.runDir, 'nginx')).socket;
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
});
