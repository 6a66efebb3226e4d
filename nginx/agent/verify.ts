// Asks nginx's status server, on its unix socket, which version its workers serve.
import { request } from 'node:http';
import { VERSION_PATH } from './config.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One request on a fresh connection; undefined when nothing answers (yet). */
export function probeVersion(socketPath: string, timeoutMs = 1000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = request(
      { socketPath, path: VERSION_PATH, agent: false, headers: { connection: 'close' }, timeout: timeoutMs },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve(res.statusCode === 200 ? body.trim() : undefined));
        res.on('error', () => resolve(undefined));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Checked between probes; a string ends the wait early as a failure with that reason. */
  failure?: () => string | undefined;
}

/** Polls until the status server answers `version`; resolves with the failure reason otherwise. */
export async function waitForVersion(socketPath: string, version: string, opts: WaitOptions): Promise<{ ok: true } | { ok: false; reason: string; last?: string }> {
  const deadline = Date.now() + opts.timeoutMs;
  let last: string | undefined;
  for (;;) {
    last = await probeVersion(socketPath, Math.max(100, Math.min(1000, deadline - Date.now())));
    if (last === version) return { ok: true };
    const failed = opts.failure?.();
    if (failed) return { ok: false, reason: failed, last };
    if (Date.now() >= deadline) return { ok: false, reason: `timed out after ${opts.timeoutMs} ms (serving ${last ?? 'nothing'})`, last };
    await sleep(opts.intervalMs ?? 20);
  }
}
