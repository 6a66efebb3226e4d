// Following the agent's verdicts (verdict.json in the shared volume). The file format is
// the agent's (nginx/agent/verdict.ts): one definition for both sides of the volume.
import { watch, type FSWatcher } from 'node:fs';
import { readVerdict, type Verdict } from '../../../nginx/agent/verdict.ts';

export type { Verdict };

/** Calls back with each new verdict; the agent replaces verdict.json by rename. */
export function watchVerdicts(configRoot: string, onVerdict: (v: Verdict) => void): () => void {
  let last = '';
  const check = () => {
    const v = readVerdict(configRoot);
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
