// The verdict of the conformance run inside `npm test` (test/conformance/judge.ts), on
// crafted reports: each way a run can be bad must fail it, without running the suite.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { judgeReport } from '../conformance/judge.ts';
import { servedProfiles } from '../conformance/profiles.ts';
import { parseReport, type ProfileResult, type Report, type Stats } from '../conformance/results.ts';

const HTTP = 'GATEWAY-HTTP';

function stats(s: Partial<Stats> = {}): Stats {
  return { result: 'success', passed: 36, failed: 0, skipped: 0, failedTests: [], skippedTests: [], ...s };
}
function profile(name: string, core: Partial<Stats> = {}): ProfileResult {
  return { name, summary: '', core: stats(core), extended: { ...stats({ passed: 11 }), supportedFeatures: [], unsupportedFeatures: [] } };
}
function report(...profiles: ProfileResult[]): Report {
  return {
    gatewayAPIVersion: 'v1.7.0', gatewayAPIChannel: 'experimental', date: '2026-11-28T00:00:00Z',
    implementation: { organization: 'waygate', project: 'waygate', url: '', version: '0.1.0', contact: [] },
    profiles,
  };
}

describe('conformance: judging a run (judgeReport)', () => {
  it('passes a run whose requested profile passed every core test and whose harness exited 0', () => {
    expect(judgeReport(report(profile(HTTP)), 0, [HTTP])).to.deep.equal([]);
    expect(judgeReport(report(profile(HTTP), profile('GATEWAY-GRPC')), 0, [HTTP, 'GATEWAY-GRPC'])).to.deep.equal([]);
  });

  it('passes the committed report as parsed from its YAML (statistics nested as the harness writes them)', () => {
    const profiles = [...servedProfiles];
    const text = readFileSync(join(import.meta.dirname, '..', '..', 'conformance', `report-${profiles.join('+')}.yaml`), 'utf8');
    expect(judgeReport(parseReport(text), 0, profiles)).to.deep.equal([]);
  });

  it('fails a failed core test, named, from a report as the harness writes it', () => {
    const text = `apiVersion: gateway.networking.k8s.io/v1
kind: ConformanceReport
profiles:
- name: ${HTTP}
  core:
    result: failure
    failedTests: [HTTPRouteSimpleSameNamespace]
    statistics: { Failed: 1, Passed: 35, Skipped: 0 }
`;
    expect(judgeReport(parseReport(text), 1, [HTTP])).to.deep.equal([
      'the harness exited with code 1',
      `${HTTP}: core result is "failure", not "success"`,
      `${HTTP}: 1 core test(s) failed: HTTPRouteSimpleSameNamespace`,
    ]);
  });

  it('fails a failed core test even when the result and the exit code say success', () => {
    expect(judgeReport(report(profile(HTTP, { failed: 1, passed: 35, failedTests: ['HTTPRouteMatching'] })), 0, [HTTP])).to.deep.equal([`${HTTP}: 1 core test(s) failed: HTTPRouteMatching`]);
    expect(judgeReport(report(profile(HTTP, { failed: 2 })), 0, [HTTP])).to.deep.equal([`${HTTP}: 2 core test(s) failed: (not named)`]);
  });

  it('fails a skipped core test: every core test must run', () => {
    expect(judgeReport(report(profile(HTTP, { skipped: 1, passed: 35, skippedTests: ['GatewayInvalidTLSConfiguration'] })), 0, [HTTP])).to.deep.equal([`${HTTP}: 1 core test(s) skipped: GatewayInvalidTLSConfiguration`]);
  });

  it('fails a core result other than "success" (partial, or a report it cannot read)', () => {
    expect(judgeReport(report(profile(HTTP, { result: 'partial' })), 0, [HTTP])).to.deep.equal([`${HTTP}: core result is "partial", not "success"`]);
    expect(judgeReport(report(profile(HTTP, { result: 'unknown' })), 0, [HTTP])).to.deep.equal([`${HTTP}: core result is "unknown", not "success"`]);
  });

  it('fails a profile in which no core test passed', () => {
    expect(judgeReport(report(profile(HTTP, { passed: 0 })), 0, [HTTP])).to.deep.equal([`${HTTP}: no core test passed`]);
  });

  it('fails a report without a requested profile', () => {
    expect(judgeReport(report(), 0, [HTTP])).to.deep.equal([`${HTTP}: missing from the report (it has no profile)`]);
    expect(judgeReport(report(profile(HTTP)), 0, [HTTP, 'GATEWAY-GRPC'])).to.deep.equal(['GATEWAY-GRPC: missing from the report (it has GATEWAY-HTTP)']);
  });

  it('fails a report with a profile that was not requested, or one profile twice', () => {
    expect(judgeReport(report(profile(HTTP), profile('GATEWAY-TLS')), 0, [HTTP])).to.deep.equal(['GATEWAY-TLS: in the report but not requested']);
    expect(judgeReport(report(profile(HTTP), profile(HTTP)), 0, [HTTP])).to.deep.equal([`${HTTP}: 2 entries in the report`]);
  });

  it('fails a non-zero exit code even with a perfect report', () => {
    expect(judgeReport(report(profile(HTTP)), 2, [HTTP])).to.deep.equal(['the harness exited with code 2']);
  });

  it('fails a run without a report, and a judgement with no profile to judge', () => {
    expect(judgeReport(undefined, 0, [HTTP])).to.deep.equal(['the harness wrote no report']);
    expect(judgeReport(undefined, 137, [HTTP])).to.deep.equal(['the harness exited with code 137', 'the harness wrote no report']);
    expect(judgeReport(report(), 0, [])).to.deep.equal(['no profile was expected, so nothing would be judged']);
  });
});
