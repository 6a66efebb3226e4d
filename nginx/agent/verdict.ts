// <configRoot>/verdict.json: the agent's judgement of the newest version, for the operator.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Verdict {
  version: string;
  hash: string;
  ok: boolean;
  /** nginx -t output (trimmed) or why the reload was not confirmed. */
  error?: string;
  /** File of the error, relative to the version directory (e.g. "http.conf"). */
  file?: string;
  line?: number;
  /** The object (from meta.json sources) whose rendered lines contain file:line. */
  object?: string;
  /** What of the version could not be set up though the version is served (the TLS hop's unusable manifest entries). */
  warnings?: string[];
  /** Whether nginx loaded this version (start or SIGHUP); false when adopted unchanged or rejected. */
  reloaded: boolean;
  /** ISO time of the verdict. */
  at: string;
  /** nginx -t + reload + verification, in ms. */
  durationMs: number;
  /** The version now serving ("" when none). */
  live: string;
}

export const verdictPath = (configRoot: string) => join(configRoot, 'verdict.json');

/** Writes verdict.json atomically (temp file + rename). */
export function writeVerdict(configRoot: string, verdict: Verdict): void {
  const file = verdictPath(configRoot);
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(verdict, null, 2) + '\n');
  renameSync(tmp, file);
}

/** The agent's last verdict, or undefined when there is none (yet) or it is unreadable. */
export function readVerdict(configRoot: string): Verdict | undefined {
  try {
    const v = JSON.parse(readFileSync(verdictPath(configRoot), 'utf8')) as Verdict;
    return v && typeof v.version === 'string' && typeof v.ok === 'boolean' ? v : undefined;
  } catch {
    return undefined;
  }
}
