// The operator's Prometheus metrics, in a registry of their own (not prom-client's global
// one, so tests and several operators in one process do not share counters). The
// controller reports rebuilds and verdicts through its observer (metricsObserver); the
// status writer's results and leadership are set by whoever owns them.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ControllerObserver, RebuildReport } from '../controller.ts';
import type { DesiredStatus } from '../status/merge.ts';

export interface OperatorMetrics {
  registry: Registry;
  observer: ControllerObserver;
  /** 1 while this replica holds the lease (set by leader election). */
  setLeader(leading: boolean): void;
  /** The status writer's result of one round. */
  statusWrites(r: { written: number; failed: number }): void;
}

/** One row of waygate_object_conditions: objects (route parent entries, listeners) with this condition. */
export interface ConditionCount {
  kind: string;
  type: string;
  status: string;
  reason: string;
  count: number;
}

interface Cond {
  type?: unknown;
  status?: unknown;
  reason?: unknown;
}

/**
 * Objects per kind and conditions per (kind, type, status, reason), from the desired
 * statuses. A route counts each of our parent entries, a Gateway its listeners as kind
 * "Listener". Pure.
 */
export function countConditions(desired: readonly DesiredStatus[]): { objects: Map<string, number>; conditions: ConditionCount[] } {
  const objects = new Map<string, number>();
  const rows = new Map<string, ConditionCount>();
  const add = (kind: string, conditions: unknown) => {
    if (!Array.isArray(conditions)) return;
    for (const c of conditions as Cond[]) {
      const [type, status, reason] = [c.type, c.status, c.reason].map((v) => (typeof v === 'string' ? v : ''));
      const key = `${kind}\n${type}\n${status}\n${reason}`;
      const row = rows.get(key) ?? { kind, type: type!, status: status!, reason: reason!, count: 0 };
      row.count++;
      rows.set(key, row);
    }
  };
  for (const d of desired) {
    objects.set(d.kind, (objects.get(d.kind) ?? 0) + 1);
    const status = d.status as { conditions?: unknown; listeners?: { conditions?: unknown }[] } | undefined;
    add(d.kind, status?.conditions);
    for (const l of Array.isArray(status?.listeners) ? status.listeners : []) add('Listener', l.conditions);
    for (const p of d.parents ?? []) add(d.kind, p.conditions);
    for (const a of d.ancestors ?? []) add(d.kind, a.conditions);
  }
  return { objects, conditions: [...rows.values()] };
}

export function createOperatorMetrics(opts: { defaultMetrics?: boolean } = {}): OperatorMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const rebuilds = new Counter({ name: 'waygate_rebuilds_total', help: 'Rebuilds of the configuration from the store (graph, model, render).', registers });
  const rebuildSeconds = new Histogram({
    name: 'waygate_rebuild_duration_seconds',
    help: 'Time of one rebuild: graph, model, render and writing a changed version.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const configBytes = new Gauge({ name: 'waygate_config_bytes', help: 'Size of the rendered nginx configuration (all files), bytes.', registers });
  const versionsWritten = new Counter({ name: 'waygate_config_versions_written_total', help: 'Configuration versions written to the config root.', registers });
  const versionServed = new Gauge({ name: 'waygate_config_version_served', help: 'The configuration version nginx serves, from the agent\'s verdicts (0: none yet).', registers });
  const rejections = new Counter({ name: 'waygate_nginx_rejections_total', help: 'Configuration versions nginx rejected (nginx -t or an unconfirmed reload).', labelNames: ['traced'], registers });
  const objects = new Gauge({ name: 'waygate_objects', help: 'Objects this controller reports status on, by kind.', labelNames: ['kind'], registers });
  const conditions = new Gauge({
    name: 'waygate_object_conditions',
    help: 'Conditions this controller sets, by kind, type, status and reason (route parent entries and listeners count one each).',
    labelNames: ['kind', 'type', 'status', 'reason'],
    registers,
  });
  const leader = new Gauge({ name: 'waygate_leader', help: '1 while this replica is the leader (writes status, Services and Events).', registers });
  const statusWrites = new Counter({ name: 'waygate_status_writes_total', help: 'Status writes to the API server, by result.', labelNames: ['result'], registers });
  statusWrites.inc({ result: 'ok' }, 0);
  statusWrites.inc({ result: 'failed' }, 0);
  rejections.inc({ traced: 'true' }, 0);
  rejections.inc({ traced: 'false' }, 0);

  const observer: ControllerObserver = {
    rebuilt(r: RebuildReport) {
      rebuilds.inc();
      rebuildSeconds.observe(r.durationMs / 1000);
      configBytes.set(Object.values(r.files).reduce((n, text) => n + Buffer.byteLength(text), 0));
      if (r.version !== undefined) versionsWritten.inc();
      const counts = countConditions(r.desired);
      objects.reset();
      for (const [kind, n] of counts.objects) objects.set({ kind }, n);
      conditions.reset();
      for (const c of counts.conditions) conditions.set({ kind: c.kind, type: c.type, status: c.status, reason: c.reason }, c.count);
    },
    verdict(v, blamed) {
      if (!v.ok) rejections.inc({ traced: blamed ? 'true' : 'false' });
      const live = Number(v.live);
      if (Number.isFinite(live)) versionServed.set(live);
    },
  };
  return {
    registry,
    observer,
    setLeader: (leading) => leader.set(leading ? 1 : 0),
    statusWrites(r) {
      statusWrites.inc({ result: 'ok' }, r.written);
      statusWrites.inc({ result: 'failed' }, r.failed);
    },
  };
}

/** Several observers as one (metrics and events both follow the controller). */
export function observers(...list: ControllerObserver[]): ControllerObserver {
  return {
    rebuilt: (r) => list.forEach((o) => o.rebuilt?.(r)),
    verdict: (v, blamed) => list.forEach((o) => o.verdict?.(v, blamed)),
  };
}
