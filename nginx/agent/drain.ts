// Draining workers: after a reload nginx's old workers stop accepting connections but keep
// serving the open ones (WebSockets, long polls, slow downloads) until those close or the
// drain period ends (worker_shutdown_timeout, config.ts). Every reload that leaves such a
// connection behind leaves a worker generation, with its own copy of the configuration;
// frequent reloads would pile them up. Past a cap the oldest draining workers are ended
// (SIGTERM: nginx's fast shutdown, their connections close), newest connections kept.
import { readFileSync } from 'node:fs';
import { childrenOf, workerState } from './nginx.ts';

/** Default drain period: open connections survive a reload this long. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 5 * 60_000;
/** Default cap on draining workers (several reload generations of a few workers each). */
export const DEFAULT_MAX_DRAINING_WORKERS = 16;

export interface WorkerStats {
  serving: number;
  draining: number;
  /** Proportional set size (shared pages split among sharers), bytes; RSS where PSS is unreadable. */
  servingMemory: number;
  drainingMemory: number;
}

/** The process's start, in clock ticks since boot (/proc/<pid>/stat field 22); Infinity if gone. */
function startTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  } catch {
    return Infinity;
  }
}

/** Memory of one process: Pss from smaps_rollup, else VmRSS; 0 once it is gone. */
export function processMemory(pid: number): number {
  for (const [file, field] of [[`/proc/${pid}/smaps_rollup`, 'Pss'], [`/proc/${pid}/status`, 'VmRSS']] as const) {
    try {
      const kb = readFileSync(file, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'))?.[1];
      if (kb !== undefined) return Number(kb) * 1024;
    } catch {
      // unreadable (another user's process) or gone
    }
  }
  return 0;
}

/** The master's workers that are shutting down, oldest first. */
export function drainingWorkers(masterPid: number): number[] {
  return childrenOf(masterPid)
    .filter((p) => workerState(p) === 'shutting down')
    .map((pid) => ({ pid, start: startTicks(pid) }))
    .sort((a, b) => a.start - b.start || a.pid - b.pid)
    .map((w) => w.pid);
}

export function workerStats(masterPid: number | undefined): WorkerStats {
  const stats = { serving: 0, draining: 0, servingMemory: 0, drainingMemory: 0 };
  if (!masterPid) return stats;
  for (const pid of childrenOf(masterPid)) {
    const state = workerState(pid);
    if (state === 'serving') {
      stats.serving++;
      stats.servingMemory += processMemory(pid);
    } else if (state === 'shutting down') {
      stats.draining++;
      stats.drainingMemory += processMemory(pid);
    }
  }
  return stats;
}

/** Ends the oldest draining workers beyond `max`; returns their pids. */
export function enforceDrainLimit(masterPid: number, max: number): number[] {
  const draining = drainingWorkers(masterPid);
  const ended: number[] = [];
  for (const pid of draining.slice(0, Math.max(0, draining.length - max))) {
    try {
      process.kill(pid, 'SIGTERM');
      ended.push(pid);
    } catch {
      // exited meanwhile
    }
  }
  return ended;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A drain period as the CLI takes it ("300s", "5m", "1h", "1500ms"), 1 s to 24 h; else undefined. */
export function parseDrainTimeout(text: string): number | undefined {
  const m = /^(\d{1,9})(ms|s|m|h)$/.exec(text.trim());
  if (!m) return undefined;
  const ms = Number(m[1]) * UNIT_MS[m[2]!]!;
  return ms >= 1000 && ms <= 24 * 3_600_000 ? ms : undefined;
}
