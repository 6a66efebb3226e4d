// Long-running test bed processes: started detached with their output in log files, recorded
// in a pid file so that a later run (or `npm run cluster stop`) can stop what a crashed run left.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { FatalError, sleep, tail, tryRun } from './exec.ts';

export interface ManagedProcess {
  name: string;
  pid: number;
  log: string;
}

const pidFile = (stateDir: string) => join(stateDir, 'pids.json');

function readPids(stateDir: string): ManagedProcess[] {
  try {
    return JSON.parse(readFileSync(pidFile(stateDir), 'utf8')) as ManagedProcess[];
  } catch {
    return [];
  }
}

function writePids(stateDir: string, procs: ManagedProcess[]): void {
  writeFileSync(pidFile(stateDir), JSON.stringify(procs, null, 2));
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie still answers kill(0); treat it as gone.
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** True when pid still runs a command from this test bed (pids get reused after a reboot). */
function isOurs(pid: number, stateDir: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(stateDir);
  } catch {
    return false;
  }
}

/** Starts a server process detached from us, with stdout and stderr appended to a log file. */
export function startProcess(stateDir: string, name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): ManagedProcess {
  const log = join(stateDir, 'logs', `${name}.log`);
  const fd = openSync(log, 'a');
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd], env });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start ${name} (${cmd})`);
  child.unref();
  const proc = { name, pid: child.pid, log };
  writePids(stateDir, [...readPids(stateDir).filter((p) => p.name !== name), proc]);
  return proc;
}

/** Throws with the tail of the log when the process has exited (used while waiting for readiness). */
export function assertRunning(proc: ManagedProcess): void {
  if (isAlive(proc.pid)) return;
  const log = existsSync(proc.log) ? tail(readFileSync(proc.log, 'utf8'), 40) : '(no log)';
  throw new FatalError(`${proc.name} exited during start-up; last lines of ${proc.log}:\n${log}`);
}

async function stopPid(pid: number, graceMs: number): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig); // its process group: detached children lead their own
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        /* already gone */
      }
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(50);
  if (isAlive(pid)) signal('SIGKILL');
  while (isAlive(pid)) await sleep(20);
}

/** Stops every process recorded in the state dir, in reverse start order. Returns their names. */
export async function stopRecorded(stateDir: string, graceMs = 10_000): Promise<string[]> {
  const procs = readPids(stateDir).reverse();
  const stopped: string[] = [];
  for (const p of procs) {
    if (isAlive(p.pid) && isOurs(p.pid, stateDir)) {
      await stopPid(p.pid, graceMs);
      stopped.push(p.name);
    }
  }
  if (existsSync(pidFile(stateDir))) writePids(stateDir, []);
  return stopped;
}

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** Throws one error naming every port that is taken and, where `ss` can tell, by which process. */
export async function assertPortsFree(ports: Record<string, number>, host = '127.0.0.1'): Promise<void> {
  const busy: string[] = [];
  for (const [what, port] of Object.entries(ports)) {
    if (await canListen(port, host)) continue;
    const ss = await tryRun('ss', ['-Hltnp', `sport = :${port}`]).catch(() => undefined);
    const owner = ss?.stdout.match(/users:\(\((.*?)\)\)/)?.[1];
    busy.push(`${host}:${port} (${what}) is in use${owner ? ` by ${owner}` : ''}`);
  }
  if (busy.length) {
    throw new Error(`test bed ports are taken:\n  ${busy.join('\n  ')}\nstop those processes, or choose other ports with WAYGATE_TESTBED_PORT_BASE`);
  }
}

/** A port that is free right now, chosen by the kernel. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}
