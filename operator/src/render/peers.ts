// peers.txt of a version: the peers of every upstream balanced by Lua (dynamic ones, whose
// servers are not in http.conf, and static ones with a rule policy), in the format
// nginx/lua/waygate/peers.lua parses. Not part of the config hash: a change here alone is
// pushed by the agent without a reload.
import type { Upstream } from '../dataplane/model.ts';
import { identifier, UnsafeValueError } from '../dataplane/quote.ts';

/** A quoted endpoint token ("10.0.0.1:8080", "[fd00::1]:80", "unix:/run/...sock"), as builder.ts writes them. */
const ENDPOINT_TOKEN = /^"([A-Za-z0-9._:/[\]-]+)"$/;

export function renderPeers(upstreams: readonly Upstream[]): string {
  const out: string[] = [];
  for (const u of upstreams) {
    if (!u.dynamic && !u.balancer) continue;
    out.push(`upstream ${identifier(u.name)}`);
    for (const s of u.servers) {
      const address = ENDPOINT_TOKEN.exec(s.address)?.[1];
      if (!address) throw new UnsafeValueError(`endpoint ${s.address} cannot be written as a peer`);
      if (!Number.isSafeInteger(s.weight) || s.weight < 1) throw new UnsafeValueError(`not a weight: ${s.weight}`);
      out.push(`${address} ${s.weight}`);
    }
  }
  return out.length ? `${out.join('\n')}\n` : '';
}
