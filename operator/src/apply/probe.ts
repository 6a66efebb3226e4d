// Asks the agent whether nginx would accept a configuration, without serving it: the
// configuration goes to <configRoot>/probes/<id>/ and the agent answers in result.json
// (nginx/agent/probes.ts). The controller bisects with probes to find the object behind an
// nginx error that names no line.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { probesDir, type ProbeResult } from '../../../nginx/agent/probes.ts';
import type { RenderedConfig } from '../render/render.ts';

export type { ProbeResult };

let sequence = 0;

export interface ProbeOptions {
  configRoot: string;
  /** Writes the certificate files the configuration names (the writer's, shared with versions). */
  writeCertificates: (certs: RenderedConfig['certificates']) => void;
  timeoutMs?: number;
  pollMs?: number;
}

export async function probeConfig(config: RenderedConfig, opts: ProbeOptions): Promise<ProbeResult> {
  const root = probesDir(opts.configRoot);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  opts.writeCertificates(config.certificates);
  const id = `p${process.pid}-${Date.now().toString(36)}-${sequence++}`;
  const dir = join(root, id);
  const tmp = join(root, `.tmp-${id}`);
  mkdirSync(tmp, { mode: 0o700 });
  for (const [name, text] of Object.entries(config.files)) writeFileSync(join(tmp, name), text, { mode: 0o644 });
  writeFileSync(join(tmp, 'request.json'), JSON.stringify({ hash: config.hash }));
  renameSync(tmp, dir);
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  try {
    for (;;) {
      const result = join(dir, 'result.json');
      if (existsSync(result)) return JSON.parse(readFileSync(result, 'utf8')) as ProbeResult;
      if (Date.now() > deadline) throw new Error(`the nginx agent did not answer probe ${id} within ${opts.timeoutMs ?? 60_000} ms`);
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 20));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
