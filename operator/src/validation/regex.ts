// Go RE2 patterns (OpenAPI `pattern`, CEL `matches()`) matched by re2js, a port of RE2/J:
// RE2 syntax and semantics (`.` and \n, ASCII \s, (?i) scoping, literal braces, \Q..\E) and,
// unlike a translated JS RegExp, linear-time matching, so a tenant's string cannot make a
// backtracking pattern in the CRDs (e.g. the header value pattern) run for minutes.
import { RE2JS } from 're2js';

export interface Re2 {
  /** Go's regexp.MatchString(pattern, s): is there a match anywhere in s? */
  test(s: string): boolean;
}

const cache = new Map<string, Re2>();

/**
 * The compiled pattern (memoized: the CRDs repeat a few patterns across many fields); throws
 * on syntax Go's regexp rejects too (backreferences, lookaround...), with RE2's message.
 * RE2JS.compile's default flags are Go's syntax.Perl: ^/$ at text edges, `.` without \n.
 */
export function re2(pattern: string): Re2 {
  let re = cache.get(pattern);
  if (!re) {
    re = RE2JS.compile(pattern);
    cache.set(pattern, re);
  }
  return re;
}
