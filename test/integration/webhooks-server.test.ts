import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';
import { Writable } from 'node:stream';
import winston from 'winston';
import { installCrds } from '../../lib/install-crds.ts';
import { createKubeClient, retryWhileAdmissionUnavailable, type KubeClient, type KubeObject } from '../../lib/kube-client.ts';
import { log } from '../../lib/log.ts';
import type { KindAdmission } from '../../webhooks/admission.ts';
import { unregisterWebhooks } from '../../webhooks/registration.ts';
import { startWebhookServer, type WebhookServer } from '../../webhooks/server.ts';
import { ensureServingCertificate } from '../../webhooks/serving-certificate.ts';
import { sharedKubeConfig, uniqueName, useTestNamespace } from '../support/cluster.ts';
import { testCrd } from '../support/test-crd.ts';
import { until } from '../support/until.ts';

const group = 'admission-probe.kumulus.io';
const gadgetType = { group, version: 'v1', plural: 'gadgets', kind: 'Gadget', namespaced: true } as const;

const gadgetCrd = testCrd(gadgetType, {
  schema: {
    openAPIV3Schema: {
      type: 'object',
      properties: {
        spec: { type: 'object', properties: { min: { type: 'integer' }, max: { type: 'integer' }, colour: { type: 'string' } } },
      },
    },
  },
});

interface Gadget extends KubeObject {
  spec: { min: number; max: number; colour?: string };
}

const gadgetAdmission: KindAdmission<Gadget> = {
  ...gadgetType,
  applyDefaults: (gadget) => {
    gadget.spec.colour ??= 'red';
  },
  validate: ({ object }) =>
    object && object.spec.min > object.spec.max
      ? [{ field: 'spec.min', message: `${object.spec.min} is greater than spec.max (${object.spec.max}); make spec.min at most spec.max` }]
      : [],
};

function servedCertificate(url: string): Promise<X509Certificate> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), rejectUnauthorized: false }, () => {
      const cert = socket.getPeerX509Certificate();
      socket.end();
      if (cert) resolve(cert);
      else reject(new Error('no peer certificate'));
    });
    socket.once('error', reject);
  });
}

