// Container logs in the CRI format the kubelet reads ("<RFC3339Nano> <stream> <F|P> <text>"),
// one file per container instance (<container>/<restartCount>.log), so that `previous`,
// `timestamps` and `sinceSeconds` can be answered without guessing.
import { appendFileSync, closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import type { Readable } from 'node:stream';

const maxLine = 16 * 1024;

const stamp = () => new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');

/** Appends a stream's output to a log file line by line; long lines are split as partial (P).
 * Resolves when the stream has ended and everything is in the file. */
export function captureStream(stream: Readable, streamName: 'stdout' | 'stderr', file: string): Promise<void> {
  let pending = '';
  const write = (text: string, tag: 'F' | 'P') => appendFileSync(file, `${stamp()} ${streamName} ${tag} ${text}\n`);
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    pending += chunk;
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      write(pending.slice(0, nl), 'F');
      pending = pending.slice(nl + 1);
    }
    while (pending.length > maxLine) {
      write(pending.slice(0, maxLine), 'P');
      pending = pending.slice(maxLine);
    }
  });
  return new Promise((resolve) => {
    stream.on('close', () => {
      if (pending) write(pending, 'F');
      pending = '';
      resolve();
    });
  });
}

export interface LogEntry {
  time: string;
  stream: string;
  partial: boolean;
  text: string;
}

export function parseLine(line: string): LogEntry | undefined {
  const m = line.match(/^(\S+) (stdout|stderr) ([FP]) (.*)$/s);
  return m ? { time: m[1], stream: m[2], partial: m[3] === 'P', text: m[4] } : undefined;
}

export interface LogQuery {
  timestamps?: boolean;
  tailLines?: number;
  /** Only entries at or after this time (sinceSeconds / sinceTime). */
  since?: Date;
  limitBytes?: number;
  /** stdout, stderr or both. */
  stream?: string;
}

/** Renders entries as kubectl shows them; a timestamp starts each line (not each partial piece). */
export class Renderer {
  private atLineStart = true;
  private readonly q: LogQuery;
  constructor(q: LogQuery) {
    this.q = q;
  }

  render(e: LogEntry): string {
    const prefix = this.q.timestamps && this.atLineStart ? `${e.time} ` : '';
    this.atLineStart = !e.partial;
    return `${prefix}${e.text}${e.partial ? '' : '\n'}`;
  }
}

export function selected(e: LogEntry, q: LogQuery): boolean {
  if (q.stream && q.stream !== 'All' && q.stream.toLowerCase() !== e.stream) return false;
  return !q.since || new Date(e.time).getTime() >= q.since.getTime();
}

/** The file's content for a query, the offset up to which it was read and the renderer's state (for follow). */
export function readLog(file: string, q: LogQuery): { text: string; offset: number; renderer: Renderer } {
  const raw = readFileSync(file, 'utf8');
  const complete = raw.slice(0, raw.lastIndexOf('\n') + 1);
  let entries = complete.split('\n').filter(Boolean).map(parseLine).filter((e): e is LogEntry => !!e && selected(e, q));
  if (q.tailLines !== undefined) {
    // A line is a run of partial (P) entries closed by a full (F) one.
    const lines: LogEntry[][] = [[]];
    for (const e of entries) {
      lines[lines.length - 1].push(e);
      if (!e.partial) lines.push([]);
    }
    const whole = lines.filter((l) => l.length);
    entries = whole.slice(Math.max(0, whole.length - q.tailLines)).flat();
  }
  const renderer = new Renderer(q);
  return { text: entries.map((e) => renderer.render(e)).join(''), offset: Buffer.byteLength(complete), renderer };
}

/** Complete lines appended since `offset`. */
export function readFrom(file: string, offset: number): { lines: string[]; offset: number } {
  const size = statSync(file).size;
  if (size <= offset) return { lines: [], offset };
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(size - offset);
    readSync(fd, buf, 0, buf.length, offset);
    const text = buf.toString('utf8');
    const end = text.lastIndexOf('\n') + 1;
    return { lines: text.slice(0, end).split('\n').filter(Boolean), offset: offset + Buffer.byteLength(text.slice(0, end)) };
  } finally {
    closeSync(fd);
  }
}
