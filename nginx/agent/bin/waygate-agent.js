#!/usr/bin/env node
// The nginx sidecar's entry point: checks the Node version, then runs nginx/agent/main.ts
// (imported only after the check: an older Node cannot load .ts files).
import { requireNode } from './node-version.js';

requireNode('waygate-agent', 'node_modules/.bin/node nginx/agent/bin/waygate-agent.js ...');
await import('../main.ts');
