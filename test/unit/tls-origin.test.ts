// The agent's TLS hop: the subjectAltNames check (nginx/agent/san-match.ts: RFC 6125 wildcard
// rules for Hostname entries, byte-exact URI entries, SANs read from real certificates' DER),
// the manifest it reads (tls-origin-manifest.ts: every field checked, bad entries skipped), and
// its listeners across versions (tls-origin.ts: opened per version, retired after old workers).
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certificateSANs, dnsNameMatches, sanMismatch, sansMatch } from '../../nginx/agent/san-match.ts';
import { parseAddress, parseTlsOriginManifest } from '../../nginx/agent/tls-origin-manifest.ts';
import { TlsOrigins } from '../../nginx/agent/tls-origin.ts';
import { captureLogger } from '../support/logs.ts';
import { issue, makeCA } from '../support/test-ca.ts';

const der = (pem: string) => new X509Certificate(pem).raw;

describe('TLS hop: subjectAltNames matching', () => {
  it('Hostname: equal names match, ASCII case-insensitively', () => {
    expect(dnsNameMatches('abc.example.com', 'abc.example.com')).to.equal(true);
    expect(dnsNameMatches('ABC.Example.COM', 'abc.example.com')).to.equal(true);
    expect(dnsNameMatches('abd.example.com', 'abc.example.com')).to.equal(false);
    expect(dnsNameMatches('abc.example.com.evil', 'abc.example.com')).to.equal(false);
    expect(dnsNameMatches('', 'abc.example.com')).to.equal(false);
  });

  it('Hostname: a certificate wildcard is the whole leftmost label and covers exactly one label', () => {
    expect(dnsNameMatches('*.example.com', 'abc.example.com')).to.equal(true);
    expect(dnsNameMatches('*.EXAMPLE.com', 'abc.example.com')).to.equal(true);
    expect(dnsNameMatches('*.example.com', 'a.b.example.com'), 'two labels').to.equal(false);
    expect(dnsNameMatches('*.example.com', 'example.com'), 'no label').to.equal(false);
    expect(dnsNameMatches('*.example.com', '.example.com'), 'empty label').to.equal(false);
    expect(dnsNameMatches('*.com', 'example.com'), 'a wildcard over a single label').to.equal(false);
    expect(dnsNameMatches('*', 'example'), 'a bare wildcard').to.equal(false);
  });

  it('Hostname: no partial-label wildcards, no wildcard outside the leftmost label', () => {
    for (const p of ['f*.example.com', '*oo.example.com', 'f*o.example.com', 'foo*.example.com']) expect(dnsNameMatches(p, 'foo.example.com'), p).to.equal(false);
    expect(dnsNameMatches('foo.*.example.com', 'foo.bar.example.com')).to.equal(false);
    expect(dnsNameMatches('*.*.example.com', 'a.b.example.com')).to.equal(false);
    expect(dnsNameMatches('xn--*.example.com', 'xn--bcher-kva.example.com')).to.equal(false);
  });

  it('Hostname: a wildcard in the policy is a literal (matches only the same certificate wildcard)', () => {
    expect(dnsNameMatches('*.example.com', '*.example.com')).to.equal(true);
    expect(dnsNameMatches('abc.example.com', '*.example.com')).to.equal(false);
  });

  it('Hostname: IDNs compare as the A-labels given, with no Unicode conversion or case folding', () => {
    expect(dnsNameMatches('xn--bcher-kva.example.com', 'xn--bcher-kva.example.com')).to.equal(true);
    expect(dnsNameMatches('*.example.com', 'xn--bcher-kva.example.com')).to.equal(true);
    expect(dnsNameMatches('bücher.example.com', 'xn--bcher-kva.example.com')).to.equal(false);
    // String.prototype.toLowerCase would turn the Kelvin sign into "k".
    expect(dnsNameMatches('\u212aey.example.com', 'key.example.com')).to.equal(false);
  });

  it('URI: byte-exact, and a Hostname never matches a URI SAN (or the reverse)', () => {
    const cert = { dns: ['abc.example.com'], uris: ['spiffe://abc.example.com/test-identity'] };
    expect(sansMatch([{ type: 'URI', uri: 'spiffe://abc.example.com/test-identity' }], cert)).to.equal(true);
    for (const uri of ['SPIFFE://abc.example.com/test-identity', 'spiffe://abc.example.com/test-identity/', 'spiffe://abc.example.com/test', 'spiffe://abc.example.com/test-identityX']) {
      expect(sansMatch([{ type: 'URI', uri }], cert), uri).to.equal(false);
    }
    expect(sansMatch([{ type: 'URI', uri: 'abc.example.com' }], cert)).to.equal(false);
    expect(sansMatch([{ type: 'Hostname', hostname: 'abc.example.com' }], { dns: [], uris: ['abc.example.com'] })).to.equal(false);
  });

  it('several wanted SANs: one match is enough; none is a mismatch', () => {
    const cert = { dns: ['abc.example.com'], uris: [] };
    expect(sansMatch([{ type: 'URI', uri: 'spiffe://x/y' }, { type: 'Hostname', hostname: 'abc.example.com' }], cert)).to.equal(true);
    expect(sansMatch([{ type: 'URI', uri: 'spiffe://x/y' }, { type: 'Hostname', hostname: 'def.example.com' }], cert)).to.equal(false);
    expect(sansMatch([], cert)).to.equal(false);
  });
});

