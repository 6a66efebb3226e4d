// The running test bed, shared by every end-to-end suite of one mocha run. Kept on
// globalThis: mocha loads the fixture with require() and specs with import(), which can
// give this module two instances.
import type { Cluster } from './cluster/cluster.ts';

const slot = Symbol.for('waygate.testbed');
type Holder = { [slot]?: Cluster };

export function setTestbed(cluster: Cluster | undefined): void {
  (globalThis as Holder)[slot] = cluster;
}

/** The cluster that the global fixture started; throws when run outside `npm test`. */
export function testbed(): Cluster {
  const current = (globalThis as Holder)[slot];
  if (!current) throw new Error('the test bed is not running: end-to-end suites run under `npm test`, whose global fixture starts it');
  return current;
}
