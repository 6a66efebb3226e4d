// The one logger factory: winston, readable text on a terminal, JSON lines otherwise
// (cluster logs). Components log through child loggers that carry `component`; lines about
// one object carry `kind`, `namespace` and `name` (objectFields), so a log query can
// select every line about a route. Every line passes redactSecrets last: TLS material
// (PEM blocks, base64 of them, long base64 blobs such as a Secret's tls.key) never reaches
// the output, whatever a message or its fields contain.
import winston from 'winston';
import { redactLine, redactSecrets } from '../../nginx/agent/redact.ts';

export type Logger = winston.Logger;

export { redactSecrets };

export function createLogger(opts: { level?: string; json?: boolean; transports?: winston.transport[] } = {}): Logger {
  const json = opts.json ?? !process.stderr.isTTY;
  return winston.createLogger({
    level: opts.level ?? process.env.WAYGATE_LOG_LEVEL ?? 'info',
    format: json
      ? winston.format.combine(winston.format.timestamp(), winston.format.json(), redactLine())
      : winston.format.combine(
          winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
          winston.format.printf(({ timestamp, level, message, component, ...rest }) =>
            `${timestamp} ${level.padEnd(5)} ${component ? `[${String(component)}] ` : ''}${message}${Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : ''}`),
          redactLine(),
        ),
    transports: opts.transports ?? [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })],
  });
}

/** A component's logger: every line carries `component`. */
export function componentLogger(logger: Logger, component: string): Logger {
  return logger.child({ component });
}

export interface ObjectFields {
  kind: string;
  namespace?: string;
  name: string;
}

/** The fields of an object's log lines, from an object key "Kind/namespace/name" (or "Kind/name"). */
export function objectFields(key: string): ObjectFields {
  const parts = key.split('/');
  const [kind = '', a = '', b] = parts;
  return b === undefined ? { kind, name: a } : { kind, namespace: a, name: parts.slice(2).join('/') };
}

/** A logger for lines about one object. */
export function objectLogger(logger: Logger, obj: ObjectFields | string): Logger {
  return logger.child(typeof obj === 'string' ? objectFields(obj) : obj);
}