describe('TLS hop: SANs read from certificates', () => {
  const ca = makeCA('san unit CA');

  it('DNS and URI names of the subjectAltName extension, as written (case kept)', () => {
    const c = issue(ca, 'ignored.example.com', { dns: ['ABC.example.com', '*.wild.example.com', 'xn--bcher-kva.example.com'], uris: ['spiffe://abc.example.com/test-identity', 'https://x.example/p?q=1'] });
    expect(certificateSANs(der(c.cert))).to.deep.equal({
      dns: ['ABC.example.com', '*.wild.example.com', 'xn--bcher-kva.example.com'],
      uris: ['spiffe://abc.example.com/test-identity', 'https://x.example/p?q=1'],
    });
    expect(sanMismatch([{ type: 'Hostname', hostname: 'abc.example.com' }], der(c.cert))).to.equal(undefined);
    expect(sanMismatch([{ type: 'Hostname', hostname: 'one.wild.example.com' }], der(c.cert))).to.equal(undefined);
    expect(sanMismatch([{ type: 'URI', uri: 'spiffe://abc.example.com/test-identity' }], der(c.cert))).to.equal(undefined);
    expect(sanMismatch([{ type: 'Hostname', hostname: 'def.example.com' }], der(c.cert))).to.match(/none of the subjectAltNames/);
  });

  it('the subject CN is never used: a certificate without SANs matches nothing', () => {
    const c = issue(ca, 'abc.example.com');
    expect(certificateSANs(der(c.cert))).to.deep.equal({ dns: [], uris: [] });
    expect(sanMismatch([{ type: 'Hostname', hostname: 'abc.example.com' }], der(c.cert))).to.match(/none of the subjectAltNames/);
  });

  it('malformed DER or no certificate: a mismatch with a reason, never an exception', () => {
    const good = der(issue(ca, 'x', { dns: ['abc.example.com'] }).cert);
    expect(sanMismatch([{ type: 'Hostname', hostname: 'abc.example.com' }], good.subarray(0, good.length - 40))).to.match(/cannot be read/);
    expect(sanMismatch([{ type: 'Hostname', hostname: 'abc.example.com' }], Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]))).to.match(/cannot be read/);
    expect(sanMismatch([{ type: 'Hostname', hostname: 'abc.example.com' }], undefined)).to.match(/no certificate/);
  });
});

