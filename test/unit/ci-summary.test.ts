// test/reporter.cjs and test/ci-summary.cjs (.ci/run's closing line) on real, small mocha
// runs: a spec with a pass, a failure and skips with and without a reason, run by mocha in
// a child process with our reporter, then judged as .ci/run judges `npm test`.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const root = join(import.meta.dirname, '..', '..');
const reporter = join(root, 'test', 'reporter.cjs');
const ciSummary = join(root, 'test', 'ci-summary.cjs');
const mochaBin = join(root, 'node_modules', 'mocha', 'bin', 'mocha.js');
const { summarize } = require(ciSummary) as { summarize: (r: unknown, status: number) => { lines: string[]; exitCode: number } };
const { skipReason } = require(reporter) as { skipReason: (title: string) => string | null };

interface Results { passes: number; failures: number; pending: number; tests: number; failed: { title: string }[]; skipped: { title: string; reason: string | null }[] }

describe('test reporter and the CI summary line', function () {
  this.timeout(30_000);
  let dir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'waygate-reporter-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs mocha on `spec` with our reporter; returns mocha's exit status and the JSON summary. */
  function fakeRun(name: string, spec: string): { status: number; results: Results; file: string } {
    const specFile = join(dir, `${name}.spec.cjs`);
    const file = join(dir, `${name}.results.json`);
    writeFileSync(specFile, spec);
    const r = spawnSync(process.execPath, [mochaBin, '--no-config', '--reporter', reporter, specFile], {
      cwd: dir, encoding: 'utf8', env: { ...process.env, WAYGATE_TEST_RESULTS: file },
    });
    expect(r.error).to.equal(undefined);
    return { status: r.status!, results: JSON.parse(readFileSync(file, 'utf8')) as Results, file };
  }

  /** .ci/run's last step, as a process: its output lines and exit code. */
  function ci(file: string, npmStatus: number): { lines: string[]; status: number } {
    const r = spawnSync(process.execPath, [ciSummary, file, String(npmStatus)], { encoding: 'utf8' });
    return { lines: r.stdout.trim().split('\n'), status: r.status! };
  }

  // The fake specs mark tests pending the way that keeps this file free of skip calls: a
  // test without a function is pending, like one declared with .skip, and mocha reports
  // both alike (a run-time skip too); the reason is in the title or the enclosing describe's.
  it('records skipped tests with the reason their title gives, and fails CI on a skip without one', () => {
    const { status, results, file } = fakeRun('mixed', `
      describe('fake', function () {
        it('passes', function () {});
        it('fails', function () { throw new Error('boom'); });
        it('is skipped without a word');
        it('is skipped because the fake needs one');
        it('is pending (skipped because nginx is missing)');
        it('has no function yet');
      });
      describe('a suite skipped because its fixture is absent', function () {
        it('inherits the reason of its describe');
      });
    `);
    expect(status, 'mocha exits 1 for one failure').to.equal(1);
    expect(results).to.include({ passes: 1, failures: 1, pending: 5 });
    expect(results.failed.map((f) => f.title)).to.deep.equal(['fake fails']);
    expect(results.skipped).to.have.deep.members([
      { title: 'fake is skipped without a word', reason: null },
      { title: 'fake is skipped because the fake needs one', reason: 'the fake needs one' },
      { title: 'fake is pending (skipped because nginx is missing)', reason: 'nginx is missing' },
      { title: 'fake has no function yet', reason: null },
      { title: 'a suite skipped because its fixture is absent inherits the reason of its describe', reason: 'its fixture is absent inherits the reason of its describe' },
    ]);
    const out = ci(file, status);
    expect(out.status).to.equal(1);
    expect(out.lines.at(-1)).to.equal('1 passed, 3 failed, 3 skipped');
    expect(out.lines.slice(0, -1)).to.have.members([
      'skipped without a reason (its title must say "skipped because ..."): fake is skipped without a word',
      'skipped without a reason (its title must say "skipped because ..."): fake has no function yet',
    ]);
  });

  it('passes CI when every skip names its reason', () => {
    const { status, results, file } = fakeRun('explained', `
      describe('fake', function () {
        it('passes', function () {});
        it('is skipped because it is a fake');
      });
    `);
    expect(status).to.equal(0);
    expect(results).to.include({ passes: 1, failures: 0, pending: 1 });
    expect(ci(file, status)).to.deep.equal({ lines: ['1 passed, 0 failed, 1 skipped'], status: 0 });
  });

  it('fails CI on a skip without a reason even when mocha itself passes', () => {
    const { status, file } = fakeRun('silent', `
      describe('fake', function () {
        it('passes', function () {});
        it('is skipped');
      });
    `);
    expect(status, 'mocha does not fail on a pending test').to.equal(0);
    expect(ci(file, status)).to.deep.equal({ lines: ['skipped without a reason (its title must say "skipped because ..."): fake is skipped', '1 passed, 1 failed, 0 skipped'], status: 1 });
  });

  it('fails CI when no test ran, when every test was skipped, or when npm test failed without a failed test', () => {
    expect(summarize(undefined, 1)).to.deep.equal({ lines: ['no test summary was written (see the output above)', '0 passed, 1 failed, 0 skipped'], exitCode: 1 });
    expect(summarize({ passes: 0, failures: 0, pending: 0, tests: 0, skipped: [] }, 0)).to.deep.equal({ lines: ['no test was executed (see the output above)', '0 passed, 1 failed, 0 skipped'], exitCode: 1 });
    expect(summarize({ passes: 0, failures: 0, pending: 1, tests: 1, skipped: [{ title: 't skipped because x', reason: 'x' }] }, 0)).to.deep.equal({ lines: ['no test was executed (see the output above)', '0 passed, 1 failed, 1 skipped'], exitCode: 1 });
    expect(summarize({ passes: 5, failures: 0, pending: 0, tests: 5, skipped: [] }, 2)).to.deep.equal({ lines: ['5 passed, 1 failed, 0 skipped'], exitCode: 1 });
    expect(summarize({ passes: 5, failures: 2, pending: 0, tests: 7, skipped: [] }, 1)).to.deep.equal({ lines: ['5 passed, 2 failed, 0 skipped'], exitCode: 1 });
    // A summary from a reporter that did not list its skips: they cannot show a reason.
    expect(summarize({ passes: 5, failures: 0, pending: 1, tests: 6 }, 0).exitCode).to.equal(1);
  });

  it('reads the reason from "skipped because ..." only', () => {
    expect(skipReason('x (skipped because nginx is missing)')).to.equal('nginx is missing');
    expect(skipReason('x Skipped because: the bed is down')).to.equal('the bed is down');
    expect(skipReason('x skipped because ')).to.equal(null);
    expect(skipReason('x skipped')).to.equal(null);
    expect(skipReason('x (skipped)')).to.equal(null);
  });
});
