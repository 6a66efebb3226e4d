// `npx tsx test/cluster/node/cli.ts [start|stop|cleanup] [test bed dir]`: the node agent
// for manual use, against the running test bed (`npm run cluster -- start`; the test bed dir
// defaults to WAYGATE_TESTBED_DIR's). Its state is <test bed dir>/node.
//   start    run the agent in the foreground until Ctrl-C or SIGTERM
//   stop     stop an agent started with `start`, and remove what it left
//   cleanup  remove processes, network namespaces and veths a crashed agent left
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from '../exec.ts';
import { stateDir as testbedDir } from '../paths.ts';
import { isAlive } from '../processes.ts';
import { cleanupNodeAgent, startNodeAgent } from './agent.ts';

async function main(cmd = 'start', tbDir = testbedDir): Promise<number> {
  const dir = join(tbDir, 'node');
  switch (cmd) {
    case 'start': {
      const kubeconfig = join(tbDir, 'kubeconfig');
      if (!existsSync(kubeconfig)) throw new Error(`no test bed at ${tbDir}: start it first (npm run cluster -- start)`);
      // WAYGATE_NODE_IMAGE_FILES: image rule JSON files (images.ts), separated by ':'.
      const imageFiles = (process.env.WAYGATE_NODE_IMAGE_FILES ?? '').split(':').filter(Boolean);
      const agent = await startNodeAgent({ kubeconfig, stateDir: dir, imageFiles });
      console.error(`node agent: node ${agent.nodeName} ready, kubelet API on port ${agent.kubeletPort} (${Object.entries(agent.timings).map(([k, v]) => `${k} ${v} ms`).join(', ')}); Ctrl-C stops it`);
      await new Promise<void>((resolve) => {
        for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve());
      });
      await agent.stop();
      return 0;
    }
    case 'stop': {
      const file = join(dir, 'agent.json');
      const pid = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { pid: number }).pid : undefined;
      if (pid && isAlive(pid)) {
        process.kill(pid, 'SIGTERM');
        for (let i = 0; i < 200 && isAlive(pid); i++) await sleep(50);
      }
      const removed = await cleanupNodeAgent(dir);
      console.error(removed.length ? `removed ${removed.join(', ')}` : pid ? 'node agent stopped' : 'no node agent was running');
      return 0;
    }
    case 'cleanup': {
      const removed = await cleanupNodeAgent(dir);
      console.error(removed.length ? `removed ${removed.join(', ')}` : 'nothing left behind');
      return 0;
    }
    default:
      console.error('usage: npx tsx test/cluster/node/cli.ts [start|stop|cleanup] [test bed dir]');
      return 2;
  }
}

main(process.argv[2], process.argv[3]).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`node agent: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
