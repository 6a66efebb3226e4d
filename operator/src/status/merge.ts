// Status as data: what this controller wants an object's status to be, merged into what the
// object has now. Pure, so that "would this write change anything?" is a comparison, not a
// request. The rules are the Gateway API's and metav1.Condition's:
// - lastTransitionTime moves only when a condition's status value changes;
// - a route's status.parents (a policy's status.ancestors) is shared by every controller that
//   the route attaches to: we replace only the entries carrying our controllerName;
// - GatewayClass, Gateway and listener conditions of a type we never write belong to someone
//   else (spec: "MUST NOT remove, change or update" them): they are kept as they are.
import type { ParentReference } from '../api/gateway-api.ts';
import { ConditionType } from '../graph/conditions.ts';
import type { Condition } from '../objects.ts';

const gatewayGroup = 'gateway.networking.k8s.io';

export interface ParentStatus {
  parentRef: ParentReference;
  controllerName: string;
  conditions: Condition[];
}

export interface AncestorStatus {
  ancestorRef: ParentReference;
  controllerName: string;
  conditions: Condition[];
}

export interface DesiredStatus {
  kind: string;
  namespace?: string;
  name: string;
  /** GatewayClass and Gateway: the whole status this controller owns. Conditions carry observedGeneration but no lastTransitionTime. */
  status?: Record<string, unknown>;
  /** Route kinds: this controller's entries of status.parents (each has parentRef, controllerName, conditions). */
  parents?: ParentStatus[];
  /** Policy kinds (BackendTLSPolicy): this controller's entries of status.ancestors. */
  ancestors?: AncestorStatus[];
}

/** A list of per-controller entries in a shared status, keyed by a reference. */
interface SharedList {
  field: 'parents' | 'ancestors';
  ref: 'parentRef' | 'ancestorRef';
  /** The CRD's maxItems: a longer list is rejected by the API server. */
  maxItems: number;
}

const routeParents: SharedList = { field: 'parents', ref: 'parentRef', maxItems: 32 };
const policyAncestors: SharedList = { field: 'ancestors', ref: 'ancestorRef', maxItems: 16 };

type Obj = Record<string, unknown>;

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
export const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const clone = <T>(v: T): T => structuredClone(v);

/**
 * The status to write: `desired` laid over `current` by the rules above. `now` is the
 * lastTransitionTime of conditions that are new or changed status (RFC 3339, seconds).
 */
export function mergeStatus(current: unknown, desired: DesiredStatus, controllerName: string, now: string): Obj {
  const cur = isObj(current) ? current : {};
  if (desired.status) return mergeOwnedStatus(cur, desired.status, now);
  // Policies share status.ancestors; routes share status.parents (which their CRDs require).
  const list = desired.ancestors !== undefined || desired.kind === 'BackendTLSPolicy' ? policyAncestors : routeParents;
  const entries = (desired[list.field] ?? []) as ReadonlyArray<ParentStatus | AncestorStatus>;
  // Shallow: the merge replaces one field and never writes into the others (a deep clone of
  // every route's status made this the largest part of a 10,000-route rebuild).
  return { ...cur, [list.field]: mergeShared(cur[list.field], entries, list, controllerName, desired.namespace, now) };
}

/** Condition types this controller is responsible for: the ones the graph writes. */
const ownedTypes: ReadonlySet<string> = new Set(Object.values(ConditionType));

/**
 * Our conditions (transition times carried over), then the current conditions of types that
 * are not ours, unchanged. A type of ours that we no longer set disappears.
 */
function mergeConditions(desired: unknown, current: unknown, now: string): unknown[] {
  const ours = withTransitionTimes(asArray(desired) as Condition[], current, now);
  const desiredTypes = new Set(ours.map((c) => c.type));
  const foreign = asArray(current).filter((c) => isObj(c) && typeof c.type === 'string' && !ownedTypes.has(c.type) && !desiredTypes.has(c.type));
  return [...ours, ...clone(foreign)];
}

/** GatewayClass/Gateway: the desired status wholesale, with transition times carried over and foreign conditions kept. */
function mergeOwnedStatus(cur: Obj, desired: Obj, now: string): Obj {
  const out = clone(desired);
  if (Array.isArray(out.conditions) || Array.isArray(cur.conditions)) out.conditions = mergeConditions(out.conditions, cur.conditions, now);
  if (Array.isArray(out.listeners)) {
    const before = new Map(asArray(cur.listeners).filter(isObj).map((l) => [l.name, l] as const));
    out.listeners = (out.listeners as unknown[]).map((l) => {
      if (!isObj(l)) return l;
      const supportedKinds = Array.isArray(l.supportedKinds) ? l.supportedKinds.map((k) => (isObj(k) ? { group: gatewayGroup, ...k } : k)) : l.supportedKinds;
      const merged: Obj = { ...l, conditions: mergeConditions(l.conditions, before.get(l.name)?.conditions, now) };
      if (supportedKinds !== undefined) merged.supportedKinds = supportedKinds;
      return merged;
    });
  }
  // The CRD defaults these; writing them spelled out keeps a re-read equal to what we wrote.
  if (Array.isArray(out.addresses)) out.addresses = out.addresses.map((a) => (isObj(a) ? { type: 'IPAddress', ...a } : a));
  return out;
}

