// The string formats the API server checks for CRDs (kube-openapi's strfmt.Default, after
// StripUnsupportedFormats), for those the vendored CRDs use.
import { parseIP } from './ip.ts';

/** Every string format the API server validates, normalized as go-openapi does (dashes dropped). */
const apiServerFormats = new Set(['bsonobjectid', 'uri', 'email', 'hostname', 'ipv4', 'ipv6', 'cidr', 'mac', 'uuid', 'uuid3', 'uuid4', 'uuid5', 'isbn', 'isbn10', 'isbn13', 'creditcard', 'ssn', 'hexcolor', 'rgbcolor', 'byte', 'password', 'date', 'duration', 'datetime', 'k8sshortname', 'k8slongname']);

function isDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d;
}

/** strfmt.IsDateTime: a date, "t", then a time with a zone, compared as the Go code does. */
function isDateTime(s: string): boolean {
  if (s.length < 4) return false;
  const [date, time] = s.toLowerCase().split('t');
  if (date === undefined || time === undefined || !isDate(date)) return false;
  const m = /^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$/u.exec(time);
  if (!m) return false;
  const [, hh = '', mm = '', ss = ''] = m; // the three groups always take part in a match
  return hh <= '23' && mm <= '59' && ss <= '59';
}

const implemented: Record<string, (s: string) => boolean> = {
  // isIPv4 tolerates leading zeros (ParseIPSloppy) and only asks for a dot; IsIPv6 asks for a colon.
  ipv4: (s) => !!parseIP(s, { sloppy: true }) && s.includes('.'),
  ipv6: (s) => !!parseIP(s) && s.includes(':'),
  datetime: isDateTime,
};

const normalize = (format: string) => format.replaceAll('-', '');

/** The checker for a string format, undefined if the API server ignores it; throws if we cannot check it. */
export function stringFormat(format: string | undefined): ((s: string) => boolean) | undefined {
  if (!format) return undefined;
  const name = normalize(format);
  if (!apiServerFormats.has(name)) return undefined;
  const check = implemented[name];
  if (!check) throw new Error(`string format ${format} is checked by the API server but not implemented here`);
  return check;
}
