// GatewayClass: ours when spec.controllerName is our controllerName. Its parametersRef may
// name a ConfigMap of Service parameters (graph/exposure.ts); any other reference, a
// missing ConfigMap or an unknown key makes it not accepted (InvalidParameters).
import type { ConfigMap, GatewayClass } from '../objects.ts';
import { classParameters } from './exposure.ts';
import type { GatewayClassNode } from './types.ts';

export function buildGatewayClasses(classes: readonly GatewayClass[], controllerName: string, configMaps: ReadonlyMap<string, ConfigMap>): GatewayClassNode[] {
  return classes
    .filter((c) => c.spec?.controllerName === controllerName)
    .map((obj) => {
      const p = classParameters(obj, configMaps);
      return 'problem' in p ? { obj, accepted: false, problem: p.problem, parameters: {} } : { obj, accepted: true, parameters: p.parameters };
    });
}
