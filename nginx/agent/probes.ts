// Probe configurations: the operator asks "would nginx accept this?" without nginx ever
// serving it. It writes <configRoot>/probes/<id>/ (http.conf, stream.conf, then
// request.json last, by rename of the whole directory); the agent runs `nginx -t` on a
// main config that includes it and answers in result.json. The operator uses probes to
// find the object behind an nginx error that names no line (operator/src/isolate.ts).
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type winston from 'winston';
import { composeMainConfig } from './config.ts';
import { testConfig } from './nginx.ts';

export const probesDir = (configRoot: string) => join(configRoot, 'probes');
export const PROBE_ID = /^[a-z0-9-]{1,64}$/;

export interface ProbeResult {
  ok: boolean;
  /** nginx -t output when it failed. */
  error?: string;
}

export interface ProbeOptions {
  configRoot: string;
  runDir: string;
  binary: string;
  streamModule?: string;
  tempDir?: string;
  logger: winston.Logger;
}

/** Answers every probe without a result, one at a time; returns a stop function. */
export async function answerProbes(opts: ProbeOptions): Promise<() => Promise<void>> {
  const root = probesDir(opts.configRoot);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  let busy: Promise<void> = Promise.resolve();
  const pending = () => readdirSync(root).filter((id) => PROBE_ID.test(id) && existsSync(join(root, id, 'request.json')) && !existsSync(join(root, id, 'result.json')));
  const kick = () => {
    busy = busy.then(async () => {
      for (const id of pending()) await answer(opts, join(root, id), id);
    }).catch((err) => {
      opts.logger.warn(`answering probes: ${(err as Error).message}`, { component: 'agent' });
    });
  };
  const watcher: FSWatcher = watch(root, { depth: 1, ignoreInitial: false, ignored: (p: string) => p.includes(`${root}/.tmp-`) });
  watcher.on('addDir', () => kick());
  watcher.on('add', (p: string) => p.endsWith('request.json') && kick());
  await new Promise<void>((r) => watcher.once('ready', () => r()));
  kick();
  return async () => {
    await watcher.close();
    await busy;
  };
}

async function answer(opts: ProbeOptions, dir: string, id: string): Promise<void> {
  const conf = join(opts.runDir, `probe-${id}.conf`);
  writeFileSync(conf, composeMainConfig({ runDir: opts.runDir, versionDir: dir, version: `probe-${id}`, streamModule: opts.streamModule, tempDir: opts.tempDir, accessLog: false }), { mode: 0o600 });
  try {
    const r = await testConfig(opts.binary, opts.runDir, conf);
    const result: ProbeResult = r.ok ? { ok: true } : { ok: false, error: r.output };
    const tmp = join(dir, '.result.tmp');
    writeFileSync(tmp, JSON.stringify(result));
    renameSync(tmp, join(dir, 'result.json'));
  } finally {
    rmSync(conf, { force: true });
  }
}
