// `npm start`: the standalone gateway on this machine with the example routes in
// examples/ and three small echo backends, no cluster needed. Edit the YAML while it runs:
// the change is validated, rendered, tested by nginx and applied.
import { join } from 'node:path';
import { ensureNginx } from '../test/cluster/nginx.ts';
import { createLogger } from '../operator/src/log.ts';
import { defaultControllerName, supportedFeatures } from '../operator/src/features.ts';
import { startStandalone } from '../operator/src/modes/standalone.ts';
import { startEcho } from './echo.ts';

const logger = createLogger();
const nginx = await ensureNginx((m) => logger.info(m));
// The EndpointSlices in 20-backends.yaml name these ports.
const backends = await Promise.all([startEcho('store', 18081), startEcho('store-v2', 18082), startEcho('search', 18083)]);
const dir = import.meta.dirname;
// Handled from the start, so Ctrl-C while starting still stops nginx.
const stopped = new Promise<void>((resolve) => { for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => resolve()); });
const standalone = await startStandalone({
  dir,
  // Default: a private directory ($XDG_RUNTIME_DIR/waygate, or a new one under the temp dir).
  runDir: process.env.WAYGATE_RUN_DIR,
  controllerName: defaultControllerName,
  supportedFeatures,
  logger,
  nginxBinary: nginx.binary,
});
await standalone.controller.idle();
await standalone.agent.settled();
console.log(`
waygate is serving ${dir} on http://127.0.0.1:8080 (Ctrl-C stops it). Try:
  curl -s -H 'Host: store.example.com' http://127.0.0.1:8080/            # store
  curl -s -H 'Host: store.example.com' -H 'x-version: 2' http://127.0.0.1:8080/   # store-v2
  curl -s 'http://127.0.0.1:8080/?v=2' -H 'Host: store.example.com'      # store-v2
  curl -si -H 'Host: store.example.com' http://127.0.0.1:8080/search     # 500: no ReferenceGrant
  curl -si -H 'Host: search.example.com' http://127.0.0.1:8080/          # 404: team-b not allowed
  npm run waygate -- render --status examples/                           # every object's conditions
Status is also written to ${join(standalone.runDir, 'status.yaml')}.
`);
await stopped;
await standalone.stop();
await Promise.all(backends.map((b) => b.close()));
process.exit(0);
