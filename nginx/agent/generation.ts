// The generation (version) the agent is about to load, told to nginx's workers before the
// SIGHUP: see nginx/lua/waygate/drain.lua for what the old workers do with it.
import { DRAIN_PATH } from './config.ts';
import { canonicalGeneration } from './lua.ts';
import { pushDocument } from './peers.ts';

/**
 * Names the generation (version) about to be loaded, before the SIGHUP: the workers of older
 * generations then ask HTTP/1.x clients to close their keep-alive connections
 * (nginx/lua/waygate/drain.lua), so that few are idle, and closed under a client's next
 * request, when the old workers get QUIT. The value lasts `ttlMs` at most (a reload's verify
 * budget and some), so an agent that dies before clearing it cannot leave the serving
 * workers closing every connection. `undefined` clears it: the old workers have QUIT (nginx
 * closes their connections itself now), or the reload failed.
 */
export function announceGeneration(socket: string, generation: string | undefined, ttlMs = 60_000, timeoutMs = 2000): Promise<void> {
  let body = '';
  try {
    if (generation !== undefined) body = `${canonicalGeneration(generation)} ${Math.min(999_999, Math.max(1, Math.ceil(ttlMs / 1000)))}`;
  } catch (err) {
    return Promise.reject(err);
  }
  return pushDocument(socket, DRAIN_PATH, 'the generation being loaded', body, false, timeoutMs);
}