describe('webhook server, called by the apiserver over TLS', function () {
  this.timeout(60_000);
  const ns = useTestNamespace('wh');
  let client: KubeClient;
  let server: WebhookServer | undefined;
  let name = '';

  before(async function () {
    this.timeout(3_600_000);
    const kc = await sharedKubeConfig();
    client = createKubeClient(kc);
    await installCrds(kc, [gadgetCrd], log);
  });

  afterEach(async () => {
    await server?.stop();
    server = undefined;
    if (name) await unregisterWebhooks(client, name);
  });

  async function start(servingValidDays = 90, certificateCheckMs?: number) {
    name = uniqueName('probe');
    server = await startWebhookServer({
      client,
      logger: log,
      kinds: [gadgetAdmission as KindAdmission],
      name,
      bindAddress: '127.0.0.1',
      port: 0,
      certificate: { namespace: ns.name, secretName: 'webhook-tls', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], servingValidDays },
      certificateCheckMs,
    });
    return server;
  }

  const gadgets = () => client.resource<Gadget>(gadgetType);
  const gadget = (spec: Gadget['spec'] | Omit<Gadget['spec'], 'colour'>): Gadget => ({ metadata: { name: uniqueName('g'), namespace: ns.name }, spec });

  it('applies defaults through the mutating webhook', async () => {
    await start();
    const created = await gadgets().create(gadget({ min: 1, max: 2 }));
    expect(created.spec.colour).to.equal('red');
    const kept = await gadgets().create(gadget({ min: 1, max: 2, colour: 'blue' }));
    expect(kept.spec.colour).to.equal('blue');
  });

  it('refuses bad input naming the field and the fix, and stores nothing', async () => {
    await start();
    const bad = gadget({ min: 5, max: 2 });
    const err = await gadgets()
      .create(bad)
      .then(
        () => expect.fail('the webhook admitted an invalid object'),
        (e: unknown) => e as Error & { code: number },
      );
    expect(err.code).to.equal(422);
    expect(err.message).to.include(`validate.${name}.kumulus.io`).and.to.include('spec.min: 5 is greater than spec.max (2); make spec.min at most spec.max');
    const stored = await gadgets().list({});
    expect(stored.items.map((g) => g.metadata.name)).not.to.include(bad.metadata.name);
  });

  it('fails closed: with the server gone, nothing is admitted unchecked', async () => {
    const running = await start();
    await running.stop();
    server = undefined;
    const err = await gadgets()
      .create(gadget({ min: 1, max: 2 }))
      .then(
        () => expect.fail('an object was stored without admission'),
        (e: unknown) => e as Error,
      );
    expect(err.message).to.match(/failed calling webhook/);
  });

  it('a start-up write waits while the webhook cannot be called, and is admitted (not stored unchecked) once it serves', async () => {
    const down = await start();
    const downName = name;
    await down.stop();
    server = undefined;
    const warnings: string[] = [];
    const logger = winston.createLogger({ transports: [new winston.transports.Stream({ stream: new Writable({ write: (line: Buffer, _enc, done) => (warnings.push(line.toString()), done()) }) })] });
    const wanted = gadget({ min: 1, max: 2 });
    let settled = false;
    let attempts = 0;
    const landed = retryWhileAdmissionUnavailable('creating a gadget', () => (attempts++, gadgets().create(wanted)), logger, 200).finally(() => (settled = true));
    // Three attempts refused by the absent webhook: the write was retried, not given up on.
    await until('three attempts while the webhook is down', 30_000, () => Promise.resolve(attempts >= 3 || undefined), 20);
    expect(settled, 'the write was neither refused for good nor admitted while the webhook was down').to.equal(false);
    expect((await gadgets().list({ namespace: ns.name })).items).to.deep.equal([]);
    expect(warnings.filter((w) => w.includes('waiting for the admission webhooks to serve'))).to.have.length(1);
    expect(warnings[0]).to.include('creating a gadget').and.to.include('failed calling webhook');

    // The webhook serves again (under a new registration; the dead one goes).
    await start();
    await unregisterWebhooks(client, downName);
    const created = await landed;
    expect(created.metadata.name).to.equal(wanted.metadata.name);
    expect(created.spec.colour, 'defaulted by the mutating webhook: it was admitted').to.equal('red');
    expect(warnings.some((w) => w.includes('the admission webhooks answer now'))).to.equal(true);

    // Any other refusal is not waited on.
    const invalid = await retryWhileAdmissionUnavailable('creating an invalid gadget', () => gadgets().create(gadget({ min: 5, max: 2 })), logger, 200).then(
      () => expect.fail('an invalid gadget was admitted'),
      (e: unknown) => e as Error & { code: number },
    );
    expect(invalid.code).to.equal(422);
  });

  it('keeps one certificate across replicas and rotates it before expiry, keeping the old CA trusted', async () => {
    const options = { namespace: ns.name, secretName: 'rotating', dnsNames: ['localhost'], servingValidDays: 90, caValidDays: 400, caRenewBeforeDays: 100 };
    const first = await Promise.all([1, 2, 3].map(() => ensureServingCertificate(client, options)));
    expect(new Set(first.map((c) => c.certPem)).size, 'replicas disagree on the certificate').to.equal(1);
    const initial = first[0]!;

    const again = await ensureServingCertificate(client, options);
    expect(again.certPem).to.equal(initial.certPem);

    const day = 24 * 60 * 60 * 1000;
    const late = await ensureServingCertificate(client, { ...options, now: () => new Date(Date.now() + 70 * day) });
    expect(late.certPem).not.to.equal(initial.certPem);
    expect(late.caBundlePem).to.equal(initial.caBundlePem);

    const caLate = await ensureServingCertificate(client, { ...options, now: () => new Date(Date.now() + 320 * day) });
    const bundle = caLate.caBundlePem.match(/BEGIN CERTIFICATE/g) ?? [];
    expect(bundle).to.have.length(2);
    expect(caLate.caBundlePem).to.include(initial.caBundlePem.trim());
    const issuer = new X509Certificate(caLate.caBundlePem.split('-----END CERTIFICATE-----')[0] + '-----END CERTIFICATE-----');
    expect(new X509Certificate(caLate.certPem).checkIssued(issuer)).to.equal(true);
  });

  it('loads a rotated serving certificate without a restart and keeps admitting', async function () {
    this.timeout(90_000);
    // 0.0002 days is about 17 s: rotation is due once a third of that is left.
    const running = await start(0.0002, 500);
    const before = await servedCertificate(running.url);
    await until('a rotated certificate to be served', 30_000, async () => ((await servedCertificate(running.url)).serialNumber !== before.serialNumber ? true : undefined), 500);
    const created = await gadgets().create(gadget({ min: 1, max: 1 }));
    expect(created.spec.colour).to.equal('red');
  });
});
