// What a run produced: test outcomes and durations from the `go test -v` output (the only
// place with timings and error messages), and the per-profile verdict from the report.
import { parse } from 'yaml';

export type Outcome = 'PASS' | 'FAIL' | 'SKIP';

export interface TestOutcome {
  name: string;
  outcome: Outcome;
  seconds: number;
  /** For a failure: the first assertion or error; for a skip: why. */
  detail?: string;
}

export interface HarnessOutput {
  /** Conformance tests by short name (subtests of TestConformance except Setup). */
  tests: Map<string, TestOutcome>;
  /** The suite's Setup (base manifests, readiness of their Gateways and Pods). */
  setup?: TestOutcome;
  /** TestConformance itself; missing when the binary died (timeout, panic, kill). */
  overall?: TestOutcome;
}

const top = 'TestConformance';
const marker = /^=== (?:RUN|CONT|NAME|PAUSE)\s+(\S+)/;
const result = /^\s*--- (PASS|FAIL|SKIP): (\S+) \(([\d.]+)s\)/;
/** "helpers.go:301: 2026-11-23T16:42:37.811Z: " before a suite log message. */
const prefix = /^\s*\S+\.go:\d+: (?:\d{4}-\d\d-\d\dT[\d:.]+Z: )?/;

const message = (line: string) => line.replace(prefix, '').trim();

/** Why a (sub)test failed, from its own log lines, as one line. */
export function firstError(lines: string[]): string | undefined {
  const field = (i: number, key: string) => lines[i].match(new RegExp(`^\\s*${key}:\\s*(.*)$`))?.[1]?.trim();
  // testify's require/assert: Error (with continuation lines), then Messages.
  for (let i = 0; i < lines.length; i++) {
    const error = field(i, 'Error');
    if (error === undefined) continue;
    const parts = [error];
    let j = i + 1;
    while (j < lines.length && /^\s+\S/.test(lines[j]) && !/^\s*(Test|Messages|Error Trace):/.test(lines[j]) && !prefix.test(lines[j])) parts.push(lines[j++].trim());
    const messages = [j, j + 1, j + 2].filter((k) => k < lines.length).map((k) => field(k, 'Messages')).find((m) => m !== undefined);
    return [messages, parts.filter(Boolean).join(' ')].filter(Boolean).join(': ').slice(0, 400);
  }
  // The suite's polling helpers log each miss, then give up with a bare "timeout": the last miss says why.
  const giveUp = lines.findIndex((l) => /timeout while waiting after \d+ attempts/.test(l));
  if (giveUp >= 0) {
    const miss = lines.slice(0, giveUp).reverse().map((l) => l.match(/not ready yet: (.*?)(?:\. CRes: .*)?(?: \(after [^)]*\))?$/)?.[1]).find(Boolean);
    return `${miss ?? message(lines[giveUp])} (${message(lines[giveUp])})`.slice(0, 400);
  }
  const routine = /not ready yet|not Programmed yet|not Accepted yet|expected Status True$|was not in conditions list/;
  const errorish = lines.filter((l) => /error|fail|timed? ?out|deadline|unexpected/i.test(l) && !routine.test(l)).at(-1);
  const last = errorish ?? lines.filter((l) => l.trim()).at(-1);
  return last === undefined ? undefined : message(last).slice(0, 400);
}

