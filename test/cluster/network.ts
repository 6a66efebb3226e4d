// Addresses for backends that the API server accepts in EndpointSlices (it refuses
// loopback and link-local): a /32 of a private range added to the loopback interface, so
// traffic to it never leaves the machine. Needs root (the test bed runs as root).
import { run, tryRun } from './exec.ts';

/** The address end-to-end backends listen on. */
export const backendAddress = process.env.WAYGATE_TEST_BACKEND_IP ?? '10.250.0.1';

export async function addLoopbackAlias(ip = backendAddress): Promise<void> {
  const r = await tryRun('ip', ['addr', 'add', `${ip}/32`, 'dev', 'lo']);
  if (r.code !== 0 && !/File exists|already assigned/.test(r.stderr)) throw new Error(`cannot add ${ip} to lo (ip addr add): ${r.stderr.trim()}`);
}

export async function removeLoopbackAlias(ip = backendAddress): Promise<void> {
  const has = await run('ip', ['-o', 'addr', 'show', 'dev', 'lo']);
  if (has.includes(` ${ip}/32`)) await tryRun('ip', ['addr', 'del', `${ip}/32`, 'dev', 'lo']);
}
