// Benchmark (not a test): how long `nginx -t` and a whole apply take for growing configs.
//   npx tsx nginx/agent/bench.ts [runs per size, default 3]
// For 10, 1,000 and 5,000 simple locations: the time of `nginx -t` alone, and the time from
// writing a version (rename into place) to its verdict (watch + test + reload + verified).
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import winston from 'winston';
import { startAgent } from './agent.ts';
import { composeMainConfig } from './config.ts';
import { DEFAULT_NGINX, testConfig } from './nginx.ts';
import type { Verdict } from './verdict.ts';
import { versionDir } from './versions.ts';
import { freePort } from '../../test/cluster/processes.ts';

const sizes = [10, 1_000, 5_000];
const runs = Number(process.argv[2] ?? 3);


function render(port: number, locations: number, tag: string): string {
  const out = [`server {`, `    listen 127.0.0.1:${port};`];
  for (let i = 0; i < locations; i++) out.push(`    location /p${i}/ { return 200 "${tag} p${i}"; }`);
  out.push('}', '');
  return out.join('\n');
}

function writeVersion(configRoot: string, version: number, http: string): void {
  const tmp = join(configRoot, 'versions', `.tmp-${version}`);
  mkdirSync(tmp, { recursive: true });
  writeFileSync(join(tmp, 'http.conf'), http);
  writeFileSync(join(tmp, 'stream.conf'), '');
  const hash = createHash('sha256').update(http).digest('hex');
  writeFileSync(join(tmp, 'meta.json'), JSON.stringify({ version: String(version), hash, sources: [] }));
  renameSync(tmp, join(configRoot, 'versions', String(version)));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (xs: number[]) => `${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)})`;

const root = mkdtempSync(join(tmpdir(), 'waygate-bench-'));
chmodSync(root, 0o755);
const configRoot = join(root, 'config');
const runDir = join(root, 'run');
const port = await freePort();
const logger = winston.createLogger({ level: 'error', transports: [new winston.transports.Console()] });
const agent = await startAgent({ configRoot, runDir, logger, workerProcesses: 2, accessLog: false, verifyTimeoutMs: 30_000 });
const verdicts = new Map<string, Verdict>();
agent.onVerdict((v) => verdicts.set(v.version, v));
const waitVerdict = async (version: number) => {
  while (!verdicts.has(String(version))) await new Promise((r) => setTimeout(r, 1));
  return verdicts.get(String(version))!;
};

const rows: string[][] = [];
let version = 0;
try {
  for (const n of sizes) {
    const test: number[] = [];
    const apply: number[] = [];
    const inAgent: number[] = [];
    let bytes = 0;
    for (let i = 0; i < runs; i++) {
      const http = render(port, n, `r${version + 1}`);
      bytes = Buffer.byteLength(http);
      version++;
      const t0 = performance.now();
      writeVersion(configRoot, version, http);
      const v = await waitVerdict(version);
      apply.push(performance.now() - t0);
      inAgent.push(v.durationMs);
      if (!v.ok) throw new Error(`version ${version} rejected: ${v.error}`);

      // nginx -t alone, on the same config (a separate candidate file).
      const conf = join(runDir, 'bench.conf');
      writeFileSync(conf, composeMainConfig({ runDir, versionDir: versionDir(configRoot, String(version)), version: String(version), accessLog: false }));
      const t1 = performance.now();
      const r = await testConfig(DEFAULT_NGINX, runDir, conf);
      test.push(performance.now() - t1);
      if (!r.ok) throw new Error(r.output);
      rmSync(conf);
    }
    rows.push([n.toLocaleString('en'), `${(bytes / 1024).toFixed(0)} KiB`, fmt(test), fmt(inAgent), fmt(apply)]);
  }
} finally {
  await agent.stop();
  rmSync(root, { recursive: true, force: true });
}

const header = ['locations', 'http.conf', 'nginx -t ms', 'agent ms (test+reload+verify)', 'write→verdict ms'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join(' | ');
console.log(`nginx ${DEFAULT_NGINX}, 2 workers, ${runs} run(s) per size: median (min-max)`);
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
for (const r of rows) console.log(line(r));
