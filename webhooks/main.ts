import type * as k8s from '@kubernetes/client-node';
import { isIP } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  addressOption,
  integerOption,
  loadKubeConfig,
  logLevelOption,
  optionalStringOption,
  parseConfig,
  runtimeOptions,
  stringOption,
  type ConfigOf,
  type Option,
} from '../lib/config.ts';
import { createInformerFactory, type InformerFactory } from '../lib/informer.ts';
import { createKubeClient, isAlreadyExists, isNotFound, type KubeClient, type KubeObject, type ResourceType } from '../lib/kube-client.ts';
import { log, setLogLevel } from '../lib/log.ts';
import { stopOnSignals } from '../lib/manager.ts';
import { certificateNotAfter } from '../lib/pki.ts';
import { admissions, LOOKUP_KINDS } from './kinds/index.ts';
import { informerLookup } from './lookup.ts';
import { unregisterWebhooks, WEBHOOK_FIELD_MANAGER, type WebhookEndpoint } from './registration.ts';
import { startWebhookServer } from './server.ts';
import type { ServingCertificate } from './serving-certificate.ts';

/**
 * `kumulus webhooks`: the admission server for every Kumulus kind. It keeps informer caches
 * of the objects the rules read, serves HTTPS with a certificate from its own CA (a Secret),
 * or from cert-manager when that is installed, and registers the Mutating- and
 * ValidatingWebhookConfiguration with failure policy Fail.
 */

const CERT_MANAGER_MODES = ['auto', 'true', 'false'] as const;
type CertManagerMode = (typeof CERT_MANAGER_MODES)[number];

const certManagerOption: Option<CertManagerMode> = {
  flag: 'cert-manager',
  env: 'KUMULUS_CERT_MANAGER',
  help: 'use cert-manager for the serving certificate: auto (when the cert-manager.io API is served), true or false',
  default: 'auto',
  expected: 'auto, true or false',
  parse: (raw) => CERT_MANAGER_MODES.find((m) => m === raw.toLowerCase()),
};

export const webhookOptions = {
  kubeconfig: runtimeOptions.kubeconfig,
  logLevel: logLevelOption(),
  bindAddress: addressOption('webhook-bind-address', 'where the HTTPS admission server listens; port 0 picks a free one', '0.0.0.0:9443'),
  name: stringOption('webhook-name', 'name of the Mutating- and ValidatingWebhookConfiguration', 'kumulus'),
  namespace: stringOption('webhook-namespace', 'namespace of the certificate Secret (and of the Service, in-cluster)', 'kumulus-system'),
  secretName: stringOption('webhook-secret-name', 'Secret holding the serving certificate and its CA', 'kumulus-webhook-tls'),
  serviceName: optionalStringOption('webhook-service-name', 'in-cluster: the Service in front of the webhooks; the apiserver calls it'),
  servicePort: integerOption('webhook-service-port', 'port of that Service', 443, 1, 65535),
  url: optionalStringOption('webhook-url', 'local use: the https:// URL the apiserver calls; default https://<bind address>'),
  certManager: certManagerOption,
  syncTimeout: integerOption('webhook-sync-timeout-seconds', 'how long to wait for the informer caches before giving up', 120, 1, 3600),
};

export type WebhookConfig = ConfigOf<typeof webhookOptions>;

function hostAndPort(address: string): { host: string; port: number } {
  const match = /^(.*):(\d+)$/.exec(address)!;
  return { host: match[1]!.replace(/^\[(.*)\]$/, '$1'), port: Number(match[2]) };
}

const UNSPECIFIED = new Set(['0.0.0.0', '::', '']);

export function validateWebhookConfig(config: WebhookConfig): string[] {
  const problems: string[] = [];
  if (config.serviceName && config.url) problems.push('--webhook-service-name and --webhook-url exclude each other: give the Service in-cluster, the URL for local use');
  if (config.url && !/^https:\/\/[^/]+$/.test(config.url)) problems.push(`--webhook-url "${config.url}" must be https://host:port with no path, e.g. https://127.0.0.1:9443`);
  const { host, port } = hostAndPort(config.bindAddress);
  if (!config.serviceName && !config.url && UNSPECIFIED.has(host) && port === 0) {
    problems.push('--webhook-bind-address listens on every address with a random port, so the apiserver cannot be told where to call: give a fixed port, a host address, or --webhook-url');
  }
  return problems;
}

