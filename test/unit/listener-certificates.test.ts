// HTTPS listeners' certificates outside http.conf (rotation without a reload): the key in the
// config, the files in certs.txt, the hashes that decide between a reload and a push, and
// the agent's reading of certs.txt into the body it pushes.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCertificates } from '../../nginx/agent/certs.ts';
import { buildHttpModel } from '../../operator/src/dataplane/build.ts';
import { buildGraph } from '../../operator/src/graph/graph.ts';
import type { KubeObject } from '../../operator/src/objects.ts';
import { renderConfig } from '../../operator/src/render/render.ts';
import { selfSigned, tlsSecret, type TestCertificate } from '../support/certs.ts';
import { CONTROLLER, gateway, gatewayClass, namespace, storeOf } from '../support/objects.ts';

const https = (name: string, secret: string, hostname?: string) => ({ name, protocol: 'HTTPS', port: 443, ...(hostname ? { hostname } : {}), tls: { certificateRefs: [{ name: secret }] } });

function render(secrets: Record<string, TestCertificate>, listeners = [https('a', 'one')]) {
  const objects: KubeObject[] = [gatewayClass(), namespace('infra'), gateway('infra', 'gw', listeners), ...Object.entries(secrets).map(([n, c]) => tlsSecret('infra', n, c))];
  const graph = buildGraph(storeOf(...objects).snapshot(), { controllerName: CONTROLLER, supportedFeatures: [] });
  return renderConfig(buildHttpModel(graph, { certDir: '/run/wg/certs' }));
}

describe('HTTPS certificates outside http.conf', () => {
  const first = selfSigned(['a.example.com']);
  const second = selfSigned(['a.example.com']);

  it('http.conf names a key and the placeholder, never the Secret\'s bundle; certs.txt maps the key to the bundle file', () => {
    const config = render({ one: first });
    const http = config.files['http.conf']!;
    const key = /require\("waygate\.certs"\)\.set\("(wg_c_[0-9a-f]{16})"\)/.exec(http)?.[1];
    expect(key, 'the Lua key in http.conf').to.be.a('string');
    expect(http).to.contain('ssl_certificate "/run/wg/certs/placeholder.pem";');
    const bundle = config.certificates.find((c) => c.name !== 'placeholder.pem')!;
    expect(bundle.pem).to.contain(first.cert.trim());
    expect(http).not.to.contain(bundle.name);
    expect(config.files['certs.txt']).to.equal(`certificate ${key}\n/run/wg/certs/${bundle.name}\n`);
    expect(config.certificates.map((c) => c.name)).to.include('placeholder.pem');
  });

  it('a rotated Secret changes certs.txt and the pushed hash, never http.conf or the config hash', () => {
    const a = render({ one: first });
    const b = render({ one: second });
    expect(b.files['http.conf']).to.equal(a.files['http.conf']);
    expect(b.hash).to.equal(a.hash);
    expect(b.peersHash).not.to.equal(a.peersHash);
    expect(b.files['certs.txt']).not.to.equal(a.files['certs.txt']);
  });

  it('listeners of the same Secret share a key; another Secret gets another', () => {
    const config = render({ one: first, two: second }, [https('a', 'one', 'a.example.com'), https('b', 'one', 'b.example.com'), https('c', 'two', 'c.example.com')]);
    const keys = [...config.files['http.conf']!.matchAll(/\.set\("(wg_c_[0-9a-f]{16})"\)/g)].map((m) => m[1]);
    expect(new Set(keys).size).to.equal(2);
    expect(config.files['certs.txt']!.match(/^certificate /gm)).to.have.length(2);
  });

  describe('the agent reads certs.txt into the pushed body', () => {
    let dir: string;
    beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'waygate-certs-'))));
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('each key, then each bundle with its length', () => {
      writeFileSync(join(dir, 'b.pem'), 'BUNDLE-B\n');
      writeFileSync(join(dir, 'certs.txt'), `certificate wg_c_1\n${join(dir, 'b.pem')}\ncertificate wg_c_2\n`);
      expect(readCertificates(dir).toString()).to.equal('certificate wg_c_1\npem 9\nBUNDLE-B\n\ncertificate wg_c_2\n');
    });
    it('none without certs.txt', () => {
      expect(readCertificates(dir).length).to.equal(0);
    });
    it('refuses a relative path, a path before any key, a key nginx could not take, and a missing file', () => {
      for (const [doc, err] of [
        ['certificate k\nrelative.pem\n', /unexpected line "relative.pem"/],
        ['/abs.pem\n', /unexpected line/],
        ['certificate k")\n', /not a certificate key/],
        [`certificate k\n${join(dir, 'missing.pem')}\n`, /ENOENT/],
      ] as const) {
        writeFileSync(join(dir, 'certs.txt'), doc);
        expect(() => readCertificates(dir), doc).to.throw(err);
      }
    });
  });
});
