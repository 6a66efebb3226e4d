// .ci/run's verdict on `npm test`, from the JSON summary test/reporter.cjs writes and npm's
// exit status; prints the closing line "N passed, N failed, N skipped".
//   node test/ci-summary.cjs RESULTS.json NPM_EXIT_STATUS
// The run fails when npm test failed, when no test was executed, or when a test was skipped
// without naming why ("skipped because ..." in its title, see test/reporter.cjs). Such a
// skip counts as failed, not as skipped, so the three numbers add up to the tests mocha saw.
// Plain CommonJS without dependencies: it must run even when `npm install` did not.
'use strict';
const { readFileSync } = require('node:fs');

/** results: the parsed JSON summary, or undefined when there is none (the run died early). */
function summarize(results, npmStatus) {
  const r = results ?? {};
  const passes = r.passes ?? 0;
  const failures = r.failures ?? 0;
  // A summary without the list (an older reporter) cannot show reasons: its skips have none.
  const skipped = Array.isArray(r.skipped) ? r.skipped : Array.from({ length: r.pending ?? 0 }, () => ({ title: '(unknown test)', reason: null }));
  const unexplained = skipped.filter((s) => !s.reason);
  const lines = unexplained.map((s) => `skipped without a reason (its title must say "skipped because ..."): ${s.title}`);
  const executed = passes + failures > 0;
  if (!results) lines.push('no test summary was written (see the output above)');
  else if (!executed) lines.push('no test was executed (see the output above)');
  // npm test failing with no failed test (typecheck, a global fixture, a crash) is one failure.
  const unseen = npmStatus !== 0 && failures === 0 ? 1 : 0;
  const failed = failures + unexplained.length + Math.max(unseen, executed ? 0 : 1);
  lines.push(`${passes} passed, ${failed} failed, ${skipped.length - unexplained.length} skipped`);
  return { lines, exitCode: npmStatus !== 0 || !executed || unexplained.length ? 1 : 0 };
}

module.exports = { summarize };

if (require.main === module) {
  const [file, status] = process.argv.slice(2);
  let results;
  try {
    results = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    results = undefined;
  }
  const { lines, exitCode } = summarize(results, Number(status));
  for (const l of lines) console.log(l);
  process.exit(exitCode);
}
