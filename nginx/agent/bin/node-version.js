// The Node version check behind waygate's entry points. Plain JavaScript on purpose: an older
// Node must be able to parse this file to say why it cannot run waygate (Node 20 cannot even
// load the .ts sources, and would fail with ERR_UNKNOWN_FILE_EXTENSION instead).
// Keep its syntax old (no ?? or ?.) for the same reason.
import { readFileSync } from 'node:fs';

/** The minimum version as [major, minor, patch], from package.json's engines.node (">=X.Y.Z"). */
export function requiredNode() {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'));
  const range = pkg.engines && pkg.engines.node;
  const m = /^>=(\d+)\.(\d+)\.(\d+)$/.exec(range || '');
  if (!m) throw new Error('package.json engines.node must read ">=X.Y.Z", not ' + JSON.stringify(range));
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** True when `version` ("24.21.0") is older than `min`. */
export function olderThan(version, min) {
  const v = version.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    if (v[i] !== min[i]) return v[i] < min[i];
  }
  return false;
}

/** Exits with a message naming the pinned Node when this Node is too old. */
export function requireNode(program, hint) {
  const min = requiredNode();
  const have = process.versions.node;
  if (!olderThan(have, min)) return;
  process.stderr.write(
    program + ' needs Node >= ' + min.join('.') + ' (this is ' + have + '); ' +
    "run it with the project's pinned Node: " + hint + '\n',
  );
  process.exit(1);
}
