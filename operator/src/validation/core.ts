// The core kinds standalone mode reads from YAML (Service, EndpointSlice, Namespace): the
// fields waygate relies on, checked with the API server's rules and messages. Not a full
// port of the core API validation.
import type { KubeObject } from '../objects.ts';
import { fieldError, type FieldError, type TypedFieldError } from './field-errors.ts';
import { parseIP } from './ip.ts';
import { isDNS1035Label, isDNS1123Label, isDNS1123Subdomain } from './names.ts';

const protocols = ['SCTP', 'TCP', 'UDP'];

type Errs = TypedFieldError[];
type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
/** The entries of a list, each as an object (anything else reads as one without fields). */
const objects = (v: unknown): Obj[] => (Array.isArray(v) ? v.map((x) => (isObj(x) ? x : {})) : []);
const oneOf = (list: readonly string[], v: unknown): v is string => typeof v === 'string' && list.includes(v);

const each = (errs: Errs, field: string, value: unknown, messages: string[]) => messages.forEach((m) => errs.push(fieldError.invalid(field, value, m)));

function checkPort(errs: Errs, field: string, port: unknown, required: boolean): void {
  if (port === undefined || port === null) {
    if (required) errs.push(fieldError.required(field));
  } else if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535) {
    errs.push(fieldError.invalid(field, port, 'must be between 1 and 65535, inclusive'));
  }
}

function checkProtocol(errs: Errs, field: string, protocol: unknown): void {
  if (protocol !== undefined && !protocols.includes(protocol as string)) errs.push(fieldError.notSupported(field, protocol, protocols));
}

function checkMeta(errs: Errs, obj: KubeObject, nameCheck: (s: string) => string[], namespaced: boolean): void {
  const { name, namespace } = obj.metadata ?? {};
  if (!name) errs.push(fieldError.required('metadata.name', 'name or generateName is required'));
  else each(errs, 'metadata.name', name, nameCheck(name));
  if (namespaced && namespace) each(errs, 'metadata.namespace', namespace, isDNS1123Label(namespace));
}

function validateService(obj: KubeObject, errs: Errs): void {
  checkMeta(errs, obj, isDNS1035Label, true);
  const spec: Obj = isObj(obj.spec) ? obj.spec : {};
  const ports = objects(spec.ports);
  const names = new Set<unknown>();
  ports.forEach((p, i) => {
    const at = `spec.ports[${i}]`;
    if (p.name !== undefined && p.name !== '') {
      each(errs, `${at}.name`, p.name, isDNS1123Label(String(p.name)));
      if (names.has(p.name)) errs.push(fieldError.duplicate(`${at}.name`, p.name));
      names.add(p.name);
    } else if (ports.length > 1) errs.push(fieldError.required(`${at}.name`));
    checkPort(errs, `${at}.port`, p.port, true);
    checkProtocol(errs, `${at}.protocol`, p.protocol);
    if (typeof p.targetPort === 'number') checkPort(errs, `${at}.targetPort`, p.targetPort, false);
  });
}

const addressTypes = ['FQDN', 'IPv4', 'IPv6'];

function validateEndpointSlice(obj: KubeObject, errs: Errs): void {
  checkMeta(errs, obj, isDNS1123Subdomain, true);
  const slice: Obj = obj;
  if (!oneOf(addressTypes, slice.addressType)) {
    if (slice.addressType === undefined) errs.push(fieldError.required('addressType'));
    else errs.push(fieldError.notSupported('addressType', slice.addressType, addressTypes));
  }
  const checkAddress = (a: string): string[] => {
    if (slice.addressType === 'FQDN') return isDNS1123Subdomain(a);
    const ip = parseIP(a);
    const want = slice.addressType === 'IPv4' ? 4 : 6;
    return ip?.version === want ? [] : [`must be a valid ${String(slice.addressType)} address`];
  };
  objects(slice.endpoints).forEach((e, i) => {
    const at = `endpoints[${i}]`;
    const addresses: unknown[] = Array.isArray(e.addresses) ? e.addresses : [];
    if (addresses.length === 0) errs.push(fieldError.required(`${at}.addresses`, 'must contain at least 1 address'));
    if (addresses.length > 100) errs.push(fieldError.tooMany(`${at}.addresses`, addresses.length, 100));
    addresses.forEach((a, j) => each(errs, `${at}.addresses[${j}]`, a, typeof a === 'string' ? checkAddress(a) : ['must be a string']));
    for (const c of ['ready', 'serving', 'terminating']) {
      const v = isObj(e.conditions) ? e.conditions[c] : undefined;
      if (v !== undefined && v !== null && typeof v !== 'boolean') errs.push(fieldError.typeInvalid(`${at}.conditions.${c}`, v, 'must be a boolean'));
    }
  });
  objects(slice.ports).forEach((p, i) => {
    const at = `ports[${i}]`;
    if (p.name) each(errs, `${at}.name`, p.name, isDNS1123Label(String(p.name)));
    checkPort(errs, `${at}.port`, p.port, false);
    checkProtocol(errs, `${at}.protocol`, p.protocol);
  });
}

/** TLS Secrets (listener certificateRefs): the API server requires both keys for this type. */
function validateSecret(secret: KubeObject, errs: Errs): void {
  checkMeta(errs, secret, isDNS1123Subdomain, true);
  const data: Obj = Object.assign({}, secret.data);
  for (const [k, v] of Object.entries(Object.assign({}, secret.stringData))) data[k] = typeof v === 'string' ? Buffer.from(v).toString('base64') : v;
  for (const [k, v] of Object.entries(data)) {
    if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) errs.push(fieldError.invalid(`data[${k}]`, '<value>', 'must be base64-encoded'));
  }
  if (secret.type === 'kubernetes.io/tls') {
    for (const k of ['tls.crt', 'tls.key']) if (!(k in data)) errs.push(fieldError.required(`data[${k}]`));
  }
}

/** ConfigMaps (CA bundles of BackendTLSPolicies, parameters): the API server's key and value rules. */
function validateConfigMap(cm: KubeObject, errs: Errs): void {
  checkMeta(errs, cm, isDNS1123Subdomain, true);
  const data: Obj = Object.assign({}, (cm as Obj).data);
  for (const [k, v] of Object.entries(data)) {
    if (k.length > 253 || !/^[-._a-zA-Z0-9]+$/.test(k)) errs.push(fieldError.invalid(`data[${k}]`, k, "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"));
    if (typeof v !== 'string') errs.push(fieldError.typeInvalid(`data[${k}]`, v, 'must be a string'));
  }
}

const validators: Record<string, (obj: KubeObject, errs: Errs) => void> = {
  'v1/ConfigMap': validateConfigMap,
  'v1/Secret': validateSecret,
  'v1/Service': validateService,
  'discovery.k8s.io/v1/EndpointSlice': validateEndpointSlice,
  'v1/Namespace': (obj, errs) => checkMeta(errs, obj, isDNS1123Label, false),
};

/** Errors in a Service, EndpointSlice, Namespace, Secret or ConfigMap; other kinds are reported as unsupported. */
export function validateCoreObject(obj: KubeObject): FieldError[] {
  const validate = validators[`${obj.apiVersion}/${obj.kind}`];
  if (!validate) return [{ field: 'apiVersion', message: `Unsupported value: ${JSON.stringify(`${obj.apiVersion} ${obj.kind}`)}: not a core kind waygate reads from files` }];
  const errs: Errs = [];
  validate(obj, errs);
  return errs.map(({ field, message }) => ({ field, message }));
}
