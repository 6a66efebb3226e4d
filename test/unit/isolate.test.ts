// The culprit search: finds exactly the objects whose removal is needed, in few tests.
import { expect } from 'chai';
import { findCulprits, findCulpritsSync } from '../../operator/src/isolate.ts';

/** A configuration of `n` objects that fails while any of `bad` is in it. */
const failsWith = (bad: readonly number[]) => (excluded: ReadonlySet<number>) => bad.every((b) => excluded.has(b));
const objects = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('culprit search (isolate.ts)', () => {
  it('finds the one culprit among 1,000 objects in about log2(1000) tests', () => {
    const r = findCulpritsSync(objects(1000), failsWith([637]));
    expect(r.culprits).to.deep.equal([637]);
    expect(r.tests).to.be.at.most(14);
  });

  it('finds several culprits and blames nothing else', () => {
    const r = findCulpritsSync(objects(200), failsWith([3, 150, 77]));
    expect(r.culprits).to.have.members([3, 150, 77]);
    expect(r.tests).to.be.at.most(3 * (2 + 8) + 1);
  });

  it('blames nobody when the configuration already passes, or when leaving out every suspect still fails', () => {
    expect(findCulpritsSync(objects(10), () => true)).to.deep.equal({ culprits: [], tests: 1 });
    expect(findCulpritsSync(objects(10), () => false).culprits).to.deep.equal([]);
  });

  it('a culprit that fails only together with another is found as one of the pair, and the pair is enough', () => {
    // fails while both 4 and 9 are present: removing either fixes it
    const r = findCulpritsSync(objects(20), (ex) => ex.has(4) || ex.has(9));
    expect(r.culprits).to.have.length(1);
    expect([4, 9]).to.include(r.culprits[0]);
  });

  it('the asynchronous search gives the same answer', async () => {
    const r = await findCulprits(objects(300), async (ex) => failsWith([42, 299])(ex));
    expect(r.culprits).to.have.members([42, 299]);
  });
});
