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
  // isIPv4 takes dotted decimal without leading zeros only, so equal addresses are equal strings.
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

export interface AddressRequest {
  /** keyOf the Gateway: the hash input, so changing it would move every derived address. */
  key: string;
  /** namespace/name, for messages. */
  name: string;
  creationTimestamp?: string;
  /** spec.addresses[0].value, when set. */
  requested?: string;
}

export type Allocation = { address: string } | { problem: Problem };

const compareStrings = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Oldest first (creationTimestamp, then namespace/name), the order in which Gateways claim
 * addresses. The API server always sets creationTimestamp; an object without one (a file in
 * standalone mode) cannot claim seniority over one that has it, so it counts as newest.
 */
export function byAge(a: AddressRequest, b: AddressRequest): number {
  return Number(a.creationTimestamp === undefined) - Number(b.creationTimestamp === undefined) ||
    compareStrings(a.creationTimestamp ?? '', b.creationTimestamp ?? '') || compareStrings(a.key, b.key);
}

/**
 * Assigns addresses. Gateways claim in age order, so an address stays with the Gateway
 * that had it first and no newer Gateway can take it away (a tenant's Gateway must not
 * move or break another's): a requested address is theirs unless an older Gateway holds
 * it, requested or derived; otherwise it is not usable and nginx gets nothing for that
 * Gateway (two `default_server`s on one address:port would fail `nginx -t` for all).
 * A Gateway without spec.addresses gets an address in 127.<block>.0.0/16 (block 10 by
 * default) from a hash of namespace/name, probing past the ones older Gateways hold. A
 * different block lets two instances share one machine.
 */
export function allocateAddresses(gateways: readonly AddressRequest[], block = 10): Map<string, Allocation> {
  const out = new Map<string, Allocation>();
  const holder = new Map<string, string>(); // address -> name of the Gateway that holds it
  for (const g of [...gateways].sort(byAge)) {
    if (g.requested) {
      const other = holder.get(g.requested);
      if (other === undefined) {
        out.set(g.key, { address: g.requested });
        holder.set(g.requested, g.name);
      } else {
        out.set(g.key, { problem: { reason: Reason.AddressNotUsable, message: `spec.addresses[0].value: ${g.requested} is already used by Gateway ${other} (the oldest Gateway, by creationTimestamp then namespace/name, keeps an address); request another loopback address, or remove spec.addresses to get one assigned` } });
      }
      continue;
    }
    for (let i = fnv1a(g.key) % 64516; ; i = (i + 1) % 64516) {
      const addr = `127.${block}.${1 + Math.floor(i / 254)}.${1 + (i % 254)}`;
      if (!holder.has(addr)) { out.set(g.key, { address: addr }); holder.set(addr, g.name); break; }
    }
  }
  return out;
}
