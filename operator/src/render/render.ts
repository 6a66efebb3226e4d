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
  hash: string;
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
  const opts = { noEscape: true, strict: true, preventIndent: true };
  return {
    http: hb.compile(readFileSync(join(templatesDir, 'http.conf.hbs'), 'utf8'), opts),
    stream: hb.compile(readFileSync(join(templatesDir, 'stream.conf.hbs'), 'utf8'), opts),
  };
}

let templates: ReturnType<typeof compile> | undefined;

/** Line ranges between "# waygate:source KEY" and "# waygate:end", innermost wins; "# waygate:line KEY" marks one line. */
export function sourceRanges(file: string, text: string): SourceRange[] {
  const out: SourceRange[] = [];
  const stack: { object: string; from: number }[] = [];
  text.split('\n').forEach((line, i) => {
    const n = i + 1;
    const begin = line.match(/^\s*# waygate:source (\S+)$/)?.[1];
    const single = line.match(/# waygate:line (\S+)$/)?.[1];
    if (begin !== undefined) stack.push({ object: begin, from: n });
    else if (/^\s*# waygate:end$/.test(line)) {
      const top = stack.pop();
      if (top) out.push({ file, from: top.from, to: n, object: top.object });
    } else if (single !== undefined) out.push({ file, from: n, to: n, object: single });
  });
  // Innermost first: a lookup takes the first range that contains the line.
  return out.sort((a, b) => a.to - a.from - (b.to - b.from) || a.from - b.from);
}

export function renderConfig(http: HttpModel): RenderedConfig {
  templates ??= compile();
  const files: Record<string, string> = {
    'http.conf': templates.http(http).replace(/\n{3,}/g, '\n\n'),
    'stream.conf': templates.stream({}),
  };
  const hash = createHash('sha256');
  for (const name of Object.keys(files).sort()) hash.update(`${name}\0${files[name]}\0`);
  const sources = Object.entries(files).flatMap(([name, text]) => sourceRanges(name, text));
  return { files, certificates: http.certificates, sources, hash: hash.digest('hex') };
}

/** The object that produced a line of a rendered file, if any. */
export function objectAtLine(sources: readonly SourceRange[], file: string, line: number): string | undefined {
  return sources.find((s) => s.file === file && s.from <= line && line <= s.to)?.object;
}