/** How the apiserver calls us, and the names the serving certificate must carry for that. */
export function webhookEndpoint(config: WebhookConfig): { endpoint: WebhookEndpoint | undefined; dnsNames: string[]; ipAddresses: string[] } {
  if (config.serviceName) {
    const service = { namespace: config.namespace, name: config.serviceName, port: config.servicePort };
    const dnsNames = [`${service.name}.${service.namespace}.svc`, `${service.name}.${service.namespace}.svc.cluster.local`];
    return { endpoint: { service }, dnsNames, ipAddresses: [] };
  }
  const { host, port } = hostAndPort(config.bindAddress);
  const url = config.url ?? (UNSPECIFIED.has(host) ? `https://127.0.0.1:${port}` : undefined);
  const target = url ? new URL(url).hostname.replace(/^\[(.*)\]$/, '$1') : host;
  const names = new Set(['localhost', ...(isIP(target) ? [] : [target])]);
  const ips = new Set(['127.0.0.1', ...(isIP(target) ? [target] : [])]);
  return { endpoint: url ? { url } : undefined, dnsNames: [...names], ipAddresses: [...ips] };
}

// cert-manager ----------------------------------------------------------------------------

const CERT_MANAGER_GROUP = 'cert-manager.io';
const issuers: ResourceType = { group: CERT_MANAGER_GROUP, version: 'v1', plural: 'issuers', kind: 'Issuer', namespaced: true };
const certificates: ResourceType = { group: CERT_MANAGER_GROUP, version: 'v1', plural: 'certificates', kind: 'Certificate', namespaced: true };
const secrets: ResourceType = { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true };

export async function certManagerPresent(client: KubeClient): Promise<boolean> {
  try {
    await client.request('GET', `/apis/${CERT_MANAGER_GROUP}`);
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

export interface CertManagerObjects {
  issuer: KubeObject & { spec: unknown };
  certificate: KubeObject & { spec: unknown };
  /** The annotation that makes cert-manager's cainjector keep the webhooks' caBundle current. */
  annotations: Record<string, string>;
}

/**
 * A self-signed Issuer and the serving Certificate, written into the Secret the server reads
 * (tls.crt, tls.key and ca.crt): the layout kubebuilder projects use, renewed by cert-manager.
 */
export function renderCertManagerObjects(config: Pick<WebhookConfig, 'name' | 'namespace' | 'secretName'>, dnsNames: string[], ipAddresses: string[]): CertManagerObjects {
  const issuerName = `${config.name}-webhook-selfsigned`;
  const certificateName = `${config.name}-webhook-serving`;
  const labels = { 'app.kubernetes.io/name': 'kumulus-webhooks' };
  return {
    issuer: {
      apiVersion: `${CERT_MANAGER_GROUP}/v1`,
      kind: 'Issuer',
      metadata: { name: issuerName, namespace: config.namespace, labels },
      spec: { selfSigned: {} },
    },
    certificate: {
      apiVersion: `${CERT_MANAGER_GROUP}/v1`,
      kind: 'Certificate',
      metadata: { name: certificateName, namespace: config.namespace, labels },
      spec: {
        secretName: config.secretName,
        commonName: dnsNames[0] ?? 'kumulus-webhooks',
        dnsNames,
        ...(ipAddresses.length ? { ipAddresses } : {}),
        duration: '2160h',
        renewBefore: '720h',
        privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
        usages: ['digital signature', 'key encipherment', 'server auth'],
        issuerRef: { kind: 'Issuer', name: issuerName, group: CERT_MANAGER_GROUP },
      },
    },
    annotations: { 'cert-manager.io/inject-ca-from': `${config.namespace}/${certificateName}` },
  };
}

/** Reads the Secret cert-manager writes, waiting for it the first time (issuance takes a few seconds). */
function certManagerSecretLoader(client: KubeClient, namespace: string, name: string, timeoutMs: number): () => Promise<ServingCertificate> {
  return async () => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const secret = await client
        .resource<KubeObject & { data?: Record<string, string> }>(secrets)
        .get({ namespace, name })
        .catch((err: unknown) => {
          if (isNotFound(err)) return undefined;
          throw err;
        });
      const text = (key: string) => Buffer.from(secret?.data?.[key] ?? '', 'base64').toString('utf8');
      const [certPem, keyPem, caPem] = [text('tls.crt'), text('tls.key'), text('ca.crt')];
      if (certPem && keyPem) return { certPem, keyPem, caBundlePem: caPem || certPem, notAfter: certificateNotAfter(certPem) };
      if (Date.now() > deadline) throw new Error(`cert-manager has not issued Secret ${namespace}/${name} within ${timeoutMs / 1000} s: check \`kubectl describe certificate -n ${namespace}\``);
      await sleep(1000);
    }
  };
}

