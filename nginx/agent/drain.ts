// Draining workers: after a reload nginx's old workers stop accepting connections but keep
// serving the open ones (WebSockets, long polls, slow downloads) until those close or the
// drain period ends (worker_shutdown_timeout, config.ts). Every reload that leaves such a
// connection behind leaves a worker generation, with its own copy of the configuration;
// frequent reloads would pile them up. Once the master reuses the memory of the old
// configuration, nearly all of a draining worker's memory is its own (measured: ~120 MiB
// each at 300 routes). Past a count or a memory budget the oldest draining workers are ended
// (SIGTERM: nginx's fast shutdown, their connections close), the newest connections kept.
import { readFileSync } from 'node:fs';
import { childrenOf, workerState } from './nginx.ts';

/** Default drain period: open connections survive a reload this long. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 5 * 60_000;
/** Default cap on draining workers (several reload generations of a few workers each). */
export const DEFAULT_MAX_DRAINING_WORKERS = 16;
/** Default memory budget of all draining workers together (PSS): half the Deployment's nginx container limit (1Gi). */
export const DEFAULT_MAX_DRAINING_MEMORY = 512 * 1048576;

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

/** The master's workers that are shutting down, oldest first, with their memory. */
export function drainingWorkers(masterPid: number): { pid: number; memory: number }[] {
  return childrenOf(masterPid)
    .filter((p) => workerState(p) === 'shutting down')
    .map((pid) => ({ pid, start: startTicks(pid), memory: processMemory(pid) }))
    .sort((a, b) => a.start - b.start || a.pid - b.pid)
    .map(({ pid, memory }) => ({ pid, memory }));
}

/** Which draining workers (oldest first) to end so that at most `max` remain, using at most `maxBytes` together. */
export function workersToEnd(draining: readonly { pid: number; memory: number }[], max: number, maxBytes: number): number[] {
  let total = draining.reduce((s, w) => s + w.memory, 0);
  let left = draining.length;
  const out: number[] = [];
  for (const w of draining) {
    if (left <= max && total <= maxBytes) break;
    out.push(w.pid);
    left--;
    total -= w.memory;
  }
  return out;
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

/** Ends the oldest draining workers beyond `max` workers or `maxBytes` of memory; returns their pids. */
export function enforceDrainLimit(masterPid: number, max: number, maxBytes = DEFAULT_MAX_DRAINING_MEMORY): number[] {
  const ended: number[] = [];
  for (const pid of workersToEnd(drainingWorkers(masterPid), max, maxBytes)) {
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

const SIZE_UNITS: Record<string, number> = { Mi: 1048576, Gi: 1073741824 };

/** A memory budget as the CLI takes it ("512Mi", "2Gi"), 16Mi to 1024Gi; else undefined. */
export function parseMemory(text: string): number | undefined {
  const m = /^(\d{1,7})(Mi|Gi)$/.exec(text.trim());
  if (!m) return undefined;
  const bytes = Number(m[1]) * SIZE_UNITS[m[2]!]!;
  return bytes >= 16 * 1048576 && bytes <= 1024 * 1073741824 ? bytes : undefined;
}
