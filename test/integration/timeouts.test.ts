// HTTPRoute rules[].timeouts and rules[].retry on a real nginx, through the standalone mode
// (YAML directory -> agent -> nginx with the Lua policy): slow and failing node:http backends
// that record every attempt, times measured at the client. A request timeout answers 504 at
// the deadline and not before, also across retries; backendRequest bounds each attempt;
// retries reach a second endpoint, repeat a lone one, follow the listed codes only, survive a
// closed port and stop at the attempts asked for; a late response header becomes 504 and a
// body still flowing at the deadline is cut; backoff is refused with the field named.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { freePort } from '../cluster/processes.ts';
import { eventually } from '../support/http.ts';
import { captureLogger } from '../support/logs.ts';
import { tempStandalone, type TempStandalone } from '../support/standalone-run.ts';
import { gateway, gatewayClass, httpRoute } from '../support/standalone-yaml.ts';
import { issue, makeCA } from '../support/test-ca.ts';

const ADDRESS = '127.0.0.151';
const HOST = 'timeouts.example.com';
/** How late nginx may answer after a deadline on a busy 2-core machine (timers, scheduling). */
const LATE_MS = 250;
/** How much earlier than asked a gap between two attempts may look to the backend (nginx's cached clock). */
const EARLY_MS = 20;

interface Hit { server: string; id: string; at: number }

/**
 * A backend that records each request and behaves as its query says: the first `fail`
 * requests of an `id` (counted per server) answer `code` after `failDelay` ms, unless `failOn`
 * names another server; then it answers 200 after `delay` ms, its body in ten pieces over
 * `trickle` ms when asked, or one byte and the other after `stall` ms.
 */
async function flaky(name: string, hits: Hit[]): Promise<{ server: Server; port: number; close(): void }> {
  const counts = new Map<string, number>();
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const q = new URL(req.url ?? '/', 'http://x').searchParams;
      const id = q.get('id') ?? '';
      const n = (counts.get(id) ?? 0) + 1;
      counts.set(id, n);
      hits.push({ server: name, id, at: Date.now() });
      const failing = n <= Number(q.get('fail') ?? 0) && (!q.get('failOn') || q.get('failOn') === name);
      if (failing) {
        setTimeout(() => { res.writeHead(Number(q.get('code') ?? 500), { 'x-backend': name }); res.end(`${name} failed ${n}\n`); }, Number(q.get('failDelay') ?? 0));
        return;
      }
      setTimeout(() => {
        const trickle = Number(q.get('trickle') ?? 0);
        const stall = Number(q.get('stall') ?? 0);
        if (stall) {
          res.writeHead(200, { 'x-backend': name, 'content-length': '2' });
          res.write('x');
          const t = setTimeout(() => res.end('x'), stall);
          res.on('close', () => clearTimeout(t));
          return;
        }
        if (!trickle) { res.writeHead(200, { 'x-backend': name }); res.end(`${name} ok ${n}\n`); return; }
        res.writeHead(200, { 'x-backend': name, 'content-length': '10' });
        let sent = 0;
        const t = setInterval(() => { res.write('x'); if (++sent === 10) { clearInterval(t); res.end(); } }, trickle / 10);
        res.on('close', () => clearInterval(t));
      }, Number(q.get('delay') ?? 0));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, close: () => { server.closeAllConnections(); server.close(); } };
}

const backendCA = makeCA('timeouts backend CA');
const TLS_NAME = 'secure.web.svc';

/** An HTTPS backend (certificate for TLS_NAME from backendCA) with flaky()'s behaviour, recording the SNI. */
async function flakyTls(hits: Hit[], snis: string[]): Promise<{ port: number; close(): void }> {
  const plain = await flaky('tls', hits);
  const cert = issue(backendCA, TLS_NAME, { dns: [TLS_NAME] });
  const server = createHttpsServer({ cert: cert.cert, key: cert.key }, (req, res) => {
    snis.push(String((req.socket as TLSSocket).servername));
    plain.server.emit('request', req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, close: () => { server.closeAllConnections(); server.close(); plain.close(); } };
}

interface Answer { status: number; body: string; ms: number; backend?: string; error?: string; headersMs?: number }

const service = (name: string): object => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'web' }, spec: { ports: [{ name: 'http', port: 80 }] } });
/** One EndpointSlice per port: Service `name` reaches 127.0.0.1 on each of `ports`. */
const slices = (name: string, ports: number[]): object[] => ports.map((p, i) => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `${name}-${i}`, namespace: 'web', labels: { 'kubernetes.io/service-name': name } },
  addressType: 'IPv4', ports: [{ name: 'http', port: p }], endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
}));
const setHeader = (name: string, value: string) => ({ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name, value }] } });
const rule = (path: string, to: string, extra: object): object => ({ matches: [{ path: { type: 'PathPrefix', value: path } }], backendRefs: [{ name: to, port: 80 }], ...extra });

