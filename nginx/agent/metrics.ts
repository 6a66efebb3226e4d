// The agent's Prometheus metrics: reloads (from verdicts), the version nginx serves, and
// per-route traffic aggregated from nginx's traffic log (access-log.ts).
//
// Traffic series are kept in plain arrays (one increment per request, no label hashing)
// and written out at scrape time. Cardinality is bounded: a series (route, Gateway) that
// saw no request for `idleMs` is dropped (deleted routes disappear), and past `maxSeries`
// new pairs are counted in one route="_other" series.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { TrafficRecord } from './access-log.ts';
import type { Verdict } from './verdict.ts';
import type { WorkerStats } from './drain.ts';

/** Request time buckets, seconds (upper bounds; +Inf is implied). */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
export const OTHER_ROUTE = '_other';

interface Series {
  labels: { kind: string; namespace: string; route: string; gateway: string };
  byClass: number[];
  buckets: number[];
  sum: number;
  count: number;
  upstreamErrors: number;
  lastSeen: number;
}

/** Labels from the record: route key "Kind/ns/name" -> kind, namespace, route "ns/name". */
function labelsOf(route: string, gateway: string): Series['labels'] {
  const first = route.indexOf('/');
  const second = route.indexOf('/', first + 1);
  if (first < 0 || second < 0) return { kind: '', namespace: '', route: route === '' ? '' : OTHER_ROUTE, gateway };
  return { kind: route.slice(0, first), namespace: route.slice(first + 1, second), route: route.slice(first + 1), gateway };
}

export interface TrafficOptions {
  maxSeries?: number;
  idleMs?: number;
  now?: () => number;
}

export class TrafficMetrics {
  private readonly series = new Map<string, Series>();
  private readonly maxSeries: number;
  private readonly idleMs: number;
  private readonly now: () => number;
  overflowed = 0;

  constructor(opts: TrafficOptions = {}) {
    this.maxSeries = opts.maxSeries ?? 2000;
    this.idleMs = opts.idleMs ?? 10 * 60_000;
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.series.size;
  }

  record(r: TrafficRecord): void {
    let key = `${r.route}\t${r.gateway}`;
    let s = this.series.get(key);
    if (!s) {
      if (this.series.size >= this.maxSeries) {
        this.overflowed++;
        key = `\t${OTHER_ROUTE}`;
        s = this.series.get(key);
      }
      if (!s) {
        const labels = key === `\t${OTHER_ROUTE}` ? { kind: '', namespace: '', route: OTHER_ROUTE, gateway: OTHER_ROUTE } : labelsOf(r.route, r.gateway);
        s = { labels, byClass: [0, 0, 0, 0, 0], buckets: LATENCY_BUCKETS.map(() => 0), sum: 0, count: 0, upstreamErrors: 0, lastSeen: 0 };
        this.series.set(key, s);
      }
    }
    s.lastSeen = this.now();
    const cls = Math.floor(r.status / 100) - 1;
    if (cls >= 0 && cls < 5) s.byClass[cls]!++;
    // Cumulative buckets are summed at scrape time; here one bucket per request.
    let i = 0;
    while (i < LATENCY_BUCKETS.length && r.seconds > LATENCY_BUCKETS[i]!) i++;
    if (i < LATENCY_BUCKETS.length) s.buckets[i]!++;
    s.sum += r.seconds;
    s.count++;
    if (r.upstreamError) s.upstreamErrors++;
  }

  /** Drops series idle for longer than idleMs. */
  sweep(): void {
    const cutoff = this.now() - this.idleMs;
    for (const [k, s] of this.series) if (s.lastSeen < cutoff) this.series.delete(k);
  }

  /** prom-client metric objects (registered with Registry.registerMetric) reading the series at scrape time. */
  metrics(): object[] {
    const all = () => {
      this.sweep();
      return [...this.series.values()];
    };
    const requests = {
      name: 'waygate_http_requests_total',
      help: 'Requests nginx answered, by route (namespace/name), Gateway and status class.',
      type: 'counter',
      aggregator: 'sum',
      get: () => ({
        name: requests.name, help: requests.help, type: 'counter', aggregator: 'sum',
        values: all().flatMap((s) => CLASSES.flatMap((code, i) => (s.byClass[i] ? [{ labels: { ...s.labels, code }, value: s.byClass[i] }] : []))),
      }),
    };
    const duration = {
      name: 'waygate_http_request_duration_seconds',
      help: 'nginx $request_time by route and Gateway.',
      type: 'histogram',
      aggregator: 'sum',
      get: () => ({
        name: duration.name, help: duration.help, type: 'histogram', aggregator: 'sum',
        values: all().flatMap((s) => {
          let cumulative = 0;
          const buckets = LATENCY_BUCKETS.map((le, i) => ({ metricName: `${duration.name}_bucket`, labels: { ...s.labels, le }, value: (cumulative += s.buckets[i]!) }));
          return [
            ...buckets,
            { metricName: `${duration.name}_bucket`, labels: { ...s.labels, le: '+Inf' }, value: s.count },
            { metricName: `${duration.name}_sum`, labels: s.labels, value: s.sum },
            { metricName: `${duration.name}_count`, labels: s.labels, value: s.count },
          ];
        }),
      }),
    };
    const upstream = {
      name: 'waygate_http_upstream_errors_total',
      help: 'Requests whose upstream answered 502/503/504 or could not be reached, by route and Gateway.',
      type: 'counter',
      aggregator: 'sum',
      get: () => ({ name: upstream.name, help: upstream.help, type: 'counter', aggregator: 'sum', values: all().map((s) => ({ labels: s.labels, value: s.upstreamErrors })) }),
    };
    const series = {
      name: 'waygate_http_traffic_series',
      help: 'Route and Gateway pairs with traffic series (bounded; the excess counts as route="_other").',
      type: 'gauge',
      aggregator: 'sum',
      get: () => ({ name: series.name, help: series.help, type: 'gauge', aggregator: 'sum', values: [{ labels: {}, value: this.series.size }] }),
    };
    return [requests, duration, upstream, series];
  }
}

