// Leader election decisions (operator/src/leader/lease.ts): given the Lease, what we saw of
// it and the local clock, what a candidate does. No I/O, no timers.
import { expect } from 'chai';
import { checkDurations, decide, microTime, observe, releaseSpec, type Durations, type LeaseRecord, type Observed } from '../../operator/src/leader/lease.ts';
import { parseDuration, leaderElectionFromFlags } from '../../operator/src/leader/flags.ts';

const d: Durations = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };
const wall = new Date('2026-11-28T10:00:00.123Z');
const held = (holder: string, rv = '7', extra: Record<string, unknown> = {}): LeaseRecord => ({
  resourceVersion: rv,
  spec: { holderIdentity: holder, leaseDurationSeconds: 15, acquireTime: '2026-11-28T09:00:00.000000Z', renewTime: '2026-11-28T09:59:59.000000Z', leaseTransitions: 3, ...extra },
});
const seen = (record: LeaseRecord, observedAt: number): Observed => ({ record, observedAt });

describe('leader election decisions (lease.ts)', () => {
  it('creates the Lease when there is none, holding it from now', () => {
    const a = decide(undefined, 'a', 1000, wall, d);
    expect(a).to.deep.equal({ kind: 'create', spec: { holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: '2026-11-28T10:00:00.123000Z', renewTime: '2026-11-28T10:00:00.123000Z', leaseTransitions: 0 } });
  });

  it('waits while another holder\'s lease is alive by the local clock, and says until when', () => {
    const a = decide(seen(held('b'), 1000), 'a', 1000 + 14_999, wall, d);
    expect(a).to.deep.equal({ kind: 'wait', holder: 'b', expiresAt: 16_000 });
  });

  it('takes an expired lease with the resourceVersion it read, counting the transition', () => {
    const a = decide(seen(held('b', '42'), 1000), 'a', 16_000, wall, d);
    expect(a.kind).to.equal('update');
    if (a.kind !== 'update') return;
    expect(a.resourceVersion).to.equal('42');
    expect(a.acquiring).to.equal(true);
    expect(a.spec).to.deep.equal({ holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: '2026-11-28T10:00:00.123000Z', renewTime: '2026-11-28T10:00:00.123000Z', leaseTransitions: 4 });
  });

  it('never trusts the holder\'s clock: an old renewTime seen changing just now is alive, a future one seen long ago is expired', () => {
    const stale = held('b', '8', { renewTime: '2001-01-01T00:00:00.000000Z' });
    expect(decide(seen(stale, 50_000), 'a', 51_000, wall, d).kind).to.equal('wait');
    const future = held('b', '9', { renewTime: '2099-01-01T00:00:00.000000Z' });
    expect(decide(seen(future, 0), 'a', 15_000, wall, d).kind).to.equal('update');
  });

  it('judges expiry by the holder\'s declared leaseDurationSeconds, not its own', () => {
    const long = held('b', '5', { leaseDurationSeconds: 60 });
    expect(decide(seen(long, 0), 'a', 59_000, wall, d).kind).to.equal('wait');
    expect(decide(seen(long, 0), 'a', 60_000, wall, d).kind).to.equal('update');
  });

  it('takes a released lease (no holder) at once', () => {
    const released = { resourceVersion: '10', spec: releaseSpec(held('b').spec, wall) };
    const a = decide(seen(released, 1000), 'a', 1001, wall, d);
    expect(a).to.include({ kind: 'update', acquiring: true, resourceVersion: '10' });
  });

  it('renews its own lease: keeps acquireTime and the transition count, moves renewTime', () => {
    const a = decide(seen(held('a', '11'), 0), 'a', 999_999, wall, d);
    expect(a).to.deep.equal({
      kind: 'update', resourceVersion: '11', acquiring: false,
      spec: { holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: '2026-11-28T09:00:00.000000Z', renewTime: '2026-11-28T10:00:00.123000Z', leaseTransitions: 3 },
    });
  });

  it('observe(): the clock starts when the resourceVersion changes, not when the Lease is read again', () => {
    const first = observe(undefined, held('b', '1'), 100);
    const again = observe(first, held('b', '1'), 5000);
    expect(again?.observedAt).to.equal(100);
    const renewed = observe(again, held('b', '2'), 6000);
    expect(renewed?.observedAt).to.equal(6000);
    expect(observe(renewed, undefined, 7000)).to.equal(undefined);
  });

  it('a release writes no holder and a 1 s duration, and keeps the transition count', () => {
    expect(releaseSpec(held('a').spec, wall)).to.deep.equal({ holderIdentity: '', leaseDurationSeconds: 1, acquireTime: '2026-11-28T10:00:00.123000Z', renewTime: '2026-11-28T10:00:00.123000Z', leaseTransitions: 3 });
  });

  it('refuses durations where a follower could take over while the leader still acts', () => {
    expect(() => checkDurations({ leaseDurationMs: 10_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 })).to.throw(/must exceed the renew deadline/);
    expect(() => checkDurations({ leaseDurationMs: 15_000, renewDeadlineMs: 2_000, retryPeriodMs: 2_000 })).to.throw(/1.2/);
    expect(() => checkDurations({ leaseDurationMs: 500, renewDeadlineMs: 200, retryPeriodMs: 100 })).to.throw(/at least 1 s/);
    expect(checkDurations(d)).to.equal(d);
  });

  it('MicroTime has six fractional digits', () => {
    expect(microTime(new Date('2026-01-02T03:04:05.006Z'))).to.equal('2026-01-02T03:04:05.006000Z');
  });

  it('flags: defaults from the pod\'s environment, durations in s or ms, --no-leader-election', () => {
    expect(leaderElectionFromFlags({}, { POD_NAMESPACE: 'waygate-system', POD_NAME: 'waygate-abc' })).to.deep.equal({ namespace: 'waygate-system', name: 'waygate', identity: 'waygate-abc', durations: {} });
    expect(leaderElectionFromFlags({ 'leader-election-id': 'x', 'leader-election-lease-duration': '4s', 'leader-election-retry-period': '500ms' }, {})).to.deep.include({ namespace: 'default', name: 'x', durations: { leaseDurationMs: 4000, retryPeriodMs: 500 } });
    expect(leaderElectionFromFlags({ 'no-leader-election': true }, {})).to.equal(undefined);
    expect(parseDuration('1.5', 'f')).to.equal(1500);
    expect(() => parseDuration('1m', 'f')).to.throw(/expected a duration/);
  });
});
