// Running commands for the test bed: every failure names the command and shows its output,
// and nothing waits forever.
import { spawn } from 'node:child_process';

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
  /** Kill the command after this many ms (default 10 minutes). */
  timeoutMs?: number;
  /** Stream output to the terminal as well (long builds). */
  echo?: boolean;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {
  readonly command: string;
  readonly result: RunResult;
  constructor(
    command: string,
    result: RunResult,
    why: string,
  ) {
    super(`${why}: ${command}\n${tail(result.stderr || result.stdout, 60)}`);
    this.command = command;
    this.result = result;
  }
}

/** The last `lines` lines of a text, for error messages. */
export function tail(text: string, lines: number): string {
  const all = text.trimEnd().split('\n');
  return (all.length > lines ? ['...', ...all.slice(-lines)] : all).join('\n');
}

export function quoteArgs(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** Runs a command to completion; never throws for a non-zero exit. */
export function tryRun(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (opts.echo) process.stdout.write(d);
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (opts.echo) process.stderr.write(d);
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      stderr += `\n(killed after ${opts.timeoutMs ?? 600_000} ms)`;
    }, opts.timeoutMs ?? 600_000);
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ENOENT') reject(new Error(`command not found: ${cmd} (is it installed and on PATH?)`));
      else reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    if (child.stdin) {
      child.stdin.on('error', () => {}); // a command may exit without reading its input
      child.stdin.end(opts.input);
    }
  });
}

/** Runs a command and returns its stdout; throws CommandError (command + output) on failure. */
export async function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  const result = await tryRun(cmd, args, opts);
  if (result.code !== 0) throw new CommandError(quoteArgs(cmd, args), result, `command failed with exit code ${result.code}`);
  return result.stdout;
}

/** Absolute path of a command on PATH, or undefined. */
export async function which(cmd: string): Promise<string | undefined> {
  const r = await tryRun('sh', ['-c', `command -v "$1"`, 'sh', cmd]);
  return r.code === 0 ? r.stdout.trim() : undefined;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** An error that ends a waitFor() at once (e.g. the process being waited for has died). */
export class FatalError extends Error {}

/** Polls `probe` until it returns a value, or throws after `timeoutMs` with the last failure. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      if (err instanceof FatalError) throw err;
      last = err;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? `: ${last.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await sleep(everyMs);
  }
}
