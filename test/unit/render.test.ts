// Rendering: golden configs a reviewer can read (test/golden/<case>/http.conf from the
// fixtures in test/golden/<case>/input/; this test only compares: `npm run golden:update`
// rewrites them, then review the diff), determinism, and source attribution of lines.
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { buildHttpModel } from '../../operator/src/dataplane/build.ts';
import { buildGraph } from '../../operator/src/graph/graph.ts';
import type { KubeObject } from '../../operator/src/objects.ts';
import { objectAtLine, renderConfig } from '../../operator/src/render/render.ts';
import { expectedPath, goldenCases, renderCase } from '../golden/cases.ts';
import { CONTROLLER, gateway, gatewayClass, httpRoute, namespace, referenceGrant, service, storeOf } from '../support/objects.ts';

function objects(): KubeObject[] {
  return [
    gatewayClass(), namespace('infra'), namespace('shop', { team: 'shop' }), namespace('search'),
    gateway('infra', 'web', [{ name: 'http', port: 80, allowedRoutes: { namespaces: { from: 'All' } } }, { name: 'admin', port: 8080, hostname: 'admin.example.com' }], { addresses: [{ type: 'IPAddress', value: '127.0.0.20' }] }),
    ...service('shop', 'cart', 80, ['10.0.1.1:8080', '10.0.1.2:8080']),
    ...service('shop', 'cart-v2', 80, ['10.0.2.1:8080']),
    ...service('search', 'search', 80, ['10.0.3.1:9090']),
    referenceGrant('search', 'shop-may-use-search', [{ kind: 'HTTPRoute', namespace: 'shop' }], [{ kind: 'Service', name: 'search' }]),
    httpRoute('shop', 'cart', {
      parentRefs: [{ name: 'web', namespace: 'infra', sectionName: 'http' }],
      hostnames: ['shop.example.com'],
      rules: [
        { matches: [{ path: { type: 'PathPrefix', value: '/cart' }, headers: [{ name: 'X-Canary', value: 'yes' }] }], backendRefs: [{ name: 'cart-v2', port: 80 }] },
        { matches: [{ path: { type: 'PathPrefix', value: '/cart' } }], backendRefs: [{ name: 'cart', port: 80, weight: 3 }, { name: 'cart-v2', port: 80, weight: 1 }] },
        { matches: [{ path: { type: 'Exact', value: '/search' } }, { path: { type: 'RegularExpression', value: '/s/[a-z]+' } }], backendRefs: [{ name: 'search', namespace: 'search', port: 80 }] },
        { matches: [{ method: 'POST', queryParams: [{ name: 'dry_run', value: '1' }] }], backendRefs: [{ name: 'missing', port: 80 }] },
      ],
    }),
  ];
}

const render = (objs: KubeObject[]) => renderConfig(buildHttpModel(buildGraph(storeOf(...objs).snapshot(), { controllerName: CONTROLLER, supportedFeatures: [] })));

describe('render', () => {
  describe('golden configs (test/golden/<case>/http.conf; `npm run golden:update` rewrites them)', () => {
    it('has the cases for matching, HTTPS, filters and redirects', () => {
      expect(goldenCases()).to.include.members(['filters', 'https', 'redirects', 'shop']);
    });

    for (const name of goldenCases()) {
      it(`renders ${name}/input/ to ${name}/http.conf`, () => {
        const file = expectedPath(name);
        expect(existsSync(file), `${file} is missing: run npm run golden:update and review it`).to.equal(true);
        const got = renderCase(name);
        expect(got, `${name}: the rendered config differs from ${file}; if the change is intended, run npm run golden:update and review the diff`).to.equal(readFileSync(file, 'utf8'));
      });
    }
  });

  it('is deterministic: the order objects arrive in does not change a byte', () => {
    const a = render(objects());
    const b = render([...objects()].reverse());
    expect(b.files).to.deep.equal(a.files);
    expect(b.hash).to.equal(a.hash);
  });

  it('attributes each route-made line to its route', () => {
    const r = render(objects());
    const lines = r.files['http.conf'].split('\n');
    const mapLine = lines.findIndex((l) => l.includes('yes') && l.includes('waygate:line')) + 1; // the X-Canary: yes entry
    expect(mapLine).to.be.greaterThan(0);
    expect(objectAtLine(r.sources, 'http.conf', mapLine)).to.equal('HTTPRoute/shop/cart');
    const listenLine = lines.findIndex((l) => l.includes('listen "127.0.0.20:80"')) + 1;
    expect(objectAtLine(r.sources, 'http.conf', listenLine)).to.equal('Gateway/infra/web');
  });

  it('renders an empty http block when nothing is attached', () => {
    const r = render([gatewayClass()]);
    expect(r.files['http.conf']).not.to.contain('server {');
  });
});
