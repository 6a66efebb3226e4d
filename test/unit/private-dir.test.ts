// Private directories of the agent: refused inside a directory others may write (a planted
// nginx.conf would be loaded), unless that directory is declared a pod volume (an emptyDir
// is root-owned and world-writable, yet only the pod's containers see it).
import { expect } from 'chai';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePrivateDir, privateDirProblem } from '../../nginx/agent/private-dir.ts';

describe('agent: private directories and pod volumes', () => {
  let base: string;
  let volume: string;
  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'wg-private-'));
    chmodSync(base, 0o700);
    volume = join(base, 'run');
    mkdirSync(volume);
    chmodSync(volume, 0o777); // what an emptyDir looks like: world-writable, not sticky
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  it('a run dir inside a world-writable, non-sticky directory is refused, naming it', () => {
    expect(() => ensurePrivateDir(join(volume, 'nginx'), { what: 'run directory' })).to.throw(`is inside ${volume}, writable by group or others (mode 0777)`);
  });

  it('declared as the pod volume, the same parent is accepted; the run dir itself is made 0700', () => {
    const dir = ensurePrivateDir(join(volume, 'nginx'), { what: 'run directory', trustedParent: volume });
    expect(privateDirProblem(dir, volume)).to.equal(undefined);
  });

  it('the run dir itself is still checked: group/other-writable is refused even in the volume', () => {
    const dir = join(volume, 'nginx');
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    expect(privateDirProblem(dir, volume)).to.match(/writable by group or others/);
  });

  it('an unrelated "volume" does not relax the check of the real ancestors', () => {
    mkdirSync(join(volume, 'y'), { mode: 0o700 });
    chmodSync(join(volume, 'y'), 0o700);
    mkdirSync(join(base, 'other'));
    expect(privateDirProblem(join(volume, 'y'), join(base, 'other'))).to.match(/is inside .*run, writable by group or others/);
  });
});
