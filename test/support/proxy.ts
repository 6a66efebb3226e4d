// A TCP proxy in front of the API server that a test can cut and restore, and the test
// bed's kubeconfig pointed at it: how tests kill an operator's watch connections.
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { testbed } from '../testbed.ts';

/** The test bed's kubeconfig, optionally pointed at another server (same CA and credentials). */
export function testbedKubeConfig(server?: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(testbed().kubeconfig);
  if (server) {
    kc.loadFromOptions({ clusters: kc.clusters.map((c) => ({ ...c, server })), users: kc.users, contexts: kc.contexts, currentContext: kc.currentContext });
  }
  return kc;
}


/** A TCP proxy in front of the API server that the test can cut and restore. */
export class TcpProxy {
  port = 0;
  connections = 0;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  private readonly target: { host: string; port: number };
  constructor(target: { host: string; port: number }) {
    this.target = target;
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`; // the API server's certificate is for 127.0.0.1
  }

  async open(): Promise<void> {
    const server = createServer((client) => {
      this.connections++;
      const upstream = connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Refuses new connections (nothing listens) and resets the open ones. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    for (const s of this.sockets) s.resetAndDestroy();
    await closed;
  }
}

