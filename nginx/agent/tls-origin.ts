// The TLS hop: for backends whose BackendTLSPolicy lists subjectAltNames, nginx (which can
// verify an upstream certificate only against the name it also sends as SNI, DNS names
// only) proxies plain bytes to a unix socket of ours, and we originate the TLS connection:
// SNI = validation.hostname, chain verified against the policy's CA bundle (or the system
// store), the certificate's SANs checked against the policy's list (san-match.ts), the
// Gateway's client certificate presented. Only after all of that do the bytes nginx wrote
// move; a failed check closes nginx's side before anything reaches the backend (nginx
// answers 502, as it does for its own verification failures).
//
// One listener per manifest entry (one backend endpoint with one set of settings; its name
// is a hash of them, so an unchanged entry keeps its listener across versions). Listeners
// of a new version open before `nginx -t`/reload; those only the previous version used
// close once the old nginx workers have exited (or after the drain delay), so requests
// in flight on a retiring worker still find their socket.
import { chmodSync, chownSync, existsSync, lstatSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect, createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import type winston from 'winston';
import { sanMismatch, type SubjectAltName } from './san-match.ts';
import { parseAddress, parseTlsOriginManifest, TLS_ORIGIN_FILE, type TlsOriginEntry } from './tls-origin-manifest.ts';

/** The trust store nginx uses for wellKnownCACertificates: System (Debian's ca-certificates). */
export const SYSTEM_CA_FILE = '/etc/ssl/certs/ca-certificates.crt';
/** TCP connect + TLS handshake to the backend (nginx's own proxy_connect_timeout default). */
const HANDSHAKE_TIMEOUT_MS = 60_000;
/** How long what nginx wrote may take to reach the backend after nginx closed its side. */
const CLOSE_FLUSH_MS = 5_000;
/** At most one log line per socket for this long when its handshakes keep failing. */
const FAILURE_LOG_INTERVAL_MS = 10_000;

export interface TlsOriginsOptions {
  /** Where the sockets live (Agent.socketDir): entries naming another directory are refused. */
  socketDir: string;
  logger: winston.Logger;
  /** How long retired listeners wait for the old workers at most (default: worker_shutdown_timeout, 240 s). */
  drainMs?: number;
  /** Owner of the sockets so that nginx workers may connect (default: "nobody" when running as root, else ourselves). */
  workerUid?: number;
}

interface Listener {
  entry: TlsOriginEntry;
  /** The entry without its source: what the socket name stands for. */
  settings: string;
  server: Server;
  connections: Set<Socket>;
  failures: number;
  lastFailureLog: number;
}

/** The settings a socket name stands for (source is only a label). */
const settingsOf = ({ source: _source, ...rest }: TlsOriginEntry) => JSON.stringify(rest);

/** The uid nginx's workers run as when the master is root: nginx's default user, "nobody". */
function nobodyUid(): number {
  try {
    const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('nobody:'));
    const uid = Number(line?.split(':')[2]);
    if (Number.isInteger(uid)) return uid;
  } catch {
    // no passwd file: the conventional uid
  }
  return 65534;
}

export class TlsOrigins {
  private readonly opts: TlsOriginsOptions;
  private readonly log: winston.Logger;
  private readonly listeners = new Map<string, Listener>();
  /** Sockets of the version nginx serves. */
  private live = new Set<string>();
  /** Sockets of the version being tested/applied (undefined: none in progress). */
  private pending: Set<string> | undefined;
  private readonly drains = new Set<NodeJS.Timeout>();
  private readonly workerUid: number | undefined;
  private closed = false;

  constructor(opts: TlsOriginsOptions) {
    this.opts = opts;
    this.log = opts.logger.child({ component: 'tls-origin' });
    this.workerUid = opts.workerUid ?? (process.getuid?.() === 0 ? nobodyUid() : undefined);
  }

  /** Sockets listening now (for tests and the stop path). */
  get sockets(): string[] {
    return [...this.listeners.keys()].sort();
  }

