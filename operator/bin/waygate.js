#!/usr/bin/env node
// waygate's entry point: checks the Node version, then runs operator/src/main.ts (imported
// only after the check: an older Node cannot load .ts files).
import { requireNode } from '../../nginx/agent/bin/node-version.js';

requireNode('waygate', 'npm run waygate -- ... or node_modules/.bin/node operator/bin/waygate.js ...');
await import('../src/main.ts');
