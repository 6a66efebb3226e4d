// The shape that keeps big configs cheap for nginx (issue 14): every location costs nginx
// memory and load time (Debian's Lua module even builds an SSL context for each), and every
// location with its own proxy_set_header list gets its own headers hash. So a target that
// only path locations name is served in them (no internal location, no rewrite), a server
// gets the internal "no rule matched" location only when a map can choose no rule, and the
// default request headers are set once, in the http block. Header filters still get their
// full list.
import { expect } from 'chai';
import { routeTargetPrefix } from '../../operator/src/dataplane/builder.ts';
import { buildHttpModel, defaultBuildOptions } from '../../operator/src/dataplane/build.ts';
import { renderConfig } from '../../operator/src/render/render.ts';
import { gateway, httpRoute, service } from '../support/objects.ts';
import { statusesOf } from '../support/statuses.ts';

/** Every rule in server blocks: these tests are about the server renderer, not the route table. */
const SERVER_BLOCKS = { ...defaultBuildOptions, routeTable: false };
/** The target id prefix of the route 'r' in namespace 'app' (builder.ts). */
const R = routeTargetPrefix('HTTPRoute/app/r');

function render(...rules: object[]) {
  const { graph } = statusesOf(gateway('app', 'gw'), service('app', 'svc', 80, ['10.0.0.1:8080']), httpRoute('app', 'r', { hostnames: ['a.example.com'], rules }));
  return renderConfig(buildHttpModel(graph, SERVER_BLOCKS)).files['http.conf']!;
}
const serverOf = (http: string, host: string) => {
  const at = http.indexOf(`server_name "${host}";`);
  return http.slice(at, http.indexOf('\n}\n', at));
};

describe('config shape: locations and header lists', () => {
  it('a rule only its path locations name is served there: no internal location, no rewrite', () => {
    const server = serverOf(render({ matches: [{ path: { type: 'PathPrefix', value: '/api' } }], backendRefs: [{ name: 'svc', port: 80 }] }), 'a.example.com');
    expect(server.match(/^\s+location /gm)).to.have.length(3); // "= /api" and "/api/" serve; "/" answers 404 (no map: no internal 404)
    expect(server).not.to.contain('rewrite ^');
    expect(server.match(/proxy_pass http:\/\/wg_u_/g)).to.have.length(2);
    expect(server).not.to.contain('location = "/^wg/r');
  });

  it('a rule that a map also chooses (a header match elsewhere) keeps its internal location', () => {
    const server = serverOf(render(
      { matches: [{ path: { type: 'Exact', value: '/a' } }, { path: { type: 'Exact', value: '/b' }, headers: [{ name: 'x-canary', value: 'yes' }] }], backendRefs: [{ name: 'svc', port: 80 }] },
      { matches: [{ path: { type: 'Exact', value: '/b' } }], backendRefs: [{ name: 'svc', port: 80 }] },
    ), 'a.example.com');
    // "/b" picks r0_0 by a map: the target stays where the map's rewrite finds it, and "/a" goes there too.
    expect(server).to.contain(`location = "/^wg/${R}_0"`);
    expect(server, 'the map may choose no rule').to.contain('location = "/^wg/" {');
    expect(server).to.match(/location = "\/b" \{\n\s+rewrite \^ "\/\^wg\/\$wg_m\d+" last;/);
    expect(server).to.match(new RegExp(`location = "/a" \\{\\n\\s+rewrite \\^ "/\\^wg/${R}_0" last;`));
  });

  it('default request headers once, in the http block; a header filter repeats the whole list in its location', () => {
    const http = render(
      { matches: [{ path: { type: 'PathPrefix', value: '/plain' } }], backendRefs: [{ name: 'svc', port: 80 }] },
      { matches: [{ path: { type: 'PathPrefix', value: '/tagged' } }], filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'X-Tag', value: 't' }] } }], backendRefs: [{ name: 'svc', port: 80 }] },
    );
    const server = serverOf(http, 'a.example.com');
    const top = http.slice(0, http.indexOf('server {'));
    expect(top.match(/^proxy_set_header "[^"]+"/gm)).to.deep.equal(['proxy_set_header "Host"', 'proxy_set_header "Upgrade"', 'proxy_set_header "Connection"', 'proxy_set_header "X-Forwarded-For"', 'proxy_set_header "X-Forwarded-Proto"']);
    expect(server.slice(0, server.indexOf('location'))).not.to.contain('proxy_set_header');
    const location = (path: string) => { const at = server.indexOf(`location = "${path}" {`); return server.slice(at, server.indexOf('\n    }\n', at)); };
    expect(location('/plain')).not.to.contain('proxy_set_header');
    expect(location('/tagged').match(/proxy_set_header "[^"]+"/g)).to.deep.equal(['proxy_set_header "Host"', 'proxy_set_header "Upgrade"', 'proxy_set_header "Connection"', 'proxy_set_header "X-Forwarded-For"', 'proxy_set_header "X-Forwarded-Proto"', 'proxy_set_header "X-Tag"']);
  });
});
