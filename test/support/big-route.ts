// The red team's oversized (but CRD-valid, < 1.5 MiB) HTTPRoute of namespace evil (route-table-*.test.ts).
import { httpRoute } from './standalone-yaml.ts';

const V = '%'.repeat(1024);
const bigMatch = (i: number) => ({
  path: { type: 'PathPrefix', value: `/p${i}` },
  headers: Array.from({ length: 16 }, (_, h) => ({ name: `x-h${h}`, value: V })),
  queryParams: Array.from({ length: 16 }, (_, q) => ({ name: `q${q}`, value: V })),
});

/** The attacker's route: 16 of its own hostnames, one rule of `n` matches (CRD: at most 64 per rule, 128 per route). */
export const bigRoute = (n: number, name = 'big') =>
  httpRoute({ namespace: 'evil', name, gatewayNamespace: 'infra', hostnames: Array.from({ length: 16 }, (_, i) => `h${i}.${name}.evil.example`), rules: [{ matches: Array.from({ length: n }, (_, i) => bigMatch(i)), backendRefs: [{ name: 'e', port: 80 }] }] });

