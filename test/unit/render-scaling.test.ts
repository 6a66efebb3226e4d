// Rendering stays linear in what routes contain. Regex paths can match under any
// location: copied into every location's map they made the config quadratic (8 routes of
// 64 prefix + 64 regex matches each: 2.8 MB, 47 s). Measured by size, not time: the config
// for 4x the routes must be about 4x as large.
import { expect } from 'chai';
import type { KubeObject } from '../../operator/src/objects.ts';
import { buildConfiguration } from '../../operator/src/pipeline.ts';
import { CONTROLLER, gateway, gatewayClass, httpRoute, namespace, service, storeOf } from '../support/objects.ts';

function routes(n: number): KubeObject[] {
  return Array.from({ length: n }, (_, r) => httpRoute('app', `r${r}`, {
    rules: [
      { matches: Array.from({ length: 64 }, (_, i) => ({ path: { type: 'PathPrefix', value: `/r${r}/p${i}` } })), backendRefs: [{ name: 'svc', port: 80 }] },
      { matches: Array.from({ length: 64 }, (_, i) => ({ path: { type: 'RegularExpression', value: `/r${r}/x${i}/[a-z]+` } })), backendRefs: [{ name: 'svc', port: 80 }] },
    ],
  }));
}

function configBytes(n: number): number {
  const store = storeOf(gatewayClass(), namespace('app'), gateway('app', 'gw'), service('app', 'svc'), ...routes(n));
  const { config, graph } = buildConfiguration(store.snapshot(), { controllerName: CONTROLLER, supportedFeatures: [] });
  expect(graph.routes.filter((r) => r.problem || r.rules.some((x) => x.problem)), 'every route is served').to.deep.equal([]);
  return Object.values(config.files).reduce((sum, f) => sum + f.length, 0);
}

describe('render scaling (size, not time)', () => {
  it('a host with many prefix and regex matches renders linearly: 4x the routes, about 4x the bytes', () => {
    const small = configBytes(2);
    const large = configBytes(8);
    expect(large / small, `${small} -> ${large} bytes`).to.be.below(4.6);
  });
});
