// Status without an API server (standalone and render modes): desired status merged
// over what this process reported before, kept per object, printed as YAML.
import { stringify } from 'yaml';
import type { KubeObject } from '../objects.ts';
import { asArray, isObj, mergeStatus, statusEqual, type DesiredStatus } from './merge.ts';

export class LocalStatus {
  private readonly statuses = new Map<string, { desired: DesiredStatus; status: Record<string, unknown> }>();

  private readonly controllerName: string;
  constructor(controllerName: string) {
    this.controllerName = controllerName;
  }

  /** Applies a full set of desired statuses; returns the keys whose status changed. */
  apply(desired: readonly DesiredStatus[], now = new Date().toISOString().replace(/\.\d+Z$/, 'Z')): string[] {
    const changed: string[] = [];
    const seen = new Set<string>();
    for (const d of desired) {
      const key = statusKey(d);
      seen.add(key);
      const prev = this.statuses.get(key)?.status;
      const next = mergeStatus(prev, d, this.controllerName, now);
      if (!prev || !statusEqual(prev, next)) changed.push(key);
      this.statuses.set(key, { desired: d, status: next });
    }
    for (const key of this.statuses.keys()) if (!seen.has(key)) { this.statuses.delete(key); changed.push(key); }
    return changed;
  }

  get(key: string): Record<string, unknown> | undefined {
    return this.statuses.get(key)?.status;
  }

  /** One line per object: its conditions, for logs. */
  summary(key: string): string {
    const s = this.statuses.get(key)?.status;
    if (!s) return `${key}: gone`;
    const str = (v: unknown) => String(v);
    const fmt = (cs: unknown) => asArray(cs).filter(isObj).map((c) => `${str(c.type)}=${str(c.status)}${c.status === 'True' && c.reason === c.type ? '' : ` (${str(c.reason)}: ${str(c.message)})`}`).join(', ');
    // Routes list their parents, policies (BackendTLSPolicy) their ancestors: same shape.
    const shared = s.parents ?? s.ancestors;
    if (shared) {
      return `${key}: ${asArray(shared).filter(isObj).map((p) => {
        const ref = isObj(p.parentRef) ? p.parentRef : isObj(p.ancestorRef) ? p.ancestorRef : {};
        return `[${str(ref.namespace)}/${str(ref.name)}${ref.sectionName ? `/${str(ref.sectionName)}` : ''}] ${fmt(p.conditions)}`;
      }).join(' ')}`;
    }
    return `${key}: ${fmt(s.conditions)}`;
  }

  /** Every object with its status, as a YAML stream in the order given. */
  toYaml(objects: readonly KubeObject[]): string {
    return objects
      .map((o) => {
        const s = this.statuses.get(statusKey({ kind: o.kind, namespace: o.metadata.namespace, name: o.metadata.name }))?.status;
        if (!s) return undefined;
        const meta: Record<string, unknown> = { name: o.metadata.name };
        if (o.metadata.namespace) meta.namespace = o.metadata.namespace;
        if (o.metadata.generation !== undefined) meta.generation = o.metadata.generation;
        return stringify({ apiVersion: o.apiVersion, kind: o.kind, metadata: meta, status: s });
      })
      .filter((x): x is string => !!x)
      .join('---\n');
  }
}

export function statusKey(d: { kind: string; namespace?: string; name: string }): string {
  return d.namespace ? `${d.kind}/${d.namespace}/${d.name}` : `${d.kind}/${d.name}`;
}
