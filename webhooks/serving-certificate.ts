import { isAlreadyExists, isConflict, type KubeClient, type KubeObject } from '../lib/kube-client.ts';
import { certificateNotAfter, createCertificateAuthority, issueCertificate, loadCertificateAuthority } from '../lib/pki.ts';
import { X509Certificate } from 'node:crypto';

/**
 * The webhook server's TLS material, kept in one Secret so that every replica serves with the
 * same certificate and the apiserver trusts it through one caBundle. The Secret is the record:
 * creating it is the lock (AlreadyExists means another replica won), and updates use its
 * resourceVersion, so two replicas starting together never rotate twice.
 *
 * Rotation: the serving certificate is re-issued once a third of its life is left. The CA is
 * replaced once less than `caRenewBeforeDays` are left; the old CA stays in the bundle until it
 * expires, so certificates it signed keep working while the new bundle propagates.
 */

export interface ServingCertificate {
  /** Every CA the apiserver should trust: the current one first. */
  caBundlePem: string;
  certPem: string;
  keyPem: string;
  notAfter: Date;
}

export interface ServingCertificateOptions {
  namespace: string;
  secretName: string;
  dnsNames: string[];
  ipAddresses?: string[];
  caValidDays?: number;
  caRenewBeforeDays?: number;
  servingValidDays?: number;
  now?: () => Date;
}

interface Secret extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}

const SECRETS = { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true } as const;
const DAY_MS = 24 * 60 * 60 * 1000;

const encode = (text: string) => Buffer.from(text).toString('base64');
const decode = (b64: string | undefined) => (b64 ? Buffer.from(b64, 'base64').toString('utf8') : '');

function splitPems(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
}

function sansOf(certPem: string): Set<string> {
  const san = new X509Certificate(certPem).subjectAltName ?? '';
  return new Set(san.split(', ').filter(Boolean).map((entry) => entry.replace(/^IP Address:/, 'ip:').replace(/^DNS:/, 'dns:')));
}

function coversNames(certPem: string, dnsNames: string[], ipAddresses: string[]): boolean {
  const sans = sansOf(certPem);
  return dnsNames.every((n) => sans.has(`dns:${n}`)) && ipAddresses.every((ip) => sans.has(`ip:${ip}`));
}

function fromSecret(secret: Secret): ServingCertificate {
  const certPem = decode(secret.data?.['tls.crt']);
  return { caBundlePem: decode(secret.data?.['ca-bundle.crt']), certPem, keyPem: decode(secret.data?.['tls.key']), notAfter: certificateNotAfter(certPem) };
}

/** What the Secret should hold now, or undefined when what it holds is still good. */
async function desiredData(current: Secret | undefined, options: Required<Omit<ServingCertificateOptions, 'now'>>, now: Date): Promise<Record<string, string> | undefined> {
  const caPem = decode(current?.data?.['ca.crt']);
  const caKeyPem = decode(current?.data?.['ca.key']);
  const certPem = decode(current?.data?.['tls.crt']);
  const caExpiresSoon = !caPem || certificateNotAfter(caPem).getTime() - now.getTime() < options.caRenewBeforeDays * DAY_MS;
  const servingLeft = certPem ? certificateNotAfter(certPem).getTime() - now.getTime() : 0;
  const servingExpiresSoon = servingLeft < (options.servingValidDays * DAY_MS) / 3;
  const namesChanged = !certPem || !coversNames(certPem, options.dnsNames, options.ipAddresses);
  if (!caExpiresSoon && !servingExpiresSoon && !namesChanged) return undefined;

  const ca = caExpiresSoon ? await createCertificateAuthority('kumulus-webhook-ca', options.caValidDays) : await loadCertificateAuthority(caPem, caKeyPem);
  const serving = await issueCertificate(ca, {
    commonName: options.dnsNames[0] ?? 'kumulus-webhooks',
    dnsNames: options.dnsNames,
    ipAddresses: options.ipAddresses,
    usage: 'server',
    validDays: options.servingValidDays,
  });
  const stillValidOldCas = splitPems(decode(current?.data?.['ca-bundle.crt'])).filter(
    (pem) => pem.trim() !== ca.certPem.trim() && certificateNotAfter(pem).getTime() > now.getTime(),
  );
  return {
    'tls.crt': encode(serving.certPem),
    'tls.key': encode(serving.keyPem),
    'ca.crt': encode(ca.certPem),
    'ca.key': encode(ca.keyPem),
    'ca-bundle.crt': encode([ca.certPem, ...stillValidOldCas].map((p) => p.trim()).join('\n') + '\n'),
  };
}

export async function ensureServingCertificate(client: KubeClient, options: ServingCertificateOptions): Promise<ServingCertificate> {
  const settings = {
    ipAddresses: [],
    caValidDays: 3650,
    caRenewBeforeDays: 365,
    servingValidDays: 90,
    ...options,
  };
  const now = (options.now ?? (() => new Date()))();
  const secrets = client.resource<Secret>(SECRETS);
  const key = { namespace: options.namespace, name: options.secretName };
  for (let attempt = 0; attempt < 10; attempt++) {
    const current = await secrets.get(key).catch((err: unknown) => {
      if ((err as { code?: number }).code === 404) return undefined;
      throw err;
    });
    const data = await desiredData(current, settings, now);
    if (!data) return fromSecret(current as Secret);
    try {
      const written = current
        ? await secrets.update({ ...current, data })
        : await secrets.create({ metadata: { ...key, labels: { 'app.kubernetes.io/name': 'kumulus-webhooks' } }, type: 'kubernetes.io/tls', data });
      return fromSecret(written);
    } catch (err) {
      if (!isAlreadyExists(err) && !isConflict(err)) throw err;
    }
  }
  throw new Error(`could not settle the webhook certificate in Secret ${options.namespace}/${options.secretName}: it kept changing under us`);
}
