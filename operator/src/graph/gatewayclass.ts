// GatewayClass: ours when spec.controllerName is our controllerName. We take no
// parameters, so a class with parametersRef is not accepted (InvalidParameters).
import type { GatewayClass } from '../objects.ts';
import type { GatewayClassNode } from './types.ts';

export function buildGatewayClasses(classes: readonly GatewayClass[], controllerName: string): GatewayClassNode[] {
  return classes
    .filter((c) => c.spec?.controllerName === controllerName)
    .map((obj) => ({ obj, accepted: !obj.spec?.parametersRef }));
}
