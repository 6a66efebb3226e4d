// What keeps the agent's run directory (a size-limited pod volume) bounded: nginx spools
// nothing to disk, and the error log is cut when it grows past its cap.
import { expect } from 'chai';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { composeMainConfig, runPaths } from '../../nginx/agent/config.ts';
import { luaHttp } from '../../nginx/agent/lua.ts';
import { capErrorLog } from '../../nginx/agent/nginx.ts';

describe('agent: the run directory stays bounded', () => {
  it('nginx buffers neither request bodies nor responses in temp files', () => {
    const conf = composeMainConfig({ runDir: '/run/w', versionDir: '/var/lib/w/versions/3', version: '3' });
    const http = conf.slice(conf.indexOf('http {'));
    expect(http).to.match(/^\s*proxy_request_buffering off;$/m);
    expect(http).to.match(/^\s*proxy_max_temp_file_size 0;$/m);
  });

  it('the access log is written in buffered pieces, to a file or stdout, and off when asked', () => {
    const http = (accessLog?: string | false) => { const c = composeMainConfig({ runDir: '/run/w', versionDir: '/var/lib/w/versions/3', version: '3', accessLog }); return c.slice(c.indexOf('http {')); };
    expect(http()).to.match(/^\s*access_log \/run\/w\/access\.log combined buffer=64k flush=1s;$/m);
    expect(http('stdout')).to.match(/^\s*access_log \/dev\/stdout combined buffer=64k flush=1s;$/m);
    expect(http(false)).to.match(/^\s*access_log off;$/m).and.not.to.include('buffer=');
  });

  it('the error log is truncated past its cap and left alone below it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wg-errlog-'));
    try {
      const log = runPaths(dir).errorLog;
      writeFileSync(log, 'x'.repeat(1000));
      capErrorLog(dir, 2000);
      expect(statSync(log).size).to.equal(1000);
      writeFileSync(log, 'x'.repeat(3000));
      capErrorLog(dir, 2000);
      expect(statSync(log).size).to.equal(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('agent: the generation of a main config (waygate/drain.lua)', () => {
  const generation = (version: string) => /require\("waygate\.drain"\)\.generation = "(\d+)";/.exec(composeMainConfig({ runDir: '/run/w', versionDir: undefined, version }))?.[1];

  it('is the version for a numbered version, of any length; none for any other (the empty config, a probe): those never ask to close', () => {
    expect(generation('3')).to.equal('3');
    expect(generation('12345678901234567890')).to.equal('12345678901234567890');
    expect(generation('')).to.equal(undefined);
    expect(generation('probe-7')).to.equal(undefined);
  });

  it('reaches Lua only as a decimal integer without leading zeros', () => {
    expect(luaHttp({ generation: '000012' })).to.include('.generation = "12";');
    for (const bad of ['1; os.exit()', '1"', '-1', '1e3', '9'.repeat(65), '']) {
      expect(() => luaHttp({ generation: bad }), bad).to.throw(/not a generation/);
    }
  });
});
