// The versions directory written by the operator:
//   <configRoot>/versions/<version>/{http.conf,stream.conf,files/,meta.json}
// A version is complete once it has its decimal name and a meta.json; `.tmp-*` are being written.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export interface SourceRange {
  file: string;
  from: number;
  to: number;
  object: string;
}

export interface VersionMeta {
  version: string;
  hash: string;
  sources: SourceRange[];
}

export const versionsDir = (configRoot: string) => join(configRoot, 'versions');
export const versionDir = (configRoot: string, version: string) => join(configRoot, 'versions', version);

const DECIMAL = /^(0|[1-9]\d*)$/;

export function isVersionName(name: string): boolean {
  return DECIMAL.test(name);
}

/**
 * The version after the newest of `names` (others ignored), as BigInt: a planted
 * "99999999999999999999" must not make the next number wrap or repeat, as a Number would.
 */
export function nextVersion(names: Iterable<string>): string {
  let max = 0n;
  for (const n of names) if (isVersionName(n) && BigInt(n) > max) max = BigInt(n);
  return String(max + 1n);
}

/** Orders version names numerically (they may exceed 2^53: compare as BigInt). */
export function compareVersions(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Complete versions, oldest first. */
export function listComplete(configRoot: string): string[] {
  let names: string[];
  try {
    names = readdirSync(versionsDir(configRoot));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names
    .filter((n) => isVersionName(n) && existsSync(join(versionsDir(configRoot), n, 'meta.json')))
    .sort(compareVersions);
}

/** Reads and checks meta.json; throws with a readable message when it is unusable. */
export function readMeta(configRoot: string, version: string): VersionMeta {
  const file = join(versionDir(configRoot, version), 'meta.json');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`invalid meta.json of version ${version}: ${(err as Error).message}`);
  }
  const m = (raw ?? {}) as Partial<Record<keyof VersionMeta, unknown>>;
  if (typeof m.hash !== 'string') throw new Error(`invalid meta.json of version ${version}: no "hash"`);
  if (m.version !== undefined && String(m.version) !== version) {
    throw new Error(`invalid meta.json of version ${version}: it says version ${String(m.version)}`);
  }
  const sources = Array.isArray(m.sources)
    ? m.sources.filter(
        (s): s is SourceRange =>
          !!s && typeof s.file === 'string' && typeof s.object === 'string' && Number.isInteger(s.from) && Number.isInteger(s.to),
      )
    : [];
  return { version, hash: m.hash, sources };
}

/** The object whose rendered lines contain file:line; the narrowest range wins. */
export function objectAt(meta: VersionMeta | undefined, file: string | undefined, line: number | undefined): string | undefined {
  if (!meta || !file || line === undefined) return undefined;
  let best: SourceRange | undefined;
  for (const s of meta.sources) {
    if (s.file !== file || s.from > line || s.to < line) continue;
    if (!best || s.to - s.from < best.to - best.from) best = s;
  }
  return best?.object;
}

/**
 * Removes old version directories, keeping `keep` (the live and serving ones), the newest,
 * and the `others` newest of the rest. Returns the removed versions.
 */
export function prune(configRoot: string, keep: Iterable<string | undefined>, others = 3): string[] {
  const all = listAllVersionDirs(configRoot);
  const newest = all.at(-1);
  if (newest === undefined) return [];
  const kept = new Set<string>([...keep].filter((v): v is string => v !== undefined));
  kept.add(newest);
  const rest = all.filter((v) => !kept.has(v));
  const remove = rest.slice(0, Math.max(0, rest.length - others));
  for (const v of remove) rmSync(versionDir(configRoot, v), { recursive: true, force: true });
  return remove;
}

/** Every decimal-named directory, complete or not, oldest first. */
function listAllVersionDirs(configRoot: string): string[] {
  try {
    return readdirSync(versionsDir(configRoot), { withFileTypes: true })
      .filter((d) => d.isDirectory() && isVersionName(d.name))
      .map((d) => d.name)
      .sort(compareVersions);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
