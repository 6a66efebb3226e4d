// Per-request cost of tenants' regular expressions on a real nginx: the worst patterns
// that operator/src/values/regex.ts accepts, each in a flag map shaped like the dataplane's
// (`map $http_x_bench $f { "~^(?:PATTERN)$" 1; default 0; }`), evaluated against the worst
// subject nginx lets through (a header value filling the default 8k header buffer), next to
// a baseline location whose map is an exact string match, in the same run. Refused
// patterns (polynomial, exponential) are timed too, to show what the policy prevents. The
// main config is the agent's own (composeMainConfig, with pcre_jit on) and the same config
// with pcre_jit off, to show that JIT is in use.
// Run: npm run bench:regex   (about a minute; 2 throwaway nginx instances on 127.0.0.1)
//      npm run bench:regex -- --check      only the check's cost (200 and 10,000 patterns)
//      npm run bench:regex -- --verdicts   every verdict of the corpora, and their hash
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { composeMainConfig } from '../nginx/agent/config.ts';
import { quote } from '../operator/src/dataplane/quote.ts';
import { anchored, clearRegexVerdicts, regexProblem } from '../operator/src/values/regex.ts';
import { HARD_PATTERNS, realisticPatterns } from './regex-corpus.ts';
import { ensureNginx } from '../test/cluster/nginx.ts';
import { freePort } from '../test/cluster/processes.ts';
import { run, sleep, waitFor } from '../test/cluster/exec.ts';

/** A header line must fit one large_client_header_buffers buffer (default 8k). */
const SUBJECT = 8000;
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 300);

interface Case { name: string; pattern: string; subject: string; requests?: number }

const alternation = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i)).join('|');
const a = 'a'.repeat(SUBJECT);

// Accepted (linear) but costly shapes: every alternative scans the whole subject, then
// gives it back one character at a time. For each shape the bench takes the largest size
// (up to 1,024 characters) that the check accepts on this machine.
interface Family { name: (n: number) => string; pattern: (n: number) => string; subject: (n: number) => string }
const families: Family[] = [
  { name: () => 'plain path regex', pattern: () => '/api/v[0-9]+/.*', subject: () => `/api/v1/${a.slice(8)}` },
  { name: (n) => `${n} alternatives "[a-z]*N"`, pattern: (n) => alternation(n, (i) => `[a-z]*${i}`), subject: () => a },
  { name: (n) => `${n} alternatives ".*xN"`, pattern: (n) => alternation(n, (i) => `.*x${i}`), subject: () => a },
  { name: (n) => `${n} alternatives "/pN/.*"`, pattern: (n) => alternation(n, (i) => `/p${i}/.*`), subject: (n) => `/p${n - 1}/${a.slice(10)}` },
  // Linear in the subject but exponential in the pattern: n optional items that overlap.
  ...[8, 12, 16].map((k): Family => ({ name: (n) => `${Math.min(n, k)} x "[a-z]?" then "[0-9]"`, pattern: (n) => '[a-z]?'.repeat(Math.min(n, k)) + '[0-9]', subject: (n) => a.slice(0, Math.min(n, k)) })),
  { name: (n) => `${n} x "[^/]*/" then ".*"`, pattern: (n) => '[^/]*/'.repeat(n) + '.*', subject: (n) => `${'a/'.repeat(n - 1)}${a.slice(2 * n)}` },
];
const SIZES = [169, 160, 120, 100, 80, 60, 40, 30, 20, 10, 5, 3, 1];

function largestAccepted(f: Family): Case | undefined {
  for (const n of SIZES) {
    const pattern = f.pattern(n);
    if (pattern.length <= 1024 && !regexProblem(pattern)) return { name: f.name(n), pattern, subject: f.subject(n) };
  }
}

