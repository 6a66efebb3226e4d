// Kubernetes Events on our objects, for `kubectl describe`: a route, Gateway, listener or
// GatewayClass that becomes invalid (and recovers), and versions nginx rejects or fails to
// reload (on the route the controller blames, else on every Gateway of ours).
//
// Pure part: eventsForTransitions (previous vs new desired statuses) and verdictEvents
// decide what to say; EventLimiter decides whether to say it now. I/O part: EventRecorder
// turns them into core/v1 Events (the API kubectl describe reads: it lists
// /api/v1/namespaces/<ns>/events by involvedObject uid, name and namespace). Every replica
// computes transitions, so a new leader starts from the current state; only the leader
// (setEnabled) sends. Messages pass redactSecrets: TLS material never reaches an Event.
import { CoreV1Api, type CoreV1Event, type KubeConfig } from '@kubernetes/client-node';
import type { Verdict } from '../apply/verdict.ts';
import type { ControllerObserver } from '../controller.ts';
import { objectFields, redactSecrets, type Logger } from '../log.ts';
import type { DesiredStatus } from '../status/merge.ts';
import type { Store } from '../store.ts';

export interface EventSpec {
  kind: string;
  namespace?: string;
  name: string;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

interface Cond {
  type: string;
  status: string;
  reason: string;
  message: string;
}

/** Which state of a condition type is the bad one, and reasons that are not news (reported elsewhere or transient). */
interface Watched {
  bad: 'True' | 'False';
  ignore?: readonly string[];
}

const routeWatch: Record<string, Watched> = { Accepted: { bad: 'False' }, ResolvedRefs: { bad: 'False' } };
const watchedBy: Record<'GatewayClass' | 'Gateway' | 'Listener' | 'Route', Record<string, Watched>> = {
  GatewayClass: { Accepted: { bad: 'False' } },
  // Programmed=False/Pending comes with every new version; /Invalid is an nginx rejection (verdictEvents).
  Gateway: { Accepted: { bad: 'False' }, Programmed: { bad: 'False', ignore: ['Pending', 'Invalid'] } },
  Listener: { Accepted: { bad: 'False' }, ResolvedRefs: { bad: 'False' }, Conflicted: { bad: 'True' } },
  Route: routeWatch,
};

/** One watched condition of one object (or of one of its parent entries or listeners). */
interface Slot {
  /** The object the Event is about. */
  obj: { kind: string; namespace?: string; name: string };
  /** Where on the object: "parentRef gw-ns/gw", "listener https", or "". */
  where: string;
  cond: Cond;
  watched: Watched;
}

function conds(v: unknown): Cond[] {
  if (!Array.isArray(v)) return [];
  return v.flatMap((c: Record<string, unknown>) =>
    typeof c?.type === 'string' ? [{ type: c.type, status: String(c.status ?? ''), reason: String(c.reason ?? ''), message: String(c.message ?? '') }] : [],
  );
}

function refText(ref: Record<string, unknown> | undefined, ownNamespace: string | undefined): string {
  if (!ref) return '';
  const ns = typeof ref.namespace === 'string' ? ref.namespace : ownNamespace;
  const section = typeof ref.sectionName === 'string' ? `/${ref.sectionName}` : '';
  const port = typeof ref.port === 'number' ? `:${ref.port}` : '';
  const kind = typeof ref.kind === 'string' && ref.kind !== 'Gateway' ? `${ref.kind} ` : '';
  return `${kind}${ns ? `${ns}/` : ''}${String(ref.name)}${section}${port}`;
}

function slots(d: DesiredStatus): Map<string, Slot> {
  const out = new Map<string, Slot>();
  const obj = { kind: d.kind, namespace: d.namespace, name: d.name };
  const add = (where: string, list: unknown, watch: Record<string, Watched>) => {
    for (const cond of conds(list)) {
      const watched = watch[cond.type];
      if (watched) out.set(`${where}\n${cond.type}`, { obj, where, cond, watched });
    }
  };
  const status = d.status as { conditions?: unknown; listeners?: { name?: unknown; conditions?: unknown }[] } | undefined;
  if (d.kind === 'GatewayClass' || d.kind === 'Gateway') add('', status?.conditions, watchedBy[d.kind]);
  if (d.kind === 'Gateway') for (const l of Array.isArray(status?.listeners) ? status.listeners : []) add(`listener ${String(l.name)}`, l.conditions, watchedBy.Listener);
  for (const p of d.parents ?? []) add(`parentRef ${refText(p.parentRef as unknown as Record<string, unknown>, d.namespace)}`, p.conditions, watchedBy.Route);
  for (const a of d.ancestors ?? []) add(`ancestorRef ${refText(a.ancestorRef as unknown as Record<string, unknown>, d.namespace)}`, a.conditions, watchedBy.Route);
  return out;
}

const objKey = (d: { kind: string; namespace?: string; name: string }) => `${d.kind}/${d.namespace ?? ''}/${d.name}`;
const isBad = (s: Slot) => s.cond.status === s.watched.bad && !s.watched.ignore?.includes(s.cond.reason);

/**
 * Events for what changed between two rounds of desired statuses: a watched condition that
 * turns bad (or stays bad with another reason) is a Warning with the condition's reason and
 * message; one that turns good again is Normal. An object or entry that is new counts as
 * having been good. `previous` undefined (the first round) only sets the baseline.
 */
export function eventsForTransitions(previous: readonly DesiredStatus[] | undefined, next: readonly DesiredStatus[]): EventSpec[] {
  if (!previous) return [];
  const before = new Map(previous.map((d) => [objKey(d), slots(d)]));
  const events: EventSpec[] = [];
  for (const d of next) {
    const old = before.get(objKey(d));
    for (const [key, s] of slots(d)) {
      const was = old?.get(key);
      const wasBad = was !== undefined && isBad(was);
      const where = s.where ? `${s.where}: ` : '';
      if (isBad(s) && (!wasBad || was.cond.reason !== s.cond.reason)) {
        events.push({ ...s.obj, type: 'Warning', reason: s.cond.reason || s.cond.type, message: `${where}${s.cond.type}=${s.cond.status}: ${s.cond.message}` });
      } else if (!isBad(s) && wasBad) {
        events.push({ ...s.obj, type: 'Normal', reason: s.cond.reason || s.cond.type, message: `${where}${s.cond.type}=${s.cond.status}${s.cond.message ? `: ${s.cond.message}` : ''}` });
      }
    }
  }
  return events;
}

/** First lines of nginx's answer: enough to act on, short enough for an Event. */
function brief(error: string | undefined): string {
  return (error ?? 'unknown error').split('\n').slice(0, 3).join(' ').trim();
}

/**
 * Events for a rejected version: on the route the controller blames (it is left out until
 * it changes), else on each of our Gateways (their nginx did not take the new version).
 */
export function verdictEvents(v: Verdict, blamed: string | undefined, gateways: readonly { namespace?: string; name: string }[]): EventSpec[] {
  if (v.ok) return [];
  const reload = (v.error ?? '').startsWith('reload not confirmed');
  const reason = reload ? 'ReloadFailed' : 'NginxRejected';
  const where = v.file ? ` (${v.file}${v.line ? `:${v.line}` : ''})` : '';
  if (blamed) {
    const f = objectFields(blamed);
    return [{ ...f, type: 'Warning', reason, message: `nginx rejected configuration version ${v.version}${where} generated from this route, which is left out until it changes: ${brief(v.error)}` }];
  }
  const what = reload ? `nginx did not confirm the reload to configuration version ${v.version}` : `nginx rejected configuration version ${v.version}${where}`;
  return gateways.map((g) => ({ kind: 'Gateway', namespace: g.namespace, name: g.name, type: 'Warning' as const, reason, message: `${what}; the previous version keeps serving: ${brief(v.error)}` }));
}

/**
 * Per (object, reason) at most one Event per `perKeyMs`, and a global token bucket
 * (`burst` Events, refilled at `perSecond`): a flapping route or a thousand broken routes
 * cannot flood the API server. Keys are forgotten once their interval has passed.
 */
export class EventLimiter {
  private readonly last = new Map<string, number>();
  private readonly perKeyMs: number;
  private readonly burst: number;
  private readonly perSecond: number;
  private tokens: number;
  private refilledAt: number | undefined;
  dropped = 0;

