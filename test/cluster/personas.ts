// Identities of the Gateway API personas in the test bed (RBAC: personas/, the persona roles
// waygate ships in manifests/, bound to these users and groups).
import { writeFileSync } from 'node:fs';
import { newToken } from './pki.ts';

export interface Persona {
  /** kubeconfig context and user name */
  name: string;
  role: 'infrastructure-provider' | 'cluster-operator' | 'application-admin' | 'application-developer';
  groups: string[];
  /** The namespace the persona works in. */
  namespace: string;
  token: string;
}

export const infraNamespace = 'infra';

export function newPersonas(): Persona[] {
  const all = 'waygate:personas';
  return [
    { name: 'ian', role: 'infrastructure-provider', groups: [all, 'waygate:infrastructure-providers'], namespace: infraNamespace, token: newToken() },
    { name: 'chihiro', role: 'cluster-operator', groups: [all, 'waygate:cluster-operators'], namespace: infraNamespace, token: newToken() },
    { name: 'aki', role: 'application-admin', groups: [all, 'waygate:application-admins'], namespace: 'team-a', token: newToken() },
    { name: 'ana', role: 'application-developer', groups: [all, 'waygate:application-developers'], namespace: 'team-a', token: newToken() },
    { name: 'alex', role: 'application-developer', groups: [all, 'waygate:application-developers'], namespace: 'team-b', token: newToken() },
  ];
}

/** kube-apiserver --token-auth-file: token,user,uid,"group1,group2" */
export function writeTokenFile(path: string, personas: Persona[]): void {
  const lines = personas.map((p) => `${p.token},${p.name},${p.name},"${p.groups.join(',')}"`);
  writeFileSync(path, lines.join('\n') + '\n', { mode: 0o600 });
}
