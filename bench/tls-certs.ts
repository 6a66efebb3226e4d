// New TLS handshakes per second with a listener certificate nginx loads itself (static
// ssl_certificate) against one waygate.certs serves from its shared dict at every handshake
// (ssl_certificate_by_lua: rotation without a reload, README). One throwaway nginx with one
// worker, two ports, the same ECDSA P-256 certificate; `openssl s_time -new` (a full handshake
// per connection, single-threaded client), rounds alternating; medians and their ratio printed.
// Run: npx tsx bench/tls-certs.ts [--seconds 5] [--rounds 3]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../test/cluster/processes.ts';
import { startNginx } from '../test/cluster/nginx.ts';
import { selfSigned } from '../test/support/certs.ts';
import { median } from './lib/wrk.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, rounds: { type: 'string', default: '3' } } });
const placeholder = new URL('../templates/placeholder-certificate.pem', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'waygate-bench-tls-certs-'));
const cert = selfSigned(['hs.example.com']);
const bundle = join(dir, 'bundle.pem');
writeFileSync(bundle, `${cert.cert}${cert.key}`, { mode: 0o644 }); // the test nginx's workers read it (static)
const [staticPort, luaPort] = [await freePort(), await freePort()];
const nginx = await startNginx({
  http: [
    `server { listen 127.0.0.1:${staticPort} ssl; ssl_certificate ${bundle}; ssl_certificate_key ${bundle}; return 200 "ok"; }`,
    `server { listen 127.0.0.1:${luaPort} ssl; ssl_certificate ${placeholder}; ssl_certificate_key ${placeholder}; ssl_certificate_by_lua_block { require("waygate.certs").set("wg_c_bench") } return 200 "ok"; }`,
  ].join('\n'),
  certs: `certificate wg_c_bench\n${bundle}\n`,
});
const rate = (port: number): number => {
  const r = spawnSync('openssl', ['s_time', '-connect', `127.0.0.1:${port}`, '-new', '-time', values.seconds], { encoding: 'utf8' });
  const m = /([\d.]+) connections\/user sec/.exec(r.stdout);
  if (!m) throw new Error(`openssl s_time: ${r.stdout.slice(-300)}${r.stderr.slice(-300)}`);
  return Number(m[1]);
};
try {
  const s: number[] = [];
  const l: number[] = [];
  for (let i = 0; i < Number(values.rounds); i++) {
    s.push(rate(staticPort));
    l.push(rate(luaPort));
    console.log(`round ${i + 1}: static ${s.at(-1)!.toFixed(0)}/s, waygate.certs ${l.at(-1)!.toFixed(0)}/s`);
  }
  console.log(`new TLS handshakes/s, medians: static ${median(s).toFixed(0)}, waygate.certs ${median(l).toFixed(0)}, ratio ${(median(l) / median(s)).toFixed(3)}`);
} finally {
  await nginx.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
