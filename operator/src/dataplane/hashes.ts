// Sizes of nginx's lookup hashes, derived from the longest values we accept and the
// number of entries in the model. nginx refuses the whole config when a key does not fit
// a hash bucket ("could not build server_names_hash ...") with an error that names no
// line, so one tenant's valid 60-character hostname or header name would stop every
// later version. Sizing from our own limits makes that impossible for anything we accept.

/** The longest key each hash can receive from a value we accept (see values/checks.ts limits). */
export interface HashKeyLimits {
  /** server_name: a listener or route hostname. */
  hostname: number;
  /** proxy_set_header / proxy_hide_header names (lowercased keys). */
  headerName: number;
  /** Variable names we make nginx create: "http_<header>", "arg_<query>", "wg_m123". */
  variableName: number;
  /** Exact (non-regex) keys of our maps. */
  mapKey: number;
}

export interface HashSizes {
  serverNamesBucket: number;
  serverNamesMax: number;
  proxyHeadersBucket: number;
  proxyHeadersMax: number;
  variablesBucket: number;
  variablesMax: number;
  mapBucket: number;
  mapMax: number;
}

/** Variables nginx defines itself (core, proxy, ssl, ...) besides the ones a config adds. */
const BUILTIN_VARIABLES = 256;

/**
 * A bucket that holds at least one key of `len` bytes: nginx stores an element as a
 * pointer, a length and the name, aligned to the pointer size, and ends each bucket with
 * a pointer (ngx_hash.c NGX_HASH_ELT_SIZE); it also rounds buckets to the cache line.
 * Doubling the minimum leaves room for a second key in the same bucket.
 */
export function bucketFor(len: number): number {
  const elt = 8 + Math.ceil((len + 2) / 8) * 8;
  return powerOfTwoAtLeast(Math.max(64, 2 * elt + 8));
}

/** A max size that always fits `entries` keys: nginx tries sizes up to it and fails above. */
export function maxFor(entries: number, floor: number): number {
  return powerOfTwoAtLeast(Math.max(floor, 2 * entries));
}

function powerOfTwoAtLeast(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

export function hashSizes(limits: HashKeyLimits, counts: { serverNames: number; variables: number; proxyHeaders: number; mapKeys: number }): HashSizes {
  return {
    serverNamesBucket: bucketFor(limits.hostname),
    serverNamesMax: maxFor(counts.serverNames, 1024),
    proxyHeadersBucket: bucketFor(limits.headerName),
    proxyHeadersMax: maxFor(counts.proxyHeaders, 512),
    variablesBucket: bucketFor(limits.variableName),
    variablesMax: maxFor(counts.variables + BUILTIN_VARIABLES, 1024),
    mapBucket: bucketFor(limits.mapKey),
    mapMax: maxFor(counts.mapKeys, 2048),
  };
}
