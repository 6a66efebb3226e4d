// Where each Gateway listens. One nginx serves every Gateway of our classes, and two
// Gateways may both use port 80, so each gets its own address. What spec.addresses may ask
// for depends on the exposure mode (graph/gateway.ts): loopback addresses that nginx binds
// itself (127.0.0.0/8), or, behind a Service, the address its load balancer takes.
import { isIP, isIPv4 } from 'node:net';
import type { Gateway } from '../objects.ts';
import type { Problem } from './conditions.ts';
import { Reason } from './conditions.ts';

/**
 * spec.addresses as one request. `acceptProblem` (UnsupportedAddress): an address type we
 * do not serve; the Gateway is not accepted. `addressProblem` (AddressNotUsable,
 * AddressNotAssigned): an address we cannot take; the Gateway is accepted but not
 * programmed, and nginx gets nothing for it (served on fewer addresses than asked would
 * not be what its owner asked for). Otherwise `value` is the requested address, or absent:
 * one is assigned (no spec.addresses, or an IPAddress entry without a value).
 */
export interface SpecAddress { value?: string; acceptProblem?: Problem; addressProblem?: Problem }

/**
 * The parts every mode shares: only type IPAddress (default), and one address per
 * Gateway: nginx binds each listener to it (loopback) or the Service has one load balancer
 * address. `usable` says why a requested value cannot be taken, if it cannot.
 */
function readSpecAddresses(gw: Gateway, usable: (value: string, field: string) => string | undefined): SpecAddress {
  const addrs = gw.spec?.addresses ?? [];
  for (const [i, a] of addrs.entries()) {
    const type = a.type ?? 'IPAddress';
    if (type !== 'IPAddress') return { acceptProblem: { reason: Reason.UnsupportedAddress, message: `spec.addresses[${i}].type: ${JSON.stringify(type)} is not supported; waygate serves type IPAddress only` } };
  }
  const first = addrs[0];
  if (!first) return {};
  const value = first.value || undefined; // "" and absent both ask for an assigned address (GatewayAddressEmpty)
  if (value !== undefined) {
    const why = usable(value, 'spec.addresses[0].value');
    if (why) return { addressProblem: { reason: Reason.AddressNotUsable, message: why } };
  }
  if (addrs.length > 1) {
    const extra = addrs[1]!;
    const message = `spec.addresses[1]: waygate gives a Gateway one address (${value ?? 'assigned'} from spec.addresses[0]); remove spec.addresses[1..${addrs.length - 1}]`;
    return { addressProblem: extra.value ? { reason: Reason.AddressNotUsable, message } : { reason: Reason.AddressNotAssigned, message } };
  }
  return value === undefined ? {} : { value };
}

/**
 * Loopback mode: nginx binds the Gateway's address itself, so a requested address must be
 * IPv4 in 127.0.0.0/8, which Linux routes to this host without configuration. Any other
 * address is not usable here.
 */
export function loopbackAddress(gw: Gateway): SpecAddress {
  return readSpecAddresses(gw, (value, field) => {
    // isIPv4 takes dotted decimal without leading zeros only, so equal addresses are equal strings.
    if (isIPv4(value) && value.startsWith('127.')) return undefined;
    return `${field}: ${JSON.stringify(value)} is not a loopback IPv4 address: with loopback addresses (standalone, --gateway-addresses loopback) nginx binds each Gateway to an address in 127.0.0.0/8; request one there, or leave the value empty to get one assigned`;
  });
}

/**
 * Service mode: the address is the Service's. A requested value becomes the load
 * balancer's requested IP (Service spec.loadBalancerIP), so it needs a LoadBalancer
 * Service. waygate never sets externalIPs or clusterIP from a Gateway: externalIPs would
 * let any Gateway owner capture traffic for any address in the cluster (CVE-2020-8554).
 */
export function serviceAddress(gw: Gateway, serviceType: string): SpecAddress {
  return readSpecAddresses(gw, (value, field) => {
    if (!isIP(value)) return `${field}: ${JSON.stringify(value)} is not an IP address`;
    if (serviceType !== 'LoadBalancer') return `${field}: ${value} can only be requested from a load balancer, and this Gateway's Service is of type ${serviceType} (parameters serviceType); use LoadBalancer, or leave the value empty to take the Service's address`;
    return undefined;
  });
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
