// kubectl helpers for end-to-end tests: apply YAML, read objects and conditions back.
import { testbed } from '../testbed.ts';
import { eventually } from './http.ts';

export async function apply(...objects: unknown[]): Promise<void> {
  // JSON, not YAML: kubectl reads YAML 1.1, where an unquoted yes/no/on/off is a boolean.
  await testbed().kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=e2e', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }) });
}

export async function remove(kind: string, namespace: string | undefined, name: string): Promise<void> {
  await testbed().kubectl(['delete', kind, name, '--ignore-not-found', '--wait=false', ...(namespace ? ['-n', namespace] : [])]);
}

export async function getObject(kind: string, namespace: string | undefined, name: string): Promise<any | undefined> {
  const r = await testbed().tryKubectl(['get', kind, name, '-o', 'json', ...(namespace ? ['-n', namespace] : [])]);
  return r.code === 0 ? JSON.parse(r.stdout) : undefined;
}

/** "True/Reason" per condition type of a condition list. */
export function conditionMap(list: any[] | undefined): Record<string, string> {
  return Object.fromEntries((list ?? []).map((c) => [c.type, `${c.status}/${c.reason}`]));
}

/** Our status.parents entry of a route for the Gateway `gateway` (namespace/name). */
export function parentStatus(route: any, gateway: string, controllerName: string): any | undefined {
  return (route?.status?.parents ?? []).find((p: any) => p.controllerName === controllerName && `${p.parentRef.namespace}/${p.parentRef.name}` === gateway);
}

/** Waits until the route's conditions for `gateway` include every `want` entry; returns the route. */
export function routeConditions(namespace: string, name: string, gateway: string, controllerName: string, want: Record<string, string>, timeoutMs = 15_000): Promise<any> {
  return eventually(`HTTPRoute ${namespace}/${name} to have ${JSON.stringify(want)}`, async () => {
    const r = await getObject('httproute', namespace, name);
    return { route: r, conds: conditionMap(parentStatus(r, gateway, controllerName)?.conditions) };
  }, (v) => Object.entries(want).every(([k, s]) => v.conds[k] === s), timeoutMs, 100).then((v) => v.route);
}

export function namespaceObject(name: string, labels: Record<string, string> = {}) {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } };
}
