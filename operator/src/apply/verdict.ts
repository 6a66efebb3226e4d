// The agent's verdict on a config version (verdict.json in the shared volume).
import { existsSync, readFileSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';

export interface Verdict {
  version: string;
  hash: string;
  ok: boolean;
  error?: string;
  file?: string;
  line?: number;
  object?: string;
  reloaded: boolean;
  at: string;
  durationMs: number;
  live: string;
}

export function readVerdictFile(configRoot: string): Verdict | undefined {
  const f = join(configRoot, 'verdict.json');
  if (!existsSync(f)) return undefined;
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as Verdict;
  } catch {
    return undefined; // mid-write is impossible (rename), but a foreign file must not crash us
  }
}

/** Calls back with each new verdict; the agent replaces verdict.json by rename. */
export function watchVerdicts(configRoot: string, onVerdict: (v: Verdict) => void): () => void {
  let last = '';
  const check = () => {
    const v = readVerdictFile(configRoot);
    if (!v) return;
    const id = `${v.version}\n${v.at}`;
    if (id === last) return;
    last = id;
    onVerdict(v);
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(configRoot, check);
  } catch {
    /* polling below covers it */
  }
  // fs.watch can miss renames on some volumes (network, overlay): poll as a backstop.
  const timer = setInterval(check, 250);
  check();
  return () => {
    watcher?.close();
    clearInterval(timer);
  };
}
