// The agent in a process of its own, as deployed (it runs in the nginx sidecar, the operator
// in its own container): a benchmark's operator then does not share the agent's event loop,
// where its status work after each rebuild held up the agent's pushes by tens of ms.
// Child: `node --import tsx bench/lib/agent-process.ts CONFIG_ROOT RUN_DIR` prints one JSON
// line when started ({socketDir}) and one per verdict ({verdict}); SIGTERM stops nginx.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Verdict } from '../../nginx/agent/index.ts';

export interface AgentProcess {
  socketDir: string;
  onVerdict(cb: (v: Verdict) => void): void;
  stop(): Promise<void>;
}

const self = fileURLToPath(import.meta.url);

/** Starts the agent as a child process and resolves once it serves. */
export function startAgentProcess(configRoot: string, runDir: string): Promise<AgentProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', self, configRoot, runDir], { cwd: fileURLToPath(new URL('../..', import.meta.url)), stdio: ['ignore', 'pipe', 'inherit'] });
  const listeners: ((v: Verdict) => void)[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the agent process exited (${code}) before it started`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as { socketDir?: string; verdict?: Verdict };
      if (msg.verdict) for (const cb of listeners) cb(msg.verdict);
      if (msg.socketDir) resolve({
        socketDir: msg.socketDir,
        onVerdict: (cb) => listeners.push(cb),
        stop: async () => { child.kill('SIGTERM'); await exited; },
      });
    });
  });
}

if (import.meta.main) {
  const { startAgent } = await import('../../nginx/agent/index.ts');
  const { createLogger } = await import('../../operator/src/log.ts');
  const [configRoot, runDir] = process.argv.slice(2);
  const agent = await startAgent({ configRoot: configRoot!, runDir: runDir!, logger: createLogger({ level: 'error' }), accessLog: false });
  agent.onVerdict((v) => process.stdout.write(`${JSON.stringify({ verdict: v })}\n`));
  process.stdout.write(`${JSON.stringify({ socketDir: agent.socketDir })}\n`);
  process.on('SIGTERM', () => void agent.stop().then(() => process.exit(0), () => process.exit(1)));
}