describe('rules[].timeouts and rules[].retry on a real nginx', function () {
  this.timeout(180_000);
  let run: TempStandalone;
  let port: number;
  const hits: Hit[] = [];
  let a: Awaited<ReturnType<typeof flaky>>;
  let b: Awaited<ReturnType<typeof flaky>>;
  let tls: Awaited<ReturnType<typeof flakyTls>>;
  const snis: string[] = [];
  const log = captureLogger();
  let seq = 0;
  /** The directory's objects; Service "one" reaches `onePort`. */
  let objects: (onePort: number) => object[];

  /** A GET on a new connection; `id` makes the backends count this request's attempts apart. */
  const send = (path: string, query: Record<string, string | number> = {}, opts: { body?: { chunks: number; everyMs: number }; method?: string; small?: string } = {}) =>
    new Promise<Answer & { id: string }>((resolve) => {
      const id = `r${++seq}`;
      const qs = new URLSearchParams({ id, ...Object.fromEntries(Object.entries(query).map(([k, v]) => [k, String(v)])) });
      const t = Date.now();
      let headersMs: number | undefined;
      let body = '';
      const req = request({ host: ADDRESS, port, path: `${path}?${qs}`, method: opts.method ?? (opts.body ? 'PUT' : 'GET'), agent: false, headers: { host: HOST } }, (res) => {
        headersMs = Date.now() - t;
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ id, status: res.statusCode ?? 0, body, ms: Date.now() - t, headersMs, backend: res.headers['x-backend'] as string | undefined }));
        res.on('error', (e) => resolve({ id, status: res.statusCode ?? 0, body, ms: Date.now() - t, headersMs, error: e.message }));
      });
      req.setTimeout(20_000, () => req.destroy(new Error('client timeout')));
      req.on('error', (e) => resolve({ id, status: 0, body, ms: Date.now() - t, headersMs, error: e.message }));
      if (!opts.body) { req.end(opts.small); return; }
      // A body uploaded slowly: nginx streams it to the backend as it comes.
      let n = 0;
      const tick = setInterval(() => { req.write('y'.repeat(16)); if (++n === opts.body!.chunks) { clearInterval(tick); req.end(); } }, opts.body.everyMs);
    });
  const attempts = (id: string) => hits.filter((h) => h.id === id);
  const statusOf = (name: string): any => {
    const docs = parseAllDocuments(readFileSync(join(run.runDir, 'status.yaml'), 'utf8')).map((d) => d.toJS());
    return docs.flatMap((d: any) => (Array.isArray(d) ? d : d?.items ?? [d])).find((o: any) => o?.kind === 'HTTPRoute' && o?.metadata?.name === name)?.status;
  };

  before(async () => {
    port = await freePort();
    [a, b, tls] = await Promise.all([flaky('a', hits), flaky('b', hits), flakyTls(hits, snis)]);
    const closed = await freePort(); // nothing listens there: connection refused
    run = tempStandalone('timeouts');
    objects = (onePort: number) => [
      gatewayClass(), gateway({ address: ADDRESS, port }),
      service('one'), ...slices('one', [onePort]),
      service('pair'), ...slices('pair', [a.port, b.port]),
      service('half-dead'), ...slices('half-dead', [closed, b.port]),
      service('secure'), ...slices('secure', [tls.port]),
      service('b-only'), ...slices('b-only', [b.port]),
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'backend-ca', namespace: 'web' }, data: { 'ca.crt': backendCA.cert } },
      { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'BackendTLSPolicy', metadata: { name: 'secure', namespace: 'web' },
        spec: { targetRefs: [{ group: '', kind: 'Service', name: 'secure' }], validation: { hostname: TLS_NAME, caCertificateRefs: [{ group: '', kind: 'ConfigMap', name: 'backend-ca' }] } } },
      httpRoute({ name: 'timeouts', hostnames: [HOST], rules: [
        rule('/request', 'one', { timeouts: { request: '500ms' } }),
        rule('/backend', 'one', { timeouts: { backendRequest: '300ms' } }),
        rule('/per-attempt', 'one', { timeouts: { request: '3s', backendRequest: '300ms' }, retry: { attempts: 2 } }),
        rule('/total', 'one', { timeouts: { request: '500ms' }, retry: { attempts: 5, codes: [500] } }),
        rule('/codes', 'one', { retry: { attempts: 3, codes: [500, 503] } }),
        rule('/no-retry', 'one', { retry: { attempts: 0, codes: [500] } }),
        rule('/pair', 'pair', { retry: { attempts: 1, codes: [503] } }),
        rule('/half-dead', 'half-dead', { retry: { attempts: 1 } }),
        rule('/half-dead-no-retry', 'half-dead', { retry: { attempts: 0 } }),
        rule('/tls', 'secure', { timeouts: { request: '1s' }, retry: { attempts: 2, codes: [503] } }),
        { matches: [{ path: { type: 'PathPrefix', value: '/choice' } }], retry: { attempts: 1, codes: [503] }, timeouts: { request: '1s' },
          backendRefs: [{ name: 'one', port: 80, filters: [setHeader('x-to', 'one')] }, { name: 'b-only', port: 80, filters: [setHeader('x-to', 'b-only')] }] },
        { matches: [{ path: { type: 'PathPrefix', value: '/split' } }], retry: { attempts: 2, codes: [500] },
          backendRefs: [{ name: 'one', port: 80, weight: 1 }, { name: 'missing', port: 80, weight: 1 }] },
      ] }),
      httpRoute({ name: 'backoff', hostnames: ['backoff.example.com'], rules: [rule('/', 'one', { retry: { attempts: 2, backoff: '100ms' } })] }),
    ];
    run.write('objects.yaml', objects(a.port));
    await run.start(log.logger);
    await eventually('/request served', () => send('/request'), (r) => r.status === 200, 30_000);
  });

  after(async () => {
    await run?.stop();
    a?.close();
    b?.close();
    tls?.close();
  });

  it('request timeout: 200 from a backend answering before it, 504 at the deadline and not before', async () => {
    for (const delay of [0, 300, 400]) {
      const r = await send('/request', { delay });
      expect(r.status, `delay ${delay}`).to.equal(200);
      expect(r.ms, `delay ${delay}`).to.be.at.least(delay);
    }
    for (const delay of [800, 3000]) {
      const r = await send('/request', { delay });
      expect(r.status, `delay ${delay}`).to.equal(504);
      expect(r.ms, `delay ${delay}: answered after`).to.be.within(495, 500 + LATE_MS);
      expect(attempts(r.id), 'one attempt (no retry stanza, one endpoint)').to.have.length(1);
    }
  });

  it('backendRequest timeout: one attempt is cut at its limit', async () => {
    expect((await send('/backend', { delay: 150 })).status).to.equal(200);
    const r = await send('/backend', { delay: 1000 });
    expect(r.status).to.equal(504);
    expect(r.ms).to.be.within(295, 300 + LATE_MS);
  });

  it('backendRequest bounds each attempt: two slow attempts cut at 300 ms each, the third answers', async () => {
    const r = await send('/per-attempt', { fail: 2, failDelay: 1000, delay: 0 });
    expect(r.status).to.equal(200);
    expect(r.body).to.contain('ok 3');
    const at = attempts(r.id).map((h) => h.at);
    expect(at).to.have.length(3);
    // Seen by the backend: nginx's timer runs on its cached clock, which may lag a busy event loop by some ms.
    for (const gap of [at[1]! - at[0]!, at[2]! - at[1]!]) expect(gap, 'between attempts').to.be.within(300 - EARLY_MS, 300 + LATE_MS);
    expect(r.ms).to.be.within(590, 600 + 2 * LATE_MS);
  });

  it('the request timeout bounds the attempts together: 504 at 500 ms while retries go on', async () => {
    const r = await send('/total', { fail: 10, code: 500, failDelay: 200 });
    expect(r.status).to.equal(504);
    expect(r.ms).to.be.within(495, 500 + LATE_MS);
    // 200 ms per failed attempt: the third is still running when the time is up, no fourth starts.
    expect(attempts(r.id)).to.have.length(3);
    // Within the time, retries do their work.
    const ok = await send('/total', { fail: 1, code: 500, failDelay: 200 });
    expect(ok.status).to.equal(200);
    expect(attempts(ok.id)).to.have.length(2);
  });

  it('retries on a listed code, on the lone endpoint again, as many times as asked and no more', async () => {
    const ok = await send('/codes', { fail: 3, code: 503 });
    expect(ok.status).to.equal(200);
    expect(attempts(ok.id).map((h) => h.server)).to.deep.equal(['a', 'a', 'a', 'a']);
    const exhausted = await send('/codes', { fail: 10, code: 500 });
    expect(exhausted.status, 'the last attempt\'s answer').to.equal(500);
    expect(attempts(exhausted.id), '1 + attempts').to.have.length(4);
    const unlisted = await send('/codes', { fail: 1, code: 502 });
    expect(unlisted.status, 'a code the rule does not list is passed on').to.equal(502);
    expect(attempts(unlisted.id)).to.have.length(1);
    const disabled = await send('/no-retry', { fail: 1, code: 500 });
    expect(disabled.status, 'attempts: 0').to.equal(500);
    expect(attempts(disabled.id)).to.have.length(1);
  });

  it('nginx\'s own limits, as the README says: POST is not retried on a code, a streamed body not once sent; a small PUT is', async () => {
    const put = await send('/codes', { fail: 1, code: 500 }, { method: 'PUT', small: 'small body' });
    expect(put.status, 'PUT, body in hand with the headers').to.equal(200);
    expect(attempts(put.id)).to.have.length(2);
    const post = await send('/codes', { fail: 1, code: 500 }, { method: 'POST', small: 'small body' });
    expect(post.status, 'POST answered 500: not retried').to.equal(500);
    expect(attempts(post.id)).to.have.length(1);
    const streamed = await send('/codes', { fail: 1, code: 500 }, { body: { chunks: 3, everyMs: 50 } });
    expect(streamed.status, 'PUT whose body nginx streamed: not re-sent').to.equal(500);
    expect(attempts(streamed.id)).to.have.length(1);
  });

  it('a retried request reaches the second endpoint', async () => {
    const servers: string[][] = [];
    for (let i = 0; i < 12; i++) {
      const r = await send('/pair', { fail: 1, code: 503, failOn: 'a' });
      expect(r.status).to.equal(200);
      servers.push(attempts(r.id).map((h) => h.server));
    }
    // Each nginx worker's round robin starts on a; when a answered 503, the retry went to b (and, as
    // nginx's max_fails=1 fail_timeout=10s would, that worker then passes a over for a while).
    expect(servers.filter((s) => s[0] === 'a'), 'requests that started on a').to.have.length.of.at.least(1);
    for (const s of servers) expect(s).to.deep.equal(s[0] === 'a' ? ['a', 'b'] : ['b']);
  });

  it('retries a connection error (a closed port) on the live endpoint; attempts: 0 does not', async () => {
    for (let i = 0; i < 12; i++) {
      const r = await send('/half-dead');
      expect(r.status, `request ${i}`).to.equal(200);
      expect(r.backend).to.equal('b');
    }
    // Without retries nginx still picks the closed port now and then: the refused connection is the answer.
    const statuses: number[] = [];
    for (let i = 0; i < 24; i++) statuses.push((await send('/half-dead-no-retry')).status);
    expect(statuses).to.include(502);
    expect(statuses).to.include(200);
  });

  it('a response header after the deadline becomes 504 (the read timer started late: a slow upload)', async () => {
    // The body takes ~800 ms to arrive; nginx streams it, the backend answers at its end, past the 500 ms deadline.
    const r = await send('/request', {}, { body: { chunks: 8, everyMs: 100 } });
    expect(attempts(r.id), 'the backend got the request').to.have.length(1);
    expect(r.status).to.equal(504);
    expect(r.ms).to.be.within(700, 800 + LATE_MS);
  });

  it('a body still flowing at the deadline is cut; one that ends before it is whole', async () => {
    const whole = await send('/request', { trickle: 200 });
    expect(whole.status).to.equal(200);
    expect(whole.body).to.equal('x'.repeat(10));
    expect(whole.error).to.equal(undefined);
    const cut = await send('/request', { trickle: 2000 });
    expect(cut.status, 'headers were sent in time').to.equal(200);
    expect(cut.headersMs).to.be.below(400);
    expect(cut.error ?? 'no error', 'the client sees the response aborted').to.match(/aborted|socket hang up|ECONNRESET/);
    expect(cut.body.length).to.be.below(10);
    expect(cut.ms).to.be.within(495, 500 + LATE_MS + 200); // the first piece after the deadline (every 200 ms)
    // No piece comes: the attempt's read timeout (what was left of the deadline when it started) ends it.
    const stalled = await send('/request', { stall: 3000 });
    expect(stalled.status).to.equal(200);
    expect(stalled.error ?? 'no error').to.match(/aborted|socket hang up|ECONNRESET/);
    expect(stalled.body).to.equal('x');
    expect(stalled.ms).to.be.within(495, 500 + LATE_MS);
  });

  it('with a BackendTLSPolicy: retries and the deadline over TLS, the policy\'s hostname as SNI on every attempt', async () => {
    snis.length = 0;
    const r = await send('/tls', { fail: 2, code: 503 });
    expect(r.status).to.equal(200);
    expect(attempts(r.id).map((h) => h.server)).to.deep.equal(['tls', 'tls', 'tls']);
    expect(snis).to.deep.equal([TLS_NAME, TLS_NAME, TLS_NAME]);
    const slow = await send('/tls', { delay: 3000 });
    expect(slow.status).to.equal(504);
    expect(slow.ms).to.be.within(995, 1000 + LATE_MS);
  });

  it('with per-backendRef filters: the chosen backend\'s location retries and keeps the deadline', async () => {
    const seen = new Set<string>();
    // 24 picks of two equal backendRefs: one backend every time has a chance of 2^-23 (with 8, 2 in 256: seen in CI).
    for (let i = 0; i < 24; i++) {
      const r = await send('/choice', { fail: 1, code: 503 });
      expect(r.status).to.equal(200);
      const servers = attempts(r.id).map((h) => h.server);
      expect(servers, 'retried on the chosen backend').to.have.length(2);
      expect(servers[0]).to.equal(servers[1]);
      seen.add(servers[0]!);
    }
    expect([...seen].sort(), 'both backendRefs chosen').to.deep.equal(['a', 'b']);
    const slow = await send('/choice', { delay: 3000 });
    expect(slow.status).to.equal(504);
    expect(slow.ms).to.be.within(995, 1000 + LATE_MS);
  });

  it('an invalid backendRef\'s share still answers 500 (nginx\'s own, not retried); the valid share is retried', async () => {
    const results = [];
    for (let i = 0; i < 24; i++) results.push(await send('/split', { fail: 1, code: 500 }));
    const invalid = results.filter((r) => attempts(r.id).length === 0);
    const valid = results.filter((r) => attempts(r.id).length > 0);
    expect(invalid.length, 'the invalid share').to.be.within(3, 21);
    for (const r of invalid) expect(r.status).to.equal(500);
    for (const r of valid) {
      expect(r.status).to.equal(200);
      expect(attempts(r.id)).to.have.length(2);
    }
  });

  it('after a reload with other endpoints, the Lua policy picks from the new ones', async () => {
    run.write('objects.yaml', objects(b.port));
    await eventually('Service one answered by b', () => send('/codes'), (x) => x.backend === 'b', 30_000);
    // A request sent once the new peers answer (the one above may have started before they were pushed).
    const r = await send('/codes', { fail: 1, code: 500 });
    expect(r.status).to.equal(200);
    expect(attempts(r.id).map((h) => h.server)).to.deep.equal(['b', 'b']);
    for (let i = 0; i < 6; i++) expect((await send('/codes')).backend, 'no worker keeps the old peer').to.equal('b');
    run.write('objects.yaml', objects(a.port));
    await eventually('Service one answered by a again', () => send('/codes'), (x) => x.backend === 'a', 30_000);
  });

  it('backoff is refused: the rule is not served and the route names the field', async () => {
    const st = await eventually('backoff route status', async () => statusOf('backoff'), (s) => !!s?.parents?.[0]?.conditions?.length);
    const text = JSON.stringify(st.parents[0].conditions);
    expect(text).to.contain('spec.rules[0].retry.backoff: not supported');
    expect(text).to.contain('UnsupportedValue');
    const r = await new Promise<number>((resolve, reject) => {
      const req = request({ host: ADDRESS, port, path: '/', agent: false, headers: { host: 'backoff.example.com' } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
      req.on('error', reject);
      req.end();
    });
    expect(r, 'not served').to.equal(404);
  });
});
