// Reading Gateway API YAML from files for the standalone and render modes: every
// document is parsed, validated as the API server would (CRD schemas and CEL rules,
// core kinds), defaulted, and either kept or reported with its file, document and field.
// One bad file or object never stops the others.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { Lexer, parseAllDocuments } from 'yaml';
import { isWatchedKind, watchedKinds, type KubeObject } from '../objects.ts';
import { parseSimpleYaml } from './simple-yaml.ts';
import { loadCrdValidator, validateCoreObject, type CrdValidator } from '../validation/crd.ts';

export interface LoadError {
  file: string;
  /** 1-based document index within the file, when the problem is one document. */
  document?: number;
  object?: string;
  message: string;
}

export interface Loaded {
  objects: KubeObject[];
  errors: LoadError[];
}

const YAML_EXT = new Set(['.yaml', '.yml', '.json']);

// Limits against hostile files (a file is refused, the others load): a Kubernetes object is
// at most ~1.5 MiB, and Gateway API objects nest about 10 levels deep. The yaml parser
// needs seconds for megabytes of nested brackets, hence the size and a lexer pass first.
export const MAX_FILE_BYTES = 2 << 20;
export const MAX_DEPTH = 100;
/** Alias resolutions per document (yaml's own guard against "billion laughs" expansion). */
export const MAX_ALIAS_COUNT = 100;