export interface AgentMetrics {
  registry: Registry;
  traffic: TrafficMetrics;
  verdict(v: Verdict): void;
}

export function createAgentMetrics(opts: { served: () => string | undefined; traffic?: TrafficOptions; defaultMetrics?: boolean; lines?: () => { ok: number; foreign: number; malformed: number }; workers?: () => (WorkerStats & { ended: number }) | undefined; pushes?: () => Readonly<Record<string, number>> | undefined }): AgentMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const reloads = new Counter({ name: 'waygate_nginx_reloads_total', help: 'Configuration versions loaded by nginx (ok) or refused (failed: nginx -t or an unconfirmed reload).', labelNames: ['result'], registers });
  const reloadSeconds = new Histogram({
    name: 'waygate_nginx_reload_duration_seconds',
    help: 'nginx -t, reload and verification of one version, by result.',
    labelNames: ['result'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  for (const result of ['ok', 'failed']) reloads.inc({ result }, 0);
  new Gauge({
    name: 'waygate_nginx_config_version',
    help: 'The configuration version nginx serves (0: none from the config root yet).',
    registers,
    collect() {
      const v = Number(opts.served() ?? 0);
      this.set(Number.isFinite(v) ? v : 0);
    },
  });
  if (opts.lines) {
    const lines = opts.lines;
    new Gauge({
      name: 'waygate_traffic_log_datagrams',
      help: 'Traffic log datagrams received since start, by result (ok, foreign: without our tag, malformed).',
      labelNames: ['result'],
      registers,
      collect() {
        for (const [result, n] of Object.entries(lines())) this.set({ result }, n);
      },
    });
  }
  if (opts.workers) registerWorkerMetrics(registers, opts.workers);
  if (opts.pushes) {
    const pushes = opts.pushes;
    new Counter({
      name: 'waygate_nginx_pushes_total',
      help: 'Documents the agent sent to nginx\'s shared dicts (peers, routes, certificates), without a reload; an unchanged document is not sent again.',
      labelNames: ['document'],
      registers,
      collect() {
        this.reset();
        for (const [document, n] of Object.entries(pushes() ?? {})) this.inc({ document }, n);
      },
    });
  }
  const traffic = new TrafficMetrics(opts.traffic);
  for (const m of traffic.metrics()) registry.registerMetric(m as Parameters<Registry['registerMetric']>[0]);
  return {
    registry,
    traffic,
    verdict(v) {
      if (!v.ok) {
        reloads.inc({ result: 'failed' });
        reloadSeconds.observe({ result: 'failed' }, v.durationMs / 1000);
      } else if (v.reloaded) {
        reloads.inc({ result: 'ok' });
        reloadSeconds.observe({ result: 'ok' }, v.durationMs / 1000);
      }
    },
  };
}

/** nginx's workers by state (draining: old generations after reloads, drain.ts), read at scrape time. */
function registerWorkerMetrics(registers: Registry[], workers: () => (WorkerStats & { ended: number }) | undefined): void {
  new Gauge({
    name: 'waygate_nginx_workers',
    help: 'nginx worker processes: serving the current configuration, or draining (an older one, kept for its open connections until they close or the drain period ends).',
    labelNames: ['state'],
    registers,
    collect() {
      const w = workers();
      this.set({ state: 'serving' }, w?.serving ?? 0);
      this.set({ state: 'draining' }, w?.draining ?? 0);
    },
  });
  new Gauge({
    name: 'waygate_nginx_worker_memory_bytes',
    help: 'Memory of nginx worker processes by state (proportional set size: shared pages split among the processes sharing them).',
    labelNames: ['state'],
    registers,
    collect() {
      const w = workers();
      this.set({ state: 'serving' }, w?.servingMemory ?? 0);
      this.set({ state: 'draining' }, w?.drainingMemory ?? 0);
    },
  });
  new Counter({
    name: 'waygate_nginx_draining_workers_ended_total',
    help: 'Draining workers ended before the drain period because more than --max-draining-workers were draining (their connections closed).',
    registers,
    collect() {
      this.reset();
      this.inc(workers()?.ended ?? 0);
    },
  });
}
