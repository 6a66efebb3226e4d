// A standalone instance under test in fresh private temp directories (the YAML directory it
// reads and its run directory), with the echo backends started for it; stop() ends all of
// them and removes both directories, so each suite leaves nothing behind.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEcho, type EchoServer } from '../../examples/echo.ts';
import { defaultControllerName, supportedFeatures } from '../../operator/src/features.ts';
import type { Logger } from '../../operator/src/log.ts';
import { startStandalone, type Standalone, type StandaloneOptions } from '../../operator/src/modes/standalone.ts';
import { toYaml } from './standalone-yaml.ts';

export interface TempStandalone {
  /** The YAML directory the instance reads. */
  readonly dir: string;
  readonly runDir: string;
  /** Writes a file of the YAML directory: text, or objects as multi-document YAML. */
  write(file: string, content: string | object[]): void;
  /** An echo server answering as `name`, closed by stop(). */
  echo(name: string): Promise<EchoServer>;
  /** Starts standalone mode on dir and runDir with the default controller and features. */
  start(logger: Logger, options?: Pick<StandaloneOptions, 'nginxBinary' | 'drainTimeoutMs' | 'maxDrainingWorkers' | 'maxDrainingMemoryBytes'>): Promise<Standalone>;
  /** Stops the instance and the echo servers, removes both directories. */
  stop(): Promise<void>;
}

/** Directories named waygate-<name>-src-* and waygate-<name>-run-* under the temp dir, mode 0700. */
export function tempStandalone(name: string): TempStandalone {
  const dir = mkdtempSync(join(tmpdir(), `waygate-${name}-src-`));
  const runDir = mkdtempSync(join(tmpdir(), `waygate-${name}-run-`));
  chmodSync(runDir, 0o700); // mkdtemp's mode already; standalone refuses anything less private
  const echoes: EchoServer[] = [];
  let standalone: Standalone | undefined;
  return {
    dir,
    runDir,
    write: (file, content) => writeFileSync(join(dir, file), typeof content === 'string' ? content : toYaml(content)),
    async echo(echoName) {
      const echo = await startEcho(echoName);
      echoes.push(echo);
      return echo;
    },
    async start(logger, options = {}) {
      standalone = await startStandalone({ dir, runDir, controllerName: defaultControllerName, supportedFeatures, logger, ...options });
      return standalone;
    },
    async stop() {
      try {
        await standalone?.stop();
        for (const echo of echoes) await echo.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
        rmSync(runDir, { recursive: true, force: true });
      }
    },
  };
}
