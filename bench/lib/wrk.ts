// wrk (Debian's package, installed when missing) run for a fixed time; its figures parsed.
import { run, tryRun, which } from '../../test/cluster/exec.ts';

export interface WrkResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Non-2xx/3xx responses. */
  non2xx: number;
  /** connect + read + write + timeout errors. */
  socketErrors: number;
}

export async function ensureWrk(): Promise<string> {
  const found = await which('wrk');
  if (found) return found;
  if (process.getuid?.() !== 0) throw new Error('wrk is missing: apt-get install wrk');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['install', '-y', '--no-install-recommends', 'wrk'], { env, timeoutMs: 5 * 60_000 }).catch(async () => {
    await run('apt-get', ['update'], { env, timeoutMs: 5 * 60_000 });
    await run('apt-get', ['install', '-y', '--no-install-recommends', 'wrk'], { env, timeoutMs: 5 * 60_000 });
  });
  const installed = await which('wrk');
  if (!installed) throw new Error('installed wrk but it is not on PATH');
  return installed;
}

const ms = (v: string, unit: string) => Number(v) * ({ us: 0.001, ms: 1, s: 1000 } as Record<string, number>)[unit]!;

export function parseWrk(out: string): WrkResult {
  const num = (re: RegExp) => Number(out.match(re)?.[1] ?? 0);
  const latency = (p: string) => {
    const m = out.match(new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm'));
    return m ? ms(m[1]!, m[2]!) : NaN;
  };
  const errors = out.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  return {
    requestsPerSecond: num(/Requests\/sec:\s+([\d.]+)/),
    p50Ms: latency('50'),
    p99Ms: latency('99'),
    requests: num(/(\d+) requests in/),
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
    socketErrors: errors ? errors.slice(1).reduce((s, x) => s + Number(x), 0) : 0,
  };
}

export interface WrkOptions {
  url: string;
  seconds: number;
  connections?: number;
  threads?: number;
  headers?: Record<string, string>;
}

export async function wrk(o: WrkOptions): Promise<WrkResult> {
  const bin = await ensureWrk();
  const args = ['--latency', `-d${o.seconds}s`, `-c${o.connections ?? 32}`, `-t${o.threads ?? 1}`, ...Object.entries(o.headers ?? {}).flatMap(([k, v]) => ['-H', `${k}: ${v}`]), o.url];
  const r = await tryRun(bin, args, { timeoutMs: (o.seconds + 30) * 1000 });
  if (r.code !== 0) throw new Error(`wrk failed (${r.code}): ${r.stderr}`);
  return parseWrk(r.stdout);
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
