// mocha's spec output, plus a JSON summary (test-results.json, or $WAYGATE_TEST_RESULTS)
// that .ci/run turns into its closing "N passed, N failed, N skipped" line (test/ci-summary.cjs).
//
// Skips must say why: a skipped (pending) test passes CI only if its full title (its own or
// an enclosing describe's) contains "skipped because <reason>". The project's tests never
// skip themselves at run time: a missing prerequisite is a failure, and a known gap is a
// pending test titled with its reason.
'use strict';
const Mocha = require('mocha');
const { writeFileSync } = require('node:fs');

const { EVENT_RUN_END, EVENT_TEST_FAIL, EVENT_TEST_PENDING } = Mocha.Runner.constants;

/** The reason a skipped test's full title gives ("skipped because ..."), or null. */
function skipReason(fullTitle) {
  const m = /\bskipped because:?\s+([^()[\]]*[^\s()[\]])/i.exec(fullTitle);
  return m ? m[1] : null;
}

class WaygateReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const failed = [];
    const skipped = [];
    runner.on(EVENT_TEST_FAIL, (test, err) => failed.push({ title: test.fullTitle(), error: String(err && err.message) }));
    runner.on(EVENT_TEST_PENDING, (test) => skipped.push({ title: test.fullTitle(), reason: skipReason(test.fullTitle()) }));
    runner.once(EVENT_RUN_END, () => {
      const s = runner.stats;
      const out = process.env.WAYGATE_TEST_RESULTS || 'test-results.json';
      writeFileSync(out, JSON.stringify({ passes: s.passes, failures: s.failures, pending: s.pending, tests: s.tests, durationMs: s.duration, failed, skipped }, null, 2));
    });
  }
}

module.exports = WaygateReporter;
module.exports.skipReason = skipReason;
