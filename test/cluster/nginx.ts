// nginx from Debian's packages (installed when missing) and throwaway nginx instances for
// tests: their own prefix directory, loopback ports, no system config, no service started.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { luaHttp, luaModules } from '../../nginx/agent/lua.ts';
import { run, sleep, tail, tryRun, waitFor, which } from './exec.ts';
import { versions } from './paths.ts';

export interface NginxInstallation {
  binary: string;
  version: string;
  /** load_module path of the stream module. */
  streamModule: string;
}

async function probe(): Promise<NginxInstallation | undefined> {
  const binary = (await which('nginx')) ?? (existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : undefined);
  if (!binary) return undefined;
  const v = await tryRun(binary, ['-V']);
  const modulesPath = v.stderr.match(/--modules-path=(\S+)/)?.[1] ?? '/usr/lib/nginx/modules';
  const streamModule = join(modulesPath, 'ngx_stream_module.so');
  if (!existsSync(streamModule)) return undefined;
  return { binary, version: v.stderr.match(/nginx\/(\S+)/)?.[1] ?? 'unknown', streamModule };
}

/** Debian packages of versions.json not installed (dpkg's view; a machine without dpkg has none to add). */
async function missingPackages(): Promise<string[]> {
  if (!(await which('dpkg-query'))) return [];
  const missing: string[] = [];
  for (const pkg of versions.nginxPackages) {
    const r = await tryRun('dpkg-query', ['-W', '-f=${Status}', pkg]);
    if (!/install ok installed/.test(r.stdout)) missing.push(pkg);
  }
  return missing;
}

/** Finds nginx with the stream module, installing Debian's packages when missing (needs root). */
export async function ensureNginx(log: (m: string) => void = console.error): Promise<NginxInstallation> {
  const found = await probe();
  // nginx may be there without a module the config loads (a package added to versions.json later).
  const missing = found ? await missingPackages() : versions.nginxPackages;
  if (found && !missing.length) return found;
  if (process.getuid?.() !== 0) {
    throw new Error(`nginx or its modules are missing; install them: apt-get install ${missing.join(' ')}`);
  }
  log(`test bed: installing ${missing.join(' ')} from Debian's packages`);
  // Keep the package's postinst from starting a system nginx on port 80.
  const policy = '/usr/sbin/policy-rc.d';
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    await run('apt-get', ['update'], { env, timeoutMs: 5 * 60_000 });
    await run('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env, timeoutMs: 10 * 60_000 });
  } finally {
    if (ownPolicy) unlinkSync(policy);
  }
  const installed = await probe();
  if (!installed) throw new Error(`installed ${versions.nginxPackages.join(' ')} but found no nginx with ngx_stream_module.so`);
  return installed;
}

export interface NginxConfig {
  /** Contents of the http {} block. */
  http?: string;
  /** Contents of the stream {} block. */
  stream?: string;
  /** The rendered peers.txt (upstreams' endpoints, nginx/lua/waygate/peers.lua): loaded at start and reload. */
  peers?: string;
  /** The rendered certs.txt (HTTPS listeners' certificates, nginx/lua/waygate/certs.lua): read at start and reload. */
  certs?: string;
  /** The rendered routes.txt (the route table, nginx/lua/waygate/routes.lua): read at start and reload. */
  routes?: string;
}

export interface ThrowawayNginx {
  dir: string;
  conf: string;
  /** Runs `nginx -t` on the current config; resolves with its exit code and output. */
  test(): Promise<{ ok: boolean; output: string }>;
  /** Replaces the config; reloads only if `nginx -t` passes, else throws with its output. */
  reload(config: NginxConfig): Promise<void>;
  errorLog(): string;
  stop(): Promise<void>;
}

