#!/usr/bin/env node
// waygate's entry point: checks the Node version, then runs operator/src/main.ts (imported
// only after the check: an older Node cannot load .ts files), with Node's compile cache in a
// private directory when there is one (compile-cache.js).
import { requireNode } from '../../nginx/agent/bin/node-version.js';

requireNode('waygate', 'npm run waygate -- ... or node_modules/.bin/node operator/bin/waygate.js ...');
const { enableWaygateCompileCache } = await import('./compile-cache.js');
await enableWaygateCompileCache();
await import('../src/main.ts');
