// Red team, pure stages: tenant values that reach the Lua policy and nginx.conf as numbers or
// tokens. Durations (timeouts), endpoint addresses (EndpointSlices are tenant objects; they
// become Lua string literals in the policy's peer list), mirror fractions and backend weights.
import { expect } from 'chai';
import fc from 'fast-check';
import { nginxEndpoint } from '../../operator/src/dataplane/builder.ts';
import { shareUnits } from '../../operator/src/dataplane/backend-choice.ts';
import { mirrorUnits } from '../../operator/src/dataplane/mirror.ts';
import { quote } from '../../operator/src/dataplane/quote.ts';
import { MAX_TIMEOUT_MS, parseDuration, parseTimeout } from '../../operator/src/values/duration.ts';

const RUNS = { numRuns: 2000 };

describe('red team: tenant values reaching Lua and nginx.conf', () => {
  it('durations: any string is refused or parsed to a safe integer of ms; timeouts never exceed nginx\'s longest timer', () => {
    const durationish = fc.stringMatching(/^([0-9]{0,7}(h|m|s|ms|us|ns|d|)){0,6}[ .+\-eE]?$/);
    fc.assert(fc.property(fc.oneof(durationish, fc.string()), (s) => {
      const d = parseDuration(s);
      if ('ms' in d) expect(Number.isSafeInteger(d.ms) && d.ms >= 0, s).to.equal(true);
      const t = parseTimeout(s);
      if ('ms' in t) expect(t.ms, s).to.be.within(0, MAX_TIMEOUT_MS);
    }), RUNS);
    for (const s of ['1e3s', '-1s', '1.5s', '1 s', '1s ', '\n1s', '1s1s1s1s1s', '100000s', '1us', '0x10s', 'Infinitys', '']) expect(parseDuration(s), s).to.have.property('error');
    expect(parseTimeout('99999h')).to.have.property('error');
  });

  it('endpoints: whatever an EndpointSlice holds, nginx gets an IP:port token with nothing a Lua string or nginx.conf could read otherwise', () => {
    const ipish = fc.oneof(
      fc.ipV4(), fc.ipV6(), fc.ipV4Extended(), fc.string(),
      fc.constantFrom('fe80::1%eth0', '::ffff:127.0.0.1', '1.2.3.4"', '1.2.3.4\n', '[::1]]', '0:0:0:0:0:0:0:0', '01.2.3.4', '1.2.3.4/32', '..', '" os.exit() "'),
    );
    fc.assert(fc.property(ipish, fc.oneof(fc.integer({ min: -5, max: 70_000 }).map(String), fc.string()), fc.boolean(), (ip, port, bracket) => {
      const raw = bracket ? `[${ip}]:${port}` : `${ip}:${port}`;
      const e = nginxEndpoint(raw);
      if (e === undefined) return;
      expect(quote(e), raw).to.match(/^"[A-Za-z0-9._:/[\]-]+"$/);
      const p = Number(e.slice(e.lastIndexOf(':') + 1));
      expect(Number.isInteger(p) && p > 0 && p < 65536, raw).to.equal(true);
    }), RUNS);
  });

  it('mirror fractions: any numerator/denominator gives 0..10000 hundredths, never "all" unless all, never NaN', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 2 ** 31 - 1 }), (n, d) => {
      fc.pre(n <= d);
      const u = mirrorUnits({ fraction: { numerator: n, denominator: d } } as never);
      expect(Number.isInteger(u), `${n}/${d}`).to.equal(true);
      expect(u).to.be.within(0, 10_000);
      if (n === 0) expect(u).to.equal(0);
      if (n > 0) expect(u).to.be.greaterThan(0);
      if (n < d) expect(u).to.be.below(10_000);
    }), RUNS);
  });

  it('backend weights: shares are integers summing to 10000 for any weights the CRD allows (16 refs, 0..1000000)', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 1_000_000 }), { minLength: 1, maxLength: 16 }), (w) => {
      const u = shareUnits(w);
      expect(u).to.have.length(w.length);
      if (w.every((x) => x === 0)) { expect(u.every((x) => x === 0)).to.equal(true); return; }
      expect(u.reduce((s, x) => s + x, 0), JSON.stringify(w)).to.equal(10_000);
      w.forEach((x, i) => expect(Number.isInteger(u[i]) && u[i]! >= 0 && (x > 0 ? u[i]! > 0 : u[i] === 0), JSON.stringify(w)).to.equal(true));
    }), RUNS);
  });
});