  /**
   * Opens the listeners of a version's manifest (none: a version without one, or undefined
   * for the empty config). Returns the problems (unreadable manifest, unusable entries);
   * they are reported, and everything else is served: a broken entry's upstream finds no
   * socket and nginx answers 502 for it alone.
   */
  async prepare(versionDir: string | undefined): Promise<string[]> {
    if (this.pending) this.abort(); // a previous attempt that neither committed nor aborted (it threw)
    const problems: string[] = [];
    const wanted = new Set<string>();
    let entries: TlsOriginEntry[] = [];
    const file = versionDir === undefined ? undefined : join(versionDir, TLS_ORIGIN_FILE);
    if (file && existsSync(file)) {
      let text = '';
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        problems.push(`${TLS_ORIGIN_FILE} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      const parsed = text ? parseTlsOriginManifest(text, this.opts.socketDir) : { origins: [], problems: [] };
      entries = parsed.origins;
      problems.push(...parsed.problems);
    }
    // One trust store per CA file and client certificate for the whole version: a context costs
    // ~1 MB and ~10 ms of blocking work (the system store), and one tenant's Service may list
    // thousands of endpoints, each its own entry (files are named by content, so sharing is exact).
    const contexts = new Map<string, SecureContext>();
    for (const entry of entries) {
      const name = entry.socket.slice(this.opts.socketDir.length + 1);
      const existing = this.listeners.get(entry.socket);
      if (existing) {
        if (existing.settings === settingsOf(entry)) wanted.add(entry.socket);
        else problems.push(`${TLS_ORIGIN_FILE}: socket ${name} (${entry.source}) is open with other settings; not changed`);
        continue;
      }
      try {
        await this.open(entry, contexts);
        wanted.add(entry.socket);
      } catch (err) {
        problems.push(`${TLS_ORIGIN_FILE}: socket ${name} (${entry.source}): ${(err as Error).message}`);
      }
    }
    this.pending = wanted;
    for (const p of problems) this.log.error(p);
    return problems;
  }

  /**
   * nginx now serves the prepared version. The listeners only the previous one used close
   * when `oldWorkers` (pids) have all exited, or after the drain delay.
   */
  commit(oldWorkers: readonly number[]): void {
    const next = this.pending ?? new Set<string>();
    const retired = [...this.live].filter((s) => !next.has(s));
    this.live = next;
    this.pending = undefined;
    if (retired.length) this.retireLater(retired, oldWorkers);
  }

  /** The prepared version was not applied: close what only it opened. */
  abort(): void {
    const opened = this.pending ?? new Set<string>();
    this.pending = undefined;
    for (const s of opened) if (!this.live.has(s)) this.closeListener(s);
  }

  /** Closes every listener and connection (the agent stops). */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.drains) clearTimeout(t);
    this.drains.clear();
    const all = [...this.listeners.keys()];
    await Promise.all(all.map((s) => this.closeListener(s, true)));
  }

  // --- listeners ---------------------------------------------------------------------

  private async open(entry: TlsOriginEntry, contexts: Map<string, SecureContext>): Promise<void> {
    const target = parseAddress(entry.address)!;
    const key = JSON.stringify([entry.ca, entry.clientCertificate ?? null]);
    const context = contexts.get(key) ?? this.context(entry);
    contexts.set(key, context);
    const listener: Listener = { entry, settings: settingsOf(entry), server: createServer({ pauseOnConnect: true, noDelay: true }), connections: new Set(), failures: 0, lastFailureLog: 0 };
    listener.server.on('connection', (down: Socket) => this.relay(listener, down, target, context));
    listener.server.on('error', (err) => this.log.error(`socket ${entry.socket}: ${err.message}`));
    // A socket file left by an agent that did not stop cleanly: ours by name, in our directory.
    if (existsSync(entry.socket)) {
      if (!lstatSync(entry.socket).isSocket()) throw new Error('a file that is not a socket has its name');
      rmSync(entry.socket, { force: true });
    }
    await new Promise<void>((resolve, reject) => {
      listener.server.once('error', reject);
      listener.server.listen(entry.socket, () => {
        listener.server.off('error', reject);
        resolve();
      });
    });
    try {
      // Created with the umask's mode: only the nginx workers' user may connect (connect needs write permission).
      chmodSync(entry.socket, 0o600);
      if (this.workerUid !== undefined) chownSync(entry.socket, this.workerUid, -1);
    } catch (err) {
      listener.server.close();
      throw new Error(`cannot set the socket's owner and mode: ${(err as Error).message}`);
    }
    this.listeners.set(entry.socket, listener);
  }

  /** The trust anchors and client certificate of an entry, loaded once per listener (files are named by content). */
  private context(entry: TlsOriginEntry): SecureContext {
    const read = (file: string, what: string) => {
      try {
        return readFileSync(file, 'utf8');
      } catch (err) {
        throw new Error(`${what} ${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
      }
    };
    const ca = entry.ca === 'System' ? (existsSync(SYSTEM_CA_FILE) ? read(SYSTEM_CA_FILE, 'system CA file') : [...rootCertificates]) : read(entry.ca.file, 'CA file');
    const client = entry.clientCertificate === undefined ? undefined : read(entry.clientCertificate, 'client certificate file');
    try {
      // The client certificate file holds the chain and the key: OpenSSL picks each block by its label.
      return createSecureContext({ ca, minVersion: 'TLSv1.2', ...(client ? { cert: client, key: client } : {}) });
    } catch (err) {
      // OpenSSL's message names the failing step, never the key's content.
      throw new Error(`TLS settings cannot be loaded: ${(err as Error).message}`);
    }
  }

  private closeListener(socket: string, destroy = false): Promise<void> {
    const l = this.listeners.get(socket);
    if (!l) return Promise.resolve();
    this.listeners.delete(socket);
    // Connections already relayed keep going until their ends close them (stop() destroys them).
    if (destroy) for (const c of l.connections) c.destroy();
    // libuv unlinks the socket file as it closes the listening handle (synchronously, so a
    // listener opened on the same name later is not affected); the callback waits for the connections.
    return new Promise<void>((resolve) => {
      l.server.close(() => resolve());
      if (destroy) resolve();
    });
  }

  private retireLater(sockets: string[], oldWorkers: readonly number[]): void {
    const deadline = Date.now() + (this.opts.drainMs ?? 240_000);
    const check = () => {
      this.drains.delete(timer);
      if (this.closed) return;
      const alive = oldWorkers.filter((pid) => existsSync(`/proc/${pid}`));
      if (alive.length && Date.now() < deadline) {
        timer = setTimeout(check, 250);
        this.drains.add(timer);
        return;
      }
      // Re-added meanwhile by a newer version: keep it.
      for (const s of sockets) if (!this.live.has(s) && !this.pending?.has(s)) void this.closeListener(s);
    };
    let timer = setTimeout(check, oldWorkers.length ? 250 : 0);
    this.drains.add(timer);
  }

  // --- one connection ----------------------------------------------------------------

  private relay(l: Listener, down: Socket, target: { host: string; port: number }, context: SecureContext): void {
    l.connections.add(down);
    down.once('close', () => l.connections.delete(down));
    const sans: readonly SubjectAltName[] = l.entry.subjectAltNames;
    const up = connect({
      host: target.host,
      port: target.port,
      servername: l.entry.serverName,
      secureContext: context,
      ALPNProtocols: l.entry.alpn,
      // Called after the chain verified against the context's CAs (rejectUnauthorized is on).
      checkServerIdentity: (_host, cert) => {
        const why = sanMismatch(sans, cert.raw);
        return why ? new Error(why) : undefined;
      },
    });
    up.setNoDelay(true);
    let relaying = false;
    const fail = (err: Error) => {
      down.destroy();
      up.destroy();
      if (!relaying) this.handshakeFailed(l, err);
    };
    up.setTimeout(HANDSHAKE_TIMEOUT_MS, () => fail(new Error(`no TLS connection within ${HANDSHAKE_TIMEOUT_MS / 1000} s`)));
    up.on('error', fail);
    down.on('error', () => {
      down.destroy();
      up.destroy();
    });
    // nginx gave up before the handshake ended: so do we. Once relaying, nginx closing its side
    // ends the backend connection too, after what nginx wrote is flushed (as nginx's own proxies
    // do): a backend that never answers nor closes must not hold the agent's sockets forever.
    down.once('close', () => {
      if (!relaying || up.writableFinished) return void up.destroy();
      up.once('finish', () => up.destroy());
      setTimeout(() => up.destroy(), CLOSE_FLUSH_MS).unref();
    });
    up.once('secureConnect', () => {
      if (down.destroyed) return up.destroy();
      relaying = true;
      up.setTimeout(0);
      l.failures = 0;
      down.pipe(up);
      up.pipe(down);
      down.resume();
    });
  }

  private handshakeFailed(l: Listener, err: Error): void {
    l.failures++;
    const now = Date.now();
    if (now - l.lastFailureLog < FAILURE_LOG_INTERVAL_MS) return;
    l.lastFailureLog = now;
    const name = l.entry.socket.slice(this.opts.socketDir.length + 1);
    // Node appends advice about its own CA flags to chain errors; the policy decides the CAs here.
    const why = err.message.replace(/; if the root CA is installed locally.*$/s, '');
    this.log.warn(`TLS to ${l.entry.address} for ${l.entry.source} (${name}) failed, connection closed before relaying: ${why}${l.failures > 1 ? ` (${l.failures} failures)` : ''}`);
  }
}
