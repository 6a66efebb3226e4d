// A winston logger that keeps its messages, for assertions on what an operator reported.
import { Writable } from 'node:stream';
import winston from 'winston';

export function captureLogger(level = 'info'): { logger: winston.Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
  const logger = winston.createLogger({ level, format: winston.format.json(), transports: [new winston.transports.Stream({ stream })] });
  return { logger, lines };
}
