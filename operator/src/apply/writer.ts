// Writes a rendered config as a new version directory of the shared volume, atomically:
// a ".tmp-*" directory is filled, then renamed to versions/<N>. The agent only acts on
// complete versions (meta.json present after the rename). Certificates live apart, in
// certs/<sha256>.pem (mode 0600), so a config names them without knowing its version
// number; those no version refers to any more are removed.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isVersionName, nextVersion } from '../../../nginx/agent/index.ts';
import type { RenderedConfig } from '../render/render.ts';

export interface VersionMeta {
  version: string;
  hash: string;
  sources: RenderedConfig['sources'];
  certificates: string[];
}

export class ConfigWriter {
  private next: bigint;

  readonly configRoot: string;
  constructor(configRoot: string) {
    this.configRoot = configRoot;
    mkdirSync(this.versionsDir, { recursive: true, mode: 0o755 });
    // Continue after the newest version on disk, so a restarted operator never reuses a number.
    // BigInt: a Number stops counting at 2^53 (1e20 + 1 === 1e20), and the rename would collide.
    this.next = BigInt(nextVersion(readdirSync(this.versionsDir)));
  }

  get versionsDir(): string {
    return join(this.configRoot, 'versions');
  }

  get certsDir(): string {
    return join(this.configRoot, 'certs');
  }

  write(config: RenderedConfig): string {
    this.writeCertificates(config.certificates);
    while (existsSync(join(this.versionsDir, String(this.next)))) this.next++; // written meanwhile by someone else
    const version = String(this.next++);
    const tmp = join(this.versionsDir, `.tmp-${version}-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { mode: 0o755 });
    for (const [name, text] of Object.entries(config.files)) writeFileSync(join(tmp, name), text, { mode: 0o644 });
    const meta: VersionMeta = { version, hash: config.hash, sources: config.sources, certificates: config.certificates.map((c) => c.name) };
    writeFileSync(join(tmp, 'meta.json'), JSON.stringify(meta, null, 1));
    renameSync(tmp, join(this.versionsDir, version));
    this.removeUnusedCertificates();
    return version;
  }

  /** Also used by probes (apply/probe.ts): a probe's config names the same files. */
  writeCertificates(certs: RenderedConfig['certificates']): void {
    mkdirSync(this.certsDir, { recursive: true, mode: 0o700 });
    for (const c of certs) {
      const file = join(this.certsDir, c.name);
      if (existsSync(file)) continue; // named by content: present means identical
      const tmp = `${file}.tmp-${process.pid}`;
      writeFileSync(tmp, c.pem, { mode: 0o600 });
      renameSync(tmp, file);
    }
  }

  /** Certificates that no version directory still refers to (the agent prunes old versions). */
  private removeUnusedCertificates(): void {
    const used = new Set<string>();
    for (const v of readdirSync(this.versionsDir).filter(isVersionName)) {
      try {
        const meta = JSON.parse(readFileSync(join(this.versionsDir, v, 'meta.json'), 'utf8')) as Partial<VersionMeta>;
        for (const c of meta.certificates ?? []) used.add(c);
      } catch {
        return; // a version being pruned or unreadable: keep everything this time
      }
    }
    for (const f of readdirSync(this.certsDir)) if (f.endsWith('.pem') && !used.has(f)) rmSync(join(this.certsDir, f), { force: true });
  }
}
