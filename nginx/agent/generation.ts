// The generation (version) the agent is about to load, told to nginx's workers before the
// SIGHUP: see nginx/lua/waygate/drain.lua for what the old workers do with it.
import { DRAIN_PATH } from './config.ts';
import { pushDocument } from './peers.ts';

/**
 * Names the generation (version) about to be loaded, before the SIGHUP: the workers of older
 * generations then ask HTTP/1.x clients to close their keep-alive connections
 * (nginx/lua/waygate/drain.lua), so that few are idle, and closed under a client's next
 * request, when the old workers get QUIT. `undefined` forgets it (the reload failed: the
 * serving workers keep their connections alive again).
 */
export function announceGeneration(socket: string, generation: string | undefined, timeoutMs = 2000): Promise<void> {
  if (generation !== undefined && !/^\d{1,15}$/.test(generation)) return Promise.reject(new Error(`not a generation: ${generation}`));
  return pushDocument(socket, DRAIN_PATH, 'the generation being loaded', generation ?? '', false, timeoutMs);
}
