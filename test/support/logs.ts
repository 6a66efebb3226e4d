// A winston logger that keeps its lines ("level message"), for assertions on what a
// component reported; WAYGATE_TEST_LOG=1 also prints them.
import { Writable } from 'node:stream';
import winston from 'winston';

export function captureLogger(level = 'info'): { logger: winston.Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk).trimEnd());
      if (process.env.WAYGATE_TEST_LOG) process.stderr.write(chunk);
      done();
    },
  });
  const logger = winston.createLogger({ level, format: winston.format.printf((i) => `${i.level} ${String(i.message)}`), transports: [new winston.transports.Stream({ stream })] });
  return { logger, lines };
}
