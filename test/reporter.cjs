// mocha's spec output, plus a JSON summary (test-results.json, or $WAYGATE_TEST_RESULTS)
// that .ci/run turns into its closing "N passed, N failed" line.
'use strict';
const Mocha = require('mocha');
const { writeFileSync } = require('node:fs');

const { EVENT_RUN_END, EVENT_TEST_FAIL } = Mocha.Runner.constants;

class WaygateReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const failed = [];
    runner.on(EVENT_TEST_FAIL, (test, err) => failed.push({ title: test.fullTitle(), error: String(err && err.message) }));
    runner.once(EVENT_RUN_END, () => {
      const s = runner.stats;
      const out = process.env.WAYGATE_TEST_RESULTS || 'test-results.json';
      writeFileSync(out, JSON.stringify({ passes: s.passes, failures: s.failures, pending: s.pending, tests: s.tests, durationMs: s.duration, failed }, null, 2));
    });
  }
}

module.exports = WaygateReporter;