function mergeShared(current: unknown, desired: ReadonlyArray<ParentStatus | AncestorStatus>, list: SharedList, controllerName: string, namespace: string | undefined, now: string): Obj[] {
  const refOf = (e: Obj) => (isObj(e[list.ref]) ? (e[list.ref] as Obj) : {});
  const wanted = new Map<string, Obj>();
  for (const d of desired) {
    const entry: Obj = { ...(d as unknown as Obj) };
    entry[list.ref] = withRefDefaults(refOf(entry));
    entry.controllerName = controllerName;
    wanted.set(refKey(refOf(entry), namespace), entry);
  }
  const out: Obj[] = [];
  const placed = new Set<string>();
  for (const e of asArray(current).filter(isObj)) {
    if (e.controllerName !== controllerName) {
      out.push(e); // another controller's entry: untouched, in place
      continue;
    }
    const key = refKey(refOf(e), namespace);
    const next = wanted.get(key);
    if (!next || placed.has(key)) continue; // ours but no longer desired (or a duplicate): dropped
    out.push({ ...next, conditions: withTransitionTimes(next.conditions as Condition[], e.conditions, now) });
    placed.add(key);
  }
  for (const [key, next] of wanted) {
    if (placed.has(key)) continue;
    if (out.length >= list.maxItems) break; // the API server would reject the whole write
    out.push({ ...next, conditions: withTransitionTimes(next.conditions as Condition[], undefined, now) });
  }
  return out;
}

/** metav1.Condition: the time the status value last changed, kept while it stays the same. */
export function withTransitionTimes(desired: readonly Condition[], current: unknown, now: string): Condition[] {
  const before = new Map(asArray(current).filter(isObj).map((c) => [c.type, c] as const));
  return desired.map((c) => {
    const prev = before.get(c.type);
    const kept = prev && prev.status === c.status && typeof prev.lastTransitionTime === 'string' ? prev.lastTransitionTime : undefined;
    return { ...c, lastTransitionTime: kept ?? now };
  });
}

function withRefDefaults(ref: Obj): Obj {
  return { group: gatewayGroup, kind: 'Gateway', ...ref };
}

/** Identity of a parentRef/ancestorRef, with the API's defaults applied. */
function refKey(ref: Obj, defaultNamespace: string | undefined): string {
  return JSON.stringify([
    ref.group ?? gatewayGroup,
    ref.kind ?? 'Gateway',
    ref.namespace ?? defaultNamespace ?? '',
    ref.name ?? '',
    ref.sectionName ?? '',
    ref.port ?? '',
  ]);
}

/** Lists the API treats as maps, by field name: compared by key, not by position. */
const mapKeys: Record<string, (e: Obj) => string> = {
  conditions: (e) => String(e.type),
  listeners: (e) => String(e.name),
  parents: (e) => `${String(e.controllerName)} ${refKey(isObj(e.parentRef) ? e.parentRef : {}, undefined)}`,
  ancestors: (e) => `${String(e.controllerName)} ${refKey(isObj(e.ancestorRef) ? e.ancestorRef : {}, undefined)}`,
};

/**
 * Whether two statuses are the same as far as the API is concerned: JSON equality, except
 * that map-like lists ignore order, and a missing field equals undefined or an empty list.
 */
export function statusEqual(a: unknown, b: unknown): boolean {
  return equalValue(a ?? {}, b ?? {}, undefined);
}

function equalValue(a: unknown, b: unknown, field: string | undefined): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return equalList(a, b, field);
  if (isObj(a) && isObj(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) {
      if (!equalValue(absentAsUndefined(a[k]), absentAsUndefined(b[k]), k)) return false;
    }
    return true;
  }
  return a === b;
}

function absentAsUndefined(v: unknown): unknown {
  return Array.isArray(v) && v.length === 0 ? undefined : v;
}

function equalList(a: unknown[], b: unknown[], field: string | undefined): boolean {
  if (a.length !== b.length) return false;
  const keyOf = field ? mapKeys[field] : undefined;
  if (!keyOf || !a.every(isObj) || !b.every(isObj)) return a.every((x, i) => equalValue(x, b[i], undefined));
  const byKey = new Map(b.map((e) => [keyOf(e), e] as const));
  if (byKey.size !== b.length) return a.every((x, i) => equalValue(x, b[i], undefined));
  return a.every((e) => {
    const other = byKey.get(keyOf(e));
    return other !== undefined && equalValue(e, other, undefined);
  });
}
