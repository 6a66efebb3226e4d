// The leader elector: runs lease.ts's decisions against the API server.
//
// A candidate tries every retryPeriod (jittered up to +20%, so candidates do not march in
// step) until it holds the Lease, then renews every retryPeriod. A leader that has not
// renewed for renewDeadline, counted from when it *sent* its last successful renewal, steps
// down: since renewDeadline < leaseDuration, it stops acting as leader before any other
// candidate may see the lease expired. Stepping down only stops leader-only work; the
// replica keeps rendering and serving, and becomes a candidate again. stop() releases the
// Lease so the next candidate takes over on its next attempt instead of after expiry.
import type { Logger } from '../log.ts';
import { checkDurations, decide, defaultDurations, observe, releaseSpec, type Durations, type LeaseRecord, type Observed } from './lease.ts';
import type { LeaseClient } from './lease-client.ts';

export interface ElectorOptions {
  client: LeaseClient;
  identity: string;
  logger: Logger;
  durations?: Partial<Durations>;
  /** Local monotonic milliseconds (tests pin it). */
  now?: () => number;
  /** Wall-clock time, only written into the Lease. */
  wallTime?: () => Date;
}

export type LeadershipListener = (leading: boolean) => void;

export class LeaderElector {
  readonly identity: string;
  readonly durations: Durations;
  private readonly client: LeaseClient;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly wallTime: () => Date;
  private readonly listeners = new Set<LeadershipListener>();
  private observed: Observed | undefined;
  private leading = false;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private deadline: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private sleepTimer: NodeJS.Timeout | undefined;
  /** When the last successful write was sent (local ms). */
  private renewedAt = 0;

  constructor(opts: ElectorOptions) {
    this.client = opts.client;
    this.identity = opts.identity;
    this.logger = opts.logger;
    this.durations = checkDurations({ ...defaultDurations, ...opts.durations });
    this.now = opts.now ?? (() => performance.now());
    this.wallTime = opts.wallTime ?? (() => new Date());
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** Calls `listener` on every change of leadership; returns the unsubscribe function. */
  onChange(listener: LeadershipListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops trying; a leader steps down first (listeners run), then releases the Lease. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.sleepTimer);
    this.wake?.();
    await this.loop;
    this.setLeading(false, 'stopping');
    // Ours as last written (also when an acquisition landed while stopping): give it back.
    const held = this.observed?.record;
    if (held && held.spec.holderIdentity === this.identity) {
      try {
        await this.client.update(held.resourceVersion, releaseSpec(held.spec, this.wallTime()), this.durations.renewDeadlineMs);
        this.logger.info('released the leader lease', { identity: this.identity });
      } catch (err) {
        // 409: someone else wrote it since; it is theirs. Otherwise it expires on its own.
        this.logger.warn(`could not release the leader lease: ${(err as Error).message}`, { identity: this.identity });
      }
    }
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      await this.attempt();
      if (this.stopped) break;
      const jitter = this.leading ? 1 : 1 + Math.random() * 0.2;
      await this.sleep(this.durations.retryPeriodMs * jitter);
    }
  }

  /** One tryAcquireOrRenew. */
  private async attempt(): Promise<void> {
    const sentAt = this.now();
    // A leader's requests never outlast its deadline: a late answer must not extend leadership.
    const timeout = () => this.leading ? Math.max(1, this.renewedAt + this.durations.renewDeadlineMs - this.now()) : this.durations.renewDeadlineMs;
    try {
      const current = await this.client.get(timeout());
      if (this.stopped) return;
      this.observed = observe(this.observed, current, this.now());
      const action = decide(this.observed, this.identity, this.now(), this.wallTime(), this.durations);
      if (action.kind === 'wait') {
        if (this.leading) this.setLeading(false, `the lease is held by ${action.holder}`);
        return;
      }
      const written: LeaseRecord = action.kind === 'create'
        ? await this.client.create(action.spec, timeout())
        : await this.client.update(action.resourceVersion, action.spec, timeout());
      this.observed = { record: written, observedAt: this.now() };
      if (this.stopped && !this.leading) return; // acquired while stopping: stop() releases it, nobody leads
      this.renewed(sentAt);
      if (!this.leading) this.setLeading(true, action.kind === 'create' ? 'created the lease' : 'acquired the lease');
    } catch (err) {
      // 409: another candidate wrote first; anything else: try again next period. The deadline
      // timer decides when a leader gives up.
      this.logger.debug(`leader election attempt failed: ${(err as Error).message}`, { identity: this.identity, leading: this.leading });
    }
  }

  private renewed(sentAt: number): void {
    this.renewedAt = sentAt;
    clearTimeout(this.deadline);
    const left = sentAt + this.durations.renewDeadlineMs - this.now();
    this.deadline = setTimeout(() => this.setLeading(false, `no renewal for ${this.durations.renewDeadlineMs} ms`), Math.max(0, left));
    this.deadline.unref();
  }

  private setLeading(leading: boolean, why: string): void {
    if (!leading) clearTimeout(this.deadline);
    if (this.leading === leading) return;
    this.leading = leading;
    this.logger[leading ? 'info' : 'warn'](leading ? `became leader: ${why}` : `stopped leading: ${why}`, { identity: this.identity });
    for (const l of this.listeners) {
      try {
        l(leading);
      } catch (err) {
        this.logger.error(`leadership listener failed: ${(err as Error).stack ?? err}`);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.sleepTimer = setTimeout(resolve, ms);
    });
  }
}
