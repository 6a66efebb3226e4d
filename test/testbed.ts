// The running test bed, shared by every end-to-end suite of one mocha run.
import type { Cluster } from './cluster/cluster.ts';

let current: Cluster | undefined;

export function setTestbed(cluster: Cluster | undefined): void {
  current = cluster;
}

/** The cluster that the global fixture started; throws when run outside `npm test`. */
export function testbed(): Cluster {
  if (!current) throw new Error('the test bed is not running: end-to-end suites run under `npm test`, whose global fixture starts it');
  return current;
}
