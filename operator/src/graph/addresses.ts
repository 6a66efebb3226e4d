// Where each Gateway listens. One nginx serves every Gateway of our classes, and two
// Gateways may both use port 80, so each gets its own loopback address: the one in
// spec.addresses (type IPAddress, in 127.0.0.0/8), or one derived from its name.
import { isIPv4 } from 'node:net';
import type { Gateway } from '../objects.ts';
import type { Problem } from './conditions.ts';
import { Reason } from './conditions.ts';

export function requestedAddress(gw: Gateway): { address?: string; problem?: Problem } {
  const addrs = gw.spec?.addresses ?? [];
  const a = addrs[0];
  if (!a) return {};
  if (addrs.length > 1) return { problem: { reason: Reason.UnsupportedAddress, message: 'spec.addresses: only one address per Gateway is supported' } };
  const type = a.type ?? 'IPAddress';
  if (type !== 'IPAddress') return { problem: { reason: Reason.UnsupportedAddress, message: `spec.addresses[0].type: ${type} is not supported; use IPAddress` } };
  const value = a.value;
  if (value === undefined || !isIPv4(value) || !value.startsWith('127.')) {
    return { problem: { reason: Reason.UnsupportedAddress, message: `spec.addresses[0].value: ${JSON.stringify(String(value))} is not a loopback IPv4 address (127.0.0.0/8)` } };
  }
  return { address: value };
}

/** FNV-1a: a stable hash, so a Gateway keeps its address across restarts. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * Assigns addresses: requested ones first, then for the others an address in
 * 127.<block>.0.0/16 (block 10 by default) from a hash of namespace/name, probing past
 * collisions in key order. A different block lets two instances share one machine.
 */
export function allocateAddresses(gateways: readonly { key: string; requested?: string }[], block = 10): Map<string, string> {
  const out = new Map<string, string>();
  const used = new Set<string>();
  for (const g of gateways) if (g.requested) { out.set(g.key, g.requested); used.add(g.requested); }
  for (const g of [...gateways].sort((a, b) => (a.key < b.key ? -1 : 1))) {
    if (g.requested) continue;
    for (let i = fnv1a(g.key) % 64516; ; i = (i + 1) % 64516) {
      const addr = `127.${block}.${1 + Math.floor(i / 254)}.${1 + (i % 254)}`;
      if (!used.has(addr)) { out.set(g.key, addr); used.add(addr); break; }
    }
  }
  return out;
}
