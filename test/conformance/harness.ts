// The Go harness (this directory's module): built as a `go test` binary once per source
// change, cached like the test bed binaries, and run against a kubeconfig.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { goEnv, goVersion } from '../cluster/build.ts';
import { run } from '../cluster/exec.ts';
import { cacheDir, repoRoot, versions } from '../cluster/paths.ts';

export const harnessDir = dirname(fileURLToPath(import.meta.url));
/** The committed report and README. */
export const reportDir = join(repoRoot, 'conformance');
export const skipFile = join(harnessDir, 'skip.json');
export const featuresFile = join(repoRoot, 'operator', 'src', 'supported-features.json');
export const conformanceModule = 'sigs.k8s.io/gateway-api/conformance';


export interface SkipEntry {
  test: string;
  reason: string;
}

export function skipList(): SkipEntry[] {
  return (JSON.parse(readFileSync(skipFile, 'utf8')) as { skip: SkipEntry[] }).skip;
}

export function supportedFeatures(): string[] {
  return (JSON.parse(readFileSync(featuresFile, 'utf8')) as { features: string[] }).features;
}

/** The conformance suite version go.mod requires. */
export function suiteVersion(): string {
  const goMod = readFileSync(join(harnessDir, 'go.mod'), 'utf8');
  const v = goMod.match(new RegExp(`^\\s*${conformanceModule.replace(/\./g, '\\.')}\\s+(\\S+)`, 'm'))?.[1];
  if (!v) throw new Error(`${join(harnessDir, 'go.mod')} does not require ${conformanceModule}`);
  return v;
}

/** The go directive of the harness module: the oldest Go that builds it. */
export function goDirective(): string {
  return readFileSync(join(harnessDir, 'go.mod'), 'utf8').match(/^go (\S+)/m)?.[1] ?? 'unknown';
}

/** The suite refuses CRDs of another bundle version, so a drift would fail late and obscurely. */
export function assertSuiteMatchesTestbed(): void {
  const v = suiteVersion();
  if (v !== versions.gatewayApi) {
    throw new Error(`test/conformance/go.mod requires ${conformanceModule} ${v} but test/cluster/versions.json pins Gateway API ${versions.gatewayApi}: update go.mod (go get ${conformanceModule}@${versions.gatewayApi} sigs.k8s.io/gateway-api@${versions.gatewayApi} && go mod tidy)`);
  }
}

function goSources(): string[] {
  return readdirSync(harnessDir).filter((f) => f.endsWith('.go')).sort();
}

function sourceKey(go: string): string {
  const h = createHash('sha256').update(go);
  for (const f of ['go.mod', 'go.sum', ...goSources()]) h.update(f).update(readFileSync(join(harnessDir, f)));
  return h.digest('hex').slice(0, 16);
}

/** Path of the harness test binary, building it first if its sources changed. */
export async function ensureHarness(log: (msg: string) => void = console.error): Promise<string> {
  const go = await goVersion();
  const dir = join(cacheDir, 'conformance-bin', sourceKey(go));
  const binary = join(dir, 'conformance.test');
  if (existsSync(binary)) return binary;
  const staging = `${dir}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  log(`conformance: building the harness with ${go} (takes a few minutes; cached in ${dir})`);
  const started = Date.now();
  await run('go', ['test', '-c', '-trimpath', '-o', join(staging, 'conformance.test'), '.'], { cwd: harnessDir, env: goEnv(), timeoutMs: 30 * 60_000 });
  rmSync(dir, { recursive: true, force: true });
  renameSync(staging, dir);
  log(`conformance: harness built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return binary;
}

export interface HarnessOptions {
  binary: string;
  kubeconfig: string;
  gatewayClass: string;
  profiles: string[];
  /** Run only this test (the suite's RunTest). */
  runTest?: string;
  reportPath: string;
  /** The whole go test -v output goes here. */
  outputPath: string;
  /** Print the output as it comes. */
  echo?: boolean;
  /** Extra flags for the suite (e.g. -debug, -timeout-config-overrides=...). */
  extraArgs?: string[];
  timeoutMs?: number;
}

export interface HarnessProcess {
  /** Exit code; 128+n when killed by a signal. */
  done: Promise<number>;
  /** Kills the harness (its process group). */
  kill(): void;
}

export function harnessArgs(o: HarnessOptions): string[] {
  return [
    '-test.v',
    '-test.run=^TestConformance$',
    `-test.timeout=${Math.round((o.timeoutMs ?? 3 * 3600_000) / 1000)}s`,
    // Parallel tests mostly poll and wait; go test's default (GOMAXPROCS, 2 here) serialises them.
    '-test.parallel=6',
    `-gateway-class=${o.gatewayClass}`,
    `-conformance-profiles=${o.profiles.join(',')}`,
    `-report-output=${o.reportPath}`,
    ...(o.runTest ? [`-run-test=${o.runTest}`] : []),
    ...(o.extraArgs ?? []),
  ];
}

/** Starts the harness in test/conformance (its default paths are relative to it). */
export function startHarness(o: HarnessOptions): HarnessProcess {
  const out = createWriteStream(o.outputPath);
  const child: ChildProcess = spawn(o.binary, harnessArgs(o), {
    cwd: harnessDir,
    env: { ...process.env, KUBECONFIG: o.kubeconfig },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group: a kill takes everything it started
  });
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.on('data', (d: Buffer) => {
      out.write(d);
      if (o.echo) process.stdout.write(d);
    });
  }
  const done = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => out.end(() => resolve(code ?? (signal ? 128 : 1))));
  });
  return {
    done,
    kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    },
  };
}