/** Files under the given paths (directories recursively), sorted for a stable order. */
export function listFiles(paths: readonly string[]): { files: string[]; errors: LoadError[] } {
  const files: string[] = [];
  const errors: LoadError[] = [];
  const walk = (p: string, explicit: boolean) => {
    let st;
    try {
      st = statSync(p);
    } catch (e) {
      errors.push({ file: p, message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
      return;
    }
    if (st.isDirectory()) for (const n of readdirSync(p).sort()) { if (!n.startsWith('.')) walk(join(p, n), false); }
    else if (explicit || YAML_EXT.has(extname(p))) files.push(p);
  };
  for (const p of paths) walk(p, true);
  return { files, errors };
}

let validator: CrdValidator | undefined;

function describe(raw: unknown): string {
  const obj = raw as { kind?: unknown; metadata?: { namespace?: unknown; name?: unknown } } | null | undefined; // read with ?. throughout
  return `${String(obj?.kind ?? '?')} ${obj?.metadata?.namespace ? `${String(obj.metadata.namespace)}/` : ''}${String(obj?.metadata?.name ?? '?')}`;
}

/** Validates and defaults one object; returns it or the reasons it was refused. */
export function admit(raw: unknown): { object?: KubeObject; problems: string[] } {
  const obj = raw as KubeObject;
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return { problems: ['not an object'] };
  if (typeof obj.kind !== 'string' || typeof obj.apiVersion !== 'string') return { problems: ['apiVersion and kind are required'] };
  if (!isWatchedKind(obj.kind)) return { problems: [`kind ${obj.kind} is not read by waygate`] };
  const info = watchedKinds[obj.kind];
  const crdKind = info.group.startsWith('gateway.networking');
  // The input is never changed. The CRD validator returns a deep copy of JSON values of its
  // own, so its kinds need only their top level and metadata copied here (the deep clone
  // cost ~0.1 s per 10,000 routes); core kinds are validated in place, so they get a deep one.
  const copy: KubeObject = crdKind ? { ...obj } : structuredClone(obj);
  copy.metadata = { ...(copy.metadata ?? {}) } as KubeObject['metadata'];
  if (info.namespaced) copy.metadata.namespace ??= 'default';
  else delete copy.metadata.namespace;
  copy.metadata.generation ??= 1;
  if (crdKind) {
    validator ??= loadCrdValidator();
    const r = validator.validate(copy);
    if (!r) return { problems: [`${obj.apiVersion} ${obj.kind} is not served by the installed CRDs`] };
    if (r.errors.length) return { problems: r.errors.map((e) => `${e.field}: ${e.message}`) };
    return { object: r.object, problems: [] };
  }
  const problems = validateCoreObject(copy).map((e) => `${e.field}: ${e.message}`);
  return problems.length ? { problems } : { object: copy, problems: [] };
}

export function loadFiles(paths: readonly string[]): Loaded {
  const { files, errors } = listFiles(paths);
  const objects: KubeObject[] = [];
  const seen = new Map<string, string>();
  for (const file of files) {
    let text: string;
    try {
      const size = statSync(file).size;
      if (size > MAX_FILE_BYTES) {
        errors.push({ file, message: `too large: ${size} bytes, the limit is ${MAX_FILE_BYTES >> 20} MiB per file` });
        continue;
      }
      text = readFileSync(file, 'utf8');
    } catch (e) {
      errors.push({ file, message: `cannot read: ${(e as Error).message}` });
      continue;
    }
    if (text.length > MAX_FILE_BYTES) {
      errors.push({ file, message: `too large: more than ${MAX_FILE_BYTES >> 20} MiB (it grew while being read)` });
      continue;
    }
    // Plain block YAML (what manifests are made of) takes the fast path, which returns
    // exactly yaml's values or nothing; anything else goes through yaml and its limits.
    // (The fast path's values are never nested deeper than MAX_DEPTH: it leaves those to yaml.)
    const fast = parseSimpleYaml(text, MAX_DEPTH);
    const values = fast ?? parseWithYaml(file, text, errors);
    if (!values) continue;
    values.forEach((value, i) => {
      if (value instanceof DocumentError) {
        errors.push({ file, document: i + 1, message: value.message });
        return;
      }
      if (value === null || value === undefined) return; // empty document
      if (!fast && depthExceeds(value, MAX_DEPTH)) {
        errors.push({ file, document: i + 1, message: `nested deeper than ${MAX_DEPTH} levels` });
        return;
      }
      const list = value as { kind?: unknown; items?: unknown };
      const items: unknown[] = list.kind === 'List' && Array.isArray(list.items) ? list.items : [value];
      for (const item of items) {
        const { object, problems } = admit(item);
        if (!object) {
          errors.push({ file, document: i + 1, object: describe(item), message: problems.join('; ') });
          continue;
        }
        const key = `${object.kind}/${object.metadata.namespace ?? ''}/${object.metadata.name}`;
        if (seen.has(key)) {
          errors.push({ file, document: i + 1, object: describe(object), message: `already defined in ${seen.get(key)}; this copy is ignored` });
          continue;
        }
        seen.set(key, file);
        objects.push(object);
      }
    });
  }
  return { objects, errors };
}

/** A document yaml refused, in place of its value (reported in document order with the others' problems). */
class DocumentError {
  readonly message: string;
  constructor(message: string) {
    this.message = message;
  }
}

/** The documents' values as yaml parses them, with the limits; undefined when the whole file is refused (then reported). */
function parseWithYaml(file: string, text: string, errors: LoadError[]): unknown[] | undefined {
  if (flowDepthExceeds(text, MAX_DEPTH)) {
    errors.push({ file, message: `nested deeper than ${MAX_DEPTH} levels` });
    return undefined;
  }
  let docs;
  try {
    docs = parseAllDocuments(text, { prettyErrors: true });
  } catch (e) {
    errors.push({ file, message: `invalid YAML: ${(e as Error).message}` });
    return undefined;
  }
  if (!Array.isArray(docs)) return undefined;
  return docs.map((doc, i) => {
    const [yamlError] = doc.errors;
    if (yamlError) return new DocumentError(`invalid YAML: ${yamlError.message}`);
    try {
      return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (e) {
      // yaml throws a ReferenceError when aliases would expand beyond maxAliasCount.
      return new DocumentError(`refused: ${(e as Error).message} (aliases may expand at most ${MAX_ALIAS_COUNT} times)`);
    }
  });
}

/** Flow collections (`[`, `{`) nested deeper than `max`, found by the linear lexer before parsing. */
function flowDepthExceeds(text: string, max: number): boolean {
  let depth = 0;
  for (const token of new Lexer().lex(text)) {
    if (token === '[' || token === '{') {
      if (++depth > max) return true;
    } else if (token === ']' || token === '}') depth = Math.max(0, depth - 1);
  }
  return false;
}

/** Whether a parsed value nests deeper than `max` (block collections; iterative, stops early). */
function depthExceeds(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  const seen = new Map<object, number>(); // aliases share objects: revisit one only when reached deeper
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object' || (seen.get(v) ?? -1) >= d) continue;
    if (d >= max) return true;
    seen.set(v, d);
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1]);
  }
  return false;
}

export function formatLoadError(e: LoadError): string {
  return `${e.file}${e.document ? ` (document ${e.document})` : ''}${e.object ? ` ${e.object}` : ''}: ${e.message}`;
}
