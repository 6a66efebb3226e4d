// Builds the control-plane binaries (and the node agent's backends) from the pinned Go
// modules, once per source change.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir, goModuleDir, versions } from './paths.ts';
import { run, which } from './exec.ts';

export const binaryNames = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-proxy', 'kubectl', 'coredns', 'echo-basic'] as const;
export type BinaryName = (typeof binaryNames)[number];
export type Binaries = Record<BinaryName, string>;

/** Built straight from a dependency's main package (a main package cannot be wrapped in a
 * cmd/ of ours); go.mod's `tool` directive keeps its requirements. The rest are cmd/<name>. */
const modulePackages: Partial<Record<BinaryName, string>> = { 'echo-basic': 'sigs.k8s.io/gateway-api-conformance-images/echo-basic' };

/** Inputs that decide the build output: module files, our main packages, the Go version. */
function sourceKey(goVersion: string): string {
  const h = createHash('sha256').update(goVersion).update(ldflags().join(' '));
  for (const f of ['go.mod', 'go.sum']) h.update(readFileSync(join(goModuleDir, f)));
  for (const name of binaryNames) h.update(name).update(modulePackages[name] ?? readFileSync(join(goModuleDir, 'cmd', name, 'main.go')));
  return h.digest('hex').slice(0, 16);
}

/** Stamps the release into the binaries, as Kubernetes' own build does (else "v0.0.0-master"). */
function ldflags(): string[] {
  const [major, minor] = versions.kubernetes.replace(/^v/, '').split('.');
  const pkg = 'k8s.io/component-base/version';
  return ['-s', '-w', `-X ${pkg}.gitVersion=${versions.kubernetes}`, `-X ${pkg}.gitMajor=${major}`, `-X ${pkg}.gitMinor=${minor}`, `-X ${pkg}.gitTreeState=clean`];
}

/** Every `go` command of the project runs with the pinned toolchain: the go command fetches it
 * once from the Go module proxy when the machine's own Go is older (a fresh machine ignores a
 * toolchain line in go.mod, so it is set here, not there). */
export function goEnv(): NodeJS.ProcessEnv {
  return { ...process.env, GOTOOLCHAIN: versions.goToolchain, GOFLAGS: '-mod=readonly -buildvcs=false' };
}

export async function goVersion(): Promise<string> {
  if (!(await which('go'))) {
    throw new Error('the Go toolchain is missing: the test bed builds etcd and Kubernetes from Go modules; install Go (any release from 1.21 on fetches the pinned toolchain itself) and put `go` on PATH');
  }
  return (await run('go', ['version'], { env: goEnv() })).trim();
}

/** Returns paths of the built binaries, building them first if their sources changed. */
export async function ensureBinaries(log: (msg: string) => void = console.error): Promise<Binaries> {
  const version = await goVersion();
  const dir = join(cacheDir, 'testbed-bin', sourceKey(version));
  const paths = Object.fromEntries(binaryNames.map((n) => [n, join(dir, n)])) as Binaries;
  if (binaryNames.every((n) => existsSync(paths[n]))) return paths;

  const staging = `${dir}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  log(`test bed: building ${binaryNames.join(', ')} with ${version} (first build takes several minutes; cached in ${dir})`);
  const started = Date.now();
  await run('go', ['build', '-trimpath', `-ldflags=${ldflags().join(' ')}`, '-o', staging + '/', './cmd/...', ...Object.values(modulePackages)], {
    cwd: goModuleDir,
    env: goEnv(),
    timeoutMs: 60 * 60_000,
  });
  const missing = binaryNames.filter((n) => !readdirSync(staging).includes(n));
  if (missing.length) throw new Error(`go build finished but did not produce: ${missing.join(', ')}`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(staging, dir);
  log(`test bed: built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return paths;
}

/** Directory of a module version in the Go module cache, downloading it if needed. */
export async function goModuleSource(module: string, version: string): Promise<string> {
  await goVersion();
  const out = await run('go', ['mod', 'download', '-json', `${module}@${version}`], { env: goEnv(), timeoutMs: 10 * 60_000 });
  const info = JSON.parse(out) as { Dir?: string; Error?: string };
  if (!info.Dir) throw new Error(`go mod download ${module}@${version}: ${info.Error ?? 'no directory reported'}`);
  return info.Dir;
}
