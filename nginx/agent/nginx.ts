// The nginx process: `nginx -t` of a candidate config, the master (daemon off, our child),
// SIGHUP reloads, graceful stop, and reading its error log.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync, truncateSync } from 'node:fs';
import { relative, sep } from 'node:path';
import type { Logger } from 'winston';
import { runPaths } from './config.ts';

export const DEFAULT_NGINX = '/usr/sbin/nginx';

export interface TestResult {
  ok: boolean;
  /** nginx's output, trimmed. */
  output: string;
}

/**
 * `nginx -t` of a main config, with the same prefix and error log the master uses. Its stdout
 * is ours, as the master's is: nginx opens `access_log /dev/stdout` while testing, and that
 * fails (ENXIO) on a socket pair, which is what a captured stdout would be. nginx -t reports
 * on stderr.
 */
export function testConfig(binary: string, runDir: string, conf: string): Promise<TestResult> {
  const paths = runPaths(runDir);
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['-t', '-p', runDir, '-e', paths.errorLog, '-c', conf], { stdio: ['ignore', 'inherit', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => { if (stderr.length < 16 << 20) stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('error', (err) => { clearTimeout(timer); reject(err); }); // not started
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === null) return reject(new Error(`nginx -t killed by ${signal ?? 'a signal'} (timeout 120 s)`));
      resolve({ ok: code === 0, output: trimOutput(stderr) });
    });
  });
}

function trimOutput(output: string, max = 4000): string {
  const t = output.trim();
  return t.length > max ? `${t.slice(0, max)}\n... (${t.length - max} more characters)` : t;
}

/**
 * Where `nginx -t` failed: the first `in <path>:<line>` of an [emerg] line. `file` is relative
 * to the version directory when the path is inside it; "nginx.conf" for the composed main config.
 */
export function parseTestError(output: string, versionDir: string | undefined, mainConfigs: string[]): { file?: string; line?: number } {
  for (const l of output.split('\n')) {
    if (!/\[(emerg|alert|crit|error)\]/.test(l)) continue;
    const [, path, line] = l.match(/ in (\S+):(\d+)\s*$/) ?? [];
    if (path === undefined || line === undefined) continue;
    if (mainConfigs.includes(path)) return { file: 'nginx.conf', line: Number(line) };
    if (versionDir) {
      const rel = relative(versionDir, path);
      if (!rel.startsWith('..') && !rel.startsWith(sep)) return { file: rel.split(sep).join('/'), line: Number(line) };
    }
    return { file: path, line: Number(line) };
  }
  return {};
}

/** Error-log lines without their timestamp and pid prefix. */
function stripPrefix(line: string): string {
  return line.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d (\[\w+\]) \d+#\d+: (\*\d+ )?/, '$1 ');
}