// Refused by the policy: timed with the same subjects to show why.
const refused: Case[] = [
  { name: 'polynomial degree 2 ".*a.*b"', pattern: '.*a.*b', subject: a, requests: 20 },
  { name: 'polynomial degree 2 "/foo/.*/bar/.*" (common)', pattern: '/foo/.*/bar/.*', subject: `/foo${'/bar'.repeat(SUBJECT / 4 - 1)}!`, requests: 20 },
  { name: 'polynomial degree 3 ".*a.*a.*b"', pattern: '.*a.*a.*b', subject: a, requests: 5 },
  { name: '24 x "[a-z]?" then "[0-9]" (over 16 quantifiers)', pattern: '[a-z]?'.repeat(24) + '[0-9]', subject: a.slice(0, 24), requests: 20 },
  { name: 'exponential "(a+)+$" (PCRE2 match limit)', pattern: '(a+)+$', subject: `${'a'.repeat(40)}!`, requests: 5 },
];

function httpConf(port: number, cases: Case[]): string {
  const maps = cases.map((c, i) => `map $http_x_bench $wg_f${i} {\n    ${quote(`~${anchored(c.pattern)}`)} 1;\n    default 0;\n}`);
  const locations = cases.map((_, i) => `    location = /p${i} {\n        return 200 $wg_f${i};\n    }`);
  return `${maps.join('\n')}
map $http_x_bench $wg_exact {
    "yes" 1;
    default 0;
}
server {
    listen 127.0.0.1:${port};
    location = /base {
        return 200 $wg_exact;
    }
${locations.join('\n')}
}
`;
}

async function startNginx(binary: string, streamModule: string, jit: boolean, cases: Case[]): Promise<{ port: number; stop: () => Promise<void> }> {
  const runDir = mkdtempSync(join(tmpdir(), 'waygate-bench-regex-'));
  chmodSync(runDir, 0o755);
  const versionDir = join(runDir, 'v1');
  mkdirSync(versionDir);
  const port = await freePort();
  writeFileSync(join(versionDir, 'http.conf'), httpConf(port, cases));
  writeFileSync(join(versionDir, 'stream.conf'), '');
  const main = composeMainConfig({ runDir, versionDir, version: '1', workerProcesses: 1, accessLog: false, streamModule });
  if (!/^pcre_jit on;$/m.test(main)) throw new Error('the agent main config has no "pcre_jit on;"');
  const conf = join(runDir, 'nginx.conf');
  writeFileSync(conf, jit ? main : main.replace(/^pcre_jit on;$/m, 'pcre_jit off;'));
  const args = ['-p', runDir, '-e', join(runDir, 'error.log'), '-c', conf];
  await run(binary, [...args, '-t']);
  const child: ChildProcess = spawn(binary, [...args, '-g', 'daemon off;'], { stdio: 'ignore' });
  await waitFor('nginx to answer', async () => ((await request(port, '/base', 'yes').catch(() => undefined)) ? true : undefined), 10_000, 20);
  return {
    port,
    async stop() {
      child.kill('SIGQUIT');
      for (let i = 0; i < 250 && child.exitCode === null && child.signalCode === null; i++) await sleep(20);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      const log = readFileSync(join(runDir, 'error.log'), 'utf8');
      const pcreErrors = log.split('\n').filter((l) => /pcre|regex/i.test(l));
      if (pcreErrors.length) console.log(`  nginx error.log (${jit ? 'jit' : 'no jit'}): ${pcreErrors.length} regex errors, e.g. ${pcreErrors[0].replace(/^.*\[error\] /, '').slice(0, 160)}`);
      rmSync(runDir, { recursive: true, force: true });
    },
  };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function request(port: number, path: string, header: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent, headers: { 'x-bench': header } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d) => (body += d)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
  });
}

