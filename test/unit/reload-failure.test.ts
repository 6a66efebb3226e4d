// The agent judges a reload from nginx's error log since the SIGHUP: only the master's own
// lines count, so that what clients make workers log cannot make a good version look refused.
import { expect } from 'chai';
import { reloadFailure } from '../../nginx/agent/nginx.ts';

const line = (pid: number, level: string, text: string) => `2026/11/28 13:31:32 [${level}] ${pid}#${pid}: ${text}`;

describe('reloadFailure (the error log since a SIGHUP)', () => {
  it("a worker's [crit] from a client (an OpenSSL 3 handshake error nginx 1.22 logs at crit) is not a failed reload", () => {
    const log = [line(200, 'notice', 'signal process started'), line(301, 'crit', '*7 SSL_do_handshake() failed (SSL: error:0A00006C:SSL routines::bad key share) while SSL handshaking, client: 203.0.113.9')].join('\n');
    expect(reloadFailure(log, 200)).to.equal(undefined);
  });

  it("the master's own [emerg] is a failed reload, named", () => {
    const log = [line(301, 'crit', '*7 connect() to unix:/run/x.sock failed'), line(200, 'emerg', 'unknown directive "bogus" in /run/nginx.conf:3')].join('\n');
    expect(reloadFailure(log, 200)).to.equal('[emerg] unknown directive "bogus" in /run/nginx.conf:3');
  });

  it("the master's bind() retries are not a failure until it gives up", () => {
    const retrying = line(200, 'emerg', 'bind() to 127.0.0.1:80 failed (98: Address already in use)');
    expect(reloadFailure(retrying, 200)).to.equal(undefined);
    expect(reloadFailure([retrying, line(200, 'emerg', 'still could not bind()')].join('\n'), 200)).to.match(/still could not bind/);
  });
});
