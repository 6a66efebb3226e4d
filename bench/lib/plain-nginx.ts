// A hand-written nginx: the baseline the gateway is compared with. The caller writes the
// whole nginx.conf body (the http block's contents); the process runs under its own prefix
// with the same worker settings the agent gives the gateway's nginx.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tryRun, waitFor } from '../../test/cluster/exec.ts';
import { ensureNginx } from '../../test/cluster/nginx.ts';

export interface PlainNginx {
  dir: string;
  /** Replaces the http block and reloads (nginx -t first). */
  reload(http: string): Promise<void>;
  /** Reloads with the same config (SIGHUP): new workers, old ones drain. */
  hup(): Promise<void>;
  stop(): Promise<void>;
}

export async function startPlainNginx(http: string, workers: number | 'auto' = 'auto'): Promise<PlainNginx> {
  const install = await ensureNginx();
  const dir = mkdtempSync(join(tmpdir(), 'waygate-bench-nginx-'));
  chmodSync(dir, 0o755);
  const conf = join(dir, 'nginx.conf');
  const write = (body: string) =>
    writeFileSync(conf, [
      `pid ${join(dir, 'nginx.pid')};`,
      `error_log ${join(dir, 'error.log')} warn;`,
      `worker_processes ${workers};`,
      'worker_shutdown_timeout 240s;',
      'events { worker_connections 4096; }',
      'http {',
      '  access_log off;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `  ${k}_temp_path ${join(dir, k)};`),
      body,
      '}',
      '',
    ].join('\n'));
  const base = ['-p', dir, '-e', join(dir, 'error.log'), '-c', conf];
  const check = async () => {
    const r = await tryRun(install.binary, [...base, '-t']);
    if (r.code !== 0) throw new Error(`nginx -t failed: ${r.stderr}`);
  };
  write(http);
  await check();
  const child = spawn(install.binary, [...base, '-g', 'daemon off;'], { stdio: 'ignore' });
  const pidFile = join(dir, 'nginx.pid');
  await waitFor('baseline nginx', async () => (existsSync(pidFile) ? true : undefined), 10_000, 20);
  await new Promise((r) => setTimeout(r, 200)); // workers forked after the listeners open
  const pid = () => Number(readFileSync(pidFile, 'utf8').trim());
  return {
    dir,
    async reload(body) {
      write(body);
      await check();
      process.kill(pid(), 'SIGHUP');
    },
    async hup() {
      process.kill(pid(), 'SIGHUP');
    },
    async stop() {
      child.kill('SIGQUIT');
      await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