describe('TLS hop: the manifest the agent reads', () => {
  const dir = '/run/wg';
  const entry = (over: object = {}) => ({
    socket: `${dir}/wg-o-0123456789abcdef.sock`, address: '10.0.0.1:8443', serverName: 'svc.app.svc', ca: { file: '/cfg/certs/abc.pem' },
    subjectAltNames: [{ type: 'URI', uri: 'spiffe://x/y' }], alpn: ['http/1.1'], source: 'BackendTLSPolicy/app/p', ...over,
  });
  const parse = (origins: object[]) => parseTlsOriginManifest(JSON.stringify({ version: 1, origins }), dir);

  it('a valid entry is used as written', () => {
    expect(parse([entry()])).to.deep.equal({ origins: [entry()], problems: [] });
    expect(parse([entry({ address: '[fd00::1]:443', ca: 'System', clientCertificate: '/cfg/certs/c.pem', alpn: [] })]).problems).to.deep.equal([]);
    expect(parse([entry({ alpn: ['h2'] })]).problems).to.deep.equal([]);
  });

  it('an unusable entry is reported by index and socket name and skipped; the others are kept', () => {
    const bad: [object, RegExp][] = [
      [{ socket: '/elsewhere/wg-o-0123456789abcdef.sock' }, /socket is not a wg-o-\*\.sock path in \/run\/wg/],
      [{ socket: `${dir}/../etc/wg-o-0123456789abcdef.sock` }, /socket/],
      [{ socket: `${dir}/nginx.sock` }, /socket/],
      [{ address: 'backend.svc:443' }, /address/],
      [{ address: '10.0.0.1:70000' }, /address/],
      [{ serverName: '*.app.svc' }, /serverName/],
      [{ ca: { file: '/cfg/certs/../../etc/shadow' } }, /ca/],
      [{ ca: 'Mozilla' }, /ca/],
      [{ subjectAltNames: [] }, /subjectAltNames/],
      [{ subjectAltNames: [{ type: 'URI', uri: 'no scheme' }] }, /subjectAltNames\[0\] uri/],
      [{ subjectAltNames: [{ type: 'Hostname', hostname: 'UPPER.example.com' }] }, /subjectAltNames\[0\] hostname/],
      [{ clientCertificate: 'relative.pem' }, /clientCertificate/],
      [{ alpn: ['h3'] }, /alpn/],
      [{ alpn: 'http/1.1' }, /alpn/],
    ];
    for (const [over, why] of bad) {
      const other = entry({ socket: `${dir}/wg-o-fedcba9876543210.sock` });
      const r = parse([entry(over), other]);
      expect(r.origins, JSON.stringify(over)).to.deep.equal([other]);
      expect(r.problems, JSON.stringify(over)).to.have.length(1);
      expect(r.problems[0]).to.match(/^tls-origin\.json origins\[0\] \(/).and.match(why);
    }
    const twice = parse([entry(), entry()]);
    expect(twice.origins).to.have.length(1);
    expect(twice.problems[0]).to.contain('listed twice');
  });

  it('a file that does not parse, or of another version: one problem, no entries (never an exception)', () => {
    expect(parseTlsOriginManifest('{"version": 1, "origins": [', dir).problems[0]).to.match(/does not parse/);
    expect(parseTlsOriginManifest(JSON.stringify({ version: 2, origins: [entry()] }), dir)).to.deep.equal({ origins: [], problems: ['tls-origin.json is not a version 1 manifest'] });
    expect(parseAddress('[::ffff:1.2.3.4]:80')).to.deep.equal({ host: '::ffff:1.2.3.4', port: 80 });
    expect(parseAddress('1.2.3.4:0')).to.equal(undefined);
  });
});

describe('TLS hop: listeners per version (TlsOrigins)', function () {
  this.timeout(20_000);
  const ca = makeCA('origins unit CA');
  let dir: string;
  let origins: TlsOrigins;
  const log = captureLogger('debug');
  const socket = (n: number) => join(dir, `wg-o-${String(n).padStart(16, '0')}.sock`);
  const entry = (n: number, over: object = {}) => ({ socket: socket(n), address: '127.0.0.1:9', serverName: 'svc.app.svc', ca: { file: join(dir, 'ca.pem') }, subjectAltNames: [{ type: 'URI', uri: 'spiffe://x/y' }], alpn: ['http/1.1'], source: `BackendTLSPolicy/app/p${n}`, ...over });
  const version = (name: string, content: string | object[]) => {
    const v = join(dir, name);
    mkdirSync(v);
    writeFileSync(join(v, 'tls-origin.json'), typeof content === 'string' ? content : JSON.stringify({ version: 1, origins: content }));
    return v;
  };
  const exists = (p: string) => existsSync(p);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'wg-origins-'));
    writeFileSync(join(dir, 'ca.pem'), ca.cert, { mode: 0o600 });
    origins = new TlsOrigins({ socketDir: dir, logger: log.logger, workerUid: process.getuid?.() });
  });
  afterEach(async () => {
    await origins.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an unusable entry (unreadable CA file) or manifest is reported; the other entries listen', async () => {
    const problems = await origins.prepare(version('1', [entry(1), entry(2, { ca: { file: join(dir, 'missing.pem') } })]));
    expect(problems).to.have.length(1);
    expect(problems[0]).to.match(/wg-o-0000000000000002\.sock .*BackendTLSPolicy\/app\/p2.*CA file .*missing\.pem cannot be read: ENOENT/);
    expect(origins.sockets).to.deep.equal([socket(1)]);
    expect(statSync(socket(1)).mode & 0o777).to.equal(0o600);
    origins.commit([]);
    expect(await origins.prepare(version('2', '{"version": 1, "origins": ['))).to.deep.equal([`tls-origin.json does not parse: ${(() => { try { JSON.parse('{"version": 1, "origins": ['); } catch (e) { return (e as Error).message; } })()}`]);
    origins.abort(); // not applied: the live version's listener stays
    expect(origins.sockets).to.deep.equal([socket(1)]);
    expect(log.lines.some((l) => l.includes('BEGIN'))).to.equal(false);
  });

  it('abort closes only what the aborted version opened; commit retires what only the previous version used once its workers exited', async () => {
    await origins.prepare(version('1', [entry(1), entry(2)]));
    origins.commit([]);
    await origins.prepare(version('2', [entry(2), entry(3)]));
    expect(origins.sockets).to.deep.equal([socket(1), socket(2), socket(3)]);
    origins.abort();
    expect(origins.sockets).to.deep.equal([socket(1), socket(2)]);
    expect(exists(socket(3))).to.equal(false);
    // An old worker (a child process standing in for one) still runs: socket 1 stays until it exits.
    const worker = spawn('sleep', ['30']);
    await origins.prepare(version('3', [entry(2), entry(3)]));
    origins.commit([worker.pid!]);
    await new Promise((r) => setTimeout(r, 700));
    expect(origins.sockets).to.deep.equal([socket(1), socket(2), socket(3)]);
    expect(exists(socket(1))).to.equal(true);
    worker.kill();
    await new Promise((r) => setTimeout(r, 800));
    expect(origins.sockets).to.deep.equal([socket(2), socket(3)]);
    expect(exists(socket(1))).to.equal(false);
  });

  it('a socket re-added before its retirement keeps its listener', async () => {
    await origins.prepare(version('1', [entry(1)]));
    origins.commit([]);
    const worker = spawn('sleep', ['30']);
    await origins.prepare(version('2', [entry(2)]));
    origins.commit([worker.pid!]);
    await origins.prepare(version('3', [entry(1), entry(2)]));
    origins.commit([]);
    worker.kill();
    await new Promise((r) => setTimeout(r, 800));
    expect(origins.sockets).to.deep.equal([socket(1), socket(2)]);
    expect(exists(socket(1))).to.equal(true);
  });
});
