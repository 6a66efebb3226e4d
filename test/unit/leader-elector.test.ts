// The leader elector's loop (operator/src/leader/elector.ts) against an in-memory Lease
// with the API server's optimistic concurrency (409 on a stale resourceVersion), on real
// timers with short durations: one leader at a time, release on stop, step down when
// renewals fail, takeover only after expiry.
import { expect } from 'chai';
import { LeaderElector } from '../../operator/src/leader/elector.ts';
import type { LeaseClient } from '../../operator/src/leader/lease-client.ts';
import type { LeaseRecord, LeaseSpec } from '../../operator/src/leader/lease.ts';
import { ApiError } from '../../operator/src/sources/rest.ts';
import { createLogger } from '../../operator/src/log.ts';

const durations = { leaseDurationMs: 1000, renewDeadlineMs: 600, retryPeriodMs: 100 };
const logger = createLogger({ level: 'error' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One Lease, as the API server keeps it. */
class FakeServer {
  rv = 0;
  spec: LeaseSpec | undefined;
  writes: { by: string; spec: LeaseSpec }[] = [];
}

/** A client of FakeServer that the test can cut off (every request fails). */
class FakeClient implements LeaseClient {
  cut = false;
  private readonly server: FakeServer;
  private readonly who: string;
  constructor(server: FakeServer, who: string) {
    this.server = server;
    this.who = who;
  }
  private check(): void {
    if (this.cut) throw new Error('connection refused');
  }
  private record(): LeaseRecord {
    return { resourceVersion: String(this.server.rv), spec: { ...this.server.spec } };
  }
  async get(): Promise<LeaseRecord | undefined> {
    await sleep(1);
    this.check();
    return this.server.spec ? this.record() : undefined;
  }
  async create(spec: LeaseSpec): Promise<LeaseRecord> {
    await sleep(1);
    this.check();
    if (this.server.spec) throw new ApiError(409, 'already exists');
    return this.write(spec);
  }
  async update(resourceVersion: string, spec: LeaseSpec): Promise<LeaseRecord> {
    await sleep(1);
    this.check();
    if (resourceVersion !== String(this.server.rv)) throw new ApiError(409, 'the object has been modified');
    return this.write(spec);
  }
  private write(spec: LeaseSpec): LeaseRecord {
    this.server.rv++;
    this.server.spec = { ...spec };
    this.server.writes.push({ by: this.who, spec: { ...spec } });
    return this.record();
  }
}

/** Every leadership change of every elector, in order, with the time. */
function journal(electors: LeaderElector[]) {
  const events: { who: string; leading: boolean; at: number }[] = [];
  for (const e of electors) e.onChange((leading) => events.push({ who: e.identity, leading, at: performance.now() }));
  /** Leaders at each moment of the history; throws when two overlap. */
  const assertNeverTwo = () => {
    const now = new Set<string>();
    for (const ev of events) {
      if (ev.leading) now.add(ev.who);
      else now.delete(ev.who);
      expect(now.size, `leaders at once: ${[...now].join(', ')}; history ${JSON.stringify(events)}`).to.be.at.most(1);
    }
  };
  return { events, assertNeverTwo };
}

async function until(what: string, ok: () => boolean, timeoutMs = 3000): Promise<number> {
  const t0 = performance.now();
  while (!ok()) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
  return performance.now() - t0;
}

describe('leader elector (elector.ts, in-memory Lease)', function () {
  this.timeout(10_000);
  const started: LeaderElector[] = [];
  const elector = (server: FakeServer, id: string, client = new FakeClient(server, id)) => {
    const e = new LeaderElector({ client, identity: id, logger, durations });
    started.push(e);
    return e;
  };
  afterEach(async () => {
    for (const e of started.splice(0)) await e.stop();
  });

  it('elects exactly one of three candidates, which keeps renewing', async () => {
    const server = new FakeServer();
    const es = ['a', 'b', 'c'].map((id) => elector(server, id));
    const j = journal(es);
    for (const e of es) e.start();
    await until('a leader', () => es.some((e) => e.isLeader()));
    await sleep(1500); // longer than the lease: renewals keep it
    expect(es.filter((e) => e.isLeader())).to.have.length(1);
    const leader = es.find((e) => e.isLeader())!;
    expect(server.spec?.holderIdentity).to.equal(leader.identity);
    expect(server.writes.filter((w) => w.by !== leader.identity), 'followers never write a live lease').to.deep.equal([]);
    expect(server.writes.length).to.be.greaterThan(5);
    j.assertNeverTwo();
  });

  it('stop() releases the lease: the follower takes over on its next attempt, well within the lease duration', async () => {
    const server = new FakeServer();
    const a = elector(server, 'a');
    a.start();
    await until('a leads', () => a.isLeader());
    const b = elector(server, 'b');
    const j = journal([a, b]);
    b.start();
    await sleep(300);
    expect(b.isLeader()).to.equal(false);
    const t0 = performance.now();
    await a.stop();
    expect(a.isLeader()).to.equal(false);
    expect(server.spec?.holderIdentity === '' || server.spec?.holderIdentity === 'b').to.equal(true);
    await until('b leads', () => b.isLeader());
    const handover = performance.now() - t0;
    expect(handover, 'handover after release').to.be.below(durations.retryPeriodMs * 1.2 + 200);
    expect(server.spec?.leaseTransitions).to.equal(1);
    j.assertNeverTwo();
  });

  it('a leader cut off from the API server steps down within the renew deadline; the other takes over only after the lease expires', async () => {
    const server = new FakeServer();
    const clientA = new FakeClient(server, 'a');
    const a = elector(server, 'a', clientA);
    a.start();
    await until('a leads', () => a.isLeader());
    const b = elector(server, 'b');
    const j = journal([a, b]);
    b.start();
    await sleep(250);
    clientA.cut = true;
    const cutAt = performance.now();
    await until('a steps down', () => !a.isLeader(), 2000);
    const stepDown = performance.now() - cutAt;
    await until('b leads', () => b.isLeader(), 3000);
    const takeover = performance.now() - cutAt;
    // a last renewed about one retry period before the cut (two allow for late timers on a
    // busy machine); b saw that renewal up to a jittered retry period late.
    expect(stepDown, 'step down').to.be.within(durations.renewDeadlineMs - 2 * durations.retryPeriodMs, durations.renewDeadlineMs + 50);
    expect(takeover, 'takeover').to.be.within(durations.leaseDurationMs - 2 * durations.retryPeriodMs, durations.leaseDurationMs + 2 * 1.2 * durations.retryPeriodMs + 100);
    j.assertNeverTwo();
    // a keeps trying and follows; once reconnected it does not take the live lease back.
    clientA.cut = false;
    await sleep(1500);
    expect(a.isLeader()).to.equal(false);
    expect(b.isLeader()).to.equal(true);
  });

  it('a leader that finds the lease taken (its renewal lost) steps down at once', async () => {
    const server = new FakeServer();
    const a = elector(server, 'a');
    const j = journal([a]);
    a.start();
    await until('a leads', () => a.isLeader());
    // Someone else writes the lease (as after a long pause of ours during which it expired).
    server.rv++;
    server.spec = { ...server.spec, holderIdentity: 'z', leaseDurationSeconds: 5 };
    const lost = await until('a steps down', () => !a.isLeader(), 1000);
    expect(lost).to.be.below(durations.retryPeriodMs + 50);
    expect(j.events.map((e) => e.leading)).to.deep.equal([true, false]);
  });
});
