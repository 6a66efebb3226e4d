// Pod networking without a CNI: a network namespace per pod, joined to the host by a veth
// pair, with a /32 pod address routed from the host. The pod gets routes to the host-side
// address, to the pod CIDR and to the Service CIDR (both via the host), and nothing else: no
// default route, no NAT, no IPv6. The host (nginx, the tests) reaches every pod IP directly.
//
// Pod-to-pod traffic is forwarded by the host, scoped as narrowly as Linux allows: IPv4
// forwarding is switched on per interface, only on this agent's host-side veths (the machine's
// ip_forward stays as it is, so nothing arriving on eth0 is forwarded), and this agent's nft
// table rejects (net-unreachable) anything forwarded from its veths to an interface that is
// not one of its veths: a pod sending to an unused pod or Service address gets ENETUNREACH
// instead of having the packet routed out of the machine.
//
// Names and addresses are machine-global, and other agents (other test beds) may run at the
// same time: every name carries this agent's id, and a pod IP is claimed by adding its host
// route, which the kernel refuses if any agent already routes that address.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, tryRun, which } from '../exec.ts';

/** The host's address on every pod link; the only address a pod can reach besides its own. */
export const hostSideAddress = '10.244.0.1';
export const podCidr = '10.244.0.0/16';
/** The Service ClusterIP range of the test bed's API server (kube-apiserver --service-cluster-ip-range). */
export const serviceCidr = '10.96.0.0/16';

/** Fixed prefixes (plus the agent id) let a later start find what a crashed run left. */
const netnsPrefix = 'waygate-';
const vethPrefix = 'wgp';

export interface PodNetwork {
  netns: string;
  hostVeth: string;
  ip: string;
}

/** The n-th address of 10.244.0.0/16. */
const ipOf = (n: number) => `10.244.${(n >> 8) & 255}.${n & 255}`;

export class PodNetworks {
  private readonly inUse = new Map<string, PodNetwork>();
  /** Round-robin: a new pod does not get the address a just-deleted one had. */
  private next = 2;

  private readonly agentId: string;
  private readonly stateDir: string;
  constructor(
    agentId: string,
    stateDir: string,
  ) {
    this.agentId = agentId;
    this.stateDir = stateDir;
  }

  private get recordFile(): string {
    return join(this.stateDir, 'networks.json');
  }

  private record(): void {
    writeFileSync(this.recordFile, JSON.stringify([...this.inUse.values()], null, 2));
  }

  /** Interface names are at most 15 characters: "wgp" + 4 (agent) + 8 (pod) = 15. */
  names(hash: string): { netns: string; hostVeth: string } {
    return { netns: `${netnsPrefix}${this.agentId}-${hash}`, hostVeth: `${vethPrefix}${this.agentId}${hash}` };
  }

  /** This agent's nft table: the forwarding guard (see the top of this file). */
  get nftTable(): string {
    return `waygate-node-${this.agentId}`;
  }

  /** Creates the forwarding guard; the nft CLI is needed (apt-get install nftables). */
  async guardForwarding(): Promise<void> {
    if (!(await which('nft'))) throw new Error('the node agent needs nft (apt-get install nftables): it confines the forwarding of pod traffic to pod veths');
    const veths = `${vethPrefix}${this.agentId}*`;
    await run('nft', ['-f', '-'], {
      input: [
        `table ip ${this.nftTable} {`,
        '  chain forward {',
        '    type filter hook forward priority filter; policy accept;',
        `    iifname "${veths}" oifname "${veths}" accept`,
        `    iifname "${veths}" reject with icmp type net-unreachable`,
        '  }',
        '}',
      ].join('\n'),
    });
  }

