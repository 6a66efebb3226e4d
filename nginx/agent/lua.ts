// The Lua module of nginx (Debian's libnginx-mod-http-lua, with NDK, which it needs) and
// waygate's own Lua code in nginx/lua: HTTPRoute rules[].timeouts and rules[].retry
// (waygate/policy.lua). Loaded by every main config, the agent's and the tests' alike.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** nginx/lua beside this directory (the image copies both to /app/nginx). */
export const LUA_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'lua');

/** load_module lines for the modules directory of the stream module (NDK first: Lua needs it). */
export function luaModules(modulesDir: string): string {
  return ['ndk_http_module.so', 'ngx_http_lua_module.so'].map((m) => `load_module ${safePath(join(modulesDir, m))};`).join('\n');
}

/**
 * http-block lines: where require() finds waygate's modules (then LuaJIT's defaults, where
 * lua-resty-core lives), and the policy loaded in the master: workers inherit it, never read
 * the file themselves (they may lack the permission), and `nginx -t` fails if it is broken.
 */
export function luaHttp(luaDir: string = LUA_DIR): string {
  return `    lua_package_path "${safePath(luaDir)}/?.lua;;";\n    init_by_lua_block { require("waygate.policy") }`;
}

function safePath(p: string): string {
  if (!/^[\w./+-]+$/.test(p)) throw new Error(`unsupported character in a path for nginx's Lua settings: ${JSON.stringify(p)}`);
  return p;
}
