// gRPC echo backends and clients for GRPCRoute tests, with @grpc/grpc-js: every backend
// answers every method of test/support/grpc-echo.proto with its name, the :path and
// :authority it received and the request metadata; it sends response metadata
// x-backend-name (and x-drop-me) so that response header filters can be observed.
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const PROTO = fileURLToPath(new URL('./grpc-echo.proto', import.meta.url));
const definition = protoLoader.loadSync(PROTO, { keepCase: true });
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const pkg = (grpc.loadPackageDefinition(definition) as any).waygate.test;

export interface EchoReply { backend: string; path: string; authority: string; metadata: Record<string, string> }

export interface GrpcBackend {
  name: string;
  /** "host:port" */
  endpoint: string;
  port: number;
  /** Calls received. */
  calls: number;
  close(): Promise<void>;
}

type Call = grpc.ServerUnaryCall<{ text: string }, unknown> | grpc.ServerDuplexStream<{ text: string }, unknown>;

function reply(name: string, call: Call) {
  const md: Record<string, string> = {};
  for (const [k, v] of Object.entries(call.metadata.getMap())) md[k] = String(v);
  return { backend: name, path: call.getPath(), authority: call.getHost(), metadata: JSON.stringify(md) };
}

/** A gRPC server (h2c, or TLS with `tls`) on `host` answering every method as `name`. */
export async function startGrpcBackend(name: string, tls?: { cert: string; key: string }, host = '127.0.0.1'): Promise<GrpcBackend> {
  const server = new grpc.Server();
  let calls = 0;
  const headers = () => {
    const m = new grpc.Metadata();
    m.set('x-backend-name', name);
    m.set('x-drop-me', 'yes');
    return m;
  };
  const unary = (call: grpc.ServerUnaryCall<{ text: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
    calls++;
    call.sendMetadata(headers());
    cb(null, reply(name, call));
  };
  const chat = (call: grpc.ServerDuplexStream<{ text: string }, unknown>) => {
    calls++;
    call.sendMetadata(headers());
    call.on('data', () => call.write(reply(name, call)));
    call.on('end', () => call.end());
  };
  server.addService(pkg.Echo.service, { Say: unary, Ping: unary, Chat: chat });
  server.addService(pkg.Other.service, { Say: unary, Poke: unary });
  server.addService(pkg.Extra.service, { Chime: unary, Ring: unary });
  const creds = tls ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(tls.cert), private_key: Buffer.from(tls.key) }]) : grpc.ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) => server.bindAsync(`${host}:0`, creds, (err, p) => (err ? reject(err) : resolve(p))));
  return {
    name, port, endpoint: `${host}:${port}`,
    get calls() { return calls; },
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}

export interface CallResult {
  /** gRPC status code (0 = OK). */
  code: number;
  details?: string;
  reply?: EchoReply;
  /** Response headers (initial metadata) the client received. */
  headers: Record<string, string>;
}

export interface ClientOptions {
  /** :authority (default: the address). */
  authority?: string;
  /** TLS: trust this CA and expect this name. */
  tls?: { ca: string; servername: string };
  deadlineMs?: number;
}

/** A client of service `service` (of test/support/grpc-echo.proto) at address:port; close() when done. */
export function grpcClient(address: string, port: number, service: 'Echo' | 'Other' | 'Extra', opts: ClientOptions = {}) {
  // Each client its own connections: grpc-js shares subchannels (and their reconnect backoff) otherwise.
  const options: grpc.ChannelOptions = { 'grpc.use_local_subchannel_pool': 1 };
  if (opts.authority) options['grpc.default_authority'] = opts.authority;
  if (opts.tls) options['grpc.ssl_target_name_override'] = opts.tls.servername;
  const creds = opts.tls ? grpc.credentials.createSsl(Buffer.from(opts.tls.ca)) : grpc.credentials.createInsecure();
  const client = new pkg[service](`${address}:${port}`, creds, options) as grpc.Client & Record<string, Function>;
  return {
    /** A unary call of `method` with `metadata`; never rejects: the status says what happened. */
    call(method: string, metadata: Record<string, string> = {}): Promise<CallResult> {
      const md = new grpc.Metadata();
      for (const [k, v] of Object.entries(metadata)) md.set(k, v);
      const headers: Record<string, string> = {};
      return new Promise((resolve) => {
        const c = client[method]!.call(client, { text: 'hi' }, md, { deadline: Date.now() + (opts.deadlineMs ?? 5000) }, (err: grpc.ServiceError | null, r?: EchoReply & { metadata: string }) => {
          if (err) resolve({ code: err.code, details: err.details, headers });
          else resolve({ code: 0, reply: { ...r!, metadata: JSON.parse(r!.metadata) }, headers });
        });
        c.on('metadata', (m: grpc.Metadata) => { for (const [k, v] of Object.entries(m.getMap())) headers[k] = String(v); });
      });
    },
    /** A bidirectional stream of Echo/Chat: sends `messages` one after another (`pauseMs` apart), resolves with the replies. */
    chat(messages: number, pauseMs = 0): Promise<{ code: number; replies: EchoReply[] }> {
      return new Promise((resolve) => {
        const replies: EchoReply[] = [];
        const s = client.Chat!.call(client, new grpc.Metadata(), { deadline: Date.now() + (opts.deadlineMs ?? 5000) + messages * pauseMs }) as grpc.ClientDuplexStream<{ text: string }, EchoReply & { metadata: string }>;
        let sent = 0;
        const send = () => (sent < messages ? s.write({ text: `m${sent++}` }) : s.end());
        const next = () => (sent && sent < messages && pauseMs ? setTimeout(send, pauseMs) : send());
        s.on('data', (r) => { replies.push({ ...r, metadata: JSON.parse(r.metadata) }); next(); });
        s.on('error', (e: grpc.ServiceError) => resolve({ code: e.code, replies }));
        s.on('status', (st: grpc.StatusObject) => { if (st.code === 0) resolve({ code: 0, replies }); });
        next();
      });
    },
    close: () => client.close(),
  };
}
