// allowedRoutes.namespaces: Same, All, or Selector over the route namespace's labels.
import type { LabelSelector } from '../api/gateway-api.ts';
import type { Namespace } from '../objects.ts';
import type { ListenerNode } from './types.ts';

export function labelSelectorMatches(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector?.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector?.matchExpressions ?? []) {
    const value = Object.hasOwn(labels, e.key) ? labels[e.key] : undefined;
    const has = value !== undefined;
    const values = e.values ?? [];
    switch (e.operator) {
      case 'In': if (!has || !values.includes(value)) return false; break;
      case 'NotIn': if (has && values.includes(value)) return false; break;
      case 'Exists': if (!has) return false; break;
      case 'DoesNotExist': if (has) return false; break;
      default: return false; // unknown operators select nothing, as the API server would refuse them
    }
  }
  return true;
}

export function namespaceAllowed(
  allowed: ListenerNode['allowedRoutes'],
  gatewayNamespace: string,
  routeNamespace: string,
  namespaces: ReadonlyMap<string, Namespace>,
): boolean {
  switch (allowed.from) {
    case 'All': return true;
    case 'Same': return routeNamespace === gatewayNamespace;
    case 'Selector': {
      const ns = namespaces.get(routeNamespace);
      const labels = { 'kubernetes.io/metadata.name': routeNamespace, ...(ns?.metadata.labels ?? {}) };
      return labelSelectorMatches(allowed.selector, labels);
    }
    default: return false;
  }
}
