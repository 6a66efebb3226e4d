// Directories that hold what nginx loads (configs, keys) or writes (logs, the status socket)
// must be private: a directory another local user can create, replace or write (a fixed
// name in /tmp) lets them plant a config that the root nginx master loads.
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, realpathSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const uid = () => process.getuid?.() ?? 0;
const octal = (mode: number) => `0${(mode & 0o777).toString(8).padStart(3, '0')}`;

/** Why `dir` is not private to this user (undefined: it is): a real directory, ours, not writable by others. */
export function privateDirProblem(dir: string, trustedParent?: string): string | undefined {
  let st;
  try {
    st = lstatSync(dir);
  } catch (err) {
    return `cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }
  if (st.isSymbolicLink()) return 'is a symbolic link';
  if (!st.isDirectory()) return 'is not a directory';
  if (st.uid !== uid()) return `is owned by uid ${st.uid}, not by uid ${uid()}`;
  if (st.mode & 0o022) return `is writable by group or others (mode ${octal(st.mode)})`;
  // Whoever may rename an ancestor may swap the whole tree: every ancestor must be ours or
  // root's, and not writable by others unless sticky (as /tmp is: others cannot rename our entry).
  const trusted = trustedParent && realpathSync(trustedParent);
  for (let p = dirname(realpathSync(dir)); ; p = dirname(p)) {
    if (p === trusted) return undefined; // a volume only this pod sees: what is above it is not ours to judge
    const a = statSync(p);
    if (a.uid !== uid() && a.uid !== 0) return `is inside ${p}, owned by uid ${a.uid}`;
    if (a.mode & 0o022 && !(a.mode & 0o1000)) return `is inside ${p}, writable by group or others (mode ${octal(a.mode)})`;
    if (p === dirname(p)) return undefined;
  }
}

/**
 * Creates `dir` with mode 0700 (parents too), or checks an existing one; throws a message
 * naming it when it is not private. `tighten` sets an existing one to 0700 (a directory
 * only we use, e.g. nginx's run directory). `trustedParent`: an ancestor that is a volume
 * of this pod alone (a Kubernetes emptyDir is root-owned and world-writable, yet only the
 * pod's own containers, all one user, see it): it and what is above it are not checked;
 * `dir` itself still must be ours and private.
 */
export function ensurePrivateDir(dir: string, opts: { what?: string; tighten?: boolean; trustedParent?: string } = {}): string {
  const path = resolve(dir);
  let created = false;
  try {
    mkdirSync(path, { mode: 0o700 });
    created = true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      mkdirSync(path, { recursive: true, mode: 0o700 });
      created = true;
    } else if (code !== 'EEXIST') throw err;
  }
  const problem = privateDirProblem(path, opts.trustedParent);
  if (problem) throw new Error(`${opts.what ?? 'directory'} ${path} ${problem}; refusing to use it (it must be owned by uid ${uid()}, not a symlink, not writable by others)`);
  if (created || opts.tighten) chmodSync(path, 0o700); // the umask may have left less; never more
  return path;
}

/** A new directory with an unpredictable name under os.tmpdir(), mode 0700. */
export function privateTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o700);
  return dir;
}
