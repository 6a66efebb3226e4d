// Gateway API Duration strings (GEP-2257): one to four <digits><unit> parts, units h, m, s,
// ms, at most five digits each (the CRD's pattern ^([0-9]{1,5}(h|m|s|ms)){1,4}$), read as
// Go's time.ParseDuration reads them (parts add up: "1h30m", even "1s1s"). Parsed here, never
// passed through: nginx.conf and the Lua policy only see the milliseconds we computed.

const PART = /([0-9]{1,5})(ms|h|m|s)/y;
const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };

/**
 * The longest timeout waygate sets, in milliseconds: 2^31 - 1 (24 days 20:31:23.647). nginx
 * accepts longer values, but epoll_wait takes its timer as a C int: beyond this a lone
 * timer would wrap to "wait forever". The spec reads a zero duration as "the longest".
 */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** Milliseconds, or an error naming what is wrong (the caller prefixes the field). */
export function parseDuration(text: unknown): { ms: number } | { error: string } {
  if (typeof text !== 'string') return { error: `${JSON.stringify(text)} is not a duration string` };
  let ms = 0;
  let parts = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const at = PART.lastIndex;
    const m = PART.exec(text);
    if (!m || m.index !== at) return { error: `${JSON.stringify(text)} is not a Gateway API duration (1 to 4 parts like 1h, 30m, 10s, 500ms)` };
    parts++;
    ms += Number(m[1]) * UNIT_MS[m[2]!]!;
  }
  if (parts === 0 || parts > 4) return { error: `${JSON.stringify(text)} is not a Gateway API duration (1 to 4 parts like 1h, 30m, 10s, 500ms)` };
  return { ms };
}

/** A timeout: zero (the spec: "disabled") or 1 ms up to MAX_TIMEOUT_MS. */
export function parseTimeout(text: unknown): { ms: number } | { error: string } {
  const d = parseDuration(text);
  if ('error' in d) return d;
  if (d.ms > MAX_TIMEOUT_MS) return { error: `${JSON.stringify(text)} is longer than the longest timeout nginx keeps (${formatDuration(MAX_TIMEOUT_MS)}); use "0s" for no timeout` };
  return d;
}

/** Milliseconds as a Gateway API duration ("1h2m3s4ms"), for messages. */
export function formatDuration(ms: number): string {
  const out: string[] = [];
  let rest = ms;
  for (const [unit, size] of Object.entries(UNIT_MS)) {
    const n = Math.floor(rest / size);
    if (n) out.push(`${n}${unit}`);
    rest -= n * size;
  }
  return out.join('') || '0s';
}
