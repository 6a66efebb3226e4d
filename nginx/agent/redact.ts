// TLS material never reaches a log line or an Event: PEM blocks (an unterminated one to the
// end of the text), whatever their label, and base64 runs of 64+ characters (a Secret's
// data.tls.key, a DER body split from its armour) except pure hex (config hashes). Shared
// by the agent's logger and the operator's (operator/src/log.ts), which run in different
// images: the operator image carries nginx/agent/, not the other way round.
import winston from 'winston';

const PEM = /-----BEGIN [A-Z0-9 ]{1,64}-----[\s\S]*?(?:-----END [A-Z0-9 ]{1,64}-----|$)/g;
/** A JSON-encoded line break ("\n") splits a PEM body into 64-character lines: each is such a run. */
const BASE64_RUN = /[A-Za-z0-9+/]{64,}={0,2}/g;
const HEX = /^[0-9a-fA-F]+$/;

export function redactSecrets(text: string): string {
  if (text.length < 64) return text;
  return text.replace(PEM, '[redacted PEM block]').replace(BASE64_RUN, (run) => (HEX.test(run) ? run : '[redacted base64]'));
}

const MESSAGE = Symbol.for('message');

/** Redacts the serialized line: put it last, after json()/printf(), so fields and stacks are covered too. */
export const redactLine = winston.format((info) => {
  const line = (info as Record<symbol, unknown>)[MESSAGE];
  if (typeof line === 'string') (info as Record<symbol, unknown>)[MESSAGE] = redactSecrets(line);
  return info;
});
