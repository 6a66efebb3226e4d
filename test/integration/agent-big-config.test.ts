// A config nginx takes long to parse (tens of thousands of routes take seconds) must still be
// applied: the agent waits for a reload as long as such a config needs (3 x its `nginx -t`
// time + 2 s), not only its configured verification time, else every reload of a big
// gateway would be judged a failure and the gateway stuck on an older version.
import { expect } from 'chai';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, type Agent, type Verdict } from '../../nginx/agent/agent.ts';
import { ConfigWriter } from '../../operator/src/apply/writer.ts';
import { freePort } from '../cluster/processes.ts';
import { get } from '../support/http.ts';
import { captureLogger } from '../support/logs.ts';

/** Many server blocks with regex locations: nginx parses this in about a second here. */
function bigHttp(port: number, servers: number, text: string): string {
  const out: string[] = [`server {\n    listen 127.0.0.1:${port} default_server;\n    location / { return 200 "${text}"; }\n}`];
  for (let i = 0; i < servers; i++) out.push(`server { listen 127.0.0.1:${port}; server_name h${i}.big.example.com; location ~ ^/a${i}/[0-9]+/(x|y)$ { return 200; } location /b${i}/ { return 200; } }`);
  return `server_names_hash_max_size 65536;\nserver_names_hash_bucket_size 128;\n${out.join('\n')}\n`;
}

describe('nginx agent: a config nginx takes long to parse', function () {
  this.timeout(120_000);
  let root: string;
  let agent: Agent | undefined;
  const verdicts: Verdict[] = [];
  const log = captureLogger();

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'waygate-agent-big-'));
    chmodSync(root, 0o755);
  });
  after(async () => {
    await agent?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('is applied although its reload takes longer than the configured verification time (200 ms)', async () => {
    const port = await freePort();
    agent = await startAgent({ configRoot: join(root, 'config'), runDir: join(root, 'run'), logger: log.logger, verifyTimeoutMs: 200, rescanIntervalMs: 0, accessLog: false });
    agent.onVerdict((v) => verdicts.push(v));
    const writer = new ConfigWriter(join(root, 'config'));
    const write = (text: string) => writer.write({ files: { 'http.conf': bigHttp(port, 4_000, text), 'stream.conf': '' }, certificates: [], sources: [], hash: text });
    for (const text of ['one', 'two']) {
      const version = write(text);
      const deadline = Date.now() + 60_000;
      while (!verdicts.some((v) => v.version === version) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const v = verdicts.find((x) => x.version === version);
      expect(v, `verdict for version ${version}`).to.not.equal(undefined);
      console.log(`      version ${version}: nginx -t + ${v!.reloaded ? 'reload' : 'start'} + verification ${v!.durationMs} ms`);
      expect(v, `version ${version} (${text}) applied`).to.include({ ok: true, live: version });
      expect((await get('127.0.0.1', port, '/', { host: 'any' })).body).to.equal(text);
    }
  });
});
