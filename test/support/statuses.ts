// The graph and the desired statuses of a set of objects, for unit tests that read conditions.
import { buildGraph } from '../../operator/src/graph/graph.ts';
import { desiredStatuses } from '../../operator/src/graph/status.ts';
import type { KubeObject } from '../../operator/src/objects.ts';
import { CONTROLLER, gatewayClass, storeOf } from './objects.ts';

export const graphOptions = { controllerName: CONTROLLER, supportedFeatures: ['Gateway', 'HTTPRoute'] };
const programmed = { ok: true, reason: 'Programmed', message: 'ok' };

/** "Status/Reason" per condition type. */
export const conds = (list: any[] | undefined): Record<string, string> => Object.fromEntries((list ?? []).map((c) => [c.type, `${c.status}/${c.reason}`]));

/** Graph and statuses of the objects plus our GatewayClass, with nginx having loaded the config. */
export function statusesOf(...objects: (KubeObject | KubeObject[])[]) {
  const graph = buildGraph(storeOf(gatewayClass(), ...objects).snapshot(), graphOptions);
  const all = desiredStatuses(graph, graphOptions, programmed);
  return { graph, all, find: (kind: string, ns: string, name: string) => all.find((d) => d.kind === kind && d.namespace === ns && d.name === name) };
}
