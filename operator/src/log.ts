// winston logger: readable text on a terminal, JSON lines otherwise (cluster logs).
import winston from 'winston';

export function createLogger(opts: { level?: string; json?: boolean } = {}): winston.Logger {
  const json = opts.json ?? !process.stderr.isTTY;
  return winston.createLogger({
    level: opts.level ?? process.env.WAYGATE_LOG_LEVEL ?? 'info',
    format: json
      ? winston.format.combine(winston.format.timestamp(), winston.format.json())
      : winston.format.combine(
          winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
          winston.format.printf(({ timestamp, level, message, ...rest }) =>
            `${timestamp} ${level.padEnd(5)} ${message}${Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : ''}`),
        ),
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })],
  });
}

export type Logger = winston.Logger;
