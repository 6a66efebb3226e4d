// Realistic tenant regexes for timing the check (bench/regex.ts) and for comparing the
// structural proof with recheck (test/unit/regex-safety.test.ts): path regexes of 1 to 6
// segments, and header values (versions, UUIDs, hostnames, tokens, user agents). A
// deterministic generator: pattern i is the same on every run; distinct for distinct i.

const WORDS = ['api', 'users', 'orders', 'items', 'static', 'admin', 'v2', 'reports', 'billing', 'search', 'assets', 'auth'];
const SEGMENTS = [
  '[0-9]+', '[a-z]+', '[^/]+', '[a-z0-9-]+', 'v[0-9]+', '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}',
  '(?:en|de|fr)', '[A-Za-z0-9_-]{1,64}', '\\d{4}-\\d{2}-\\d{2}', '[^/]*\\.json', '(?:draft|published)', '[0-9]{1,10}',
];
const TAILS = ['', '/?', '/.*', '(?:/.*)?', '\\.(?:json|xml)', '/[^/]+\\.(?:png|jpe?g|gif)'];
const HEADERS = [
  (k: string) => `v?[0-9]+\\.[0-9]+(\\.[0-9]+)?${k}`,
  (k: string) => `[0-9]+\\.[0-9]+\\.[0-9]+(-[a-z0-9.]+)?${k}`,
  (k: string) => `${k}[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`,
  (k: string) => `[a-z0-9-]+\\.${k}\\.example\\.com`,
  (k: string) => `(?:[a-z0-9-]+\\.)*${k}\\.example\\.org`,
  (k: string) => `Bearer ${k}[A-Za-z0-9._~+/-]+=*`,
  (k: string) => `Mozilla/5\\.0 .*${k}/[0-9.]+`,
  (k: string) => `(?:gzip|deflate|br|${k})`,
  (k: string) => `${k}-[a-z]{2}(?:-[A-Z]{2})?`,
  (k: string) => `[0-9]{1,3}(\\.[0-9]{1,3}){3}:${k}`,
  (k: string) => `text/${k}(;\\s*charset=[a-z0-9-]+)?`,
  (k: string) => `${k}=[^;]+(;\\s*[a-z]+=[^;]+)*`,
];

/** Pattern number i: three in four are paths, one in four header values. */
export function realisticPattern(i: number): string {
  const tag = i < WORDS.length ? WORDS[i] : `${WORDS[i % WORDS.length]}${Math.floor(i / WORDS.length)}`;
  if (i % 4 === 3) return HEADERS[Math.floor(i / 4) % HEADERS.length](tag);
  const depth = 1 + (Math.floor(i / 3) % 6);
  const parts = Array.from({ length: depth }, (_, k) =>
    k === 0 ? tag : k % 2 === 1 ? SEGMENTS[(i * 7 + k * 5) % SEGMENTS.length] : WORDS[(i + k) % WORDS.length]);
  return `/${parts.join('/')}${TAILS[(i * 11) % TAILS.length]}`;
}

export const realisticPatterns = (n: number): string[] => Array.from({ length: n }, (_, i) => realisticPattern(i));

/** Patterns the policy refuses or that reach recheck: overlapping loops, nesting, sizes. */
export const HARD_PATTERNS = [
  '(a+)+$', '(a|a)*b', '.*a.*a.*b', '/foo/.*/bar/.*', '.*a.*b', '(\\d+\\.)*\\d+', '(?:[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\\.)+[a-z]{2,}',
  '[a-z]*[0-9]*[a-z]*', '/api/.*/users', '(?:ab|a)*c', '(x{2,5})*y', '[ab]*a[ab]{10}', '(?:[ab]{10}){3}a[ab]*', '\\w+\\s+\\w+',
  '[^/]*/[^/]*', '.*\\.(?:css|js)', '[a-z]+[0-9]+', '[a-z0-9]+[0-9]+', '(?:/[a-z]+)+/?', '(?:/[a-z]+)*/[0-9]+',
];
