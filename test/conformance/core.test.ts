// The conformance profiles waygate serves (run.ts servedProfiles: GATEWAY-HTTP, -GRPC, -TLS, -TCP, -UDP) inside `npm test`, on its shared test bed: the same
// steps as `npm run conformance` (run.ts). judge.ts decides: the harness exits 0, and the
// report has exactly the requested profiles, each with core result "success" and every core
// test passed (none failed, none skipped). Alone (--no-config:
// .mocharc.json's specs would be added to it):
//   npx mocha --no-config -n import=tsx --extension ts --require test/fixtures.ts --exit test/conformance/core.test.ts
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testbed } from '../testbed.ts';
import { judgeReport } from './judge.ts';
import { coreFailures } from './results.ts';
import { prepare, runSuite, servedProfiles, startNode, startWaygate, Teardown } from './run.ts';
import { failedTests, formatSummary, type SuiteRun } from './summary.ts';

describe(`Gateway API conformance: core tests of ${servedProfiles.join(', ')}`, function () {
  this.timeout(3 * 3600_000); // the suite waits up to a minute or more per failing test
  const log = (m: string) => console.error(`    ${m}`);
  const teardown = new Teardown();
  let dir: string;
  let harness: string;
  let run: SuiteRun | undefined;
  let passed = false;
  const profiles = [...servedProfiles];

  before(async function () {
    this.timeout(45 * 60_000); // a first run builds the harness
    const cluster = testbed();
    dir = mkdtempSync(join(tmpdir(), 'waygate-conformance-'));
    mkdirSync(join(dir, 'run'));
    const prepared = await prepare(log);
    harness = prepared.harness;
    const node = await startNode(cluster, join(dir, 'node'), join(dir, 'run', 'node-agent.log'), log);
    teardown.add('node agent', () => node.stop());
    const waygate = await startWaygate(cluster, join(dir, 'run'), prepared.nginx, 11); // 127.11/16: apart from `npm run conformance`
    teardown.add('waygate', () => waygate.stop());
  });

  after(async () => {
    await teardown.run(log);
    // Logs stay for a failed run; the path is in the assertion message.
    if (passed) rmSync(dir, { recursive: true, force: true });
  });

  it('passes every core test', async () => {
    run = await runSuite({ harness, kubeconfig: testbed().kubeconfig, profiles, dir: join(dir, 'run'), addressBlock: 11 });
    const where = `output ${run.outputPath}, logs in ${join(dir, 'run')}`;
    const problems = judgeReport(run.report, run.exitCode, profiles);
    if (run.output.setup?.outcome === 'FAIL') problems.push(`the suite's Setup failed: ${run.output.setup.detail ?? 'see the output'}`);
    // The first error of each failed core test, from the harness output, for the message.
    const core = new Set(run.report ? coreFailures(run.report) : []);
    const details = failedTests(run).filter((t) => core.has(t.name)).map((t) => `${t.name}: ${t.detail ?? '?'}`);
    expect(problems, `the conformance run failed (${where}):\n  ${[...problems, ...details].join('\n  ')}\n${formatSummary(run)}`).to.deep.equal([]);
    passed = true;
  });
});
