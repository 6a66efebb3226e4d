// The entry point's compile cache (operator/bin/compile-cache.js): used only in a private
// directory, never when the environment chose otherwise, and filled by a `waygate` run.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error: plain JavaScript (the entry point's helpers must load before any .ts)
import { compileCacheDir, enableWaygateCompileCache } from '../../operator/bin/compile-cache.js';

const root = join(import.meta.dirname, '..', '..');

describe('compile cache of the waygate entry point', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'waygate-cc-test-'));
    chmodSync(dir, 0o700);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('lives in $XDG_CACHE_HOME/waygate, else ~/.cache/waygate, never in a relative path', () => {
    expect(compileCacheDir({ XDG_CACHE_HOME: '/x/cache' })).to.equal('/x/cache/waygate/node-compile-cache');
    expect(compileCacheDir({})).to.match(/\/\.cache\/waygate\/node-compile-cache$/);
    expect(compileCacheDir({ XDG_CACHE_HOME: 'cache' })).to.equal(undefined);
  });

  it('is not used in a directory others may write, nor when the environment chose', async () => {
    chmodSync(dir, 0o777);
    const r = await enableWaygateCompileCache({ XDG_CACHE_HOME: dir });
    expect(r.skipped).to.match(/writable by group or others/);
    expect(r.dir).to.equal(undefined);
    expect((await enableWaygateCompileCache({ XDG_CACHE_HOME: dir, NODE_DISABLE_COMPILE_CACHE: '1' })).skipped).to.match(/environment/);
    expect((await enableWaygateCompileCache({ XDG_CACHE_HOME: dir, NODE_COMPILE_CACHE: join(dir, 'mine') })).skipped).to.match(/environment/);
  });

  it('is filled by a waygate run in a private directory (0700)', () => {
    const env: NodeJS.ProcessEnv = { ...process.env, XDG_CACHE_HOME: dir };
    delete env.NODE_COMPILE_CACHE;
    delete env.NODE_DISABLE_COMPILE_CACHE;
    const r = spawnSync(process.execPath, [join(root, 'operator/bin/waygate.js'), 'render'], { env, encoding: 'utf8' });
    expect(r.stderr).to.contain('usage: waygate render');
    const cache = join(dir, 'waygate', 'node-compile-cache');
    expect(readdirSync(cache)).to.not.be.empty;
  });
});
