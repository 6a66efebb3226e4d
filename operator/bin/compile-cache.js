// Node's compile cache (module.enableCompileCache) for waygate's entry point: Node strips the
// types of every .ts module and compiles it on each start, 0.4-0.5 s of every `waygate
// render` on 2 cores; with the cache, a start after the first reads both from disk.
// Only in a private directory (ours, 0700, no ancestor others may write, as the modes'
// run directories): a cache another user can write is code they make us run. Off when
// there is no such directory, and when the user chose (NODE_COMPILE_CACHE, which Node
// applies itself, or NODE_DISABLE_COMPILE_CACHE).
import { mkdirSync } from 'node:fs';
import { enableCompileCache } from 'node:module';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

/** The cache directory: $XDG_CACHE_HOME/waygate/node-compile-cache, else ~/.cache/waygate/node-compile-cache. */
export function compileCacheDir(env = process.env) {
  const base = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return isAbsolute(base) ? join(base, 'waygate', 'node-compile-cache') : undefined;
}

/** Enables the cache when its directory is (or can be made) private; returns the directory, or why not. */
export async function enableWaygateCompileCache(env = process.env) {
  if (env.NODE_COMPILE_CACHE || env.NODE_DISABLE_COMPILE_CACHE) return { skipped: 'the environment chose' };
  const dir = compileCacheDir(env);
  if (!dir) return { skipped: 'no absolute cache directory' };
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    return { skipped: `cannot create ${dir}: ${err.code || err.message}` };
  }
  const { privateDirProblem } = await import('../../nginx/agent/private-dir.ts');
  const problem = privateDirProblem(dir);
  if (problem) return { skipped: `${dir} ${problem}` };
  const r = enableCompileCache(dir);
  return { dir, status: r.status };
}
