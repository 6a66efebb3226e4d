// Standalone mode: a file written the moment start() returns is served without any further
// change. chokidar counts files that appear during its initial scan as initial, and with
// ignoreInitial they raised no event: such a route waited for the next edit of the directory.
import { expect } from 'chai';
import { request } from 'node:http';
import { createLogger } from '../../operator/src/log.ts';
import { freePort } from '../cluster/processes.ts';
import { tempStandalone, type TempStandalone } from '../support/standalone-run.ts';
import { backend, gatewayClass, httpRoute, toYaml } from '../support/standalone-yaml.ts';

const ADDRESS = '127.0.0.94';

const status = (port: number, host: string) => new Promise<number>((resolve) => {
  const r = request({ host: ADDRESS, port, path: '/', headers: { host }, agent: false }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
  r.on('error', () => resolve(0));
  r.end();
});

describe('standalone: files written right after start', function () {
  this.timeout(60_000);
  let run: TempStandalone | undefined;
  after(async () => {
    await run?.stop();
  });

  it('serves a route file written the moment start() returns, with no later change to the directory', async () => {
    run = tempStandalone('start-race');
    const port = await freePort();
    const echo = await run.echo('app');
    run.write('gateway.yaml', [gatewayClass(), { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: 'web' }, spec: { gatewayClassName: 'waygate', addresses: [{ type: 'IPAddress', value: ADDRESS }], listeners: [{ name: 'http', protocol: 'HTTP', port }] } }]);
    run.write('backend.yaml', backend('web', 'app', echo.port));
    await run.start(createLogger({ level: 'error' }));
    run.write('route.yaml', toYaml([httpRoute({ hostnames: ['late.example.com'] })]));
    // Nothing else changes from here: the route must come from the watcher alone.
    const deadline = Date.now() + 15_000;
    let last = 0;
    while ((last = await status(port, 'late.example.com')) !== 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(last, 'late.example.com within 15 s').to.equal(200);
  });
});