/** The config a throwaway nginx runs: everything under its own prefix, logs to files. */
export function renderTestConfig(install: NginxInstallation, dir: string, config: NginxConfig): string {
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `  ${k}_temp_path ${join(dir, `${k}_temp`)};`).join('\n');
  return [
    `load_module ${install.streamModule};`,
    luaModules(dirname(install.streamModule)),
    `pid ${join(dir, 'nginx.pid')};`,
    `error_log ${join(dir, 'error.log')} notice;`,
    'worker_processes 1;',
    'events { worker_connections 256; }',
    'http {',
    `  access_log ${join(dir, 'access.log')};`,
    luaHttp({ unavailable: join(dir, 'wg-503.sock'), peersFile: config.peers === undefined ? undefined : join(dir, 'peers.txt'), certsFile: config.certs === undefined ? undefined : join(dir, 'certs.txt'), routesFile: config.routes === undefined ? undefined : join(dir, 'routes.txt') }),
    temp,
    config.http ?? '',
    // Upstreams without peers send requests here (waygate.peers), as the agent's main config does.
    `  server { listen unix:${join(dir, 'wg-503.sock')}; access_log off; return 503; }`,
    '}',
    config.stream ? `stream {\n${config.stream}\n}` : '',
    '',
  ].join('\n');
}

export async function startNginx(config: NginxConfig): Promise<ThrowawayNginx> {
  const install = await ensureNginx();
  const dir = mkdtempSync(join(tmpdir(), 'waygate-nginx-'));
  chmodSync(dir, 0o755); // workers run as an unprivileged user and read below here
  const conf = join(dir, 'nginx.conf');
  const base = [install.binary, '-p', dir, '-e', join(dir, 'error.log'), '-c', conf] as const;
  const test = async () => {
    const r = await tryRun(base[0], [...base.slice(1), '-t']);
    return { ok: r.code === 0, output: (r.stderr + r.stdout).trim() };
  };
  if (config.peers !== undefined) writeFileSync(join(dir, 'peers.txt'), config.peers);
  if (config.certs !== undefined) writeFileSync(join(dir, 'certs.txt'), config.certs);
  if (config.routes !== undefined) writeFileSync(join(dir, 'routes.txt'), config.routes);
  writeFileSync(conf, renderTestConfig(install, dir, config));
  const checked = await test();
  if (!checked.ok) throw new Error(`nginx -t failed for ${conf}:\n${checked.output}`);

  const child: ChildProcess = spawn(base[0], [...base.slice(1), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const pidFile = join(dir, 'nginx.pid');
  await waitFor('nginx to start', async () => {
    if (exited()) throw new Error(`nginx exited (${child.exitCode ?? child.signalCode}): ${stderr}${tail(readErrorLog(dir), 20)}`);
    return existsSync(pidFile) ? true : undefined;
  }, 10_000, 20);
  // nginx writes its pid file before it opens the listening sockets; its first worker is
  // forked after them, so a worker is the sign that connections are accepted.
  await waitFor('nginx workers to start', async () => {
    if (exited()) throw new Error(`nginx exited (${child.exitCode ?? child.signalCode}): ${stderr}${tail(readErrorLog(dir), 20)}`);
    return hasChildren(child.pid!) ? true : undefined;
  }, 10_000, 10);

  return {
    dir,
    conf,
    test,
    errorLog: () => readErrorLog(dir),
    async reload(next) {
      const previous = readFileSync(conf, 'utf8');
      if (next.peers !== undefined) writeFileSync(join(dir, 'peers.txt'), next.peers);
      if (next.certs !== undefined) writeFileSync(join(dir, 'certs.txt'), next.certs);
      if (next.routes !== undefined) writeFileSync(join(dir, 'routes.txt'), next.routes);
      writeFileSync(conf, renderTestConfig(install, dir, next));
      const r = await test();
      if (!r.ok) {
        writeFileSync(conf, previous);
        throw new Error(`nginx -t failed, kept the previous config:\n${r.output}`);
      }
      await run(base[0], [...base.slice(1), '-s', 'reload']);
    },
    async stop() {
      if (!exited()) {
        child.kill('SIGQUIT'); // graceful: workers finish and exit with the master
        const deadline = Date.now() + 5000;
        while (!exited() && Date.now() < deadline) await sleep(20);
        if (!exited()) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function hasChildren(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().length > 0;
  } catch {
    return true; // no /proc children file: fall back to the pid file alone
  }
}

function readErrorLog(dir: string): string {
  const f = join(dir, 'error.log');
  return existsSync(f) ? readFileSync(f, 'utf8') : '';
}
