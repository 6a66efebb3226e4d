// The regular expressions of a GRPCRoute method match (type RegularExpression), each run on
// its own path segment: the service and the method of "/<service>/<method>". Joined into one
// pattern over the whole path, two linear parts can backtrack quadratically ("/a.*" then
// "/.*" over "/a/a/a..."), so each part is a flag of its own (dispatch.ts), over a variable
// holding only its segment, and the ReDoS analysis of each part alone (values/regex.ts)
// covers what nginx runs.
import type { RouteMatch } from '../graph/types.ts';
import type { ModelBuilder } from './builder.ts';
import { quote } from './quote.ts';

/** The flags (variable names) of a match's service and method regexes, in that order. */
export function grpcRegexFlags(b: ModelBuilder, m: RouteMatch, source: string): string[] {
  const r = m.grpcRegex;
  if (!r) return [];
  // The variables are "" unless the path is exactly "/<service>/<method>" (shared by every route).
  const segment = (pattern: string) => `$${b.addMap({ key: '$uri', entries: [{ pattern: quote(pattern), value: '$1' }], default: '""' })}`;
  return [
    ...(r.service !== undefined ? [b.flag(segment('~^/([^/]+)/[^/]+$'), r.service, source)] : []),
    ...(r.method !== undefined ? [b.flag(segment('~^/[^/]+/([^/]+)$'), r.method, source)] : []),
  ];
}

/** How many flags grpcRegexFlags gives a match. */
export const grpcRegexCount = (m: RouteMatch): number => (m.grpcRegex?.service !== undefined ? 1 : 0) + (m.grpcRegex?.method !== undefined ? 1 : 0);