  constructor(opts: { perKeyMs?: number; burst?: number; perSecond?: number } = {}) {
    this.perKeyMs = opts.perKeyMs ?? 60_000;
    this.burst = opts.burst ?? 25;
    this.perSecond = opts.perSecond ?? 1;
    this.tokens = this.burst;
  }

  allow(e: EventSpec, now: number): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - (this.refilledAt ?? now)) / 1000) * this.perSecond);
    this.refilledAt = now;
    const key = `${objKey(e)}\n${e.reason}`;
    const last = this.last.get(key);
    if ((last !== undefined && now - last < this.perKeyMs) || this.tokens < 1) {
      this.dropped++;
      return false;
    }
    this.tokens--;
    this.last.set(key, now);
    if (this.last.size > 10_000) for (const [k, t] of this.last) if (now - t >= this.perKeyMs) this.last.delete(k);
    return true;
  }
}

/** Where Events go: the API server (EventRecorder.kube) or a test's list. */
export type EventSender = (e: EventSpec) => Promise<void>;

export interface EventRecorder {
  observer: ControllerObserver;
  /** The leader sends; the others only follow the state. */
  setEnabled(enabled: boolean): void;
  /** Resolves when the Events sent so far are done (tests). */
  flush(): Promise<void>;
}

export function eventRecorder(opts: { send: EventSender; logger: Logger; limiter?: EventLimiter; now?: () => number }): EventRecorder {
  const limiter = opts.limiter ?? new EventLimiter();
  const now = opts.now ?? Date.now;
  let enabled = false;
  let previous: readonly DesiredStatus[] | undefined;
  let gateways: { namespace?: string; name: string }[] = [];
  let pending: Promise<unknown> = Promise.resolve();
  const emit = (events: EventSpec[]) => {
    if (!enabled) return;
    for (const e of events) {
      if (!limiter.allow(e, now())) continue;
      const safe = { ...e, message: redactSecrets(e.message).slice(0, 1024) };
      pending = Promise.all([pending, opts.send(safe).catch((err: Error) => opts.logger.warn(`event ${safe.reason}: ${err.message}`, { kind: e.kind, namespace: e.namespace, name: e.name }))]);
    }
  };
  return {
    observer: {
      rebuilt(r) {
        emit(eventsForTransitions(previous, r.desired));
        previous = r.desired;
        gateways = r.desired.filter((d) => d.kind === 'Gateway').map((d) => ({ namespace: d.namespace, name: d.name }));
      },
      verdict(v, blamed) {
        emit(verdictEvents(v, blamed, gateways));
      },
    },
    setEnabled(on) {
      enabled = on;
    },
    flush: async () => {
      await pending;
    },
  };
}

/** Sends core/v1 Events, with the object's uid from the store (kubectl describe selects by it). */
export function kubeEventSender(kubeConfig: KubeConfig, store: Store, source: { controllerName: string; instance: string }): EventSender {
  const api = kubeConfig.makeApiClient(CoreV1Api);
  return async (e) => {
    const obj = store.get(e.kind, e.namespace, e.name);
    if (!obj) return; // gone: nobody will describe it
    const at = new Date();
    const body: CoreV1Event = {
      metadata: { name: `${e.name.slice(0, 200)}.${Date.now().toString(16)}${Math.floor(Math.random() * 0xffff).toString(16)}`, namespace: e.namespace ?? 'default' },
      involvedObject: { apiVersion: obj.apiVersion, kind: obj.kind, name: e.name, namespace: e.namespace, uid: obj.metadata.uid, resourceVersion: obj.metadata.resourceVersion },
      type: e.type,
      reason: e.reason,
      message: e.message,
      source: { component: 'waygate' },
      reportingComponent: source.controllerName,
      reportingInstance: source.instance,
      firstTimestamp: at,
      lastTimestamp: at,
      count: 1,
    };
    await api.createNamespacedEvent({ namespace: e.namespace ?? 'default', body });
  };
}
