// The nginx master of a standalone run directory and its serving workers, from /proc: tests
// tell a reload (new workers) from none (the same pids).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The nginx master and the pids of its serving workers (a reload replaces the workers). */
export function nginxProcesses(runDir: string): { master: number; workers: number[] } {
  const master = Number(readFileSync(join(runDir, 'nginx', 'nginx.pid'), 'utf8').trim());
  const workers = readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === master && !readFileSync(`/proc/${e}/cmdline`, 'utf8').includes('shutting down');
      } catch {
        return false;
      }
    })
    .map(Number)
    .sort((a, b) => a - b);
  return { master, workers };
}
