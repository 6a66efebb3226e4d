// A finished run, summarised for the terminal and for the README.
import { slowest, type HarnessOutput, type Report, type Stats } from './results.ts';

export interface SuiteRun {
  profiles: string[];
  runTest?: string;
  /** The harness' exit code. */
  exitCode: number;
  seconds: number;
  startedAt: Date;
  output: HarnessOutput;
  /** Missing when the harness died before writing it. */
  report?: Report;
  reportPath: string;
  outputPath: string;
}

/** Why a run counts as failed: core failures, a failed Setup, or no report at all. */
export function runProblems(r: SuiteRun): string[] {
  const problems: string[] = [];
  if (!r.report) problems.push(`the harness wrote no report (exit code ${r.exitCode}${r.output.overall ? '' : ', it did not finish'}); see ${r.outputPath}`);
  if (r.output.setup?.outcome === 'FAIL') problems.push(`the suite's Setup failed: ${r.output.setup.detail ?? 'see the output'}`);
  for (const p of r.report?.profiles ?? []) if (p.core.failed > 0) problems.push(`${p.name}: ${p.core.failed} core test(s) failed`);
  return problems;
}

const count = (s: Stats | undefined) => (s ? `${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped` : 'none run');
const minutes = (s: number) => (s >= 60 ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s` : `${s.toFixed(1)} s`);

export function failedTests(r: SuiteRun) {
  return [...r.output.tests.values()].filter((t) => t.outcome === 'FAIL').sort((a, b) => a.name.localeCompare(b.name));
}

/** Tests the suite did not run because a feature they need is not in the supported list. */
export const notSupported = (r: SuiteRun) => [...r.output.tests.values()].filter((t) => t.outcome === 'SKIP' && /does not support/.test(t.detail ?? '')).length;

export function formatSummary(r: SuiteRun): string {
  const lines = [`conformance ${r.profiles.join(', ')}${r.runTest ? ` (only ${r.runTest})` : ''}: ${minutes(r.seconds)}`];
  if (r.output.setup) lines.push(`  Setup: ${r.output.setup.outcome}${r.output.setup.detail ? ` — ${r.output.setup.detail}` : ''}`);
  for (const p of r.report?.profiles ?? []) {
    lines.push(`  ${p.name}: core ${p.core.result} (${count(p.core)}); extended ${p.extended?.result ?? '-'} (${count(p.extended)})`);
  }
  lines.push(`  not run for unsupported features: ${notSupported(r)} (of ${r.output.tests.size} tests in the suite)`);
  const failed = failedTests(r);
  if (failed.length) lines.push('  failed:', ...failed.map((t) => `    ${t.name} (${t.seconds.toFixed(1)} s): ${t.detail ?? '?'}`));
  const slow = slowest(r.output);
  if (slow.length) lines.push('  slowest:', ...slow.map((t) => `    ${t.seconds.toFixed(1).padStart(6)} s  ${t.name} ${t.outcome}`));
  for (const p of runProblems(r)) lines.push(`  PROBLEM: ${p}`);
  return lines.join('\n');
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The README's "last run" section. */
export function markdownSummary(r: SuiteRun): string {
  const out = [
    `\`npm run conformance -- --profile ${r.profiles.join(',')}\` on ${r.startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC: ${minutes(r.seconds)} for the suite${r.report ? `, implementation version ${r.report.implementation.version}` : ''}. ` +
      `${notSupported(r)} of the suite's ${r.output.tests.size} tests were not run because they need features waygate does not claim (or belong to other profiles).`,
    '',
    '| Profile | Level | Result | Passed | Failed | Skipped |',
    '| --- | --- | --- | ---: | ---: | ---: |',
  ];
  for (const p of r.report?.profiles ?? []) {
    for (const [level, s] of [['core', p.core], ['extended', p.extended]] as const) {
      if (s) out.push(`| ${p.name} | ${level} | ${s.result} | ${s.passed} | ${s.failed} | ${s.skipped} |`);
    }
  }
  if (r.output.setup?.outcome === 'FAIL') out.push('', `The suite's Setup failed (the tests ran anyway, see run.ts): ${cell(r.output.setup.detail ?? '')}`);
  const failed = failedTests(r);
  if (failed.length) {
    out.push('', '### Failed tests', '', '| Test | Level | First error |', '| --- | --- | --- |');
    const core = new Set(r.report?.profiles.flatMap((p) => p.core.failedTests) ?? []);
    for (const t of failed) out.push(`| ${t.name} | ${core.has(t.name) ? 'core' : 'extended'} | ${cell(t.detail ?? '')} |`);
  }
  const slow = slowest(r.output);
  if (slow.length) {
    out.push('', '### Slowest tests', '', '| Test | Seconds | Outcome |', '| --- | ---: | --- |');
    for (const t of slow) out.push(`| ${t.name} | ${t.seconds.toFixed(1)} | ${t.outcome} |`);
  }
  return out.join('\n');
}
