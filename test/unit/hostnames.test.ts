import { expect } from 'chai';
import { hostnameMatches, intersectHostnames } from '../../operator/src/graph/hostnames.ts';

describe('hostnames (spec: Listener.hostname, HTTPRoute.spec.hostnames)', () => {
  const matches: [string, string, boolean][] = [
    ['foo.example.com', 'foo.example.com', true],
    ['*.example.com', 'foo.example.com', true],
    ['*.example.com', 'a.b.example.com', true],
    ['*.example.com', 'example.com', false],
    ['*.example.com', 'fooexample.com', false],
    ['foo.example.com', '*.example.com', false],
    ['*.example.com', '*.foo.example.com', true],
  ];
  for (const [pattern, host, want] of matches) {
    it(`${pattern} ${want ? 'covers' : 'does not cover'} ${host}`, () => expect(hostnameMatches(pattern, host)).to.equal(want));
  }

  const intersections: [string | undefined, string[] | undefined, string[]][] = [
    [undefined, undefined, ['*']],
    [undefined, ['a.example.com'], ['a.example.com']],
    ['a.example.com', undefined, ['a.example.com']],
    ['*.example.com', ['a.example.com', 'other.org'], ['a.example.com']],
    ['a.example.com', ['*.example.com'], ['a.example.com']],
    ['a.example.com', ['b.example.com'], []],
    ['*.example.com', ['*.example.com'], ['*.example.com']],
    ['*.example.com', ['*.org'], []],
  ];
  for (const [listener, route, want] of intersections) {
    it(`listener ${listener ?? '(none)'} with route ${JSON.stringify(route ?? null)} serves ${JSON.stringify(want)}`, () =>
      expect(intersectHostnames(listener, route)).to.deep.equal(want));
  }
});
