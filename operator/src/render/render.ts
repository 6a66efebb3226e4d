// Model -> files, through the handlebars templates in templates/. Templates compile with
// noEscape (HTML escaping means nothing to nginx) and print only model values, which are
// quoted tokens or generated identifiers. Output is deterministic, and its hash decides
// whether anything changed. Source markers in the output map lines back to objects, so
// an `nginx -t` failure can be reported on the route that produced the line.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';
import type { HttpModel } from '../dataplane/model.ts';
import type { StreamModel } from '../dataplane/stream-model.ts';
import { renderManifest, TLS_ORIGIN_FILE } from '../dataplane/tls-origin.ts';
import { PEERS_FILE } from '../../../nginx/agent/peers.ts';
import { renderPeers } from './peers.ts';
import { renderCertificateSets } from './certs.ts';
import { CERTS_FILE } from '../../../nginx/agent/certs.ts';
import { ROUTES_FILE } from '../../../nginx/agent/routes.ts';
import { renderRouteTable } from '../dataplane/route-table.ts';

export const templatesDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'templates');

export interface SourceRange {
  file: string;
  from: number;
  to: number;
  object: string;
}

export interface RenderedConfig {
  files: Record<string, string>;
  /** Certificate bundles the config refers to (by content hash), written apart from versions. */
  certificates: HttpModel['certificates'];
  sources: SourceRange[];
  /** Of every file but peers.txt, certs.txt and routes.txt: a version with an equal hash needs no reload. */
  hash: string;
  /** Of peers.txt, certs.txt and routes.txt: endpoints, HTTPS certificates and the route table (pushed to nginx without a reload). */
  peersHash?: string;
}

const OBJECT_KEY = /^[A-Za-z]+\/[a-z0-9][a-z0-9.-]*(\/[a-z0-9][a-z0-9.-]*)?$/;

function compile(): { http: Handlebars.TemplateDelegate; stream: Handlebars.TemplateDelegate } {
  const hb = Handlebars.create();
  // Object keys are DNS names joined by "/"; anything else must not reach a comment line.
  hb.registerHelper('comment', (key: unknown) => {
    if (typeof key !== 'string' || !OBJECT_KEY.test(key)) throw new Error(`unsafe object key in comment: ${JSON.stringify(key)}`);
    return key;
  });
  const partials = join(templatesDir, 'http');
  for (const f of readdirSync(partials).filter((n) => n.endsWith('.hbs')).sort()) {
    hb.registerPartial(basename(f, '.hbs'), readFileSync(join(partials, f), 'utf8'));
  }
  // Per-render cost, not behaviour: the templates use no @index, @first or other @data, so
  // data: false lets handlebars reuse one wrapper per block instead of making one at every
  // use (90 MiB less garbage per 10,000-route render); with knownHelpersOnly a value
  // ({{name}}) is a property lookup, not first a helper lookup (no value is named like a
  // helper; an unknown helper in a template fails its compilation).
  const opts = { noEscape: true, strict: true, preventIndent: true, data: false, knownHelpers: { comment: true }, knownHelpersOnly: true };
  return {
    http: hb.compile(readFileSync(join(templatesDir, 'http.conf.hbs'), 'utf8'), opts),
    stream: hb.compile(readFileSync(join(templatesDir, 'stream.conf.hbs'), 'utf8'), opts),
  };
}

let templates: ReturnType<typeof compile> | undefined;

/** What every source comment line contains. */
const MARKER = '# waygate:';

/** Line ranges between "# waygate:source KEY" and "# waygate:end", innermost wins; "# waygate:line KEY" marks one line. */
export function sourceRanges(file: string, text: string): SourceRange[] {
  const out: SourceRange[] = [];
  const stack: { object: string; from: number }[] = [];
  // Only lines with a marker are looked at (a 10,000-route http.conf has 203,000 lines, a
  // fifth with markers): from one marker to the next, newlines are counted, not split off.
  let n = 1;
  let counted = 0;
  for (let at = text.indexOf(MARKER); at >= 0; ) {
    const start = text.lastIndexOf('\n', at) + 1;
    const lineEnd = text.indexOf('\n', at);
    const end = lineEnd < 0 ? text.length : lineEnd;
    for (let nl = text.indexOf('\n', counted); nl >= 0 && nl < start; nl = text.indexOf('\n', nl + 1)) n++;
    counted = start;
    const line = text.slice(start, end);
    at = lineEnd < 0 ? -1 : text.indexOf(MARKER, end);
    const begin = line.match(/^\s*# waygate:source (\S+)$/)?.[1];
    const single = line.match(/# waygate:line (\S+)$/)?.[1];
    if (begin !== undefined) stack.push({ object: begin, from: n });
    else if (/^\s*# waygate:end$/.test(line)) {
      const top = stack.pop();
      if (top) out.push({ file, from: top.from, to: n, object: top.object });
    } else if (single !== undefined) out.push({ file, from: n, to: n, object: single });
  }
  // Innermost first: a lookup takes the first range that contains the line.
  return out.sort((a, b) => a.to - a.from - (b.to - b.from) || a.from - b.from);
}

export function renderConfig(http: HttpModel, stream?: StreamModel): RenderedConfig {
  templates ??= compile();
  const files: Record<string, string> = {
    'http.conf': templates.http(http).replace(/\n{3,}/g, '\n\n'),
    'stream.conf': stream?.servers.length ? templates.stream(stream) : '# Generated by waygate: no TLS, TCP or UDP listeners.\n',
  };
  // The agent's TLS hop (subjectAltNames): its sockets, read by the agent before nginx loads this version.
  const origins = [...http.tlsOrigins, ...(stream?.tlsOrigins ?? [])];
  if (origins.length) files[TLS_ORIGIN_FILE] = renderManifest(origins);
  // Certificates of both blocks, once each (named by content hash).
  const certificates = [...http.certificates, ...(stream?.certificates ?? []).filter((c) => !http.certificates.some((h) => h.name === c.name))];
  const hash = createHash('sha256');
  for (const name of Object.keys(files).sort()) hash.update(`${name}\0${files[name]}\0`);
  const sources = Object.entries(files).flatMap(([name, text]) => sourceRanges(name, text));
  // The endpoints: written with the version, outside its hash (the agent pushes them, no reload).
  const peers = renderPeers(http.upstreams);
  if (peers) files[PEERS_FILE] = peers;
  // The HTTPS certificates' files by key: also outside the hash (rotation without a reload).
  const certificateSets = renderCertificateSets(http.certificateSets);
  if (certificateSets) files[CERTS_FILE] = certificateSets;
  // The route table's plain rules: outside the hash too (a route change without a reload).
  const routes = renderRouteTable(http.routeTable);
  if (routes) files[ROUTES_FILE] = routes;
  const peersHash = createHash('sha256').update(peers).update('\0').update(certificateSets).update('\0').update(routes).digest('hex');
  return { files, certificates, sources, hash: hash.digest('hex'), peersHash };
}

/** The object that produced a line of a rendered file, if any. */
export function objectAtLine(sources: readonly SourceRange[], file: string, line: number): string | undefined {
  return sources.find((s) => s.file === file && s.from <= line && line <= s.to)?.object;
}
