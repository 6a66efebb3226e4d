// allowedRoutes.namespaces: Same, All, or Selector over the route namespace's labels.
import type { KubeObject } from '../objects.ts';

export function labelSelectorMatches(selector: any, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector?.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector?.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const values: string[] = e.values ?? [];
    switch (e.operator) {
      case 'In': if (!has || !values.includes(labels[e.key])) return false; break;
      case 'NotIn': if (has && values.includes(labels[e.key])) return false; break;
      case 'Exists': if (!has) return false; break;
      case 'DoesNotExist': if (has) return false; break;
      default: return false; // unknown operators select nothing, as the API server would refuse them
    }
  }
  return true;
}

export function namespaceAllowed(
  allowed: { from: string; selector?: any },
  gatewayNamespace: string,
  routeNamespace: string,
  namespaces: ReadonlyMap<string, KubeObject>,
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
