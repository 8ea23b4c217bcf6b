import { stringify } from 'yaml';

export interface KubeconfigInput {
  server: string;
  caPem: string;
  clientCertPem: string;
  clientKeyPem: string;
  name?: string;
}

const b64 = (text: string) => Buffer.from(text).toString('base64');

/** A self-contained kubeconfig (credentials embedded), usable by kubectl and client-node alike. */
export function renderKubeconfig(input: KubeconfigInput): string {
  const name = input.name ?? 'kumulus-local';
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server: input.server, 'certificate-authority-data': b64(input.caPem) } }],
    users: [{ name: `${name}-admin`, user: { 'client-certificate-data': b64(input.clientCertPem), 'client-key-data': b64(input.clientKeyPem) } }],
    contexts: [{ name, context: { cluster: name, user: `${name}-admin` } }],
    'current-context': name,
  });
}