/** The error log from `offset` on. */
export function readErrorLogFrom(runDir: string, offset: number, maxBytes = 1 << 20): string {
  const file = runPaths(runDir).errorLog;
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return '';
  }
  try {
    const size = statSync(file).size;
    const start = size < offset ? 0 : Math.max(offset, size - maxBytes); // truncated meanwhile: from the start
    const buf = Buffer.alloc(size - start);
    const n = readSync(fd, buf, 0, buf.length, start);
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

export function errorLogSize(runDir: string): number {
  try {
    return statSync(runPaths(runDir).errorLog).size;
  } catch {
    return 0;
  }
}

/** Keeps the error log from growing without bound (nginx opens it O_APPEND). */
export function capErrorLog(runDir: string, maxBytes = 16 << 20): void {
  if (errorLogSize(runDir) > maxBytes) truncateSync(runPaths(runDir).errorLog, 0);
}

/**
 * Why a reload failed, from the error log written since the SIGHUP, or undefined while it may
 * still succeed. A bind() conflict is retried by the master for ~2.5 s before it gives up.
 */
export function reloadFailure(logSinceHup: string, masterPid?: number): string | undefined {
  // Only the master's own lines judge the reload: workers log [crit] for what clients do (e.g.
  // OpenSSL 3 handshake errors nginx 1.22 does not know, a failed connect to a local socket),
  // and anyone on the internet must not be able to make a good version look refused.
  const own = (l: string) => masterPid === undefined || new RegExp(`^\\S+ \\S+ \\[\\w+\\] ${masterPid}#`).test(l);
  const bad = logSinceHup.split('\n').filter((l) => /\[(emerg|alert|crit)\]/.test(l) && own(l));
  if (bad.length === 0) return undefined;
  const retryingBind = bad.every((l) => /bind\(\) to .* failed \(98: /.test(l)) && !/still could not bind\(\)/.test(logSinceHup);
  if (retryingBind) return undefined;
  return [...new Set(bad.map(stripPrefix))].join('\n');
}

/** The last lines of the error log since `offset`, for a failure message. */
export function errorLogTail(runDir: string, offset: number, lines = 10): string {
  const all = readErrorLogFrom(runDir, offset).trimEnd().split('\n').filter(Boolean);
  return all.slice(-lines).map(stripPrefix).join('\n');
}

export interface MasterOptions {
  binary: string;
  runDir: string;
  logger: Logger;
}

/** The nginx master process, running `<runDir>/nginx.conf` in the foreground as our child. */
export class NginxMaster {
  private readonly opts: MasterOptions;
  private child: ChildProcess | undefined;
  private exitListeners: ((code: number | null, signal: NodeJS.Signals | null) => void)[] = [];
  private exitedPromise: Promise<void> = Promise.resolve();
  private stderrTail = '';

  constructor(opts: MasterOptions) {
    this.opts = opts;
  }

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** What nginx wrote to stderr lately (startup failures before the error log opens). */
  get recentStderr(): string {
    return this.stderrTail;
  }

  onExit(cb: (code: number | null, signal: NodeJS.Signals | null) => void): void {
    this.exitListeners.push(cb);
  }

  start(): void {
    if (this.running) throw new Error('nginx is already running');
    const { binary, runDir, logger } = this.opts;
    const paths = runPaths(runDir);
    const child = spawn(binary, ['-p', runDir, '-e', paths.errorLog, '-c', paths.conf, '-g', 'daemon off;'], {
      stdio: ['ignore', 'inherit', 'pipe'],
    });
    this.child = child;
    this.stderrTail = '';
    let partial = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      this.stderrTail = (this.stderrTail + d).slice(-4000);
      const lines = (partial + d).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) if (l.trim()) logger.warn(stripPrefix(l.replace(/^nginx: /, '')), { component: 'nginx' });
    });
    this.exitedPromise = new Promise((resolve) => {
      child.on('error', (err) => {
        logger.error(`nginx could not be started: ${err.message}`, { component: 'nginx' });
      });
      child.on('close', (code, signal) => {
        resolve();
        if (this.child === child) for (const cb of this.exitListeners) cb(code, signal);
      });
    });
    logger.info(`nginx master started (pid ${child.pid})`, { component: 'nginx' });
  }

  /** SIGHUP: the master re-reads <runDir>/nginx.conf and replaces its workers. */
  reload(): void {
    const pid = this.pid;
    if (!pid) throw new Error('nginx is not running');
    process.kill(pid, 'SIGHUP');
  }

  /** Graceful stop (SIGQUIT: workers finish their requests), SIGKILL after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined; // an exit from here on is expected: no listeners
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGQUIT');
      const timer = setTimeout(() => {
        // Workers outlive a killed master (and keep its listening sockets): kill them too.
        const workers = child.pid ? childrenOf(child.pid) : [];
        child.kill('SIGKILL');
        for (const w of workers) killQuietly(w);
      }, graceMs);
      await this.exitedPromise;
      clearTimeout(timer);
    }
    this.opts.logger.info('nginx master stopped', { component: 'nginx' });
  }

  /**
   * For a process 'exit' handler (synchronous): asks the master for a fast shutdown (SIGTERM:
   * it stops its workers, then exits) so no nginx outlives us, e.g. after an uncaught error.
   */
  killOnExit(): void {
    const pid = this.pid;
    if (pid) killQuietly(pid, 'SIGTERM');
  }

  /** Resolves when the current master has exited. */
  exited(): Promise<void> {
    return this.exitedPromise;
  }
}

/** A master recorded in the pid file that still runs (e.g. left behind by a crashed agent). */
export function runningMasterFromPidFile(runDir: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(runPaths(runDir).pid, 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'nginx' ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Pids whose parent is `pid` (nginx workers of a master), from /proc. */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may contain spaces and parentheses.
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(e));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

function killQuietly(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** What an nginx worker is doing, from its process title (nginx rewrites its argv). */
export function workerState(pid: number): 'gone' | 'shutting down' | 'serving' | 'other' {
  let title: string;
  try {
    title = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return 'gone';
  }
  if (title === '') return 'gone'; // a zombie
  if (title.includes('shutting down')) return 'shutting down';
  return title.includes('worker process') ? 'serving' : 'other';
}

/** The workers of a master that accept connections now. */
export function servingWorkers(masterPid: number): number[] {
  return childrenOf(masterPid).filter((p) => workerState(p) === 'serving');
}
