// Whether a conformance run passed, from its report and the harness' exit code alone. Pure,
// so that every rule is unit-tested (test/unit/conformance-judge.test.ts) on crafted
// reports without running the suite.
import type { ProfileResult, Report, Stats } from './results.ts';

/** Why the run fails; empty when it passed. */
export function judgeReport(report: Report | undefined, exitCode: number, expectedProfiles: readonly string[]): string[] {
  const problems: string[] = [];
  if (exitCode !== 0) problems.push(`the harness exited with code ${exitCode}`);
  if (!report) return [...problems, 'the harness wrote no report'];
  if (!expectedProfiles.length) problems.push('no profile was expected, so nothing would be judged');
  for (const name of expectedProfiles) {
    const entries = report.profiles.filter((p) => p.name === name);
    if (entries.length === 0) problems.push(`${name}: missing from the report (it has ${report.profiles.map((p) => p.name).join(', ') || 'no profile'})`);
    else if (entries.length > 1) problems.push(`${name}: ${entries.length} entries in the report`);
    else problems.push(...coreProblems(entries[0]));
  }
  // A profile nobody asked for means the run was not the one configured.
  for (const p of report.profiles) if (!expectedProfiles.includes(p.name)) problems.push(`${p.name}: in the report but not requested`);
  return problems;
}

/** Every core test of the profile ran and passed: none failed, none skipped. */
function coreProblems(p: ProfileResult): string[] {
  const core: Stats = p.core;
  const out: string[] = [];
  if (core.result !== 'success') out.push(`${p.name}: core result is "${core.result}", not "success"`);
  if (core.failed > 0 || core.failedTests.length) out.push(`${p.name}: ${Math.max(core.failed, core.failedTests.length)} core test(s) failed: ${core.failedTests.join(', ') || '(not named)'}`);
  if (core.skipped > 0 || core.skippedTests.length) out.push(`${p.name}: ${Math.max(core.skipped, core.skippedTests.length)} core test(s) skipped: ${core.skippedTests.join(', ') || '(not named)'}`);
  if (core.passed <= 0) out.push(`${p.name}: no core test passed`);
  return out;
}