export function parseHarnessOutput(text: string): HarnessOutput {
  const logs = new Map<string, string[]>(); // by full Go test name
  const outcomes = new Map<string, { outcome: Outcome; seconds: number }>();
  const order: string[] = []; // Go test names in the order they started
  let current: string | undefined;
  for (const line of text.split('\n')) {
    const m = line.match(marker);
    if (m) {
      current = m[1];
      if (!logs.has(current)) {
        logs.set(current, []);
        order.push(current);
      }
      continue;
    }
    const r = line.match(result);
    if (r) {
      outcomes.set(r[2], { outcome: r[1] as Outcome, seconds: Number(r[3]) });
      current = undefined; // the closing summary: nothing after it belongs to a test
      continue;
    }
    if (current) logs.get(current)!.push(line);
  }

  /** A failed test's detail comes from its first failed leaf subtest (e.g. one request). */
  const failureDetail = (goName: string): string | undefined => {
    const failed = order.filter((n) => n.startsWith(`${goName}/`) && outcomes.get(n)?.outcome === 'FAIL');
    const leaf = failed.find((n) => !failed.some((o) => o.startsWith(`${n}/`)));
    const detail = firstError(logs.get(leaf ?? goName) ?? []);
    return leaf ? `${leaf.slice(goName.length + 1)}: ${detail ?? '?'}` : detail;
  };
  const outcome = (goName: string, name: string): TestOutcome | undefined => {
    const o = outcomes.get(goName);
    if (!o) return undefined;
    // Go leaves a test's parallel subtests (the suite's requests) out of its duration.
    const sub = [...outcomes].filter(([n]) => n.startsWith(`${goName}/`)).map(([, s]) => s.seconds);
    const t: TestOutcome = { name, outcome: o.outcome, seconds: Math.max(o.seconds, ...sub) };
    if (o.outcome === 'FAIL') t.detail = failureDetail(goName);
    if (o.outcome === 'SKIP') t.detail = (logs.get(goName) ?? []).map((l) => l.match(/Skipping \S+: (.*)$/)?.[1]).find(Boolean);
    return t;
  };

  const tests = new Map<string, TestOutcome>();
  for (const goName of outcomes.keys()) {
    const [root, name, ...rest] = goName.split('/');
    if (root !== top || !name || rest.length || name === 'Setup') continue;
    tests.set(name, outcome(goName, name)!);
  }
  return { tests, setup: outcome(`${top}/Setup`, 'Setup'), overall: outcome(top, top) };
}

export interface Stats {
  result: string;
  passed: number;
  failed: number;
  skipped: number;
  failedTests: string[];
  skippedTests: string[];
}

export interface ProfileResult {
  name: string;
  summary: string;
  core: Stats;
  extended?: Stats & { supportedFeatures: string[]; unsupportedFeatures: string[] };
}

export interface Report {
  gatewayAPIVersion: string;
  gatewayAPIChannel: string;
  date: string;
  implementation: { organization: string; project: string; url: string; version: string; contact: string[] };
  profiles: ProfileResult[];
}

function stats(s: any): Stats {
  // Statistics is embedded in the Go type, so its fields sit beside result (capitalised).
  return {
    result: s?.result ?? 'unknown',
    passed: s?.Passed ?? s?.statistics?.Passed ?? 0,
    failed: s?.Failed ?? s?.statistics?.Failed ?? 0,
    skipped: s?.Skipped ?? s?.statistics?.Skipped ?? 0,
    failedTests: s?.failedTests ?? [],
    skippedTests: s?.skippedTests ?? [],
  };
}

export function parseReport(text: string): Report {
  const doc = parse(text);
  if (doc?.kind !== 'ConformanceReport') throw new Error('not a ConformanceReport');
  return {
    gatewayAPIVersion: doc.gatewayAPIVersion,
    gatewayAPIChannel: doc.gatewayAPIChannel,
    date: doc.date,
    implementation: doc.implementation,
    profiles: (doc.profiles ?? [])
      .map((p: any): ProfileResult => ({
        name: p.name,
        summary: p.summary,
        core: stats(p.core),
        extended: p.extended && { ...stats(p.extended), supportedFeatures: p.extended.supportedFeatures ?? [], unsupportedFeatures: p.extended.unsupportedFeatures ?? [] },
      }))
      .sort((a: ProfileResult, b: ProfileResult) => a.name.localeCompare(b.name)),
  };
}

/** Slowest first, of the tests that ran (skips take no time worth listing). */
export function slowest(out: HarnessOutput, n = 10): TestOutcome[] {
  return [...out.tests.values()].filter((t) => t.outcome !== 'SKIP').sort((a, b) => b.seconds - a.seconds).slice(0, n);
}

export function coreFailures(report: Report): string[] {
  return [...new Set(report.profiles.flatMap((p) => p.core.failedTests))].sort();
}