  /** Removes namespaces, veths and their processes left by an earlier run of this agent. */
  async cleanupLeftovers(): Promise<string[]> {
    const recorded: PodNetwork[] = existsSync(this.recordFile) ? (JSON.parse(readFileSync(this.recordFile, 'utf8')) as PodNetwork[]) : [];
    const netns = new Set(recorded.map((r) => r.netns));
    for (const line of (await run('ip', ['netns', 'list'])).split('\n')) {
      const name = line.split(' ')[0];
      if (name?.startsWith(`${netnsPrefix}${this.agentId}-`)) netns.add(name);
    }
    const veths = new Set(recorded.map((r) => r.hostVeth));
    for (const m of (await run('ip', ['-o', 'link', 'show'])).matchAll(/^\d+: ([^:@\s]+)/gm)) {
      if (m[1].startsWith(`${vethPrefix}${this.agentId}`)) veths.add(m[1]);
    }
    const removed: string[] = [];
    for (const ns of netns) {
      if (await this.deleteNetns(ns)) removed.push(`netns ${ns}`);
    }
    for (const v of veths) {
      if ((await tryRun('ip', ['link', 'del', v])).code === 0) removed.push(`veth ${v}`);
    }
    if ((await which('nft')) && (await tryRun('nft', ['delete', 'table', 'ip', this.nftTable])).code === 0) removed.push(`nft table ${this.nftTable}`);
    this.inUse.clear();
    this.record();
    return removed;
  }

  /** Kills whatever still runs in the namespace (a netns lives as long as a process in it). */
  private async deleteNetns(ns: string): Promise<boolean> {
    const pids = await tryRun('ip', ['netns', 'pids', ns]);
    if (pids.code !== 0) return false;
    for (const pid of pids.stdout.split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    return (await tryRun('ip', ['netns', 'del', ns])).code === 0;
  }

  async setup(podUid: string, hash: string): Promise<PodNetwork> {
    const { netns, hostVeth } = this.names(hash);
    const net: PodNetwork = { netns, hostVeth, ip: '' };
    this.inUse.set(podUid, net);
    this.record(); // before creating anything: a crash from here on leaves a trace
    try {
      await run('ip', ['netns', 'add', netns]);
      await run('ip', ['link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
      writeFileSync(`/proc/sys/net/ipv6/conf/${hostVeth}/disable_ipv6`, '1');
      await run('ip', ['addr', 'add', `${hostSideAddress}/32`, 'dev', hostVeth]);
      await run('ip', ['link', 'set', hostVeth, 'up']);
      await run('ip', ['netns', 'exec', netns, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6 && echo 1 > /proc/sys/net/ipv6/conf/eth0/disable_ipv6']);
      await run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
      await run('ip', ['-n', netns, 'link', 'set', 'eth0', 'up']);
      await run('ip', ['-n', netns, 'route', 'add', `${hostSideAddress}/32`, 'dev', 'eth0', 'scope', 'link']);
      net.ip = await this.claimAddress(hostVeth);
      this.record();
      await run('ip', ['-n', netns, 'addr', 'add', `${net.ip}/32`, 'dev', 'eth0']);
      for (const cidr of [podCidr, serviceCidr]) await run('ip', ['-n', netns, 'route', 'add', cidr, 'via', hostSideAddress, 'dev', 'eth0']);
      // Forward what this pod sends (to other pods; the nft guard drops anything else).
      writeFileSync(`/proc/sys/net/ipv4/conf/${hostVeth}/forwarding`, '1');
      return net;
    } catch (err) {
      await this.teardown(podUid);
      throw err;
    }
  }

  /** The next free pod IP, claimed by its host route ("File exists" if any agent has it). */
  private async claimAddress(hostVeth: string): Promise<string> {
    const taken = new Set([...this.inUse.values()].map((n) => n.ip));
    for (let tries = 0; tries < 65_000; tries++) {
      const n = this.next;
      this.next = n >= 0xfffe ? 2 : n + 1;
      const ip = ipOf(n);
      if ((n & 255) === 0 || (n & 255) === 255 || ip === hostSideAddress || taken.has(ip)) continue;
      const r = await tryRun('ip', ['route', 'add', `${ip}/32`, 'dev', hostVeth, 'src', hostSideAddress]);
      if (r.code === 0) return ip;
      if (!/File exists/.test(r.stderr)) throw new Error(`ip route add ${ip}/32 dev ${hostVeth}: ${r.stderr.trim()}`);
    }
    throw new Error(`no free pod address left in ${podCidr}`);
  }

  async teardown(podUid: string): Promise<void> {
    const net = this.inUse.get(podUid);
    if (!net) return;
    await this.deleteNetns(net.netns);
    // Deleting the namespace destroys the pair; this catches a half-made setup.
    await tryRun('ip', ['link', 'del', net.hostVeth]);
    this.inUse.delete(podUid);
    this.record();
  }

  get(podUid: string): PodNetwork | undefined {
    return this.inUse.get(podUid);
  }
}