// Entry point -----------------------------------------------------------------------------

export interface WebhooksOptions {
  /** Command-line flags (see `webhookOptions`); the environment fills the rest. */
  args?: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** Use this instead of --kubeconfig / KUBECONFIG / in-cluster configuration. */
  kubeConfig?: k8s.KubeConfig;
  /**
   * Share these informers (e.g. the operator's, in `kumulus local`) instead of starting our own;
   * they are started if need be and left running by `stop`.
   */
  informers?: InformerFactory;
  /** Stop gracefully on SIGTERM and SIGINT (default true). */
  handleSignals?: boolean;
}

export interface RunningWebhooks {
  readonly config: WebhookConfig;
  /** Where the server listens, e.g. https://127.0.0.1:9443. */
  readonly url: string;
  /** Stops serving and the informers; `unregister` also removes the webhook configurations. */
  stop(options?: { unregister?: boolean }): Promise<void>;
}

export async function runWebhooks(options: WebhooksOptions = {}): Promise<RunningWebhooks> {
  const config = parseConfig(webhookOptions, options.args ?? [], options.env ?? process.env, validateWebhookConfig);
  setLogLevel(config.logLevel);
  const logger = log.child({ component: 'webhooks' });
  const client = createKubeClient(options.kubeConfig ?? loadKubeConfig(config.kubeconfig), { userAgent: 'kumulus-webhooks' });

  const factory = options.informers ?? createInformerFactory(client, logger);
  const stopInformers = () => {
    if (!options.informers) factory.stop();
  };
  const lookup = informerLookup(factory, client, LOOKUP_KINDS);
  factory.start();
  const syncing = AbortSignal.timeout(config.syncTimeout * 1000);
  try {
    await Promise.all(factory.all().map((i) => i.waitForSync(syncing)));
  } catch {
    stopInformers();
    const waiting = factory.all().filter((i) => !i.hasSynced()).map((i) => `${i.type.plural}.${i.type.group}`);
    throw new Error(`the admission caches did not fill within ${config.syncTimeout} s (${waiting.join(', ')}): are the CRDs installed? \`kubectl apply -f crds/\``);
  }

  const { endpoint, dnsNames, ipAddresses } = webhookEndpoint(config);
  await client
    .resource({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false })
    .create({ metadata: { name: config.namespace } })
    .catch((err: unknown) => {
      // In-cluster the namespace exists already and creating it may well be forbidden.
      if (!isAlreadyExists(err) && (err as { code?: number }).code !== 403) throw err;
    });
  const useCertManager = config.certManager === 'true' || (config.certManager === 'auto' && (await certManagerPresent(client)));
  let certManager: CertManagerObjects | undefined;
  if (useCertManager) {
    certManager = renderCertManagerObjects(config, dnsNames, ipAddresses);
    await client.resource(issuers).apply(certManager.issuer, { fieldManager: WEBHOOK_FIELD_MANAGER, force: true });
    await client.resource(certificates).apply(certManager.certificate, { fieldManager: WEBHOOK_FIELD_MANAGER, force: true });
  }
  const { host, port } = hostAndPort(config.bindAddress);
  const server = await startWebhookServer({
    client,
    logger,
    kinds: admissions(lookup),
    name: config.name,
    bindAddress: host,
    port,
    endpoint,
    certificate: { namespace: config.namespace, secretName: config.secretName, dnsNames, ipAddresses },
    ...(certManager ? { loadCertificate: certManagerSecretLoader(client, config.namespace, config.secretName, 120_000), annotations: certManager.annotations } : {}),
  }).catch((err: unknown) => {
    stopInformers();
    throw err;
  });
  logger.info('webhooks running', { url: server.url, endpoint: endpoint ?? server.url, certManager: Boolean(certManager) });
  let stopped: Promise<void> | undefined;
  const stop = (unregister: boolean) => {
    stopped ??= (async () => {
      uninstall();
      await server.stop();
      stopInformers();
      if (unregister) await unregisterWebhooks(client, config.name);
    })();
    return stopped;
  };
  const uninstall = options.handleSignals === false ? () => undefined : stopOnSignals(() => stop(false), logger);
  return { config, url: server.url, stop: ({ unregister = false } = {}) => stop(unregister) };
}
