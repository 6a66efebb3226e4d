// Where the test bed keeps things. Sources live in the repo; builds are cached per machine
// (reused across clones and runs); the running cluster's state is throwaway.
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';

export const clusterSrcDir = dirname(fileURLToPath(import.meta.url));
export const repoRoot = join(clusterSrcDir, '..', '..');
export const goModuleDir = join(clusterSrcDir, 'go');

/** Built binaries, keyed by a hash of their sources: a second run does not rebuild. */
export const cacheDir = process.env.WAYGATE_CACHE_DIR ?? join(homedir(), '.cache', 'waygate');

/** Certificates, etcd data, logs, kubeconfig and the pid file of the running test bed. */
export const stateDir = process.env.WAYGATE_TESTBED_DIR ?? join(tmpdir(), 'waygate-testbed');

export interface Versions {
  goToolchain: string;
  kubernetes: string;
  kubernetesStaging: string;
  etcd: string;
  gatewayApi: string;
  gatewayApiChannel: 'standard' | 'experimental';
  nginxPackages: string[];
}

export const versions: Versions = JSON.parse(readFileSync(join(clusterSrcDir, 'versions.json'), 'utf8'));
