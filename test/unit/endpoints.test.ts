// Upstream server addresses as nginx's parser takes them: an endpoint nginx refuses would
// fail `nginx -t` for every route (found by the fuzz: "0:0:0:0:0:0:e249::", "fe80::1%eth0").
import { expect } from 'chai';
import { nginxEndpoint } from '../../operator/src/dataplane/builder.ts';

describe('upstream endpoints (nginxEndpoint)', () => {
  it('writes IPv6 addresses in the canonical form nginx parses', () => {
    expect(nginxEndpoint('[0:0:0:0:0:0:e249::]:80')).to.equal('[::e249:0]:80');
    expect(nginxEndpoint('[2001:0db8:0000:0000:0000:0000:0000:0001]:443')).to.equal('[2001:db8::1]:443');
    expect(nginxEndpoint('10.0.0.1:8080')).to.equal('10.0.0.1:8080');
  });

  it('leaves out what nginx cannot take: zones, bad ports, non-addresses', () => {
    for (const bad of ['[fe80::1%eth0]:80', '10.0.0.1:0', '10.0.0.1:65536', 'example.com:80', '10.0.0.1', '[::1]:x']) expect(nginxEndpoint(bad), bad).to.equal(undefined);
  });
});
