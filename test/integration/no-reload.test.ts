// "No reload without change" on a real nginx, through the whole pipeline of standalone mode
// (YAML dir -> store -> controller -> ConfigWriter -> agent -> nginx). Each "nothing
// reloaded" is asserted only after proving the change was processed: the controller's graph
// holds the changed object, or the agent judged the identical version. A control first shows
// that the same measurements do see a reload.
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Verdict } from '../../nginx/agent/verdict.ts';
import { ConfigWriter } from '../../operator/src/apply/writer.ts';
import { buildHttpModel } from '../../operator/src/dataplane/build.ts';
import { defaultControllerName, supportedFeatures } from '../../operator/src/features.ts';
import { buildGraph } from '../../operator/src/graph/graph.ts';
import type { Standalone } from '../../operator/src/modes/standalone.ts';
import { renderConfig } from '../../operator/src/render/render.ts';
import { freePort } from '../cluster/processes.ts';
import { eventually, get } from '../support/http.ts';
import { captureLogger } from '../support/logs.ts';
import { tempStandalone, type TempStandalone } from '../support/standalone-run.ts';
import { appFiles, httpRoute, toYaml, writeFiles } from '../support/standalone-yaml.ts';
import { nginxProcesses } from '../support/nginx-processes.ts';

const ADDRESS = '127.0.0.92';

/** The route under test; its filter keeps it in a server block of http.conf (a plain route is in the route table, which changes without a reload). */
const routeYaml = (host: string, labels: Record<string, string> = {}) => toYaml([httpRoute({ hostnames: [host], labels, rules: [{
  filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-test', value: '1' }] } }], backendRefs: [{ name: 'app', port: 80 }],
}] })]);


const versionsOnDisk = (runDir: string) => readdirSync(join(runDir, 'config', 'versions')).filter((d) => /^\d+$/.test(d)).map(Number).sort((a, b) => a - b);

describe('no reload without change (standalone pipeline, real nginx)', function () {
  this.timeout(30_000);
  let run: TempStandalone;
  let runDir: string;
  let port: number;
  let sa: Standalone;
  const verdicts: Verdict[] = [];
  const log = captureLogger('debug');
  const backend = (host: string) => get(ADDRESS, port, '/', { host }).then((r) => (r.status === 200 ? r.backend : String(r.status)), () => 'down');

  before(async () => {
    run = tempStandalone('noreload');
    runDir = run.runDir;
    port = await freePort();
    const echo = await run.echo('app');
    writeFiles(run.dir, appFiles({ address: ADDRESS, port, echoPort: echo.port, host: 'one.example.com' }));
    sa = await run.start(log.logger);
    sa.agent.onVerdict((v) => verdicts.push(v));
    await eventually('one.example.com served', () => backend('one.example.com'), (b) => b === 'app');
    await sa.controller.idle();
    await sa.agent.settled();
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.error(`log:\n${log.lines.slice(-30).join('\n')}`);
  });

  after(async () => {
    await run?.stop();
  });

  it('(control) a change that renders differently writes a version and reloads nginx: the measurements see a reload', async () => {
    const before = { written: sa.controller.stats.versionsWritten, verdicts: verdicts.length, nginx: nginxProcesses(runDir) };
    expect(before.nginx.workers.length, 'nginx workers found').to.be.greaterThan(0);
    run.write('route.yaml', routeYaml('two.example.com'));
    await eventually('two.example.com served', () => backend('two.example.com'), (b) => b === 'app');
    await sa.controller.idle();
    await sa.agent.settled();
    expect(sa.controller.stats.versionsWritten).to.be.greaterThan(before.written);
    expect(verdicts.slice(before.verdicts).some((v) => v.ok && v.reloaded)).to.equal(true);
    const after = nginxProcesses(runDir);
    expect(after.master).to.equal(before.nginx.master);
    expect(after.workers).to.not.deep.equal(before.nginx.workers);
  });

  it('a label-only change is rebuilt into the graph, then writes no version and nginx is not reloaded', async () => {
    const before = { rebuilds: sa.controller.stats.rebuilds, written: sa.controller.stats.versionsWritten, versions: versionsOnDisk(runDir), verdicts: verdicts.length, nginx: nginxProcesses(runDir) };
    run.write('route.yaml', routeYaml('two.example.com', { noise: '1' }));
    // Processed: the store has the labelled route, and a rebuild after that saw it.
    await eventually('the store has the label', async () => sa.store.get('HTTPRoute', 'web', 'app')?.metadata.labels?.noise, (l) => l === '1');
    await sa.controller.idle();
    const route = sa.controller.graph?.routes.find((r) => r.key === 'HTTPRoute/web/app');
    expect(route?.obj.metadata.labels, 'the graph of the last rebuild has the labelled route').to.deep.equal({ noise: '1' });
    expect(sa.controller.stats.rebuilds).to.be.greaterThan(before.rebuilds);
    // Then: nothing written, nothing judged, the same nginx processes serving.
    await sa.agent.settled();
    expect(sa.controller.stats.versionsWritten).to.equal(before.written);
    expect(versionsOnDisk(runDir)).to.deep.equal(before.versions);
    expect(verdicts.slice(before.verdicts)).to.deep.equal([]);
    expect(nginxProcesses(runDir)).to.deep.equal(before.nginx);
    expect(await backend('two.example.com')).to.equal('app');
  });

  it('an identical config written as a new version (the ConfigWriter) is judged and adopted without a reload', async () => {
    const before = { verdicts: verdicts.length, nginx: nginxProcesses(runDir), live: sa.agent.live };
    const writer = new ConfigWriter(join(runDir, 'config'));
    const config = renderConfig(buildHttpModel(buildGraph(sa.store.snapshot(), { controllerName: defaultControllerName, supportedFeatures }), { certDir: writer.certsDir, frontSockets: true, socketDir: sa.agent.socketDir })); // as the controller builds (controller.ts)
    const live = JSON.parse(readFileSync(join(runDir, 'config', 'versions', before.live!, 'meta.json'), 'utf8')) as { hash: string };
    expect(config.hash, 'the same files as the live version').to.equal(live.hash);
    const version = writer.write(config);
    expect(Number(version)).to.be.greaterThan(Number(before.live));
    // Processed: the agent judged this version and made it live.
    await eventually(`verdict for version ${version}`, async () => verdicts.find((v) => v.version === version), (v) => v !== undefined);
    const v = verdicts.find((x) => x.version === version)!;
    expect(v).to.include({ ok: true, reloaded: false, live: version });
    expect(sa.agent.live).to.equal(version);
    expect(nginxProcesses(runDir)).to.deep.equal(before.nginx);
    expect(await backend('two.example.com')).to.equal('app');
  });
});
