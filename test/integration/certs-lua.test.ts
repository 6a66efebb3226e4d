// waygate.certs (nginx/lua/waygate/certs.lua) in a real nginx: a listener is served with the
// certificate its key holds, and a key without certificates fails the handshake: the
// placeholder that nginx.conf carries is never served.
import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { freePort } from '../cluster/processes.ts';
import { startNginx, type ThrowawayNginx } from '../cluster/nginx.ts';
import { selfSigned } from '../support/certs.ts';

const PLACEHOLDER = new URL('../../templates/placeholder-certificate.pem', import.meta.url).pathname;

function handshake(port: number, servername: string): Promise<{ fingerprint?: string; error?: string }> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => {
      resolve({ fingerprint: s.getPeerCertificate().fingerprint256 });
      s.end();
    });
    s.on('error', (e) => resolve({ error: e.message }));
  });
}

describe('waygate.certs in nginx: certificates by key, fail closed', function () {
  this.timeout(60_000);
  let nginx: ThrowawayNginx | undefined;
  let dir: string;
  after(async () => {
    await nginx?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the key\'s certificate, and refuses the handshake of a key that has none', async () => {
    dir = mkdtempSync(join(tmpdir(), 'waygate-certs-lua-'));
    const cert = selfSigned(['known.example.com']);
    const bundle = join(dir, 'known.pem');
    writeFileSync(bundle, `${cert.cert}${cert.key}`, { mode: 0o600 });
    const port = await freePort();
    const server = (name: string, key: string) => `server {
      listen 127.0.0.1:${port} ssl${name === 'known.example.com' ? ' default_server' : ''};
      server_name ${name};
      ssl_certificate ${PLACEHOLDER};
      ssl_certificate_key ${PLACEHOLDER};
      ssl_certificate_by_lua_block { require("waygate.certs").set("${key}") }
      return 200 "ok";
    }`;
    nginx = await startNginx({ http: `${server('known.example.com', 'wg_c_known')}\n${server('unknown.example.com', 'wg_c_unknown')}`, certs: `certificate wg_c_known\n${bundle}\n` });
    const known = await handshake(port, 'known.example.com');
    expect(known.fingerprint).to.equal(new X509Certificate(cert.cert).fingerprint256);
    const unknown = await handshake(port, 'unknown.example.com');
    expect(unknown.error, 'the handshake fails').to.be.a('string');
    expect(unknown.fingerprint).to.equal(undefined);
    expect(nginx.errorLog()).to.contain('waygate.certs: handshake refused for certificates wg_c_unknown: none pushed');
    expect(readFileSync(PLACEHOLDER, 'utf8')).to.contain('BEGIN CERTIFICATE');
  });
});
