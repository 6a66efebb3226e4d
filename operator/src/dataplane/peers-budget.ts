// A budget on peers.txt: the agent pushes it into nginx's shared dict wg_peers (32 MiB,
// nginx/agent/lua.ts), where a new version's upstreams sit beside the old ones until the old
// workers are gone. Without a bound one tenant could fill it (many rules, each its own
// backend set, over many endpoints) and every later version would be refused for everyone.
// Over the budget, the rules of the largest upstreams are refused first, naming their
// backendRefs: the biggest contributor is the likely cause, and everyone else keeps serving.
import type { ModelBuilder } from './builder.ts';
import type { Upstream } from './model.ts';

/** Bytes of peers.txt at most: twice this (old and new upstreams during a reload) fits in the dict with room to spare. */
export const PEERS_TOTAL_BUDGET = 12 * 1024 * 1024;

/** An upstream's lines in peers.txt, in bytes (renderPeers' format; quotes of the address tokens left out). */
export function peersBytes(u: Upstream): number {
  let n = 10 + u.name.length;
  for (const s of u.servers) n += s.address.length + String(s.weight).length;
  return n;
}

/** Fails the rules of the largest Lua-balanced upstreams until peers.txt fits `budget`. */
export function enforcePeersBudget(b: ModelBuilder, budget: number): void {
  const balanced = b.model.upstreams.filter((u) => u.dynamic || u.balancer).map((u) => ({ u, bytes: peersBytes(u) }));
  let total = balanced.reduce((s, x) => s + x.bytes, 0);
  if (total <= budget) return;
  for (const { u, bytes } of balanced.sort((x, y) => y.bytes - x.bytes || (x.u.name < y.u.name ? -1 : 1))) {
    if (total <= budget) break;
    total -= bytes;
    for (const { route, rule } of b.upstreamUsers.get(u.name) ?? []) {
      b.fail(route, rule, `spec.rules[${rule}].backendRefs`, `the endpoints of this rule's backends (${u.servers.length} peers, ${Math.ceil(bytes / 1024)} KiB) are the largest share of a gateway whose peers would outgrow ${budget / 1048576} MiB; this rule is not served`);
    }
  }
}
