// `npm run cluster [start|stop|status|build|env]`: the test bed for manual use.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBinaries } from './build.ts';
import { startCluster, stopCluster } from './cluster.ts';
import { ensureNginx } from './nginx.ts';
import { stateDir, versions } from './paths.ts';
import { isAlive } from './processes.ts';

const usage = `usage: npm run cluster [-- start|stop|status|build]
  start   build if needed, start etcd, kube-apiserver, kube-controller-manager (default);
          WAYGATE_TESTBED_KUBE_PROXY=1 adds kube-proxy (machine-global nft table)
  stop    stop the processes of the running test bed
  status  show the running processes and the kubeconfig
  build   only build (or find cached) binaries and install nginx`;

function rssMiB(pid: number): string {
  const kb = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m)?.[1];
  return kb ? (Number(kb) / 1024).toFixed(0) : '?';
}

async function main(cmd = 'start'): Promise<number> {
  switch (cmd) {
    case 'start': {
      const c = await startCluster({ kubeProxy: process.env.WAYGATE_TESTBED_KUBE_PROXY === '1' });
      const total = Object.values(c.timings).reduce((a, b) => a + b, 0);
      console.error(`test bed up in ${(total / 1000).toFixed(1)} s (${Object.entries(c.timings).map(([k, v]) => `${k} ${v} ms`).join(', ')})`);
      console.error(`Kubernetes ${versions.kubernetes}, etcd ${versions.etcd}, Gateway API ${versions.gatewayApi} (${versions.gatewayApiChannel})`);
      console.error(`contexts: admin, ${c.personas.map((p) => `${p.name} (${p.role}, ns ${p.namespace})`).join(', ')}; stop with: npm run cluster -- stop`);
      console.log(`export KUBECONFIG=${c.kubeconfig}`);
      console.log(`alias kubectl=${c.binaries.kubectl}`);
      return 0;
    }
    case 'stop': {
      const stopped = await stopCluster();
      console.error(stopped.length ? `stopped ${stopped.join(', ')}` : 'no test bed was running');
      return 0;
    }
    case 'status': {
      const pids = join(stateDir, 'pids.json');
      const procs = existsSync(pids) ? (JSON.parse(readFileSync(pids, 'utf8')) as { name: string; pid: number; log: string }[]) : [];
      for (const p of procs) console.log(`${p.name}\tpid ${p.pid}\t${isAlive(p.pid) ? `running, RSS ${rssMiB(p.pid)} MiB` : 'gone'}\t${p.log}`);
      if (!procs.length) console.log('no test bed is running');
      else console.log(`export KUBECONFIG=${join(stateDir, 'kubeconfig')}`);
      return 0;
    }
    case 'build': {
      const bins = await ensureBinaries();
      const nginx = await ensureNginx();
      for (const [name, path] of Object.entries(bins)) console.log(`${name}\t${path}`);
      console.log(`nginx ${nginx.version}\t${nginx.binary}`);
      return 0;
    }
    default:
      console.error(usage);
      return 2;
  }
}

main(process.argv[2]).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`test bed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
