import express from 'express';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { KubeClient } from '../lib/kube-client.ts';
import type { Logger } from '../lib/log.ts';
import { admissionIndex, mutate, validate, type AdmissionRequest, type AdmissionReview, type AdmissionResponse, type KindAdmission } from './admission.ts';
import { MUTATE_PATH, VALIDATE_PATH, registerWebhooks, renderWebhookConfigurations, type WebhookEndpoint } from './registration.ts';
import { ensureServingCertificate, type ServingCertificate, type ServingCertificateOptions } from './serving-certificate.ts';
import { errorMessage } from '../lib/error-message.ts';

export interface WebhookServerOptions {
  client: KubeClient;
  logger: Logger;
  kinds: KindAdmission[];
  /** The name of the webhook configurations. */
  name: string;
  bindAddress: string;
  port: number;
  /** How the apiserver reaches this server; `undefined` means https://<bindAddress>:<port>. */
  endpoint?: WebhookEndpoint;
  certificate: Omit<ServingCertificateOptions, 'now'>;
  /**
   * Where the serving certificate comes from, read at start and at every check; by default
   * the Secret-backed CA of ensureServingCertificate. cert-manager's Secret plugs in here.
   */
  loadCertificate?: () => Promise<ServingCertificate>;
  /** Annotations of the webhook configurations, e.g. cert-manager.io/inject-ca-from. */
  annotations?: Record<string, string>;
  /** How often to check the certificate for rotation. */
  certificateCheckMs?: number;
}

export interface WebhookServer {
  url: string;
  caBundlePem: string;
  stop(): Promise<void>;
}

function reviewHandler(handle: (request: AdmissionRequest) => Promise<AdmissionResponse>, logger: Logger): express.RequestHandler {
  return (req, res) => {
    const request = (req.body as AdmissionReview | undefined)?.request;
    if (!request?.uid) {
      res.status(400).json({ message: 'expected an admission.k8s.io/v1 AdmissionReview with a request' });
      return;
    }
    const { kind, namespace, name, operation } = request;
    handle(request)
      .then((response) => {
        if (!response.allowed) logger.info('denied', { kind: kind.kind, namespace, name, operation, reason: response.status?.message });
        res.json({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response });
      })
      .catch((err: unknown) => {
        logger.error('admission failed', { kind: kind.kind, namespace, name, operation, error: String(err) });
        const message = `internal error while checking ${kind.kind} ${name ?? ''}: ${errorMessage(err)}`;
        res.json({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: request.uid, allowed: false, status: { code: 500, reason: 'InternalError', message } } });
      });
  };
}

/**
 * Serves admission over HTTPS, registers itself with the apiserver, and keeps its certificate
 * fresh: a rotated certificate is loaded without a restart and the new caBundle re-registered.
 */
export async function startWebhookServer(options: WebhookServerOptions): Promise<WebhookServer> {
  const logger = options.logger.child({ component: 'webhooks' });
  const kinds = admissionIndex(options.kinds);
  const app = express();
  app.use(express.json({ limit: '3mb' }));
  app.post(MUTATE_PATH, reviewHandler((request) => mutate(request, kinds), logger));
  app.post(VALIDATE_PATH, reviewHandler((request) => validate(request, kinds), logger));
  app.get('/healthz', (_req, res) => void res.send('ok'));

  const load = options.loadCertificate ?? (() => ensureServingCertificate(options.client, options.certificate));
  let certificate: ServingCertificate = await load();
  const server: Server = createServer({ cert: certificate.certPem, key: certificate.keyPem }, app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.bindAddress, resolve);
  });
  const port = (server.address() as AddressInfo).port;
  const url = `https://${options.bindAddress}:${port}`;
  const endpoint = options.endpoint ?? { url };
  const register = () => registerWebhooks(options.client, renderWebhookConfigurations(options.name, options.kinds, endpoint, certificate.caBundlePem, options.annotations));
  await register();
  logger.info('webhook server ready', { url, kinds: options.kinds.length, certificateNotAfter: certificate.notAfter.toISOString() });

  const refresh = async () => {
    const next = await load();
    if (next.certPem === certificate.certPem) return;
    server.setSecureContext({ cert: next.certPem, key: next.keyPem });
    const caChanged = next.caBundlePem !== certificate.caBundlePem;
    certificate = next;
    if (caChanged) await register();
    logger.info('webhook certificate rotated', { notAfter: next.notAfter.toISOString(), caChanged });
  };
  const timer = setInterval(() => {
    refresh().catch((err: unknown) => logger.error('webhook certificate check failed', { error: String(err) }));
  }, options.certificateCheckMs ?? 60 * 60 * 1000);
  timer.unref();

  return {
    url,
    get caBundlePem() {
      return certificate.caBundlePem;
    },
    stop: async () => {
      clearInterval(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
