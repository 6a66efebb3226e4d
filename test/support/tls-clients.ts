// TLS clients for end-to-end tests: a raw TLS exchange that reports the certificate it was
// shown, a replayed ClientHello that shows exactly what a server answers before any
// handshake, HTTPS requests (client certificates, keep-alive), and a steady HTTPS load
// that counts every request, connection and failure without retrying any.
import { createServer, connect as tcpConnect, type AddressInfo, type Socket } from 'node:net';
import { Agent, request } from 'node:https';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

export interface TlsExchange {
  /** SHA-256 fingerprint of the certificate the server presented ('' if none). */
  fingerprint: string;
  subject: string;
  /** Bytes received inside TLS after sending `data`. */
  reply: string;
  /** Error code when the connection failed (ECONNRESET, ERR_SSL_...). */
  error?: string;
  message?: string;
}

/** A TLS client with SNI `servername` that sends `data` and reads until `data` came back or the peer closed. */
export function tlsExchange(address: string, port: number, servername: string, data = 'ping', timeoutMs = 3000): Promise<TlsExchange> {
  return new Promise((resolve) => {
    let fingerprint = '';
    let subject = '';
    let reply = '';
    const s = tlsConnect({ host: address, port, servername, rejectUnauthorized: false }, () => {
      const cert = s.getPeerCertificate();
      fingerprint = cert.fingerprint256 ?? '';
      subject = String(cert.subject?.CN ?? '');
      s.write(data);
    });
    s.setTimeout(timeoutMs, () => s.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    s.on('data', (d) => {
      reply += d;
      if (reply.endsWith(data)) s.end();
    });
    s.on('close', () => resolve({ fingerprint, subject, reply }));
    s.on('error', (e: NodeJS.ErrnoException) => resolve({ fingerprint, subject, reply, error: e.code ?? 'ERROR', message: e.message }));
  });
}

/** The ClientHello a Node client sends for `servername` (captured from a local listener). */
export function clientHello(servername: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const server = createServer((s) => s.once('data', (d: Buffer) => {
      s.destroy();
      server.close();
      resolve(d);
    }));
    server.listen(0, '127.0.0.1', () => {
      const c = tlsConnect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, servername, rejectUnauthorized: false });
      c.on('error', () => {});
    });
    server.on('error', reject);
  });
}

export interface RawAnswer {
  /** Bytes the server sent back (a ServerHello, an alert, or nothing). */
  received: number;
  /** First byte: 0x16 handshake, 0x15 alert. */
  firstByte?: number;
  /** How the connection ended: the server's FIN, its RST, still open at the deadline, or another error. */
  ended: 'fin' | 'rst' | 'open' | `error ${string}`;
}

/**
 * Writes `hello` on a plain TCP connection and reports what comes back before the connection
 * ends (or, with `firstReply`, as soon as anything comes back: a server that answers waits for
 * the rest of the handshake).
 */
export function rawExchange(address: string, port: number, hello: Buffer, { timeoutMs = 3000, firstReply = false } = {}): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const answer = (ended: RawAnswer['ended']): RawAnswer => {
      const all = Buffer.concat(chunks);
      return { received: all.length, ...(all.length ? { firstByte: all[0] } : {}), ended };
    };
    const s: Socket = tcpConnect({ host: address, port }, () => s.write(hello));
    const timer = setTimeout(() => { resolve(answer('open')); s.destroy(); }, timeoutMs);
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      if (firstReply) { clearTimeout(timer); resolve(answer('open')); s.destroy(); }
    });
    s.on('end', () => { clearTimeout(timer); resolve(answer('fin')); s.destroy(); });
    s.on('error', (e: NodeJS.ErrnoException) => { clearTimeout(timer); resolve(answer(e.code === 'ECONNRESET' ? 'rst' : `error ${e.code ?? e.message}`)); });
  });
}

export interface HttpsAnswer {
  status?: number;
  /** x-backend of the echo server that answered. */
  backend?: string;
  fingerprint?: string;
  body?: string;
  error?: string;
  /** Whether the request went out on a connection that served an earlier request. */
  reused?: boolean;
  /** On a reused connection: how long it was idle (its previous response ended this long before). */
  idleMs?: number;
  /** Whether the TLS handshake completed before the failure. */
  handshake?: boolean;
  /** Date.now() when the request got its connection (a queued request waits for one). */
  connectedAt?: number;
}

export interface HttpsOptions {
  servername: string;
  host?: string;
  path?: string;
  /** Client certificate and key. */
  client?: { cert: string; key: string };
  /** A keep-alive agent; default: a new connection, closed after the response. */
  agent?: Agent;
  timeoutMs?: number;
}

/** The certificate each connection was shown at its handshake (a reused socket no longer tells it). */
const shown = new WeakMap<object, string>();
/** When each connection's last response ended. */
const lastEnd = new WeakMap<object, number>();

