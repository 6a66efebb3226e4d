// Writes a rendered config as a new version directory of the shared volume, atomically:
// a ".tmp-*" directory is filled, then renamed to versions/<N>. The agent only acts on
// complete versions (meta.json present after the rename).
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RenderedConfig } from '../render/render.ts';

export interface VersionMeta {
  version: string;
  hash: string;
  sources: RenderedConfig['sources'];
}

export class ConfigWriter {
  private next: number;

  constructor(readonly configRoot: string) {
    mkdirSync(this.versionsDir, { recursive: true, mode: 0o755 });
    // Continue after the newest version on disk, so a restarted operator never reuses a number.
    const existing = readdirSync(this.versionsDir).filter((n) => /^\d+$/.test(n)).map(Number);
    this.next = existing.length ? Math.max(...existing) + 1 : 1;
  }

  get versionsDir(): string {
    return join(this.configRoot, 'versions');
  }

  write(config: RenderedConfig): string {
    const version = String(this.next++);
    const tmp = join(this.versionsDir, `.tmp-${version}-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { mode: 0o755 });
    for (const [name, text] of Object.entries(config.files)) writeFileSync(join(tmp, name), text, { mode: 0o644 });
    const meta: VersionMeta = { version, hash: config.hash, sources: config.sources };
    writeFileSync(join(tmp, 'meta.json'), JSON.stringify(meta, null, 1));
    renameSync(tmp, join(this.versionsDir, version));
    return version;
  }
}
