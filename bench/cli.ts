// The render CLI end to end (issue #14: "the render CLI (with CRD validation) under 5 s" at
// 10,000 HTTPRoutes). Writes the realistic mix (bench/lib/routes.ts: N routes, their
// Services and EndpointSlices, a GatewayClass, a Namespace and a Gateway) as YAML into a
// private temp dir, `files` files of about equal size, and times `waygate render DIR` as a
// user runs it: a child process (Node start-up, CRD schema and CEL validation of every
// object, graph, model, render, output written to a pipe), median of `runs` runs.
// Run: npx tsx bench/cli.ts [--routes 10000] [--files 10] [--runs 3]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import type { KubeObject } from '../operator/src/objects.ts';
import { gateway, gatewayClass, namespace } from '../test/support/objects.ts';
import { BENCH_NS, mixRoute, mixServices } from './lib/routes.ts';
import { median } from './lib/wrk.ts';

export interface CliRow {
  routes: number;
  files: number;
  /** Bytes of YAML, all files together. */
  yamlBytes: number;
  /** Each run's wall time of `waygate render DIR`, ms. */
  runsMs: number[];
  medianMs: number;
  /** Each run's CPU time (user + system) of the child, ms (Linux; NaN elsewhere): on a shared machine, steadier than wall time. */
  cpuMs: number[];
  medianCpuMs: number;
  /** Bytes the command printed (the nginx config). */
  stdoutBytes: number;
}

/** The CLI's target at 10,000 routes (issue #14). */
export const CLI_TARGET_MS = 5000;

const ROOT = join(import.meta.dirname, '..');

/** Writes n routes (with everything they need) as YAML files into dir; returns the bytes written. */
export function writeYaml(dir: string, n: number, files: number): number {
  const o = { gateway: 'gw', endpoint: (s: number) => ({ address: `10.1.${(s >> 8) & 255}.${s & 255}`, port: 8080 }) };
  const all: KubeObject[] = [
    gatewayClass(), namespace(BENCH_NS),
    gateway(BENCH_NS, 'gw', [{ port: 18621 }], { addresses: [{ type: 'IPAddress', value: '127.0.0.1' }] }),
    ...mixServices(n, o),
    ...Array.from({ length: n }, (_, i) => mixRoute(i, o)),
  ];
  const per = Math.ceil(all.length / files);
  let bytes = 0;
  for (let f = 0; f < files; f++) {
    const text = all.slice(f * per, (f + 1) * per).map((x) => stringify(x)).join('---\n');
    writeFileSync(join(dir, `objects-${String(f).padStart(2, '0')}.yaml`), text);
    bytes += Buffer.byteLength(text);
  }
  return bytes;
}

/** CPU time (user + system, ms) of this process's waited-for children: /proc/self/stat's cutime and cstime. */
function childrenCpuMs(): number {
  try {
    const fields = readFileSync('/proc/self/stat', 'utf8').replace(/^.*\) /, '').split(' ');
    return ((Number(fields[13]) + Number(fields[14])) * 1000) / 100; // fields 16 and 17 of proc(5), in USER_HZ (100)
  } catch {
    return NaN;
  }
}

/** One `waygate render DIR` as a child process: its wall and CPU time, exit code and output size. */
function renderOnce(dir: string): Promise<{ ms: number; cpuMs: number; code: number | null; stdoutBytes: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const cpu0 = childrenCpuMs();
    const t0 = performance.now();
    const child = spawn(process.execPath, [join(ROOT, 'operator/bin/waygate.js'), 'render', dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdoutBytes = 0;
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => { stdoutBytes += b.length; });
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ ms: performance.now() - t0, cpuMs: childrenCpuMs() - cpu0, code, stdoutBytes, stderr }));
  });
}

export async function cliBench(opts: { routes: number; files: number; runs: number; log?: (m: string) => void }): Promise<CliRow> {
  const log = opts.log ?? console.error;
  const dir = mkdtempSync(join(tmpdir(), 'waygate-bench-cli-'));
  try {
    const yamlBytes = writeYaml(dir, opts.routes, opts.files);
    const runsMs: number[] = [];
    const cpuMs: number[] = [];
    let stdoutBytes = 0;
    for (let i = 0; i < opts.runs; i++) {
      const r = await renderOnce(dir);
      if (r.code !== 0 || r.stderr) throw new Error(`waygate render exited ${r.code}: ${r.stderr.slice(0, 2000)}`);
      runsMs.push(r.ms);
      cpuMs.push(r.cpuMs);
      stdoutBytes = r.stdoutBytes;
    }
    const row = { routes: opts.routes, files: opts.files, yamlBytes, runsMs, medianMs: median(runsMs), cpuMs, medianCpuMs: median(cpuMs), stdoutBytes };
    log(`  render CLI, ${row.routes} routes in ${row.files} YAML files (${(yamlBytes / 1024).toFixed(0)} KiB): ${row.medianMs.toFixed(0)} ms median (runs ${runsMs.map((x) => x.toFixed(0)).join(', ')} ms; CPU ${row.medianCpuMs.toFixed(0)} ms median, runs ${cpuMs.map((x) => x.toFixed(0)).join(', ')} ms), ${(stdoutBytes / 1024).toFixed(0)} KiB printed; target under ${CLI_TARGET_MS / 1000} s at 10,000 routes`);
    return row;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { routes: { type: 'string', default: '10000' }, files: { type: 'string', default: '10' }, runs: { type: 'string', default: '3' } } });
  console.log('render CLI end to end');
  await cliBench({ routes: Number(values.routes), files: Number(values.files), runs: Number(values.runs), log: console.log });
}