/** One HTTPS GET; never rejects: failures come back as `error`. */
export function httpsGet(address: string, port: number, o: HttpsOptions): Promise<HttpsAnswer> {
  return new Promise((resolve) => {
    let handshake = false;
    let reused = false;
    let idleMs: number | undefined;
    let socket: object | undefined;
    let connectedAt: number | undefined;
    const req = request({
      host: address, port, path: o.path ?? '/', servername: o.servername, headers: { host: o.host ?? o.servername },
      rejectUnauthorized: false, agent: o.agent ?? false, ...(o.client ?? {}),
    }, (res) => {
      const fingerprint = (socket && shown.get(socket)) ?? '';
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        if (socket) lastEnd.set(socket, performance.now());
        resolve({ status: res.statusCode, backend: res.headers['x-backend'] as string | undefined, fingerprint, body, reused, connectedAt, ...(reused ? { idleMs } : {}) });
      });
      res.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message, reused, idleMs, connectedAt, handshake: true }));
    });
    // Not req.reusedSocket: the agent hands a queued request a freed socket without setting it.
    req.on('socket', (s) => {
      socket = s;
      connectedAt = Date.now();
      if (shown.has(s)) {
        handshake = reused = true;
        idleMs = performance.now() - (lastEnd.get(s) ?? 0);
      } else {
        (s as TLSSocket).once('secureConnect', () => {
          handshake = true;
          shown.set(s, (s as TLSSocket).getPeerCertificate().fingerprint256 ?? '');
        });
      }
    });
    req.setTimeout(o.timeoutMs ?? 5000, () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message, reused, connectedAt, ...(reused ? { idleMs } : {}), handshake }));
    req.end();
  });
}

export interface LoadFailure {
  /** The request's number: its path is `${path}/${id}`. */
  id: number;
  /** When it went out: ms since the load started at which it got its connection (or was issued, without one). */
  at: number;
  /** Status or error code. */
  what: string;
  mode: 'new connection' | 'keep-alive, new connection' | 'keep-alive, reused connection';
  /** Sent on a kept-alive connection, which had been idle this long, and nothing came back. */
  idleMs?: number;
  /**
   * A request on a reused keep-alive connection that got no response byte: the server closed
   * the idle connection as the request went out (HTTP/1.1 lets either side close an idle
   * connection at any time; RFC 9112 9.3.1 leaves retrying to the client).
   */
  keepAliveRace: boolean;
}

export interface LoadFigures {
  sent: number;
  seconds: number;
  rate: number;
  keepAlive: { requests: number; connections: number; reused: number };
  fresh: { requests: number; connections: number };
  /** Every request that did not get a 200 (`at`: ms since the load started, when it was sent). */
  failures: LoadFailure[];
  /** Requests answered per certificate fingerprint. */
  certificates: Map<string, number>;
  latencyMs: { p50: number; p99: number; max: number };
}

/**
 * HTTPS GETs at a fixed rate until stopped, alternating a shared keep-alive agent and a new
 * connection per request, each to its own path (`<path>/<n>`, so a backend can tell which
 * arrived). No request is retried: what fails is counted.
 */
export class SteadyHttpsLoad {
  private readonly agent: Agent;
  private readonly inflight = new Set<Promise<void>>();
  private readonly latencies: number[] = [];
  private readonly figures = { sent: 0, kaRequests: 0, kaReused: 0, fresh: 0, failures: [] as LoadFailure[], certificates: new Map<string, number>() };
  private stopped = false;
  /** Date.now() when the load started: failures' `at` counts from here. */
  readonly started = Date.now();
  private readonly loop: Promise<void>;

  constructor(address: string, port: number, opts: HttpsOptions & { rate: number; maxSockets?: number }) {
    // No TLS session resumption: every connection is a full handshake that shows the certificate.
    this.agent = new Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 4, maxCachedSessions: 0 });
    const interval = 1000 / opts.rate;
    this.loop = (async () => {
      while (!this.stopped) {
        const n = this.figures.sent++;
        const keepAlive = n % 2 === 1;
        const t0 = performance.now();
        const p = this.one(address, port, { ...opts, path: `${opts.path ?? ''}/${n}` }, keepAlive, t0, n);
        this.inflight.add(p);
        void p.finally(() => this.inflight.delete(p));
        const next = this.started + (n + 1) * interval;
        await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
      }
    })();
  }

  private async one(address: string, port: number, opts: HttpsOptions, keepAlive: boolean, t0: number, id: number): Promise<void> {
    const f = this.figures;
    const issued = Date.now();
    const r = await httpsGet(address, port, { ...opts, ...(keepAlive ? { agent: this.agent } : {}) });
    this.latencies.push(performance.now() - t0);
    if (keepAlive) {
      f.kaRequests++;
      if (r.reused) f.kaReused++;
    } else f.fresh++;
    if (r.status === 200 && r.fingerprint) {
      f.certificates.set(r.fingerprint, (f.certificates.get(r.fingerprint) ?? 0) + 1);
      return;
    }
    const mode = keepAlive ? (r.reused ? 'keep-alive, reused connection' : 'keep-alive, new connection') : 'new connection';
    const keepAliveRace = keepAlive && !!r.reused && r.status === undefined;
    f.failures.push({ id, at: (r.connectedAt ?? issued) - this.started, what: String(r.status ?? r.error), mode, keepAliveRace, ...(r.idleMs === undefined ? {} : { idleMs: Math.round(r.idleMs) }) });
  }

  async stop(): Promise<LoadFigures> {
    this.stopped = true;
    await this.loop;
    await Promise.all(this.inflight);
    this.agent.destroy();
    const f = this.figures;
    const seconds = (Date.now() - this.started) / 1000;
    const sorted = [...this.latencies].sort((a, b) => a - b);
    const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0);
    return {
      sent: f.sent, seconds, rate: f.sent / seconds,
      // A keep-alive request that did not reuse a connection opened one.
      keepAlive: { requests: f.kaRequests, connections: f.kaRequests - f.kaReused, reused: f.kaReused },
      fresh: { requests: f.fresh, connections: f.fresh },
      failures: f.failures, certificates: f.certificates,
      latencyMs: { p50: at(0.5), p99: at(0.99), max: Math.round(sorted.at(-1) ?? 0) },
    };
  }
}
