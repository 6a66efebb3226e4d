// mocha global fixture: start the test bed once before all suites, stop it after them,
// also when tests fail or the run is interrupted.
import { startCluster, stopCluster } from './cluster/cluster.ts';
import { ensureNginx } from './cluster/nginx.ts';
import { setTestbed } from './testbed.ts';
import { removeLoopbackAlias } from './cluster/network.ts';

function stopOnSignal(signal: NodeJS.Signals): void {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping the test bed`);
    stopCluster().finally(() => process.exit(130));
  });
}

export async function mochaGlobalSetup(): Promise<void> {
  stopOnSignal('SIGINT');
  stopOnSignal('SIGTERM');
  await ensureNginx();
  // WAYGATE_TESTBED_KUBE_PROXY=1: run kube-proxy (machine-global nft table; see StartOptions).
  const cluster = await startCluster({ kubeProxy: process.env.WAYGATE_TESTBED_KUBE_PROXY === '1' });
  const total = Object.values(cluster.timings).reduce((a, b) => a + b, 0);
  console.error(`test bed up in ${(total / 1000).toFixed(1)} s: ${Object.entries(cluster.timings).map(([k, v]) => `${k} ${v} ms`).join(', ')}`);
  setTestbed(cluster);
}

export async function mochaGlobalTeardown(): Promise<void> {
  setTestbed(undefined);
  await stopCluster();
  await removeLoopbackAlias(); // added by end-to-end suites for their backends
}
