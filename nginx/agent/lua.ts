// The Lua module of nginx (Debian's libnginx-mod-http-lua, with NDK, which it needs) and
// waygate's own Lua code in nginx/lua: HTTPRoute rules[].timeouts and rules[].retry
// (waygate/policy.lua) and the upstreams' peers (waygate/peers.lua, pushed by the agent:
// peers.ts). Loaded by every main config, the agent's and the tests' alike.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** nginx/lua beside this directory (the image copies both to /app/nginx). */
export const LUA_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'lua');

/** load_module lines for the modules directory of the stream module (NDK first: Lua needs it). */
export function luaModules(modulesDir: string): string {
  return ['ndk_http_module.so', 'ngx_http_lua_module.so'].map((m) => `load_module ${safePath(join(modulesDir, m))};`).join('\n');
}

/** The shared dict of the upstreams' peers: outlives reloads, so new workers have them at once. */
export const PEERS_DICT_SIZE = '32m';

/** The shared dict of HTTPS listeners' certificates (waygate/certs.lua): a few KB per Secret. */
export const CERTS_DICT_SIZE = '16m';

/** The shared dict of the route table (waygate/routes.lua): two documents of ~150 bytes a rule. */
export const ROUTES_DICT_SIZE = '64m';

/** The shared dict where the agent names the generation it loads (waygate/drain.lua): one number. */
export const DRAIN_DICT_SIZE = '64k';

export interface LuaHttpOptions {
  luaDir?: string;
  /** The unix socket of the main config's 503 server, where upstreams without peers send requests. */
  unavailable?: string;
  /** The config's generation (the main config's version, a decimal integer): waygate/drain.lua. None: it never asks clients to close. */
  generation?: string;
  /** The tests' throwaway nginx: these documents from files at every start and reload (the agent pushes them instead). */
  peersFile?: string;
  certsFile?: string;
  routesFile?: string;
}

/**
 * http-block lines: where require() finds waygate's modules (then LuaJIT's defaults, where
 * lua-resty-core lives), the shared dicts, and the modules loaded in the master: workers
 * inherit them, never read the files themselves (they may lack the permission), and
 * `nginx -t` fails if one is broken.
 */
export function luaHttp(o: LuaHttpOptions = {}): string {
  let init = o.unavailable ? ` require("waygate.peers").unavailable = "unix:${safePath(o.unavailable)}";` : '';
  if (o.generation !== undefined) {
    init += ` require("waygate.drain").generation = "${canonicalGeneration(o.generation)}";`;
  }
  if (o.peersFile) init += ` require("waygate.peers").load_file("${safePath(o.peersFile)}");`;
  if (o.certsFile) init += ` require("waygate.certs").load_file("${safePath(o.certsFile)}");`;
  if (o.routesFile) init += ` require("waygate.routes").load_file("${safePath(o.routesFile)}");`;
  return [
    `    lua_package_path "${safePath(o.luaDir ?? LUA_DIR)}/?.lua;;";`,
    `    lua_shared_dict wg_peers ${PEERS_DICT_SIZE};`,
    `    lua_shared_dict wg_certs ${CERTS_DICT_SIZE};`,
    `    lua_shared_dict wg_routes ${ROUTES_DICT_SIZE};`,
    `    lua_shared_dict wg_drain ${DRAIN_DICT_SIZE};`,
    `    init_by_lua_block { require("waygate.policy"); require("waygate.certs"); require("waygate.routes");${init} }`,
  ].join('\n');
}

/** Whether a version is a generation waygate/drain.lua can compare: decimal digits (probes' and the empty config's are not). */
export const isGeneration = (version: string): boolean => /^\d{1,64}$/.test(version);

/** A version as waygate/drain.lua compares generations: decimal digits without leading zeros. */
export function canonicalGeneration(version: string): string {
  if (!isGeneration(version)) throw new Error(`not a generation: ${JSON.stringify(version)}`);
  return BigInt(version).toString();
}

function safePath(p: string): string {
  if (!/^[\w./+-]+$/.test(p)) throw new Error(`unsupported character in a path for nginx's Lua settings: ${JSON.stringify(p)}`);
  return p;
}
