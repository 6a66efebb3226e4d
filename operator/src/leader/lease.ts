// Leader election over a coordination.k8s.io/v1 Lease: the decisions, without I/O.
//
// client-go's algorithm (tools/leaderelection): a candidate takes the lease when it is
// absent, held by itself, released (no holder), or expired. Expiry is judged by the local
// clock only: the lease counts as alive for leaseDurationSeconds after we last saw it
// change (a new resourceVersion), whatever its renewTime says, since another host's clock
// may be off. Every write carries the resourceVersion it read, so of two candidates racing
// for an expired lease one gets 409 Conflict.

/** The Lease's spec as the API server serialises it (MicroTime as RFC 3339 strings). */
export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

/** What we read of the Lease object. */
export interface LeaseRecord {
  resourceVersion: string;
  spec: LeaseSpec;
}

/** The Lease as last seen, and when (local monotonic ms) we saw it change. */
export interface Observed {
  record: LeaseRecord;
  observedAt: number;
}

export interface Durations {
  /** How long a follower waits after the last change it saw before taking the lease. */
  leaseDurationMs: number;
  /** How long the leader keeps trying to renew before it steps down. */
  renewDeadlineMs: number;
  /** Pause between attempts. */
  retryPeriodMs: number;
}

/** client-go's defaults (15 s, 10 s, 2 s). */
export const defaultDurations: Durations = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

/** Leases that make a follower wait at least as long as the leader keeps trying to renew. */
export function checkDurations(d: Durations): Durations {
  for (const [k, v] of Object.entries(d)) if (!Number.isFinite(v) || v <= 0) throw new Error(`leader election: ${k} must be positive, got ${v}`);
  if (d.leaseDurationMs < 1000) throw new Error('leader election: the lease duration is whole seconds in the Lease, at least 1 s');
  if (d.leaseDurationMs <= d.renewDeadlineMs) throw new Error(`leader election: the lease duration (${d.leaseDurationMs} ms) must exceed the renew deadline (${d.renewDeadlineMs} ms)`);
  if (d.renewDeadlineMs <= d.retryPeriodMs * 1.2) throw new Error(`leader election: the renew deadline (${d.renewDeadlineMs} ms) must exceed 1.2 × the retry period (${d.retryPeriodMs} ms)`);
  return d;
}

export type Action =
  /** No Lease: create it, holding it. */
  | { kind: 'create'; spec: LeaseSpec }
  /** Write the Lease (with resourceVersion): a renewal when we hold it, else an acquisition. */
  | { kind: 'update'; spec: LeaseSpec; resourceVersion: string; acquiring: boolean }
  /** Someone else holds a live lease: wait; it expires at `expiresAt` (local ms) unless renewed. */
  | { kind: 'wait'; holder: string; expiresAt: number };

/**
 * Records the Lease just read: `observedAt` moves only when the record changed (a new
 * resourceVersion), so a holder that stops renewing expires `leaseDuration` after its last
 * write reached us, by our clock.
 */
export function observe(prev: Observed | undefined, current: LeaseRecord | undefined, now: number): Observed | undefined {
  if (!current) return undefined;
  if (prev && prev.record.resourceVersion === current.resourceVersion) return { record: current, observedAt: prev.observedAt };
  return { record: current, observedAt: now };
}

/** The duration the holder declared in the Lease, else ours. */
function holderDurationMs(spec: LeaseSpec, d: Durations): number {
  const s = spec.leaseDurationSeconds;
  return typeof s === 'number' && Number.isFinite(s) && s > 0 ? s * 1000 : d.leaseDurationMs;
}

/**
 * What `identity` should do about the Lease, given what it observed and the local time.
 * `wallTime` is only written into the Lease (renewTime, acquireTime), never compared.
 */
export function decide(observed: Observed | undefined, identity: string, now: number, wallTime: Date, d: Durations): Action {
  const time = microTime(wallTime);
  const seconds = Math.ceil(d.leaseDurationMs / 1000);
  if (!observed) {
    return { kind: 'create', spec: { holderIdentity: identity, leaseDurationSeconds: seconds, acquireTime: time, renewTime: time, leaseTransitions: 0 } };
  }
  const { spec, resourceVersion } = observed.record;
  const holder = spec.holderIdentity ?? '';
  if (holder !== '' && holder !== identity) {
    const expiresAt = observed.observedAt + holderDurationMs(spec, d);
    if (now < expiresAt) return { kind: 'wait', holder, expiresAt };
  }
  if (holder === identity) {
    return { kind: 'update', resourceVersion, acquiring: false, spec: { ...spec, holderIdentity: identity, leaseDurationSeconds: seconds, acquireTime: spec.acquireTime ?? time, renewTime: time } };
  }
  // Released or expired: take it over, counting the transition.
  return {
    kind: 'update',
    resourceVersion,
    acquiring: true,
    spec: { ...spec, holderIdentity: identity, leaseDurationSeconds: seconds, acquireTime: time, renewTime: time, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 },
  };
}

/**
 * The Lease a leader writes when it stops (client-go's ReleaseOnCancel): no holder, so
 * the next candidate that reads it takes it at once instead of waiting for expiry.
 */
export function releaseSpec(spec: LeaseSpec, wallTime: Date): LeaseSpec {
  const time = microTime(wallTime);
  return { ...spec, holderIdentity: '', leaseDurationSeconds: 1, acquireTime: time, renewTime: time };
}

/** metav1.MicroTime: RFC 3339 with microseconds. */
export function microTime(t: Date): string {
  return t.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