/** Per-request latencies in ms, sequential on one keep-alive connection, after 5 warm-ups. */
async function measure(port: number, path: string, header: string, n: number): Promise<{ median: number; p99: number; max: number; status: string }> {
  const times: number[] = [];
  const statuses = new Set<string>();
  for (let i = 0; i < n + 5; i++) {
    const t0 = performance.now();
    const r = await request(port, path, header);
    if (i >= 5 || n < 5) times.push(performance.now() - t0);
    statuses.add(`${r.status}:${r.body}`);
  }
  times.sort((x, y) => x - y);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
  return { median: at(0.5), p99: at(0.99), max: times[times.length - 1], status: [...statuses].join(',') };
}

/** Realistic route regexes: paths, hosts, header values; some of them backtracking-prone. */
function corpus(): string[] {
  const segments = ['[0-9]+', '[a-z]+', '[^/]+', '[a-z0-9-]+', 'v[0-9]+', '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '(?:en|de|fr)', '.*'];
  const words = ['api', 'users', 'orders', 'items', 'static', 'admin', 'v2', 'reports'];
  const out: string[] = [];
  for (let i = 0; i < 160; i++) {
    const depth = 1 + (i % 5);
    const parts = Array.from({ length: depth }, (_, k) => (k % 2 === 0 ? words[(i + k) % words.length] : segments[(i * 7 + k) % segments.length]));
    out.push(`/${parts.join('/')}${i % 3 === 0 ? '/?' : ''}`);
  }
  out.push('.*\\.(?:css|js|png|jpg|svg|woff2?)', '/static/.*\\.(css|js)', '[a-z0-9-]+\\.example\\.com', '(?:[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\\.)+[a-z]{2,}',
    'Mozilla/5\\.0 .*Chrome/[0-9.]+.*', 'Bearer [A-Za-z0-9._~+/-]+=*', '[0-9]{1,3}(\\.[0-9]{1,3}){3}', 'gzip|deflate|br', '(a+)+$', '(a|a)*b', '.*a.*a.*b', '/foo/.*/bar/.*');
  return out;
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

/** What one check costs, with an empty memo, over a corpus; and a memoized lookup. */
function checkCost(name: string, patterns: string[]): void {
  const times: number[] = [];
  let refusedCount = 0;
  for (const p of patterns) {
    clearRegexVerdicts();
    const t0 = performance.now();
    if (regexProblem(p)) refusedCount++;
    times.push(performance.now() - t0);
  }
  const t0 = performance.now();
  for (let k = 0; k < 100; k++) for (const p of patterns) regexProblem(p);
  const memo = ((performance.now() - t0) * 1000) / (100 * patterns.length);
  times.sort((x, y) => x - y);
  console.log(`check cost over ${patterns.length} ${name} (${refusedCount} refused), empty memo: median ${quantile(times, 0.5).toFixed(2)} ms, p90 ${quantile(times, 0.9).toFixed(2)} ms, max ${times[times.length - 1].toFixed(1)} ms; memoized: ${memo.toFixed(2)} µs`);
}

/** A rebuild that meets many new patterns at once: distinct patterns, one process, no memo. */
function bulkCost(n: number): void {
  clearRegexVerdicts();
  const patterns = realisticPatterns(n);
  let refusedCount = 0;
  const t0 = performance.now();
  for (const p of patterns) if (regexProblem(p)) refusedCount++;
  console.log(`${n} distinct realistic patterns in one process: ${((performance.now() - t0) / 1000).toFixed(2)} s (${refusedCount} refused)`);
}

function checkCosts(): void {
  const t0 = performance.now();
  regexProblem('warm-up');
  clearRegexVerdicts();
  regexProblem('.*a.*b'); // reaches recheck: starts its worker and native agent
  console.log(`first check (starts recheck): ${(performance.now() - t0).toFixed(0)} ms`);
  checkCost('realistic patterns', realisticPatterns(200));
  checkCost('hard patterns (recheck or refused)', HARD_PATTERNS);
  checkCost('bench patterns', corpus());
  bulkCost(10_000);
}

/** Every verdict of the corpora, one line each, then a hash: compare runs and machines. */
function verdicts(): void {
  clearRegexVerdicts();
  const lines = [...new Set([...realisticPatterns(200), ...HARD_PATTERNS, ...corpus(), ...UNIT_CORPUS])].map((p) => `${JSON.stringify(p)} ${regexProblem(p) ?? 'accepted'}`);
  if (process.argv.includes('--print')) for (const l of lines) console.log(l);
  const refusedCount = lines.filter((l) => !l.endsWith(' accepted')).length;
  console.log(`${lines.length} patterns, ${refusedCount} refused, verdicts sha256 ${createHash('sha256').update(lines.join('\n')).digest('hex')}`);
}

/** The patterns of test/unit/regex-safety.test.ts's backtracking cases. */
const UNIT_CORPUS = [
  '(a+)+$', '(a|a)*b', '^(\\d+)*x$', '(x{2,5})*y', '.*a.*a.*a.*b', '.*a.*a.*b', '.*a.*b', '/foo/.*/bar/.*', '/a/.*|/b/[0-9]+|(a|a)*b|/c',
  '[a-z]?'.repeat(16) + '[0-9]', '[a-z]?'.repeat(17) + '[0-9]', '(?:[a-z]?[a-z]?){9}', Array.from({ length: 10 }, (_, i) => `/p${i}/[a-z]+`).join('|'),
  '^/api/v[0-9]+/.*', '[a-z0-9-]+\\.example\\.com', '/users/[0-9]+/posts/[0-9]+', '.*\\.(css|js|png)',
  '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '(\\d+\\.)*\\d+', '/[^/]*/[^/]*/x',
  '(?:[ab]{10}){6}a[ab]*', '[ab]*a(?:[ab]{10}){6}', '(?:(?:a|a){10}){10}',
];

const ms = (v: number) => v.toFixed(3).padStart(9);

async function main(): Promise<void> {
  if (process.argv.includes('--verdicts')) return verdicts();
  checkCosts();
  if (process.argv.includes('--check')) return;
  const install = await ensureNginx();
  const accepted = families.map(largestAccepted).filter((c) => c !== undefined);
  for (const c of refused) if (!regexProblem(c.pattern)) throw new Error(`bench case "${c.name}" should be refused`);
  const cases = [...accepted, ...refused];
  console.log(`nginx ${install.version}; subject ${SUBJECT} bytes in one header; ${REQUESTS} sequential keep-alive requests per accepted case; latencies in ms (client round trip)`);
  for (const jit of [true, false]) {
    const nginx = await startNginx(install.binary, install.streamModule, jit, cases);
    try {
      const base = await measure(nginx.port, '/base', a, REQUESTS);
      console.log(`\npcre_jit ${jit ? 'on' : 'off'}${jit ? ' (the agent\'s main config)' : ''}`);
      console.log(`${'case'.padEnd(52)} ${'median'.padStart(9)} ${'p99'.padStart(9)} ${'max'.padStart(9)} ${'+median'.padStart(9)}  matched`);
      console.log(`${'baseline: exact-match map on the same header'.padEnd(52)} ${ms(base.median)} ${ms(base.p99)} ${ms(base.max)} ${ms(0)}  ${base.status}`);
      for (const [i, c] of cases.entries()) {
        if (i === accepted.length) console.log('refused by the policy:');
        const r = await measure(nginx.port, `/p${i}`, c.subject, c.requests ?? REQUESTS);
        console.log(`${`${c.name} (${c.pattern.length} ch)`.slice(0, 52).padEnd(52)} ${ms(r.median)} ${ms(r.p99)} ${ms(r.max)} ${ms(r.median - base.median)}  ${r.status}`);
      }
    } finally {
      await nginx.stop();
    }
  }
  agent.destroy();
}

main().then(() => process.exit(0), (e) => {
  console.error(e);
  process.exit(1);
});
