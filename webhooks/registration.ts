import type { KubeClient, KubeObject } from '../lib/kube-client.ts';
import type { KindAdmission, Operation } from './admission.ts';

/**
 * The Mutating- and ValidatingWebhookConfiguration that route our kinds to the webhook server.
 * Failure policy is Fail: an object the webhook could not check is not stored.
 */

export type WebhookEndpoint = { url: string } | { service: { namespace: string; name: string; port: number } };

export const WEBHOOK_FIELD_MANAGER = 'kumulus-webhooks';
export const MUTATE_PATH = '/mutate';
export const VALIDATE_PATH = '/validate';

interface WebhookConfiguration extends KubeObject {
  webhooks: unknown[];
}

const types = {
  mutating: { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'mutatingwebhookconfigurations', kind: 'MutatingWebhookConfiguration', namespaced: false },
  validating: { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'validatingwebhookconfigurations', kind: 'ValidatingWebhookConfiguration', namespaced: false },
} as const;

function clientConfig(endpoint: WebhookEndpoint, path: string, caBundlePem: string) {
  const caBundle = Buffer.from(caBundlePem).toString('base64');
  return 'url' in endpoint ? { url: `${endpoint.url}${path}`, caBundle } : { service: { ...endpoint.service, path }, caBundle };
}

function webhook(name: string, kinds: KindAdmission[], operations: (k: KindAdmission) => Operation[], config: ReturnType<typeof clientConfig>) {
  return {
    name,
    clientConfig: config,
    rules: kinds.map((k) => ({ apiGroups: [k.group], apiVersions: [k.version], resources: [k.plural], operations: operations(k), scope: '*' })),
    failurePolicy: 'Fail',
    matchPolicy: 'Equivalent',
    sideEffects: 'None',
    admissionReviewVersions: ['v1'],
    timeoutSeconds: 10,
  };
}

/** `annotations` carry e.g. cert-manager's `cert-manager.io/inject-ca-from`, so its cainjector keeps caBundle current. */
export function renderWebhookConfigurations(
  name: string,
  kinds: KindAdmission[],
  endpoint: WebhookEndpoint,
  caBundlePem: string,
  annotations?: Record<string, string>,
): { mutating: WebhookConfiguration; validating: WebhookConfiguration } {
  const defaulted = kinds.filter((k) => k.applyDefaults);
  const validated = kinds.filter((k) => k.validate);
  const metadata = annotations ? { name, annotations } : { name };
  return {
    mutating: {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata,
      webhooks: defaulted.length ? [webhook(`mutate.${name}.kumulus.io`, defaulted, () => ['CREATE', 'UPDATE'], clientConfig(endpoint, MUTATE_PATH, caBundlePem))] : [],
    },
    validating: {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata,
      webhooks: validated.length
        ? [webhook(`validate.${name}.kumulus.io`, validated, (k) => k.validateOperations ?? ['CREATE', 'UPDATE'], clientConfig(endpoint, VALIDATE_PATH, caBundlePem))]
        : [],
    },
  };
}

export async function registerWebhooks(client: KubeClient, configurations: ReturnType<typeof renderWebhookConfigurations>): Promise<void> {
  await client.resource<WebhookConfiguration>(types.mutating).apply(configurations.mutating, { fieldManager: WEBHOOK_FIELD_MANAGER, force: true });
  await client.resource<WebhookConfiguration>(types.validating).apply(configurations.validating, { fieldManager: WEBHOOK_FIELD_MANAGER, force: true });
}

export async function unregisterWebhooks(client: KubeClient, name: string): Promise<void> {
  for (const type of [types.mutating, types.validating]) {
    await client
      .resource(type)
      .delete({ name })
      .catch((err: unknown) => {
        if ((err as { code?: number }).code !== 404) throw err;
      });
  }
}
