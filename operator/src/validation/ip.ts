// IP address parsing with Go's rules, which differ from Node's net.isIP in the corners the
// API server checks (leading zeros, zones, IPv4-mapped IPv6).

export interface ParsedIP {
  version: 4 | 6;
  /** 16 bytes for IPv6, 4 for IPv4. */
  bytes: number[];
  zone?: string;
}

/** Dotted-quad IPv4. strict: Go >= 1.17 rejects leading zeros; sloppy (ParseIPSloppy) reads them as decimal. */
function parseV4(s: string, strict: boolean): number[] | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  const bytes: number[] = [];
  for (const p of parts) {
    if (!/^[0-9]{1,3}$/.test(p) || (strict && p.length > 1 && p[0] === '0')) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    bytes.push(n);
  }
  return bytes;
}

function parseV6(s: string, strictV4: boolean): number[] | undefined {
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const groups = (h: string): number[] | undefined => {
    if (h === '') return [];
    const out: number[] = [];
    const fields = h.split(':');
    for (const [i, f] of fields.entries()) {
      if (i === fields.length - 1 && f.includes('.')) {
        const v4 = parseV4(f, strictV4);
        if (!v4) return undefined;
        const [a = 0, b = 0, c = 0, d = 0] = v4; // parseV4 returns four bytes
        out.push((a << 8) | b, (c << 8) | d);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(f)) out.push(parseInt(f, 16));
      else return undefined;
    }
    return out;
  };
  const [first = '', second] = halves; // split() returns at least one part
  const head = groups(first);
  const tail = second !== undefined ? groups(second) : [];
  if (!head || !tail) return undefined;
  // An embedded IPv4 address may only end the address.
  if (second !== undefined && first.includes('.')) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const words = [...head, ...Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  return words.flatMap((w) => [w >> 8, w & 0xff]);
}

/** net.ParseIP (sloppy: netutils.ParseIPSloppy); no zones. */
export function parseIP(s: string, opts: { sloppy?: boolean } = {}): ParsedIP | undefined {
  const v4 = parseV4(s, !opts.sloppy);
  if (v4) return { version: 4, bytes: v4 };
  if (!s.includes(':')) return undefined;
  const v6 = parseV6(s, !opts.sloppy);
  return v6 && { version: 6, bytes: v6 };
}

/** netip.ParseAddr: strict, and IPv6 may carry a %zone. */
export function parseAddr(s: string): ParsedIP | undefined {
  const v4 = parseV4(s, true);
  if (v4) return { version: 4, bytes: v4 };
  const cut = s.indexOf('%');
  const addr = cut < 0 ? s : s.slice(0, cut);
  const zone = cut < 0 ? undefined : s.slice(cut + 1);
  if (zone === '' || !addr.includes(':')) return undefined;
  const v6 = parseV6(addr, true);
  return v6 && { version: 6, bytes: v6, zone };
}

export function is4In6(ip: ParsedIP): boolean {
  return ip.version === 6 && ip.bytes.slice(0, 10).every((b) => b === 0) && ip.bytes[10] === 0xff && ip.bytes[11] === 0xff;
}
